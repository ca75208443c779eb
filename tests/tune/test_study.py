"""`tfkit tune`: real trials in parallel processes on census rows; results table, failures, resuming, early stopping."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import keras
import optuna
import pytest
import yaml

from tests.conftest import CENSUS_CONFIG, ROOT, run_tfkit
from tfkit.errors import ConfigError
from tfkit.tune.study import load_study
from tfkit.tune.trial import Reporter

PARAMS = [
    {"name": "model.first_layer_size", "type": "INTEGER", "min": 4, "max": 32, "scale": "UNIT_LOG_SCALE"},
    {"name": "train.optimizer.deep.learning_rate", "type": "DOUBLE", "min": 0.01, "max": 0.3, "scale": "UNIT_LOG_SCALE"},
]


def study_config(tmp_path, census_slice, **tuning):
    train, test = census_slice
    config = {
        "base": CENSUS_CONFIG,
        "data": {"train": train, "test": test},
        "train": {"epochs": 2, "steps_per_epoch": 5, "verbose": 0},
        "export": False,
        "tuning": {"goal": "MAXIMIZE", "metric": "accuracy", "max_trials": 2, "max_parallel_trials": 2,
                   "algorithm": "RANDOM_SEARCH", "params": PARAMS, **tuning},
    }
    path = tmp_path / "tuned.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def results(job_dir):
    with open(os.path.join(job_dir, "results.csv"), newline="") as f:
        return list(csv.DictReader(f))


def test_a_study_runs_trials_in_parallel_writes_its_table_and_resumes_without_rerunning_any(tmp_path, census_slice):
    config, job_dir = study_config(tmp_path, census_slice), str(tmp_path / "study")
    first = run_tfkit("tune", config, "--job-dir", job_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    rows = results(job_dir)
    assert [(r["trial"], r["status"]) for r in rows] == [("0", "COMPLETE"), ("1", "COMPLETE")]
    for row in rows:
        # Each trial ran its own config in its own directory, and is scored by its validation accuracy.
        trial_config = yaml.safe_load(open(os.path.join(row["job_dir"], "config.yaml")))
        size, rate = int(row["model.first_layer_size"]), float(row["train.optimizer.deep.learning_rate"])
        assert 4 <= size <= 32 and 0.01 <= rate <= 0.3
        assert trial_config["model"]["first_layer_size"] == size and trial_config["tuning"] is None
        assert trial_config["train"]["optimizer"]["deep"]["learning_rate"] == pytest.approx(rate)
        metrics = json.load(open(os.path.join(row["job_dir"], "metrics.json")))
        assert float(row["accuracy"]) == pytest.approx(metrics["validation"]["accuracy"])
    assert "Trial 0 accuracy=" in first.stdout and "Trial 1 accuracy=" in first.stdout
    # The two trials overlapped in time: each started (its config written) before the other ended (its metrics).
    started = [os.path.getmtime(os.path.join(row["job_dir"], "config.yaml")) for row in rows]
    ended = [os.path.getmtime(os.path.join(row["job_dir"], "metrics.json")) for row in rows]
    assert max(started) < min(ended), (started, ended)
    logs = {row["trial"]: open(os.path.join(row["job_dir"], "log.txt")).read() for row in rows}
    # Trial processes read the tuning section from the study's record: no early stopping asked, none applied.
    study, spec = load_study(job_dir)
    assert isinstance(study.pruner, optuna.pruners.NopPruner) and spec["metric"] == "accuracy"

    more = run_tfkit("tune", config, "--job-dir", job_dir, "--set", "tuning.max_trials=4",
                     "--set", "tuning.max_parallel_trials=1")
    assert more.returncode == 0, more.stderr[-3000:]
    rows = results(job_dir)
    assert [r["status"] for r in rows] == ["COMPLETE"] * 4
    assert "Trial 0 " not in more.stdout and "Trial 1 " not in more.stdout and "Trial 3 accuracy=" in more.stdout
    assert {row["trial"]: open(os.path.join(row["job_dir"], "log.txt")).read() for row in rows[:2]} == logs
    assert len({(r["model.first_layer_size"], r["train.optimizer.deep.learning_rate"]) for r in rows}) == 4
    summary = json.load(open(os.path.join(job_dir, "results.json")))
    best = max(rows, key=lambda r: float(r["accuracy"]))
    assert summary["best"]["trial"] == int(best["trial"]) and summary["goal"] == "MAXIMIZE"
    assert f"Best trial {best['trial']}: accuracy={float(best['accuracy']):.4f}" in more.stdout

    # Any change but the trial counts is another study: refused, naming what changed.
    other = run_tfkit("tune", config, "--job-dir", job_dir, "--set", "train.epochs=3")
    assert other.returncode == 2 and "(its train section differs)" in other.stderr


def test_a_failed_trial_is_recorded_and_the_study_goes_on(tmp_path, census_slice):
    train, _ = census_slice
    broken = tmp_path / "broken.csv"
    lines = open(train).read().splitlines(keepends=True)
    lines[7] = "abc" + lines[7][lines[7].index(","):]  # an age that is not a number, on line 8
    broken.write_text("".join(lines))
    grid = [{"name": "data.train", "type": "CATEGORICAL", "values": [train, str(broken)]}]
    config = study_config(tmp_path, census_slice, params=grid, algorithm="GRID_SEARCH", max_trials=10,
                          early_stopping=True)
    job_dir = str(tmp_path / "study")
    result = run_tfkit("tune", config, "--job-dir", job_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {r["data.train"]: r for r in results(job_dir)}  # the grid has two points: two trials, not ten
    assert len(rows) == 2 and rows[train]["status"] == "COMPLETE"
    failed = rows[str(broken)]
    assert failed["status"] == "FAIL" and "broken.csv" in failed["message"] and "line 8" in failed["message"]
    assert "failed: trial" in result.stdout
    study, spec = load_study(job_dir)
    assert isinstance(study.pruner, optuna.pruners.MedianPruner) and spec["early_stopping"] is True


@pytest.mark.slow
def test_an_interrupted_study_resumes_its_running_trial_and_keeps_its_finished_ones(tmp_path, census_slice):
    config = study_config(tmp_path, census_slice, max_parallel_trials=1)
    job_dir = str(tmp_path / "study")
    parent = subprocess.Popen([sys.executable, "-m", "tfkit.cli", "tune", config, "--job-dir", job_dir], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        deadline = time.time() + 300
        while not (os.path.exists(os.path.join(job_dir, "results.csv"))
                   and [r["status"] for r in results(job_dir)] == ["COMPLETE", "RUNNING"]):
            assert time.time() < deadline and parent.poll() is None
            time.sleep(0.2)
        parent.send_signal(signal.SIGTERM)
        _, stderr = parent.communicate(timeout=60)
    finally:
        parent.kill()
    assert parent.returncode == 143 and "tfkit tune: terminated." in stderr, stderr[-2000:]  # 128 + SIGTERM
    assert [r["status"] for r in results(job_dir)] == ["COMPLETE", "RUNNING"]
    finished = open(os.path.join(job_dir, "trials", "0000", "log.txt")).read()

    resumed = run_tfkit("tune", config, "--job-dir", job_dir)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Trial 1: resuming" in resumed.stdout and "Trial 0 " not in resumed.stdout
    assert [r["status"] for r in results(job_dir)] == ["COMPLETE", "COMPLETE"]
    assert open(os.path.join(job_dir, "trials", "0000", "log.txt")).read() == finished


def _study_with_finished_trials(direction, value):
    study = optuna.create_study(direction=direction, pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    distribution = {"x": optuna.distributions.FloatDistribution(0, 1)}
    for _ in range(2):
        study.add_trial(optuna.trial.create_trial(params={"x": 0.5}, distributions=distribution, value=value,
                                                  intermediate_values={0: value, 1: value, 2: value}))
    return study


@pytest.mark.parametrize("direction, good, bad", [("maximize", 0.85, 0.6), ("minimize", 0.3, 0.7)])
def test_the_reporter_stops_a_trial_worse_than_the_median_after_the_first_epoch(direction, good, bad):
    model = keras.Sequential([keras.layers.Dense(1)])
    for value, pruned_after in ((good, None), (bad, 2)):
        reporter = Reporter(_study_with_finished_trials(direction, 0.8 if direction == "maximize" else 0.4).ask(), "accuracy")
        reporter.set_model(model)
        model.stop_training = False
        for epoch in range(3):
            reporter.on_epoch_end(epoch, {"val_accuracy": value, "val_loss": 1.0})
            if model.stop_training:
                break
        assert reporter.pruned_after == pruned_after and model.stop_training == (pruned_after is not None)
        assert reporter.last_value == pytest.approx(value)


def test_the_reporter_names_the_metrics_a_run_reports_when_the_tuned_one_is_missing():
    reporter = Reporter(optuna.create_study().ask(), "acuracy")
    with pytest.raises(ConfigError, match="tuning.metric: the run reports no validation 'acuracy'; it reports: accuracy, loss"):
        reporter.on_epoch_end(0, {"val_accuracy": 0.5, "val_loss": 1.0, "accuracy": 0.4})
