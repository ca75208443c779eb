"""Clusters of real processes on localhost ports, started by `tfkit launch` with a TF_CONFIG each."""

import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

from tests.conftest import CENSUS_CONFIG, ROOT, STRICT_WARNINGS, majority_rate

pytestmark = pytest.mark.slow

EPOCHS = 3


def launch_command(census_slice, job_dir, *launch_args, epochs=EPOCHS, batch_size=16):
    train, test = census_slice
    return [
        sys.executable, "-m", "tfkit.cli", "launch", *launch_args, "--",
        sys.executable, "-m", "tfkit.cli", "train", CENSUS_CONFIG, "--job-dir", str(job_dir),
        "--set", f"data.train={train}", "--set", f"data.test={test}", "--set", f"data.batch_size={batch_size}",
        "--set", f"train.epochs={epochs}", "--set", "train.early_stopping=null", "--set", "train.verbose=2",
    ]


class Launch:
    """A `tfkit launch` process whose output is collected line by line."""

    def __init__(self, command):
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": STRICT_WARNINGS})
        self.lines = []

    def wait_for(self, pattern, timeout=240):
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"{pattern!r} never appeared:\n{''.join(self.lines[-40:])}")

    def pid_of(self, role):
        for line in self.lines:
            match = re.match(rf"\[launch\] {re.escape(role)} pid (\d+)", line)
            if match:
                return int(match.group(1))
        raise AssertionError(f"no pid for {role}")

    def finish(self, timeout=300):
        output, _ = self.process.communicate(timeout=timeout)
        self.lines.append(output)
        output = "".join(self.lines)
        assert "WARNING:tensorflow" not in output and "Warning:" not in output, output[-3000:]
        return self.process.returncode, output


def run_launch(census_slice, job_dir, *launch_args, **options):
    launch = Launch(launch_command(census_slice, job_dir, *launch_args, **options))
    return launch.finish()


def assert_no_process_left(output):
    pids = re.findall(r"\[launch\] \S+ pid (\d+)", output)
    assert pids, "the output names no task's pid"
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or _is_zombie(pid), f"process {pid} is still running"


def _is_zombie(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] == "Z"


# The cluster run's training data: the census slice's rows in shards of different sizes, so the rows a worker
# read say which shards it read (worker 0 reads part-0 and part-2, worker 1 part-1 and part-3).
SHARD_ROWS = (300, 500, 700, 500)


@pytest.fixture(scope="module")
def census_shards(census_slice, tmp_path_factory):
    folder = tmp_path_factory.mktemp("shards")
    with open(census_slice[0], encoding="utf-8") as f:
        header, *rows = f.readlines()
    start = 0
    for index, count in enumerate(SHARD_ROWS):
        (folder / f"part-{index}.csv").write_text(header + "".join(rows[start:start + count]))
        start += count
    assert start == len(rows)
    return str(folder / "part-*.csv"), census_slice[1]


@pytest.fixture(scope="module")
def cluster_run(census_shards, tmp_path_factory):
    job_dir = tmp_path_factory.mktemp("cluster")
    status, output = run_launch(census_shards, job_dir, "--workers", "2", "--ps", "1", "--evaluator")
    assert status == 0, output[-5000:]
    return job_dir, output


def assert_learned(metrics, census_slice):
    """Better than a constant answer, which scores the test slice's majority rate (0.77) and an AUC of 0.5."""
    assert metrics["test"]["accuracy"] > majority_rate(census_slice[1]) + 0.02 and metrics["test"]["auc"] > 0.8, metrics["test"]


def test_parameter_server_cluster_runs_the_census_config_end_to_end(cluster_run, census_slice):
    job_dir, output = cluster_run
    metrics = json.loads((job_dir / "metrics.json").read_text())
    assert metrics["epochs"] == EPOCHS and metrics["steps"] == EPOCHS * metrics["steps_per_epoch"] > 0
    assert_learned(metrics, census_slice)
    for role in ("ps:0", "worker:0", "worker:1"):
        assert f"[{role}] {role}: the chief is done; exiting." in output
    assert "[chief] Training on parameter_server: 2 workers, 1 ps." in output
    assert "[chief] Trained 3 epochs" in output
    assert_no_process_left(output)


def test_each_worker_adapts_on_its_own_shards_and_the_chief_learns_what_one_device_learns(cluster_run, census_shards):
    import keras

    from tfkit import config as config_lib
    from tfkit.data.lines import expand_files, holdout_predicate
    from tfkit.features import closure
    from tfkit.jobs.run import Run

    job_dir, output = cluster_run
    train, _ = census_shards
    config = config_lib.load(CENSUS_CONFIG, [f"data.train={train}", f"job_dir={job_dir}-one-device"])
    # The rows each worker read are those of its own shards, less the validation holdout.
    keep = holdout_predicate("train", config["data"]["validation_split"])
    kept = [int(np.sum(keep([f"part-{index}.csv:{line}" for line in range(2, count + 2)]).numpy()))
            for index, count in enumerate(SHARD_ROWS)]
    assert kept[0] + kept[2] != kept[1] + kept[3]
    assert (f"[chief] The workers read their own files: worker 0 {kept[0] + kept[2]:,} rows of 2 files; "
            f"worker 1 {kept[1] + kept[3]:,} rows of 2 files.") in output
    assert len(expand_files(train)) == 4
    # What one device learns from all four shards, read as a single-device run reads them.
    run = Run(config)
    run.state.model = config_lib.build_model(config["model"], config_lib.build_columns(config["features"]), config["data"])
    run.state.model.adapt(run.datasets.adapt_stream())
    expected = {column.name: column.get_config() for column in closure(run.state.model.feature_columns())}
    with open(job_dir / "model.json", encoding="utf-8") as f:
        learned = keras.saving.deserialize_keras_object(json.load(f))
    learned = {column.name: column.get_config() for column in closure(learned.feature_columns())}
    vocabularies = [name for name, column in expected.items() if column.get("vocabulary")]
    moments = [name for name, column in expected.items() if column.get("mean")]
    assert len(vocabularies) >= 7 and len(moments) >= 4, (vocabularies, moments)
    assert_same_state(learned, expected, "columns")


def assert_same_state(learned, expected, where):
    """Equal configs: vocabularies (and every other value) exactly, in order; floats (means and variances, merged
    in another order) to float64 rounding. Quantile boundaries are exact too: fewer rows than the sample holds."""
    if isinstance(expected, float):
        assert learned == pytest.approx(expected, rel=1e-12, abs=1e-300), where
    elif isinstance(expected, dict):
        assert isinstance(learned, dict) and learned.keys() == expected.keys(), where
        for key in expected:
            assert_same_state(learned[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, (list, tuple)):
        assert isinstance(learned, (list, tuple)) and len(learned) == len(expected), where
        for index, (a, b) in enumerate(zip(learned, expected)):
            assert_same_state(a, b, f"{where}[{index}]")
    else:
        assert learned == expected, where


def test_only_the_chief_and_the_evaluator_write_into_the_job_dir(cluster_run):
    job_dir, output = cluster_run
    assert sorted(os.listdir(job_dir)) == [".tfkit.lock", "checkpoints", "chief_done.json", "config.yaml", "export",
                                           "history.json", "logs", "metrics.json", "model.json"]
    assert sorted(os.listdir(job_dir / "logs")) == ["evaluator_test", "evaluator_validation", "train", "validation"]
    # The evaluator evaluated checkpoints as they appeared, the last one included.
    evaluated = [int(epoch) for epoch in re.findall(r"\[evaluator\] evaluator: epoch (\d+):", output)]
    assert evaluated and evaluated[-1] == EPOCHS and evaluated == sorted(set(evaluated))
    # Its summaries use the chief's step numbering: epoch 3's checkpoint is the chief's step 2.
    chief, evaluator = summary_steps(job_dir / "logs" / "validation"), summary_steps(job_dir / "logs" / "evaluator_validation")
    assert chief == list(range(EPOCHS)) and evaluator == [epoch - 1 for epoch in evaluated]


def summary_steps(folder, tag="epoch_loss"):
    import tensorflow as tf

    return sorted(event.step for path in glob.glob(str(folder / "events.out.tfevents.*"))
                  for event in tf.compat.v1.train.summary_iterator(path) for value in event.summary.value if value.tag == tag)


def test_the_evaluator_exits_promptly_once_the_chief_is_done_every_time(cluster_run, tmp_path):
    import shutil

    job_dir = tmp_path / "job"
    shutil.copytree(cluster_run[0], job_dir)
    (job_dir / "chief_done.json").unlink()
    command = [sys.executable, "-m", "tfkit.cli", "train", str(job_dir / "config.yaml"), "--job-dir", str(job_dir)]
    tf_config = json.dumps({"cluster": {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"], "ps": ["127.0.0.1:3"]},
                            "task": {"type": "evaluator", "index": 0}})
    for attempt in range(3):
        evaluator = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, "TF_CONFIG": tf_config, "TF_CPP_MIN_LOG_LEVEL": "3"})
        lines = []
        while not lines or not lines[-1].startswith("evaluator: epoch"):  # its evaluation of the last checkpoint
            lines.append(evaluator.stdout.readline())
            assert lines[-1], "".join(lines)
        assert lines[-1].startswith(f"evaluator: epoch {EPOCHS}:"), "".join(lines)
        (job_dir / "chief_done.json").write_text(json.dumps({"time": time.time()}))  # what the chief writes last
        marked = time.time()
        assert evaluator.wait(timeout=60) == 0, evaluator.stdout.read()
        assert time.time() - marked < 10, f"attempt {attempt}: {time.time() - marked:.1f}s after the chief was done"


def test_the_cluster_export_serves_without_tf_config_or_tfkit(cluster_run, census_slice, tmp_path):
    job_dir, _ = cluster_run
    metrics = json.loads((job_dir / "metrics.json").read_text())
    from tfkit import config as config_lib
    from tfkit.jobs.run import Run

    config = config_lib.load(CENSUS_CONFIG, [f"data.train={census_slice[0]}", f"data.test={census_slice[1]}"])
    config["job_dir"] = str(job_dir)
    run = Run(config)
    run.evaluate()  # restores the latest checkpoint on this device
    features, _ = next(iter(run.test_dataset()))
    import tensorflow as tf

    expected = run.model.predict(tf.data.Dataset.from_tensors(features), verbose=0)["probabilities"]
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps({k: [x.decode() if isinstance(x, bytes) else float(x) for x in v.numpy()]
                                for k, v in features.items()}))
    code = (
        "import json, os, sys; sys.modules['tfkit'] = None\n"
        "assert 'TF_CONFIG' not in os.environ\n"
        "import tensorflow as tf\n"
        "f = tf.saved_model.load(sys.argv[1]).signatures['serving_default']\n"
        "rows = json.load(open(sys.argv[2]))\n"
        "spec = f.structured_input_signature[1]\n"
        "print(json.dumps(f(**{k: tf.constant(rows[k], s.dtype) for k, s in spec.items()})['probabilities'].numpy().tolist()))"
    )
    environment = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    served = subprocess.run([sys.executable, "-c", code, metrics["export"], str(rows)], capture_output=True, text=True,
                            env={**environment, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=120)
    assert served.returncode == 0, served.stderr[-3000:]
    np.testing.assert_allclose(np.array(json.loads(served.stdout)), expected, atol=1e-5)


def test_a_killed_worker_does_not_stop_the_run(census_slice, tmp_path, cluster_run):
    launch = Launch(launch_command(census_slice, tmp_path / "job", "--workers", "2", "--ps", "1"))
    launch.wait_for(r"\[chief\] Epoch 2/")
    os.kill(launch.pid_of("worker:1"), signal.SIGKILL)
    status, output = launch.finish()
    assert status == 0, output[-5000:]
    assert "[launch] worker:1 exited with status -9" in output
    metrics = json.loads((tmp_path / "job" / "metrics.json").read_text())
    assert metrics["epochs"] == EPOCHS
    # Exactly the requested steps ran, on the surviving worker once worker:1 was gone; checkpoints are numbered by them.
    assert metrics["steps"] == EPOCHS * metrics["steps_per_epoch"]
    numbers = {int(m.group(1)) for m in (re.match(r"ckpt-(\d+)\.index$", n) for n in os.listdir(tmp_path / "job" / "checkpoints")) if m}
    assert max(numbers) == metrics["steps"]
    # The loss is reported once, without TensorFlow's errors for each function it could not run there.
    assert output.count("[chief] tfkit: lost worker:1 (127.0.0.1:") == 1, output[-5000:]
    assert "function remotely" not in output and "Additional GRPC error information" not in output
    assert_no_process_left(output)


def test_a_killed_chief_resumes_from_its_last_checkpoint_when_rerun(census_slice, tmp_path):
    job_dir = tmp_path / "job"
    launch = Launch(launch_command(census_slice, job_dir, "--workers", "2", "--ps", "1"))
    launch.wait_for(r"\[chief\] Epoch 3/")
    os.kill(launch.pid_of("chief"), signal.SIGKILL)
    status, output = launch.finish()
    assert status == 128 + signal.SIGKILL
    assert "[launch] chief failed" in output
    assert_no_process_left(output)
    # Nothing half-written: complete checkpoints only, no metrics or export yet.
    assert sorted(os.listdir(job_dir)) == [".tfkit.lock", "checkpoints", "config.yaml", "history.json", "logs", "model.json"]
    assert not [name for name in os.listdir(job_dir / "checkpoints") if "tmp" in name]

    status, output = run_launch(census_slice, job_dir, "--workers", "2", "--ps", "1")
    assert status == 0, output[-5000:]
    assert re.search(r"\[chief\] Resuming from .*ckpt-\d+ \(epoch 2, step \d+\)", output)
    metrics = json.loads((job_dir / "metrics.json").read_text())
    assert metrics["epochs"] == EPOCHS and metrics["steps"] == EPOCHS * metrics["steps_per_epoch"]


def test_a_lost_ps_stops_the_chief_with_a_clear_error_and_a_rerun_resumes(census_slice, tmp_path):
    launch = Launch(launch_command(census_slice, tmp_path / "job", "--workers", "2", "--ps", "1"))
    launch.wait_for(r"\[chief\] Epoch 2/")
    os.kill(launch.pid_of("ps:0"), signal.SIGKILL)
    status, output = launch.finish()
    assert status == 1
    assert re.search(r"\[chief\] tfkit train: error: lost ps:0 \(127\.0\.0\.1:\d+\) \(\w+Error\)\. Restart it and rerun "
                     r"the same command: training resumes from .*ckpt-\d+", output)
    assert "Traceback" not in output
    assert_no_process_left(output)

    status, output = run_launch(census_slice, tmp_path / "job", "--workers", "2", "--ps", "1")
    assert status == 0, output[-5000:]
    assert re.search(r"\[chief\] Resuming from .*ckpt-\d+ \(epoch 1, step \d+\)", output)


def test_two_process_multi_worker_mirrored_training(census_slice, tmp_path, cluster_run):
    job_dir = tmp_path / "job"
    worker_checkpoints = os.path.join(tempfile.gettempdir(), "tfkit-worker-checkpoints-*")
    before = set(glob.glob(worker_checkpoints))
    # Batches of 64 (every step is a collective all-reduce between the processes: few steps keep it quick).
    status, output = run_launch(census_slice, job_dir, "--workers", "1", batch_size=64)
    assert status == 0, output[-5000:]
    metrics = json.loads((job_dir / "metrics.json").read_text())
    assert "[chief] Training on multi_worker_mirrored: 2 workers, 2 replicas." in output
    # data.batch_size is the global batch: the two replicas share each one, so an epoch has as
    # many steps as there are batches of 64 in the rows the parameter-server run read in batches of 16
    # (give or take the last, split one).
    batches = json.loads((cluster_run[0] / "metrics.json").read_text())["steps_per_epoch"]
    assert abs(metrics["steps_per_epoch"] - -(-batches * 16 // 64)) <= 1
    assert metrics["epochs"] == EPOCHS and metrics["steps"] == EPOCHS * metrics["steps_per_epoch"]
    assert_learned(metrics, census_slice)
    assert len(metrics["history"]["val_loss"]) == EPOCHS
    assert "[worker:0]" in output and "[chief] Trained" in output and "[worker:0] Trained" not in output
    assert sorted(os.listdir(job_dir)) == [".tfkit.lock", "checkpoints", "chief_done.json", "config.yaml", "export",
                                           "history.json", "logs", "metrics.json", "model.json"]
    # The worker saved its checkpoints (collective ops need it to) in a place of its own, then removed it.
    assert set(glob.glob(worker_checkpoints)) == before
