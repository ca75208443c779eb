"""An estimator's RunConfig: TF_CONFIG read as TensorFlow reads it, and train_distribute (a MirroredStrategy over
two logical CPU devices, in a fresh process) training the same model as one device."""

import json

import pytest

from tests.conftest import run_python
from tfkit.estimator import RunConfig

MIRRORED = r'''
import json, sys, tempfile
import numpy as np, tensorflow as tf
tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                           [tf.config.LogicalDeviceConfiguration()] * 2)
import tfkit
from tests.estimator.test_canned import BINARY, HOURS, JOB, input_fn

def run(strategy):
    config = tfkit.estimator.RunConfig(train_distribute=strategy, tf_random_seed=1)
    estimator = tfkit.estimator.DNNLinearCombinedClassifier(
        linear_feature_columns=[JOB], dnn_feature_columns=[HOURS, tfkit.feature_column.indicator_column(JOB)],
        dnn_hidden_units=[8], dnn_optimizer="SGD", model_dir=tempfile.mkdtemp(), config=config)
    estimator.train(input_fn(epochs=3), steps=12)
    weights = {name: estimator.get_variable_value(name).tolist() for name in estimator.get_variable_names()
               if name.startswith("weights/")}
    return estimator.evaluate(input_fn()), weights

mirrored, mirrored_weights = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
single, single_weights = run(None)
difference = max(float(np.max(np.abs(np.array(mirrored_weights[k]) - np.array(single_weights[k])))) for k in single_weights)
print(json.dumps({"mirrored": mirrored, "single": single, "difference": difference}))
'''


def test_a_mirrored_train_distribute_trains_what_one_device_trains():
    result = run_python(MIRRORED)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["mirrored"]["global_step"] == report["single"]["global_step"] == 12
    assert report["difference"] < 1e-4
    assert report["mirrored"]["average_loss"] == pytest.approx(report["single"]["average_loss"], rel=1e-4)


@pytest.mark.parametrize("tf_config, expected", [
    (None, ("worker", 0, True, 0, 1, 0, "")),
    ({"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"], "ps": ["d:1"]}, "task": {"type": "chief", "index": 0}},
     ("chief", 0, True, 1, 3, 0, "grpc://a:1")),
    ({"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"], "ps": ["d:1"]}, "task": {"type": "worker", "index": 1}},
     ("worker", 1, False, 1, 3, 2, "grpc://c:1")),
    ({"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"], "ps": ["d:1"]}, "task": {"type": "ps", "index": 0}},
     ("ps", 0, False, 1, 3, 3, "grpc://d:1")),
    ({"cluster": {"chief": ["a:1"], "worker": ["b:1"], "ps": ["d:1"]}, "task": {"type": "evaluator", "index": 0}},
     ("evaluator", 0, False, 1, 2, 0, "")),
])
def test_run_config_reads_the_task_from_tf_config(monkeypatch, tf_config, expected):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    config = RunConfig(model_dir="/tmp/x")
    got = (config.task_type, config.task_id, config.is_chief, config.num_ps_replicas, config.num_worker_replicas,
           config.global_id_in_cluster, config.master)
    assert got == expected
    assert config.cluster_spec.as_dict() == ({} if tf_config is None else tf_config["cluster"])
    assert (config.save_checkpoints_secs, config.save_checkpoints_steps) == (600, None)
    replaced = config.replace(save_checkpoints_steps=100)
    assert (replaced.save_checkpoints_secs, replaced.save_checkpoints_steps, replaced.model_dir) == (None, 100, "/tmp/x")
