"""TF_CONFIG tasks, strategy resolution and the local launcher's process handling (no training)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, run_python, run_tfkit
from tfkit import distribute
from tfkit.distribute import cluster
from tfkit.errors import ConfigError

CLUSTER = {"chief": ["a:1"], "worker": ["b:1", "c:1"], "ps": ["d:1"]}


def tf_config(task_type, index=0, spec=CLUSTER):
    return {"TF_CONFIG": json.dumps({"cluster": spec, "task": {"type": task_type, "index": index}})}


def test_tasks_from_tf_config():
    assert cluster.from_tf_config({}) is None
    worker = cluster.from_tf_config(tf_config("worker", 1))
    assert (worker.type, worker.index, worker.address, worker.num_workers, worker.num_ps) == ("worker", 1, "c:1", 2, 1)
    assert cluster.from_tf_config(tf_config("chief")).is_chief and not worker.is_chief
    # Without a chief task, worker 0 is the chief.
    assert cluster.from_tf_config(tf_config("worker", 0, {"worker": ["b:1", "c:1"]})).is_chief


def test_an_empty_tf_config_is_one_process_and_an_old_master_is_the_chief():
    # As TensorFlow's RunConfig reads them: an empty cluster is a local run; Cloud ML Engine's older "master" the chief.
    assert cluster.from_tf_config({"TF_CONFIG": '{"cluster": {}}'}) is None
    master = cluster.from_tf_config(tf_config("master", 0, {"master": ["m:1"], "worker": ["b:1"], "ps": ["d:1"]}))
    assert (master.type, master.address, master.is_chief, sorted(master.cluster)) == ("chief", "m:1", True,
                                                                                     ["chief", "ps", "worker"])
    worker = cluster.from_tf_config(tf_config("worker", 0, {"worker": ["b:1"], "master": ["m:1"]}))
    assert worker.cluster == {"worker": ["b:1"], "chief": ["m:1"]} and not worker.is_chief


@pytest.mark.parametrize("environ, message", [
    ({"TF_CONFIG": "{not json"}, "TF_CONFIG is not valid"),
    ({"TF_CONFIG": '{"cluster": {"worker": ["b:1"]}}'}, "TF_CONFIG is not valid"),
    (tf_config("driver"), "task type 'driver' is not one of chief, worker, ps, evaluator"),
    (tf_config("worker", 5), "task worker:5 is not in the cluster"),
    (tf_config("worker", 0, {"worker": ["b:1"], "driver": ["m:1"]}), "unknown job(s) ['driver']"),
])
def test_a_bad_tf_config_is_named(environ, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        cluster.from_tf_config(environ)


def test_auto_reads_the_cluster():
    def task(spec):
        return cluster.Task(spec, "chief")

    assert distribute.resolve_auto(task(CLUSTER)) == "parameter_server"
    assert distribute.resolve_auto(task({"chief": ["a:1"], "worker": ["b:1"]})) == "multi_worker_mirrored"
    assert distribute.resolve_auto(task({"chief": ["a:1"]})) == "default"  # this machine has no GPUs


def test_strategy_lookup_errors_say_what_is_accepted(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="Unknown strategy 'tpu'. Expected one of: default, mirrored, "
                                          "multi_worker_mirrored, parameter_server, auto"):
        distribute.get("tpu")
    with pytest.raises(ConfigError, match="strategy parameter_server does not take devices; it takes: "
                                          "cluster_resolver, min_shard_bytes, max_shards"):
        distribute.get({"name": "parameter_server", "devices": ["/cpu:0"]})
    with pytest.raises(ConfigError, match="needs a cluster with ps tasks: set TF_CONFIG"):
        distribute.get("parameter_server")


def test_the_lost_task_is_named_from_an_error_message():
    task = cluster.Task(CLUSTER, "chief")
    assert task.task_at("worker task:1 failed: connect to ipv4:d:1 refused (b:1)") == "ps:0 (d:1)"
    assert task.task_at("/job:worker/replica:0/task:1 failed") == "worker:1 (c:1)"
    assert task.task_at("something else") is None


def test_the_chief_done_marker_counts_only_when_newer_than_the_task(tmp_path):
    assert not cluster.chief_done_since(tmp_path, time.time())
    cluster.mark_chief_done(tmp_path)
    assert cluster.chief_done_since(tmp_path, time.time())
    assert not cluster.chief_done_since(tmp_path, time.time() + 2 * cluster.CLOCK_SKEW_SECONDS)


def test_the_launcher_and_tf_config_parsing_do_not_import_tensorflow():
    code = "import sys, tfkit.distribute.launch, tfkit.distribute.cluster; print('tensorflow' in sys.modules)"
    result = run_python(code)
    assert result.returncode == 0 and result.stdout.strip() == "False", result.stderr[-2000:]


PRINT_ROLE = "import json, os, sys; t = json.loads(os.environ['TF_CONFIG'])['task']; print(t['type'], t['index']); "


def test_launch_prefixes_each_role_and_returns_the_chief_status(tmp_path):
    # The chief fails only once the others have printed (each leaves a file): its failure stops them, and on a
    # loaded machine a task may not have started yet.
    code = PRINT_ROLE + (
        f"import pathlib, time; marks = pathlib.Path({str(tmp_path)!r}); (marks / t['type']).mkdir(exist_ok=True); "
        "(marks / t['type'] / str(t['index'])).touch(); "
        "[time.sleep(0.1) for _ in range(1200) if t['type'] == 'chief' and len(list(marks.glob('*/*'))) < 4]; "
        "sys.exit(3 if t['type'] == 'chief' else 0)")
    result = run_tfkit("launch", "--workers", "2", "--ps", "1", "--", sys.executable, "-c", code, timeout=120)
    assert result.returncode == 3
    for line in ("[chief] chief 0", "[worker:0] worker 0", "[worker:1] worker 1", "[ps:0] ps 0"):
        assert line in result.stdout
    assert "[launch] chief failed with status 3: stopping the cluster." in result.stdout


def test_launch_stops_every_process_on_ctrl_c(tmp_path):
    code = PRINT_ROLE + "import time; time.sleep(300)"
    # A shell's background job starts with Ctrl-C ignored, and children inherit that: give the launcher
    # the disposition a terminal's foreground process has, whoever runs the tests.
    launcher = subprocess.Popen([sys.executable, "-m", "tfkit.cli", "launch", "--workers", "1", "--ps", "1", "--evaluator",
                                 "--", sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    pids = []
    while len(pids) < 4:
        line = launcher.stdout.readline()
        assert line, "launch exited early"
        if line.startswith("[launch]") and " pid " in line:
            pids.append(int(line.split()[3]))
    time.sleep(1)
    launcher.send_signal(signal.SIGINT)
    output, _ = launcher.communicate(timeout=60)
    assert launcher.returncode == 130
    assert "interrupted: stopping the cluster" in output
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), f"task {pid} outlived the launcher"


def test_a_failed_worker_stops_a_multi_worker_cluster():
    code = PRINT_ROLE + "import time; sys.exit(5) if t['type'] == 'worker' else time.sleep(300)"
    result = run_tfkit("launch", "--workers", "1", "--", sys.executable, "-c", code, timeout=120)
    assert result.returncode == 5
    assert "worker:0 failed with status 5; multi-worker training cannot go on" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--ps", "1"], "launch needs the command each task runs, after --"),
    (["--workers", "-1", "--", "true"], "cannot be negative. Received: -1, 0."),
])
def test_launch_usage_errors_exit_2(args, message):
    result = run_tfkit("launch", *args)
    assert result.returncode == 2 and message in result.stderr
