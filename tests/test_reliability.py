"""Every mistake ends in exit 2 and one message naming the key, file (and line) or path, found before training;
one command per job directory; nothing half-written survives a kill.

The table runs the real command line in this process (``tfkit.cli.main``:
the same code as the ``tfkit`` script, without a TensorFlow start-up per
case); locks, signals and kills run in real processes.
"""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import CENSUS_CONFIG, ROOT, census_lines, CENSUS_TEST
from tests.test_cli import small_run
from tfkit import cli
from tfkit.jobs.directory import job_lock


def write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)
    return str(path)


def census_with(census_slice, tmp_path, name, line, replace):
    """A copy of the census train slice with its ``line``-th line (1 = header) passed through ``replace``."""
    lines = open(census_slice[0], "rb").read().split(b"\n")
    lines[line - 1] = replace(lines[line - 1])
    return write(tmp_path / name, b"\n".join(lines), "wb")


def header_only(census_slice, tmp_path):
    return write(tmp_path / "header.csv", open(census_slice[0]).readline())


def bad_test_label(census_slice, tmp_path):
    return census_with(census_slice, tmp_path, "test.csv", 3, lambda line: line.replace(b"<=50K", b"<=50k"))


# (case, command, extra arguments (given census_slice, tmp_path), message parts, train also fails before writing)
CASES = [
    ("job dir is a file", "train", lambda s, t: ["--job-dir", write(t / "file", "x")], ["is a file, not a folder"]),
    ("job dir's parent is a file", "train", lambda s, t: ["--job-dir", os.path.join(write(t / "file", "x"), "job")],
     ["a part of the path is a file"]),
    ("negative batch size", "train", lambda s, t: ["--set", "data.batch_size=-5"], ["data.batch_size", ">= 1", "-5"]),
    ("negative batch size (check)", "config", lambda s, t: ["--set", "data.batch_size=-5"], ["data.batch_size", ">= 1"]),
    ("unknown optimizer", "train", lambda s, t: ["--set", "train.optimizer=adamm"], ["train.optimizer", "'adamm'", "adagrad"]),
    ("unknown optimizer (check)", "config", lambda s, t: ["--set", "train.optimizer={wide: ftrl, deep: adamm}"],
     ["train.optimizer.deep", "'adamm'"]),
    ("unknown schedule (check)", "config", lambda s, t: ["--set", "train.learning_rate_schedule={name: cosine}"],
     ["train.learning_rate_schedule.name", "'cosine'"]),
    ("label not in the data", "train", lambda s, t: ["--set", "data.label=income"], ["data.label", "'income'", "income_bracket"]),
    ("label not in the data (check)", "config", lambda s, t: ["--set", "data.label=income"], ["data.label", "'income'"]),
    ("feature column not in the data (check)", "config", lambda s, t: ["--set", "data.column_names=[" + ",".join(
        ["age", "workclass", "fnlwgt", "education", "years", "marital_status", "occupation", "relationship", "race",
         "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country", "income_bracket"]) + "]"],
     ["data.train", "no column 'education_num'"]),
    ("validation split above 1", "train", lambda s, t: ["--set", "data.validation_split=1.5"],
     ["data.validation_split", "(0, 1)", "1.5"]),
    ("validation split above 1 (check)", "config", lambda s, t: ["--set", "data.validation_split=1.5"], ["data.validation_split"]),
    ("zero epochs", "train", lambda s, t: ["--set", "train.epochs=0"], ["train.epochs", ">= 1", "0"]),
    ("missing test file", "train", lambda s, t: ["--set", f"data.test={t / 'nope.csv'}"], ["data.test", "nope.csv"]),
    ("missing test file (check)", "config", lambda s, t: ["--set", f"data.test={t / 'nope.csv'}"], ["data.test", "nope.csv"]),
    ("test file is a folder", "train", lambda s, t: ["--set", f"data.test={t}"], ["data.test", "is a folder"]),
    ("header-only training file", "train", lambda s, t: ["--set", f"data.train={header_only(s, t)}"],
     ["data.train", "header.csv", "no rows"]),
    ("test label outside the vocabulary", "train", lambda s, t: ["--set", f"data.test={bad_test_label(s, t)}"],
     ["test.csv, line 3", "label 'income_bracket'", "'<=50k'", "label_vocabulary"]),
    ("byte not valid in the file's encoding", "train", lambda s, t: ["--set", "data.train=" + census_with(
        s, t, "bytes.csv", 5, lambda line: line.replace(b"Private", b"Priv\xffate"))],
     ["bytes.csv, line 5", "column 'workclass'", "not valid UTF-8", "data.encoding"]),
    ("missing JSON instances", "predict", lambda s, t: [str(t), "--json-instances", str(t / "missing.json")],
     ["--json-instances", "missing.json", "no such file"]),
    ("predictions written to a folder", "predict", lambda s, t: [str(t), "--json-instances", write(t / "i.json", "{}"),
                                                                  "--output", str(t)], ["--output", "is a folder"]),
    ("zero batch size for predictions", "predict", lambda s, t: [str(t), "--csv", s[1], "--batch-size", "0"],
     ["--batch-size", ">= 1"]),
    ("no SavedModel to predict with", "predict", lambda s, t: [str(t), "--csv", s[1]], ["neither a SavedModel nor a folder of exported versions"]),
    ("unknown config key", "train", lambda s, t: ["--set", "train.epoch=3"], ["train.epoch", "unknown key"]),
    ("a CSV row with a wrong field count", "train", lambda s, t: ["--set", "data.train=" + census_with(
        s, t, "short.csv", 7, lambda line: line.rsplit(b",", 2)[0])], ["short.csv, line 7", "expected 15 fields, found 13"]),
]


@pytest.mark.parametrize("case, command, extra, message", CASES, ids=[case[0] for case in CASES])
def test_bad_input_exits_2_naming_the_problem(case, command, extra, message, census_slice, tmp_path, capsys):
    job_dir = tmp_path / "job"
    arguments = extra(census_slice, tmp_path)
    if command == "predict":
        argv = ["predict", *arguments]
    else:
        argv = [*(["config", "check"] if command == "config" else [command]), *small_run(census_slice, job_dir), *arguments]
    status = cli.main(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    for part in message:
        assert part in err, (part, err)
    # Found before anything was trained: no checkpoint, no export.
    assert not glob.glob(str(job_dir / "checkpoints" / "*")) and not (job_dir / "export").exists()


def test_a_busy_job_dir_is_refused_naming_its_holder(census_slice, tmp_path, capsys):
    job_dir = tmp_path / "job"
    with job_lock(str(job_dir), "tfkit train other.yaml"):
        status = cli.main(["train", *small_run(census_slice, job_dir)])
    err = capsys.readouterr().err
    assert status == 2 and "is in use by `tfkit train other.yaml`" in err and f"pid {os.getpid()}" in err, err
    assert not (job_dir / "checkpoints").exists() and not (job_dir / "model.json").exists()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path, capsys):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    write(tmp_path / ".tfkit.lock", json.dumps({"command": "tfkit train old.yaml", "host": "h", "pid": pid, "started": "x"}))
    with job_lock(str(tmp_path), "tfkit train new.yaml"):
        owner = json.loads((tmp_path / ".tfkit.lock").read_text())
    err = capsys.readouterr().err
    assert f"left by `tfkit train old.yaml` (pid {pid} on h" in err and "no longer running" in err
    assert owner["command"] == "tfkit train new.yaml" and owner["pid"] == os.getpid()
    assert (tmp_path / ".tfkit.lock").read_text() == ""  # released


def test_a_read_only_job_dir_exits_2(census_slice, tmp_path):
    """A read-only mount (EROFS) made in a user and mount namespace of its own, where the machine allows one."""
    folder = tmp_path / "readonly"
    folder.mkdir()
    command = " ".join([f"mount -t tmpfs -o ro tmpfs {folder} &&", sys.executable, "-m", "tfkit.cli", "train",
                        *small_run(census_slice, folder / "job")])
    result = subprocess.run(["unshare", "-rm", "sh", "-c", command], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    if "mount:" in result.stderr or "unshare:" in result.stderr:
        pytest.skip(f"this machine allows no private read-only mount: {result.stderr.strip()}")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "cannot create job_dir" in result.stderr and "Read-only file system" in result.stderr
    # The job dir itself exists, read-only: also refused before anything is written.
    existing = subprocess.run(["unshare", "-rm", "sh", "-c", command.replace(str(folder / "job"), str(folder))],
                              capture_output=True, text=True, cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                              timeout=300)
    assert existing.returncode == 2 and "cannot write in job_dir" in existing.stderr, existing.stderr
    assert "Read-only file system" in existing.stderr


def tfkit(*args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "tfkit.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}, timeout=timeout)


def killed(result):
    return result.returncode == -signal.SIGKILL


def test_a_kill_after_a_checkpoint_resumes_from_it_with_the_whole_history(census_slice, tmp_path):
    job_dir = tmp_path / "job"
    run = small_run(census_slice, job_dir, "--set", "train.epochs=3", "--set", "export=false")
    # Killed once epoch 3's checkpoint is complete, before the pointer file names it.
    first = tfkit("train", *run, env={"TFKIT_KILL_AT": "checkpoint-written:3"})
    assert killed(first), first.stderr
    import tensorflow as tf

    pointer = tf.train.get_checkpoint_state(str(job_dir / "checkpoints")).model_checkpoint_path
    newest = max(glob.glob(str(job_dir / "checkpoints" / "ckpt-*.index")), key=lambda p: int(p.split("-")[-1][:-6]))[:-6]
    assert os.path.basename(pointer) != os.path.basename(newest)  # the state a kill mid-pointer-update leaves
    assert not (job_dir / "metrics.json").exists()

    resumed = tfkit("train", *run, "--set", "train.epochs=4")
    assert resumed.returncode == 0, resumed.stderr
    assert f"Resuming from {newest} (epoch 3," in resumed.stdout
    assert "Taking over the lock" in resumed.stderr and "which is no longer running" in resumed.stderr
    metrics = json.loads((job_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 4 and len(metrics["history"]["loss"]) == 4 and len(metrics["history"]["val_loss"]) == 4
    checkpoints = tf.train.get_checkpoint_state(str(job_dir / "checkpoints"))
    assert checkpoints.model_checkpoint_path == f"{newest[:newest.rindex('-')]}-{metrics['steps']}"
    assert len(glob.glob(str(job_dir / "checkpoints" / "ckpt-*.index"))) == 3  # keep_checkpoints


def test_a_kill_during_export_and_predictions_leaves_nothing_half_written(census_slice, tmp_path):
    job_dir = tmp_path / "job"
    run = small_run(census_slice, job_dir, "--set", "train.epochs=1")
    first = tfkit("train", *run, env={"TFKIT_KILL_AT": "export-written"})
    assert killed(first), first.stderr
    assert glob.glob(str(job_dir / "export" / ".tmp-*")) and not glob.glob(str(job_dir / "export" / "[0-9]*"))

    second = tfkit("train", *run)
    assert second.returncode == 0, second.stderr
    assert "Removed 1 file(s) left by an interrupted write: export/.tmp-" in second.stdout
    versions = os.listdir(job_dir / "export")
    assert len(versions) == 1 and versions[0].isdigit()
    third = tfkit("train", *run)  # finished: evaluated again, not exported again
    assert third.returncode == 0 and "SavedModel up to date" in third.stdout, third.stderr
    assert os.listdir(job_dir / "export") == versions

    output = tmp_path / "predictions.jsonl"
    write(output, "the previous predictions\n")
    predict = ["predict", str(job_dir / "export"), "--csv", census_slice[1], "--output", str(output), "--batch-size", "100"]
    interrupted = tfkit(*predict, env={"TFKIT_KILL_AT": "predictions-written"})
    assert killed(interrupted), interrupted.stderr
    assert output.read_text() == "the previous predictions\n"  # untouched: the partial file has a name of its own
    assert len(glob.glob(str(tmp_path / "predictions.tmp-*"))) == 1
    done = tfkit(*predict)
    assert done.returncode == 0, done.stderr
    assert len(output.read_text().splitlines()) == 500 and not glob.glob(str(tmp_path / "predictions.tmp-*"))


def test_early_stopping_is_recorded_and_said(census_slice, tmp_path):
    job_dir = tmp_path / "job"
    # No epoch improves validation loss by 10: training stops after epoch 2 with epoch 1's weights.
    result = tfkit("train", *small_run(census_slice, job_dir, "--set", "train.epochs=6", "--set", "export=false", "--set",
                                       "train.early_stopping={patience: 1, min_delta: 10}"))
    assert result.returncode == 0, result.stderr
    assert "Early stopping stopped training after epoch 2; the weights are those of epoch 1" in result.stdout
    metrics = json.loads((job_dir / "metrics.json").read_text())
    assert metrics["stopped_epoch"] == 2 and metrics["best_epoch"] == 1 and len(metrics["history"]["loss"]) == 2


def test_sigterm_stops_training_like_ctrl_c(census_slice, tmp_path):
    job_dir = tmp_path / "job"
    command = [sys.executable, "-m", "tfkit.cli", "train", *small_run(census_slice, job_dir, "--set", "train.epochs=200")]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    deadline = time.time() + 240
    while not glob.glob(str(job_dir / "checkpoints" / "ckpt-*.index")):
        assert process.poll() is None and time.time() < deadline, "training never wrote a checkpoint"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143 and "terminated. Checkpoints already written are intact" in err, err
    assert not (job_dir / ".tfkit.lock").read_text()


def test_the_command_line_keeps_tensorflow_start_up_lines_quiet(census_slice, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-m", "tfkit.cli", "config", "check", CENSUS_CONFIG], capture_output=True,
                            text=True, cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 0 and result.stdout.startswith(CENSUS_CONFIG), result.stderr
    assert result.stderr == ""


def test_null_in_json_instances_is_a_missing_value(census_slice, tmp_path):
    """null stands for a missing value: the numeric column's default (0) and the empty (missing) category."""
    job_dir = tmp_path / "job"
    trained = tfkit("train", *small_run(census_slice, job_dir, "--set", "train.epochs=1"))
    assert trained.returncode == 0, trained.stderr
    row = dict(zip(["age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
                    "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country"],
                   census_lines(CENSUS_TEST, 1)[1].split(", ")))
    row = {k: (float(v) if v.strip().replace(".", "").isdigit() else v.strip()) for k, v in row.items()}
    instances = [{**row, "capital_gain": None, "workclass": None}, {**row, "capital_gain": 0.0, "workclass": ""}]
    path = write(tmp_path / "instances.json", "".join(json.dumps(i) + "\n" for i in instances))
    result = tfkit("predict", str(job_dir / "export"), "--json-instances", path)
    assert result.returncode == 0, result.stderr
    with_null, with_default = [json.loads(line) for line in result.stdout.splitlines()]
    assert with_null == with_default
