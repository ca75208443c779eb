"""examples/census_estimator.py, the census tutorial's tf.estimator program with its two prefixes changed, run as a
user runs it: it reaches the tutorial's accuracy on the real test set and exports a model TensorFlow alone serves."""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from tests.conftest import ROOT, STRICT_WARNINGS

EXAMPLE = os.path.join(ROOT, "examples", "census_estimator.py")


def run_example(*args, env=None, timeout=900):
    result = subprocess.run([sys.executable, EXAMPLE, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": STRICT_WARNINGS, **(env or {})})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "WARNING:tensorflow" not in result.stderr and "Warning:" not in result.stderr, result.stderr[-3000:]
    return result


def census_example(age, education, occupation, marital_status, capital_gain):
    floats = {"age": age, "education_num": 13.0, "capital_gain": capital_gain, "capital_loss": 0.0, "hours_per_week": 40.0}
    strings = {"education": education, "occupation": occupation, "marital_status": marital_status,
               "relationship": "Husband", "workclass": "Private"}
    feature = {key: tf.train.Feature(float_list=tf.train.FloatList(value=[value])) for key, value in floats.items()}
    feature.update({key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
                    for key, value in strings.items()})
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


@pytest.mark.slow
def test_the_census_estimator_program_reaches_the_tutorials_accuracy_and_exports_once(tmp_path):
    metrics_file = tmp_path / "metrics.json"
    result = run_example("--model-dir", str(tmp_path / "model"), "--metrics-file", str(metrics_file))
    metrics = json.loads(metrics_file.read_text())
    assert metrics["accuracy"] >= 0.855 and metrics["auc"] >= 0.90, result.stdout
    assert metrics["global_step"] == 1272  # 10 epochs of 32,561 rows in batches of 256
    exports = os.listdir(tmp_path / "model" / "export" / "census")
    assert len(exports) == 1 and metrics["exports"] == [str(tmp_path / "model" / "export" / "census" / exports[0])]
    served = tf.saved_model.load(metrics["exports"][0]).signatures["serving_default"]
    scores = served(inputs=tf.constant([census_example(52.0, "Masters", "Exec-managerial", "Married-civ-spouse", 15024.0),
                                        census_example(19.0, "HS-grad", "Sales", "Never-married", 0.0)]))["scores"]
    assert scores[0, 1] > 0.5 > scores[1, 1]
    # Run again: training is done (max_steps reached), the final evaluation and export happen again.
    again = run_example("--model-dir", str(tmp_path / "model"), "--metrics-file", str(metrics_file))
    assert json.loads(metrics_file.read_text())["accuracy"] == pytest.approx(metrics["accuracy"]), again.stdout


@pytest.mark.slow
def test_the_same_program_trains_on_a_parameter_server_cluster_and_its_evaluator_exports_once(tmp_path):
    from tests.conftest import run_tfkit
    from tests.test_serve import Server

    model_dir, metrics_file = tmp_path / "model", tmp_path / "metrics.json"
    result = run_tfkit("launch", "--workers", "2", "--ps", "1", "--evaluator", "--", sys.executable, EXAMPLE,
                       "--model-dir", str(model_dir), "--train-epochs", "2", "--metrics-file", str(metrics_file))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    metrics = json.loads(metrics_file.read_text())  # written by the evaluator, which evaluated the last checkpoint
    assert metrics["global_step"] == 255 and metrics["accuracy"] >= 0.83, metrics
    assert os.path.basename(metrics["exports"][0]) in os.listdir(model_dir / "export" / "census")
    assert len(os.listdir(model_dir / "export" / "census")) == 1
    assert "[evaluator] Exported to" in result.stdout and "[chief] Exported" not in result.stdout
    server = Server(model_dir / "export" / "census", name="census")
    try:
        status, answer = server.request(":classify", {"examples": [
            {"age": 52.0, "education": "Masters", "occupation": "Exec-managerial", "marital_status": "Married-civ-spouse",
             "relationship": "Husband", "workclass": "Private", "education_num": 14.0, "capital_gain": 15024.0,
             "capital_loss": 0.0, "hours_per_week": 50.0}]})
        assert status == 200 and answer["results"][0][1][0] == "1" and answer["results"][0][1][1] > 0.5, answer
    finally:
        log = server.stop()
    assert "Traceback" not in log
