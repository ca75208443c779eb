"""`tfkit config check` and `tfkit config show` on every bundled config, and on broken ones."""

import glob
import json
import os
import re

import pytest
import yaml

from tests.conftest import ROOT, run_tfkit
from tfkit import cli

CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "*.yaml")))


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_every_bundled_config_checks_and_shows_a_config_that_reproduces_itself(path, tmp_path, capsys):
    sets = []
    if os.path.basename(path) == "cifar10_resnet.yaml":
        # CIFAR-10 is not bundled: the check says so, naming the key and the folder, until it is there.
        assert cli.main(["config", "check", path]) == 2
        assert re.search(r"data.train: .*cifar-10-batches-py: no such file or folder", capsys.readouterr().err)
        from tests.data.test_images import write_cifar_python

        folder = str(tmp_path / "cifar-10-batches-py")
        write_cifar_python(folder, per_batch=4)
        sets = ["--set", f"data.train={folder}", "--set", f"data.test={folder}"]
    assert cli.main(["config", "check", path, *sets]) == 0
    assert capsys.readouterr().out.startswith(f"{path}: OK (")
    assert cli.main(["config", "show", path, *sets]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    # Defaults are filled in: the schema's and the model constructor's.
    assert shown["train"]["seed"] == 42 and "keep_checkpoints" in shown["train"]
    written = yaml.safe_load(open(path))
    if "base" in written:  # what it extends is shown too
        assert shown["features"] and shown["model"]["name"]
    else:
        assert len(shown["model"]) > len(written["model"])
    # The shown config is a config: it checks, and showing it again changes nothing.
    resolved = tmp_path / "resolved.yaml"
    resolved.write_text(yaml.safe_dump(shown, sort_keys=False))
    assert cli.main(["config", "check", str(resolved)]) == 0
    capsys.readouterr()
    assert cli.main(["config", "show", str(resolved)]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == shown


@pytest.mark.parametrize("overrides, message", [
    (["--set", "train.epochs=ten"], "train.epochs: expected an integer >= 1, received a string 'ten'"),
    (["--set", "model.hidden_unit=[8]"], "model.hidden_unit: unknown key for WideDeep"),
    (["--set", "features.0.type=numerc"], "features[0] ('age').type: Unknown feature column type 'numerc'"),
    (["--set", "data.format=parquet"], "data.format: expected one of csv, text"),
])
def test_check_exits_2_naming_the_key(overrides, message, capsys):
    assert cli.main(["config", "check", os.path.join(ROOT, "configs", "census.yaml"), *overrides]) == 2
    assert message in capsys.readouterr().err


def test_show_applies_overrides(capsys):
    assert cli.main(["config", "show", os.path.join(ROOT, "configs", "gp_cnp.yaml"), "--set", "train.epochs=3"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["train"]["epochs"] == 3 and shown["model"]["x_size"] == 1
    assert shown["data"]["train"]["kernel"] == "squared_exponential"


# A few steps of each bundled config, in this process; CIFAR-10 (not bundled) from a generated folder of its format.
FEW_STEPS = ["train.epochs=1", "train.steps_per_epoch=2", "train.verbose=0", "export=false",
             "train.cross_validation=null", "train.early_stopping=null"]


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_every_bundled_config_trains_a_few_steps(path, tmp_path, capsys):
    overrides = list(FEW_STEPS)
    if os.path.basename(path) == "cifar10_resnet.yaml":
        from tests.data.test_images import write_cifar_python

        folder = str(tmp_path / "cifar-10-batches-py")
        write_cifar_python(folder, per_batch=16)
        overrides += [f"data.train={folder}", f"data.test={folder}", "data.batch_size=8"]
    if "resnet" in path:
        overrides.append("model.depth=8")
    status = cli.main(["train", path, "--job-dir", str(tmp_path / "run"), *(a for o in overrides for a in ("--set", o))])
    out = capsys.readouterr().out
    assert status == 0 and "Trained 1 epochs (2 steps)" in out, out
    metrics = json.load(open(tmp_path / "run" / "metrics.json"))
    evaluated = [v for split in ("validation", "test") for v in metrics.get(split, {}).values()]
    assert metrics["steps"] == 2 and all(v == v for v in evaluated + metrics["history"]["loss"])  # no NaN


def test_the_bundled_tuning_example_runs_a_trial(tmp_path):
    result = run_tfkit("tune", os.path.join(ROOT, "configs", "census_tuning.yaml"), "--job-dir", str(tmp_path),
                       *(a for o in [*FEW_STEPS, "tuning.max_trials=1"] for a in ("--set", o)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Best trial 0: accuracy=" in result.stdout
    with open(tmp_path / "results.json") as f:
        best = json.load(f)["best"]
    assert 50 <= best["model.first_layer_size"] <= 500 and 4 <= best["embedding_size"] <= 16
    trial = yaml.safe_load(open(tmp_path / "trials" / "0000" / "config.yaml"))
    dimensions = {f["name"]: f.get("dimension") for f in trial["features"]}
    assert dimensions["occupation_embedding"] == dimensions["country_embedding"] == best["embedding_size"]


@pytest.mark.parametrize("overrides, message", [
    (["--set", "train.optimizer=adamm"], "train.optimizer: unknown optimizer 'adamm'"),
    (["--set", "train.learning_rate_schedule={name: cosine_decayy, decay_steps: 10}"],
     "train.learning_rate_schedule.name: expected one of"),
    (["--set", "model.name=wide_deeep"], "model.name: "),
    (["--set", "train.cross_validation={folds: 3}", "--set", "data.validation_split=null",  # every fold adapts
      "--set", "train.early_stopping=null", "--set", "train.optimizer=adamm"], "train.optimizer: unknown optimizer 'adamm'"),
])
def test_train_reports_a_config_error_before_reading_any_row(overrides, message, tmp_path, capsys):
    # The header is right and the first row is not: had any pass read data first, the row would be the error.
    from tests.conftest import CENSUS_TRAIN, census_lines

    train = tmp_path / "train.csv"
    header = census_lines(CENSUS_TRAIN, 0)
    train.write_text("".join(header) + "39, State-gov\n")
    job_dir = tmp_path / "job"
    status = cli.main(["train", os.path.join(ROOT, "configs", "census.yaml"), "--job-dir", str(job_dir),
                       "--set", f"data.train={train}", "--set", "data.test=null", *overrides])
    captured = capsys.readouterr()
    assert status == 2 and message in captured.err, captured.err
    assert "line 2" not in captured.err and "Reading data.train" not in captured.out
    assert not (job_dir / "model.json").exists() and not (job_dir / "checkpoints").exists()


def test_tune_reports_a_config_error_before_any_trial_reads_a_row(tmp_path, capsys):
    from tests.conftest import CENSUS_TRAIN, census_lines

    train = tmp_path / "train.csv"
    train.write_text("".join(census_lines(CENSUS_TRAIN, 0)) + "39, State-gov\n")
    job_dir = tmp_path / "study"
    status = cli.main(["tune", os.path.join(ROOT, "configs", "census_tuning.yaml"), "--job-dir", str(job_dir),
                       "--set", f"data.train={train}", "--set", "train.optimizer=adamm"])
    captured = capsys.readouterr()
    assert status == 2 and "train.optimizer: unknown optimizer 'adamm'" in captured.err, captured.err
    assert "line 2" not in captured.err and not job_dir.exists()
