"""The conformance suite: every layer and model runs through the same checks.

A new layer or model joins with a few declarative lines in LAYERS or MODELS:
build and call, config round trip, tf.function, weights save/load; models
also fit a step, save/load as .keras, and export a SavedModel whose serving
signature reproduces predict, and (tests/distribute/test_parameter_server.py)
train, evaluate and predict on a parameter-server cluster.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.saving import saving_lib

from tfkit import features as F
from tfkit import layers as L
from tfkit import models as M

RAW = {
    "age": np.array([25.0, 38.0, 52.0, 61.0, 33.0, 47.0]),
    "job": np.array(["clerk", "cook", "pilot", "clerk", "cook", "nurse"], dtype=object),
    "tags": np.array(["a|b", "b", "", "c|a|b", "a", "c"], dtype=object),
    "zip": np.array([101, 205, 101, 330, 512, 205]),
}
LABELS = {
    "binary": np.array([0, 1, 1, 0, 1, 0]),
    "multiclass": np.array([0, 2, 1, 0, 2, 1]),
    "regression": np.array([1.5, -0.5, 2.0, 0.0, 1.0, 0.5], dtype="float32"),
    # Six curves' values at their seven target points.
    "gaussian": np.sin(np.linspace(-2, 2, 42, dtype="float32")).reshape(6, 7, 1),
}


def columns():
    """Fresh, adapted columns of every kind over RAW."""
    age = F.NumericColumn("age", normalize=True)
    job = F.CategoricalColumn("job")
    tags = F.CategoricalColumn("tags", delimiter="|")
    zip_code = F.HashedColumn("zip", num_buckets=100, dtype="int64")
    age_buckets = F.BucketizedColumn(age, num_bins=3)
    cross = F.CrossedColumn([job, age_buckets], num_buckets=1_000_000)
    job_embedding, tags_embedding = F.EmbeddingColumn(job, 3), F.EmbeddingColumn(tags, 3, combiner="sqrtn")
    dense = [age, job_embedding, tags_embedding, F.IndicatorColumn(age_buckets), F.EmbeddingColumn(zip_code, 2)]
    sparse = [job, tags, zip_code, age_buckets, cross, age]
    F.adapt(dense + sparse, [RAW])
    return dense, sparse


def numeric_embeddings():
    """Adapted numeric embeddings of RAW's one numeric feature, with and without weights of their own."""
    age, age_log = F.NumericColumn("age"), F.NumericColumn("age_log", key="age", log=True)
    embedded = [
        F.PiecewiseLinearColumn([age, age_log], num_bins=3, dimension=4, activation="relu"),
        F.PeriodicColumn(F.NumericColumn("age_p", key="age"), num_frequencies=3, sigma=0.5, dimension=2),
        F.PiecewiseLinearColumn(F.NumericColumn("age_r", key="age"), num_bins=4),
    ]
    F.adapt(embedded, [RAW])
    return embedded


LAYERS = {
    "dense_features": lambda: L.DenseFeatures(columns()[0]),
    "dense_features_numeric_embeddings": lambda: L.DenseFeatures(numeric_embeddings()),
    "linear": lambda: L.Linear(columns()[1], units=2, sparse_combiner="mean"),
    "dnn": lambda: L.DNN(columns()[0], hidden_units=[8, 4], units=3, dropout=0.1, batch_norm=True),
}

MODELS = {
    "wide_deep_binary": lambda: M.WideDeep(*columns()[::-1], hidden_units=[8], label_vocabulary=["no", "yes"]),
    "wide_deep_multiclass": lambda: M.WideDeep(*columns()[::-1], hidden_units=[8], head="multiclass", num_classes=3),
    "wide_deep_regression": lambda: M.WideDeep(*columns()[::-1], hidden_units=[8], head="regression"),
    "wide_deep_numeric_embeddings": lambda: M.WideDeep(columns()[1], numeric_embeddings(), hidden_units=[8]),
    "linear_only": lambda: M.WideDeep(wide_columns=columns()[1], head="binary"),
    "dnn_only": lambda: M.WideDeep(deep_columns=columns()[0], hidden_units=[8, 8], dropout=0.2, batch_norm=True,
                                   head="multiclass", label_vocabulary=["a", "b", "c"]),
    "resnet_v1": lambda: M.ResNet(depth=8, num_classes=3, image_shape=[8, 8, 3], label_vocabulary=["a", "b", "c"]),
    "resnet_v2_bottleneck": lambda: M.ResNet(depth=11, version=2, bottleneck=True, shortcut="projection", num_classes=3,
                                             image_shape=[8, 8, 3], data_format="channels_first"),
    "text_cnn": lambda: _adapted(M.TextCNN(F.TextColumn("sentence", sequence_length=7, standardize="kim"),
                                           embedding_dimension=6, filter_sizes=[2, 3], num_filters=4,
                                           num_classes=3, label_vocabulary=["neg", "mixed", "pos"]), SENTENCES),
    "conditional_neural_process": lambda: M.ConditionalNeuralProcess(encoder_sizes=[8, 8], decoder_sizes=[8]),
    "neural_process": lambda: M.NeuralProcess(latent_encoder_sizes=[8], num_latents=4, deterministic_encoder_sizes=[8],
                                              decoder_sizes=[8], num_samples=3, seed=1),
    "attentive_neural_process": lambda: M.AttentiveNeuralProcess(
        latent_encoder_sizes=[8], num_latents=4, deterministic_encoder_sizes=[8], decoder_sizes=[8],
        attention_sizes=[8], num_heads=2, num_samples=2),
    "conv_cnp": lambda: M.ConvCNP(points_per_unit=8, unet_channels=[4, 4]),
    "transformer_neural_process": lambda: M.TransformerNeuralProcess(
        model_size=8, num_layers=2, num_heads=2, feedforward_size=8, embedding_sizes=[8], predictor_sizes=[8]),
}

# Raw inputs of the models that do not read RAW.
IMAGES = {"image": np.random.default_rng(0).integers(0, 256, (6, 8, 8, 3), dtype="uint8")}
SENTENCES = {"sentence": np.array(["A gripping film.", "Dull, dull, dull!", "It isn't bad", "fine", "a film of two halves",
                                   "Moving and gripping, but too long to love"], dtype=object)}
_points = np.linspace(-2, 2, 42, dtype="float32").reshape(6, 7, 1)
CURVES = {"context_x": _points[:, :4], "context_y": np.sin(_points[:, :4]), "target_x": _points}
INPUTS = {"resnet_v1": IMAGES, "resnet_v2_bottleneck": IMAGES, "text_cnn": SENTENCES, "conditional_neural_process": CURVES,
          "neural_process": CURVES, "attentive_neural_process": CURVES, "conv_cnp": CURVES,
          "transformer_neural_process": CURVES}


def _adapted(model, inputs):
    model.adapt([inputs])
    return model


def inputs_of(name):
    return INPUTS.get(name, RAW)


def head_of(model):
    return model.head_name


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_conformance(name, tmp_path):
    layer = LAYERS[name]()
    out = layer(RAW)
    assert out.shape == (6, layer.compute_output_shape(None)[1])
    assert np.all(np.isfinite(out.numpy()))
    traced = tf.function(lambda x: layer(x))(RAW)
    np.testing.assert_allclose(traced.numpy(), out.numpy(), rtol=1e-5, atol=1e-6)

    clone = type(layer).from_config(layer.get_config())
    clone.build()
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(RAW).numpy(), out.numpy(), rtol=1e-5, atol=1e-6)

    # .weights.h5 of the layer itself (Keras' saving library takes any built layer).
    path = str(tmp_path / "layer.weights.h5")
    saving_lib.save_weights_only(layer, path)
    other = type(layer).from_config(layer.get_config())
    other.build()
    saving_lib.load_weights_only(other, path)
    np.testing.assert_allclose(other(RAW).numpy(), out.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_conformance(name, tmp_path):
    model, RAW = MODELS[name](), inputs_of(name)
    model.compile()
    labels = LABELS[head_of(model)]
    model.build()  # the weights exist before fit, so fit's changes to them can be seen
    before = [w.numpy().copy() for w in model.trainable_weights]
    assert before
    history = model.fit(RAW, labels, batch_size=3, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    # fit trained: most trainable weights moved (batch-norm statistics are not trainable, so do not count).
    moved = [not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights)]
    assert sum(moved) >= len(moved) / 2, [w.path for w, m in zip(model.trainable_weights, moved) if not m]
    predictions = model.predict(RAW, verbose=0)
    metrics = model.evaluate(RAW, labels, verbose=0, return_dict=True)
    assert "loss" in metrics

    # Config round trip: same architecture, same outputs once weights are copied.
    clone = type(model).from_config(model.get_config())
    clone.build()
    clone.set_weights(model.get_weights())
    first_key = sorted(predictions)[0]
    np.testing.assert_allclose(clone.predict(RAW, verbose=0)[first_key], predictions[first_key], rtol=1e-5, atol=1e-6)

    # .keras and .weights.h5.
    keras_path = str(tmp_path / "model.keras")
    model.save(keras_path)
    loaded = keras.models.load_model(keras_path)
    np.testing.assert_allclose(loaded.predict(RAW, verbose=0)[first_key], predictions[first_key], rtol=1e-5, atol=1e-6)
    assert type(loaded.optimizer) is type(model.optimizer)
    weights_path = str(tmp_path / "model.weights.h5")
    model.save_weights(weights_path)
    fresh = type(model).from_config(model.get_config())
    fresh.build()
    fresh.load_weights(weights_path)
    np.testing.assert_allclose(fresh.predict(RAW, verbose=0)[first_key], predictions[first_key], rtol=1e-5, atol=1e-6)

    # Export: loaded with TensorFlow alone, the signature reproduces predict.
    export_path = model.export(str(tmp_path / "export"))
    assert os.path.basename(export_path).isdigit()
    serving = tf.saved_model.load(export_path).signatures["serving_default"]
    inputs = {k: tf.constant(v) if v.dtype != object else tf.constant(v.astype(str)) for k, v in RAW.items()}
    if "age" in inputs:
        inputs["age"] = tf.cast(inputs["age"], tf.float32)
    served = serving(**inputs)
    assert set(served) == set(predictions)
    for key, value in predictions.items():
        if value.dtype == object:
            assert served[key].numpy().tolist() == value.tolist()
        else:
            np.testing.assert_allclose(served[key].numpy(), value, atol=1e-5)
