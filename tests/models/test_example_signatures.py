"""Exports' classification and regression signatures: serialized tf.Examples in, TensorFlow Serving's classify and
regress outputs out, equal to the model's own predictions; loaded back with TensorFlow alone."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from tfkit.features import CategoricalColumn, NumericColumn
from tfkit.models import ResNet, WideDeep


def example(**features):
    def feature(value):
        values = value if isinstance(value, (list, np.ndarray)) else [value]
        if isinstance(values[0], str):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode() for v in values]))
        if isinstance(values[0], float):
            return tf.train.Feature(float_list=tf.train.FloatList(value=values))
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))

    return tf.train.Example(features=tf.train.Features(
        feature={key: feature(value) for key, value in features.items()})).SerializeToString()


def method_names(path):
    saved_model = saved_model_pb2.SavedModel()
    with open(f"{path}/saved_model.pb", "rb") as f:
        saved_model.ParseFromString(f.read())
    return {name: signature.method_name for name, signature in saved_model.meta_graphs[0].signature_def.items()
            if not name.startswith("__")}


def fitted(head, tmp_path, **kwargs):
    model = WideDeep(wide_columns=[CategoricalColumn("job", vocabulary=["cook", "pilot", "nurse"])],
                     deep_columns=[NumericColumn("age", missing_indicator=True), NumericColumn("hours")],
                     hidden_units=[4], head=head, **kwargs)
    model.compile()
    rng = np.random.default_rng(0)
    x = {"job": rng.choice(["cook", "pilot", "nurse"], 64), "age": rng.uniform(20, 60, 64), "hours": rng.uniform(0, 60, 64)}
    y = rng.integers(0, kwargs.get("num_classes", 2), 64) if head != "regression" else rng.normal(size=64)
    model.fit(x, y, epochs=2, verbose=0)
    return model, model.export(str(tmp_path / "export"))


ROWS = {"job": np.array(["pilot", "nurse", "cook"]), "age": np.array([39.0, 52.0, 25.0]), "hours": np.array([40.0, 9.0, 60.0])}


def test_a_multiclass_export_classifies_tf_examples_as_the_model_predicts(tmp_path):
    model, path = fitted("multiclass", tmp_path, num_classes=3)
    assert method_names(path) == {"serving_default": "tensorflow/serving/predict",
                                  "classification": "tensorflow/serving/classify"}
    classify = tf.saved_model.load(path).signatures["classification"]
    served = classify(inputs=tf.constant([example(job=str(j), age=float(a), hours=float(h)) for j, a, h in zip(*ROWS.values())]))
    assert served["classes"].numpy().tolist() == [[b"0", b"1", b"2"]] * 3  # no label vocabulary: the class ids
    np.testing.assert_allclose(served["scores"], model.predict(ROWS, verbose=0)["probabilities"], atol=1e-5)
    # A feature left out is a missing value: NaN for a column flagging missing values, "" for a category.
    gap = classify(inputs=tf.constant([example(hours=40.0)]))["scores"]
    np.testing.assert_allclose(gap, model.predict({"job": np.array([""]), "age": np.array([np.nan]),
                                                   "hours": np.array([40.0])}, verbose=0)["probabilities"], atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="age"):  # an int64 list where the model reads floats
        classify(inputs=tf.constant([example(job="cook", age=39, hours=40.0)]))


def test_the_fingerprint_is_that_of_the_saved_model_as_written(tmp_path):
    import shutil

    from tensorflow.python.saved_model import fingerprinting_utils

    _, path = fitted("binary", tmp_path)
    copy = shutil.copytree(path, tmp_path / "copy")
    (copy / "fingerprint.pb").unlink()
    fingerprinting_utils.write_fingerprint(str(copy))  # computed afresh from the files
    assert (tf.saved_model.experimental.read_fingerprint(path).saved_model_checksum ==
            tf.saved_model.experimental.read_fingerprint(str(copy)).saved_model_checksum)


def test_a_regression_export_regresses_tf_examples_and_a_binary_one_scores_both_labels(tmp_path):
    model, path = fitted("regression", tmp_path / "regression")
    assert method_names(path)["regression"] == "tensorflow/serving/regress"
    regress = tf.saved_model.load(path).signatures["regression"]
    outputs = regress(inputs=tf.constant([example(job=str(j), age=float(a), hours=float(h)) for j, a, h in zip(*ROWS.values())]))
    assert list(outputs) == ["outputs"] and outputs["outputs"].dtype == tf.float32
    np.testing.assert_allclose(outputs["outputs"], model.predict(ROWS, verbose=0)["predictions"], atol=1e-5)
    model, path = fitted("binary", tmp_path / "binary", label_vocabulary=["no", "yes"])
    served = tf.saved_model.load(path).signatures["classification"](inputs=tf.constant([example(job="cook", age=30.0, hours=1.0)]))
    assert served["classes"].numpy().tolist() == [[b"no", b"yes"]]
    assert served["scores"].shape == (1, 2) and abs(float(tf.reduce_sum(served["scores"])) - 1.0) < 1e-5


def test_an_image_classifier_reads_pixels_from_int64_lists_and_refuses_values_out_of_uint8(tmp_path):
    model = ResNet(depth=8, num_classes=3, image_shape=(8, 8, 3))
    model.compile()
    images = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype="uint8")
    model.fit({"image": images}, np.array([0, 2]), verbose=0)
    classify = tf.saved_model.load(model.export(str(tmp_path / "export"))).signatures["classification"]
    served = classify(inputs=tf.constant([example(image=image.reshape(-1)) for image in images]))
    np.testing.assert_allclose(served["scores"], model.predict({"image": images}, verbose=0)["probabilities"], atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="feature image: values above the uint8 range"):
        classify(inputs=tf.constant([example(image=np.full(8 * 8 * 3, 300))]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="image"):  # an image has no missing value
        classify(inputs=tf.constant([example()]))


def test_a_regression_of_two_values_exports_no_regression_signature(tmp_path):
    # TensorFlow Serving's regress answers one value per example: a two-value regression has only serving_default.
    two = WideDeep(deep_columns=[NumericColumn("hours")], hidden_units=[2], head="regression", num_classes=2)
    two.compile()
    two.fit({"hours": np.array([1.0, 2.0])}, np.array([[1.0, 2.0], [3.0, 4.0]]), verbose=0)
    assert method_names(two.export(str(tmp_path / "two"))) == {"serving_default": "tensorflow/serving/predict"}
