"""`tfkit config check` and `tfkit config show` on every bundled config, and on broken ones."""

import glob
import os

import pytest
import yaml

from tests.conftest import ROOT
from tfkit import cli

CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "*.yaml")))


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_every_bundled_config_checks_and_shows_a_config_that_reproduces_itself(path, tmp_path, capsys):
    assert cli.main(["config", "check", path]) == 0
    assert capsys.readouterr().out.startswith(f"{path}: OK (")
    assert cli.main(["config", "show", path]) == 0
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
    (["--set", "train.epochs=ten"], "train.epochs: expected an integer, received a string 'ten'"),
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
