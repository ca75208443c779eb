"""tfkit.estimator's canned estimators against the estimator's documented behaviour: constructor arguments and
defaults, training in a model directory (resume, max_steps, checkpoints), evaluate's metrics (names, and values
against Keras metrics on the same predictions), predict's keys, and the errors."""

import functools
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfkit
from tfkit import feature_column as fc
from tfkit.estimator import (BaselineClassifier, BaselineRegressor, DNNClassifier, DNNLinearCombinedClassifier,
                             DNNLinearCombinedRegressor, DNNRegressor, LinearClassifier, LinearRegressor, RunConfig)

RNG = np.random.default_rng(0)
ROWS = 64
JOBS = np.array(["clerk", "cook", "pilot", "nurse"])
DATA = {"hours": RNG.uniform(10, 60, ROWS).astype(np.float32), "job": JOBS[RNG.integers(0, 4, ROWS)],
        "weight": np.where(np.arange(ROWS) % 2, 1.0, 0.0).astype(np.float32)}
# Learnable: long hours or a pilot means the positive class; the three-class label is the job's index mod 3.
BINARY = ((DATA["hours"] > 40) | (DATA["job"] == "pilot")).astype(np.int64)
THREE = np.array([list(JOBS).index(j) % 3 for j in DATA["job"]])


def input_fn(labels=BINARY, batch=16, epochs=1, features=DATA):
    def make():
        return tf.data.Dataset.from_tensor_slices((dict(features), labels)).repeat(epochs).batch(batch)
    return make


HOURS = fc.numeric_column("hours", normalizer_fn=lambda x: (x - 35.0) / 15.0)
JOB = fc.categorical_column_with_vocabulary_list("job", list(JOBS))


def columns():
    return HOURS, JOB


@pytest.mark.parametrize("make, kind", [
    (lambda d: LinearClassifier(list(columns()), model_dir=d), "binary"),
    (lambda d: DNNClassifier([8], [columns()[0], fc.indicator_column(columns()[1])], model_dir=d, n_classes=3,
                             optimizer="Adam"), "multiclass"),
    (lambda d: DNNLinearCombinedClassifier(linear_feature_columns=[columns()[1]], dnn_feature_columns=[columns()[0]],
                                           dnn_hidden_units=[4], model_dir=d), "binary"),
    (lambda d: LinearRegressor(list(columns()), model_dir=d), "regression"),
    (lambda d: DNNRegressor([4], [columns()[0]], model_dir=d), "regression"),
    (lambda d: DNNLinearCombinedRegressor(linear_feature_columns=[columns()[1]], dnn_feature_columns=[columns()[0]],
                                          dnn_hidden_units=[4], model_dir=d), "regression"),
    (lambda d: BaselineClassifier(model_dir=d), "binary"),
    (lambda d: BaselineRegressor(model_dir=d), "regression"),
])
def test_each_canned_estimator_trains_evaluates_and_predicts_with_the_heads_names(tmp_path, make, kind):
    estimator = make(str(tmp_path))
    labels = {"binary": BINARY, "multiclass": THREE, "regression": DATA["hours"] / 10}[kind]
    estimator.train(input_fn(labels), steps=3)
    results = estimator.evaluate(input_fn(labels))
    expected = {"binary": ["accuracy", "accuracy_baseline", "auc", "auc_precision_recall", "average_loss", "label/mean",
                           "prediction/mean", "precision", "recall"],
                "multiclass": ["accuracy", "average_loss"],
                "regression": ["average_loss", "label/mean", "prediction/mean"]}[kind]
    assert sorted(results) == sorted(expected + ["loss", "global_step"]) and results["global_step"] == 3
    predictions = list(estimator.predict(input_fn(labels)))
    assert len(predictions) == ROWS
    keys = {"binary": ["all_class_ids", "all_classes", "class_ids", "classes", "logistic", "logits", "probabilities"],
            "multiclass": ["all_class_ids", "all_classes", "class_ids", "classes", "logits", "probabilities"],
            "regression": ["predictions"]}[kind]
    assert sorted(predictions[0]) == keys
    if kind != "regression":
        classes = 2 if kind == "binary" else 3
        assert predictions[0]["all_class_ids"].tolist() == list(range(classes))
        assert predictions[0]["all_classes"].tolist() == [str(i).encode() for i in range(classes)]
        assert predictions[0]["class_ids"].dtype == np.int64 and predictions[0]["probabilities"].shape == (classes,)


def test_binary_metrics_are_keras_metrics_of_its_own_predictions_weighted_by_the_weight_column(tmp_path):
    estimator = DNNLinearCombinedClassifier(linear_feature_columns=[columns()[1]], dnn_feature_columns=[columns()[0]],
                                            dnn_hidden_units=[8], model_dir=str(tmp_path), weight_column="weight")
    estimator.train(input_fn(epochs=5), steps=20)
    results = estimator.evaluate(input_fn())
    predicted = list(estimator.predict(input_fn()))
    logistic = np.array([p["logistic"][0] for p in predicted])
    class_ids = np.array([p["class_ids"][0] for p in predicted])
    weights, labels = DATA["weight"], BINARY.astype(np.float32)

    def keras_value(metric, y_true, y_pred):
        metric.update_state(y_true, y_pred, sample_weight=weights)
        return float(metric.result())

    assert results["accuracy"] == pytest.approx(keras_value(keras.metrics.Accuracy(), labels, class_ids), abs=1e-6)
    assert results["auc"] == pytest.approx(keras_value(keras.metrics.AUC(), labels, logistic), abs=1e-6)
    assert results["auc_precision_recall"] == pytest.approx(keras_value(keras.metrics.AUC(curve="PR"), labels, logistic),
                                                            abs=1e-6)
    assert results["precision"] == pytest.approx(keras_value(keras.metrics.Precision(), labels, class_ids), abs=1e-6)
    assert results["recall"] == pytest.approx(keras_value(keras.metrics.Recall(), labels, class_ids), abs=1e-6)
    label_mean = np.average(labels, weights=weights)
    assert results["label/mean"] == pytest.approx(label_mean, abs=1e-6)
    assert results["accuracy_baseline"] == pytest.approx(max(label_mean, 1 - label_mean), abs=1e-6)
    assert results["prediction/mean"] == pytest.approx(np.average(logistic, weights=weights), abs=1e-5)
    losses = -(labels * np.log(logistic) + (1 - labels) * np.log(1 - logistic))
    assert results["average_loss"] == pytest.approx(np.average(losses, weights=weights), rel=1e-4)
    # loss: each batch's weighted sum over the batch's size, averaged over the four batches of 16.
    batches = [np.sum((losses * weights)[i:i + 16]) / 16 for i in range(0, ROWS, 16)]
    assert results["loss"] == pytest.approx(np.mean(batches), rel=1e-4)


def test_label_vocabulary_and_the_default_optimizers(tmp_path):
    names = np.array(["no", "yes"])[BINARY]
    estimator = DNNLinearCombinedClassifier(linear_feature_columns=list(columns()), dnn_feature_columns=[columns()[0]],
                                            dnn_hidden_units=[4], label_vocabulary=["no", "yes"], model_dir=str(tmp_path))
    estimator.train(input_fn(names), steps=2)
    prediction = next(estimator.predict(input_fn(names)))
    assert prediction["classes"][0] in (b"no", b"yes") and prediction["all_classes"].tolist() == [b"no", b"yes"]
    parts = estimator._train_model.optimizer.parts
    assert type(parts["wide"]) is tfkit.optimizers.Ftrl and float(parts["wide"].learning_rate) == pytest.approx(0.005)
    assert type(parts["deep"]) is tfkit.optimizers.Adagrad and float(parts["deep"].learning_rate) == pytest.approx(0.001)
    linear = LinearClassifier(list(columns()), model_dir=str(tmp_path / "linear"))
    linear.train(input_fn(), steps=1)
    assert float(linear._train_model.optimizer.parts["wide"].learning_rate) == pytest.approx(0.2)
    baseline = BaselineClassifier(model_dir=str(tmp_path / "baseline"), optimizer=lambda: keras.optimizers.SGD(0.5))
    baseline.train(input_fn(), steps=1)
    assert isinstance(baseline._train_model.optimizer, keras.optimizers.SGD)
    assert float(baseline._train_model.optimizer.learning_rate) == 0.5
    with pytest.raises(tf.errors.InvalidArgumentError, match="label_vocabulary"):
        estimator.train(input_fn(np.array(["no", "maybe"])[BINARY]), steps=1)


def test_training_resumes_in_its_model_dir_and_max_steps_counts_globally(tmp_path):
    config = RunConfig(save_checkpoints_steps=4, keep_checkpoint_max=2)
    first = LinearClassifier(list(columns()), model_dir=str(tmp_path), config=config)
    first.train(input_fn(epochs=10), steps=10)
    assert os.path.basename(first.latest_checkpoint()) == "ckpt-10"
    assert sorted(p for p in os.listdir(tmp_path) if p.endswith(".index")) == ["ckpt-10.index", "ckpt-8.index"]
    assert tf.train.latest_checkpoint(str(tmp_path)) == first.latest_checkpoint()  # TensorFlow's own tools find it
    bias = first.get_variable_value([n for n in first.get_variable_names() if "bias" in n][0])
    again = LinearClassifier(list(columns()), model_dir=str(tmp_path), config=config)
    again.train(input_fn(epochs=10), max_steps=15)
    assert again.evaluate(input_fn())["global_step"] == 15
    again.train(input_fn(epochs=10), max_steps=12)  # already past: nothing to do
    assert os.path.basename(again.latest_checkpoint()) == "ckpt-15"
    assert not np.allclose(again.get_variable_value([n for n in again.get_variable_names() if "bias" in n][0]), bias)
    assert tf.io.gfile.glob(os.path.join(tmp_path, "train", "events.out.tfevents.*"))  # TensorBoard summaries
    assert tf.io.gfile.glob(os.path.join(tmp_path, "eval", "events.out.tfevents.*"))


def test_an_input_fn_is_given_what_it_asks_for_and_may_return_tensors(tmp_path):
    seen = {}

    def asks(params, mode, config):
        seen.update(params=params, mode=mode, config=config)
        return {"hours": tf.constant(DATA["hours"][:8]), "job": tf.constant(DATA["job"][:8])}, tf.constant(BINARY[:8])

    estimator = LinearClassifier(list(columns()), model_dir=str(tmp_path))
    estimator.train(asks, steps=3)  # one batch of tensors, repeated
    assert seen["mode"] == tfkit.estimator.ModeKeys.TRAIN and seen["config"] is estimator.config
    assert estimator.evaluate(asks)["global_step"] == 3 and seen["mode"] == tfkit.estimator.ModeKeys.EVAL


@pytest.mark.parametrize("make, error, words", [
    (lambda: tfkit.estimator.Estimator(model_fn=lambda features, labels, mode: None), ValueError, "does not run a custom model_fn"),
    (lambda: LinearClassifier(list(columns()), n_classes=1), ValueError, "n_classes must be > 1"),
    (lambda: LinearClassifier(list(columns()), optimizer="Adadelta"), ValueError, "Unsupported optimizer name: Adadelta"),
    (lambda: LinearClassifier(list(columns()), optimizer=tf.compat.v1.train.FtrlOptimizer(0.1)), ValueError,
     "is not a tf.keras.optimizers.Optimizer instance"),
    (lambda: DNNLinearCombinedClassifier(), ValueError, "Either linear_feature_columns or dnn_feature_columns must be defined"),
    (lambda: DNNLinearCombinedClassifier(dnn_feature_columns=[columns()[0]]), ValueError, "dnn_hidden_units must be defined"),
    (lambda: LinearClassifier(list(columns()), model_dir="/tmp/a", config=RunConfig(model_dir="/tmp/b")), ValueError,
     "`model_dir` are set both in constructor and `RunConfig`"),
    (lambda: LinearClassifier(list(columns()), loss_reduction="mean"), ValueError, "Invalid loss_reduction"),
    (lambda: RunConfig(save_checkpoints_steps=10, save_checkpoints_secs=10), ValueError, "cannot be both set"),
])
def test_what_is_not_supported_or_wrong_fails_at_construction(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_train_refuses_bad_steps_and_tf1_hooks_saying_what_to_use(tmp_path):
    estimator = LinearClassifier(list(columns()), model_dir=str(tmp_path))
    with pytest.raises(ValueError, match="Can not provide both steps and max_steps"):
        estimator.train(input_fn(), steps=1, max_steps=2)
    with pytest.raises(ValueError, match="Must specify steps > 0, given: 0"):
        estimator.train(input_fn(), steps=0)
    with pytest.raises(ValueError, match="SessionRunHook, which Keras 3 cannot run.*LoggingTensorHook"):
        estimator.train(input_fn(), hooks=[tf.compat.v1.train.StepCounterHook()], steps=1)
    stopped = estimator.train(input_fn(epochs=10), hooks=[tfkit.estimator.StopAtStepHook(num_steps=3)])
    assert stopped.evaluate(input_fn())["global_step"] == 3


def test_the_global_step_counts_batches_of_a_dataset_of_unknown_length(tmp_path):
    @tf.autograph.experimental.do_not_convert
    def keep(features, labels):
        return True

    def lines():  # as a file's lines: Keras cannot know how many batches there are
        return tf.data.Dataset.from_tensor_slices((dict(DATA), BINARY)).filter(keep).batch(16)

    estimator = LinearClassifier(list(columns()), model_dir=str(tmp_path))
    estimator.train(lines)
    estimator.train(lines, steps=100)  # runs out after 4 more
    assert estimator.global_step == 8 and os.path.basename(estimator.latest_checkpoint()) == "ckpt-8"


def test_seconds_between_checkpoints_warm_start_sum_reduction_and_step_logging(tmp_path, caplog):
    every_step = RunConfig(save_checkpoints_secs=0.0001, keep_checkpoint_max=100, log_step_count_steps=2)
    timed = LinearClassifier(list(columns()), model_dir=str(tmp_path / "timed"), config=every_step)
    with caplog.at_level("INFO", logger="tfkit.estimator"):
        timed.train(input_fn(epochs=10), steps=40)
    saved = sorted(int(p[len("ckpt-"):-len(".index")]) for p in os.listdir(tmp_path / "timed") if p.endswith(".index"))
    # A save at the end of every call of the compiled step (16 steps a call): the time between saves is always over.
    assert saved == [16, 32, 40]
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("loss = ")][-1].endswith("step = 40")
    # warm_start_from: a new model_dir starts from another's weights, at step 0.
    warm = LinearClassifier(list(columns()), model_dir=str(tmp_path / "warm"), warm_start_from=str(tmp_path / "timed"))
    predictions = [p["logits"] for p in warm.predict(input_fn())]  # no checkpoint yet: freshly initialized
    warm.train(input_fn(), steps=1)
    assert warm.evaluate(input_fn())["global_step"] == 1
    name = [n for n in timed.get_variable_names() if "bias" in n][0]
    assert not np.allclose(warm.get_variable_value(name), 0.0) and np.allclose(np.concatenate(predictions), 0.0)
    # loss_reduction "sum": each batch's loss is the sum over its examples, not their mean.
    mean = LinearClassifier(list(columns()), model_dir=str(tmp_path / "mean"))
    summed = LinearClassifier(list(columns()), model_dir=str(tmp_path / "sum"), loss_reduction=tf.keras.losses.Reduction.SUM)
    for estimator in (mean, summed):
        estimator.train(input_fn(), steps=1)
    assert summed.evaluate(input_fn())["loss"] == pytest.approx(16 * mean.evaluate(input_fn())["loss"], rel=0.05)


def test_what_tutorial_programs_pass_an_estimator(tmp_path, monkeypatch):
    # An input_fn returning a one-shot iterator's get_next() (a TensorFlow 1 program's): every batch, once.
    def iterator_input_fn():
        dataset = tf.data.Dataset.from_tensor_slices((dict(DATA), BINARY)).batch(16)
        return tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()

    weighted = LinearClassifier(list(columns()), model_dir=str(tmp_path / "iterator"), weight_column="weight")
    weighted.train(iterator_input_fn)
    assert weighted.global_step == 4 and weighted.evaluate(iterator_input_fn)["global_step"] == 4
    # Predicting needs no weight column; a partial's bound keywords stay bound.
    features_only = functools.partial(lambda params, rows: tf.data.Dataset.from_tensor_slices(
        {"hours": DATA["hours"][:rows], "job": DATA["job"][:rows]}).batch(rows), params="mine", rows=3)
    assert len(list(weighted.predict(features_only))) == 3
    # RunConfig(save_checkpoints_secs=None): no checkpoint but the one at the end of train.
    quiet = LinearClassifier(list(columns()), model_dir=str(tmp_path / "quiet"),
                             config=RunConfig(save_checkpoints_secs=None, keep_checkpoint_max=100))
    quiet.train(input_fn(epochs=10), steps=40)
    assert [p for p in os.listdir(tmp_path / "quiet") if p.endswith(".index")] == ["ckpt-40.index"]
    # WarmStartSettings from a tfkit model_dir; a checkpoint of other variables is refused.
    warm = LinearClassifier(list(columns()), model_dir=str(tmp_path / "warm"),
                            warm_start_from=tfkit.estimator.WarmStartSettings(str(tmp_path / "quiet")))
    warm.train(input_fn(), steps=1)
    foreign = tf.train.Checkpoint(linear=tf.Variable([1.0]))
    foreign_path = foreign.write(str(tmp_path / "foreign" / "model.ckpt-1"))
    with pytest.raises(ValueError, match="holds none of this model's weights"):
        LinearClassifier(list(columns()), model_dir=str(tmp_path / "cold"), warm_start_from=foreign_path).train(
            input_fn(), steps=1)
    # Cloud ML Engine's old TF_CONFIG, with a "master".
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"master": ["a:1"], "ps": ["b:1"]},
                                                "task": {"type": "master", "index": 0}}))
    assert (RunConfig().task_type, RunConfig().is_chief, RunConfig().num_ps_replicas) == ("chief", True, 1)
    spec = tfkit.estimator.classifier_parse_example_spec([HOURS], "label", weight_column="weight")
    assert spec["label"] == tf.io.FixedLenFeature((1,), tf.int64) and spec["weight"].dtype == tf.float32
