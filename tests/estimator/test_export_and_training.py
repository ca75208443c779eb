"""tfkit.estimator's exports (parsing, raw and hand-written receivers; the estimator's signatures, loaded back with
TensorFlow alone and served by tfkit serve) and train_and_evaluate with its exporters."""

import base64
import os

import numpy as np
import pytest
import tensorflow as tf

import tfkit
from tests.estimator.test_canned import BINARY, HOURS, JOB, input_fn
from tfkit import feature_column as fc


def example(hours, job):
    return tf.train.Example(features=tf.train.Features(feature={
        "hours": tf.train.Feature(float_list=tf.train.FloatList(value=[hours])),
        "job": tf.train.Feature(bytes_list=tf.train.BytesList(value=[job.encode()]))})).SerializeToString()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("estimator")
    estimator = tfkit.estimator.DNNLinearCombinedClassifier(
        linear_feature_columns=[JOB], dnn_feature_columns=[HOURS, fc.indicator_column(JOB)], dnn_hidden_units=[8],
        model_dir=str(model_dir), label_vocabulary=["low", "high"])
    estimator.train(input_fn(np.array(["low", "high"])[BINARY], epochs=20), steps=60)
    return estimator


def test_a_parsing_receiver_exports_the_estimators_signatures(trained, tmp_path):
    receiver = tfkit.estimator.export.build_parsing_serving_input_receiver_fn(fc.make_parse_example_spec([HOURS, JOB]))
    path = trained.export_saved_model(str(tmp_path), receiver)
    assert isinstance(path, bytes) and os.path.dirname(path.decode()) == str(tmp_path)
    loaded = tf.saved_model.load(path.decode())
    assert sorted(loaded.signatures) == ["classification", "predict", "regression", "serving_default"]
    examples = tf.constant([example(55.0, "clerk"), example(12.0, "cook")])
    expected = list(trained.predict(lambda: tf.data.Dataset.from_tensors(
        {"hours": tf.constant([[55.0], [12.0]]), "job": tf.constant([["clerk"], ["cook"]])})))
    scores = loaded.signatures["classification"](inputs=examples)
    assert scores["classes"].numpy().tolist() == [[b"low", b"high"]] * 2
    np.testing.assert_allclose(scores["scores"].numpy(), [p["probabilities"] for p in expected], rtol=1e-5)
    np.testing.assert_allclose(loaded.signatures["regression"](inputs=examples)["outputs"].numpy().ravel(),
                               [p["logistic"][0] for p in expected], rtol=1e-5)
    predict = loaded.signatures["predict"](examples=examples)
    assert predict["classes"].numpy().ravel().tolist() == [p["classes"][0] for p in expected]
    assert sorted(loaded.signatures["serving_default"](inputs=examples)) == ["classes", "scores"]
    with open(os.path.join(path.decode(), "saved_model.pb"), "rb") as f:
        saved = f.read()
    assert b"tensorflow/serving/classify" in saved and b"tensorflow/serving/regress" in saved


def test_raw_and_hand_written_receivers(trained, tmp_path):
    raw = tfkit.estimator.export.build_raw_serving_input_receiver_fn(
        {"hours": tf.constant([[1.0]]), "job": tf.constant([["x"]])})
    loaded = tf.saved_model.load(trained.export_saved_model(str(tmp_path / "raw"), raw).decode())
    assert sorted(loaded.signatures) == ["predict", "serving_default"]  # no single string input: predict only
    outputs = loaded.signatures["serving_default"](hours=tf.constant([[55.0]]), job=tf.constant([["clerk"]]))
    expected = next(trained.predict(lambda: tf.data.Dataset.from_tensors({"hours": [[55.0]], "job": [["clerk"]]})))
    np.testing.assert_allclose(outputs["probabilities"].numpy()[0], expected["probabilities"], rtol=1e-5)

    def receiver_fn():  # TensorFlow 1 style, as programs wrote their own
        csv_row = tf.compat.v1.placeholder(tf.string, [None], name="csv_row")
        hours, job = tf.io.decode_csv(csv_row, record_defaults=[[0.0], [""]])
        return tfkit.estimator.export.ServingInputReceiver({"hours": hours, "job": job}, {"csv_row": csv_row})

    loaded = tf.saved_model.load(trained.export_saved_model(str(tmp_path / "csv"), receiver_fn).decode())
    rows = loaded.signatures["predict"](csv_row=tf.constant(["55,clerk", "12,cook"]))
    assert rows["classes"].numpy().ravel().tolist() == [p["classes"][0] for p in trained.predict(
        lambda: tf.data.Dataset.from_tensors({"hours": tf.constant([55.0, 12.0]), "job": tf.constant(["clerk", "cook"])}))]


def test_an_export_serves_over_tfkit_serve_as_over_tensorflow_serving(trained, tmp_path):
    from tests.test_serve import Server

    receiver = tfkit.estimator.export.build_parsing_serving_input_receiver_fn(fc.make_parse_example_spec([HOURS, JOB]))
    path = trained.export_saved_model(str(tmp_path / "export"), receiver).decode()
    expected = tf.saved_model.load(path).signatures["classification"](
        inputs=tf.constant([example(55.0, "clerk"), example(12.0, "cook")]))["scores"].numpy()
    server = Server(tmp_path / "export", name="jobs")
    try:
        status, answer = server.request(":classify", {"examples": [{"hours": 55.0, "job": "clerk"},
                                                                   {"hours": 12.0, "job": "cook"}]})
        assert status == 200, answer
        assert [[label for label, _ in result] for result in answer["results"]] == [["low", "high"]] * 2
        np.testing.assert_allclose([[score for _, score in result] for result in answer["results"]], expected, rtol=1e-6)
        serialized = base64.b64encode(example(55.0, "clerk")).decode()
        status, answer = server.predict({"signature_name": "predict", "instances": [{"b64": serialized}]})
        assert status == 200 and answer["predictions"][0]["all_classes"] == ["low", "high"], answer
    finally:
        log = server.stop()
    assert "Traceback" not in log


def test_train_and_evaluate_evaluates_on_checkpoints_and_exports_at_the_end(tmp_path):
    config = tfkit.estimator.RunConfig(save_checkpoints_steps=10)
    estimator = tfkit.estimator.LinearClassifier([HOURS, JOB], model_dir=str(tmp_path), config=config)
    receiver = tfkit.estimator.export.build_parsing_serving_input_receiver_fn(fc.make_parse_example_spec([HOURS, JOB]))
    exporters = [tfkit.estimator.FinalExporter("final", receiver),
                 tfkit.estimator.LatestExporter("latest", receiver, exports_to_keep=2),
                 tfkit.estimator.BestExporter("best", receiver)]
    evaluated = []

    class Counting(tfkit.estimator.CheckpointSaverListener):
        def after_save(self, session, global_step_value):
            evaluated.append(global_step_value)

    metrics, exports = tfkit.estimator.train_and_evaluate(
        estimator, tfkit.estimator.TrainSpec(input_fn(epochs=100), max_steps=40, saving_listeners=[Counting()]),
        tfkit.estimator.EvalSpec(input_fn(), steps=None, exporters=exporters, throttle_secs=0))
    assert metrics["global_step"] == 40 and evaluated == [10, 20, 30, 40]
    assert [len(os.listdir(tmp_path / "export" / name)) for name in ("final", "latest")] == [1, 2]
    assert all(path is None or os.path.isdir(path.decode()) for path in exports) and exports[0] is not None
    # Evaluations at 10, 20, 30, 40 (the one at the end is 40's): the eval dir holds each step's metrics.
    events = [tf.compat.v1.Event.FromString(record.numpy()) for path in tf.io.gfile.glob(
        str(tmp_path / "eval" / "events.out.tfevents.*")) for record in tf.data.TFRecordDataset(path)]
    steps = {event.step for event in events if event.summary.value}
    assert steps == {10, 20, 30, 40}
    assert 1 <= len(os.listdir(tmp_path / "export" / "best")) <= 4


@pytest.mark.parametrize("make, error, words", [
    (lambda: tfkit.estimator.TrainSpec(input_fn(), max_steps=0), ValueError, "Must specify max_steps > 0"),
    (lambda: tfkit.estimator.TrainSpec("data.csv"), TypeError, "`input_fn` must be callable"),
    (lambda: tfkit.estimator.EvalSpec(input_fn(), throttle_secs=-1), ValueError, "throttle_secs >= 0"),
    (lambda: tfkit.estimator.EvalSpec(input_fn(), exporters=[tfkit.estimator.FinalExporter("a", input_fn())] * 2),
     ValueError, "`exporters` must have unique names"),
    (lambda: tfkit.estimator.LatestExporter("a", input_fn(), exports_to_keep=0), ValueError, "must be positive number"),
])
def test_specs_and_exporters_refuse_what_the_estimator_refused(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_early_stopping_hooks_stop_training_on_the_evaluations_written(tmp_path):
    config = tfkit.estimator.RunConfig(save_checkpoints_steps=5)

    def run(name, make_hook, estimator_class=tfkit.estimator.LinearClassifier, columns=(HOURS, JOB)):
        estimator = estimator_class(*([list(columns)] if columns else []), model_dir=str(tmp_path / name), config=config)
        hook = make_hook(estimator)
        tfkit.estimator.train_and_evaluate(estimator, tfkit.estimator.TrainSpec(input_fn(epochs=1000), max_steps=200,
                                                                                 hooks=[hook]),
                                           tfkit.estimator.EvalSpec(input_fn(), steps=None, throttle_secs=0))
        evaluations = tfkit.estimator.experimental.read_eval_metrics(estimator.eval_dir())
        return estimator.global_step, evaluations

    step, evaluations = run("higher", lambda e: tfkit.estimator.experimental.stop_if_higher_hook(
        e, "accuracy", 0.8, run_every_secs=None, run_every_steps=1))
    first_above = min(s for s, metrics in evaluations.items() if metrics["accuracy"] > 0.8)
    assert step < 200 and first_above <= step <= first_above + 5  # stopped at the next step after seeing it
    # A baseline's accuracy is the majority class' share from its first evaluation on: it never increases again.
    step, evaluations = run("plateau", lambda e: tfkit.estimator.experimental.stop_if_no_increase_hook(
        e, "accuracy", 20, run_every_secs=None, run_every_steps=1), tfkit.estimator.BaselineClassifier, None)
    assert len({metrics["accuracy"] for metrics in evaluations.values()}) == 1
    assert max(evaluations) - min(evaluations) == 20 and step <= max(evaluations) + 5, (step, sorted(evaluations))
    with pytest.raises(ValueError, match="Only one of `run_every_secs` and `run_every_steps` must be set"):
        tfkit.estimator.experimental.stop_if_no_increase_hook(tfkit.estimator.BaselineRegressor(), "loss", 5,
                                                              run_every_secs=1, run_every_steps=1)
