"""The tuning section: scales map the unit interval onto values as the old tuning service did; bad specs exit 2."""

import math
import os

import numpy as np
import pytest

from tests.conftest import CENSUS_CONFIG, ROOT
from tfkit import cli
from tfkit import config as config_lib
from tfkit.errors import ConfigError
from tfkit.tune.spec import LINEAR, LOG, REVERSE_LOG, Param, scale, unit


@pytest.mark.parametrize("kind", [LINEAR, LOG, REVERSE_LOG])
def test_scales_run_from_min_to_max_and_invert(kind):
    units = np.linspace(0, 1, 101)
    values = [scale(u, 0.001, 10.0, kind) for u in units]
    assert values[0] == pytest.approx(0.001) and values[-1] == pytest.approx(10.0)
    assert all(a < b for a, b in zip(values, values[1:]))  # increasing
    assert [unit(v, 0.001, 10.0, kind) for v in values] == pytest.approx(units)


def test_log_scale_searches_every_decade_alike_and_reverse_log_is_its_mirror():
    draws = np.random.default_rng(0).uniform(size=100_000)
    logged = np.array([scale(u, 1e-4, 1.0, LOG) for u in draws])
    # Four decades, a quarter of the draws each.
    counts = np.histogram(np.log10(logged), bins=[-4, -3, -2, -1, 0])[0] / len(draws)
    assert counts == pytest.approx([0.25] * 4, abs=0.01)
    assert scale(0.5, 1.0, 100.0, LOG) == pytest.approx(10.0)
    for u in (0.0, 0.2, 0.5, 0.9):  # fine near max: the log scale's mirror image
        assert scale(u, 1.0, 100.0, REVERSE_LOG) == pytest.approx(101.0 - scale(1 - u, 1.0, 100.0, LOG))
    reverse = np.array([scale(u, 1e-4, 1.0, REVERSE_LOG) for u in draws])
    # Each decade of distance from the top gets a quarter: as many draws above 0.9991 as below 0.9001.
    distance = np.log10(1.0 + 1e-4 - reverse)
    assert np.histogram(distance, bins=[-4, -3, -2, -1, 0])[0] / len(draws) == pytest.approx([0.25] * 4, abs=0.01)
    assert np.mean(reverse > 0.9991) == pytest.approx(0.25, abs=0.01)


@pytest.mark.parametrize("kind", [LINEAR, LOG, REVERSE_LOG])
def test_integers_take_each_value_with_its_share_of_the_scale(kind):
    param = Param("n", "INTEGER", min=1, max=8, scale=kind)
    draws = [param.value(u) for u in np.random.default_rng(1).uniform(size=40_000)]
    assert set(draws) == set(range(1, 9)) and all(isinstance(v, int) for v in draws)
    # Integer k owns [k - 0.5, k + 0.5) of the continuous range.
    share = [unit(k + 0.5, 0.5, 8.5, kind) - unit(k - 0.5, 0.5, 8.5, kind) for k in range(1, 9)]
    counts = np.bincount(draws, minlength=9)[1:] / len(draws)
    assert counts == pytest.approx(share, abs=0.01)
    assert param.value(0.0) == 1 and param.value(1.0) == 8
    assert [param.value(u) for u in param.grid()] == list(range(1, 9))  # a grid search visits each integer


def test_doubles_and_choices():
    assert Param("lr", "DOUBLE", min=0.001, max=0.1, scale=LOG).value(0.5) == pytest.approx(0.01)
    assert Param("o", "CATEGORICAL", values=["adam", "sgd"]).value(1) == "sgd"
    assert Param("o", "CATEGORICAL", values=["adam", "sgd"]).grid() == [0, 1]
    both = Param("size", "INTEGER", keys=["a.b", "c.d"], min=1, max=2)
    assert both.overrides(2) == [(["a", "b"], 2), (["c", "d"], 2)]
    with pytest.raises(ConfigError, match="GRID_SEARCH cannot enumerate a DOUBLE"):
        Param("lr", "DOUBLE", min=0.0, max=1.0).grid()


TUNED = os.path.join(ROOT, "configs", "census_tuning.yaml")


@pytest.mark.parametrize("override, message", [
    ("tuning.goal=BIGGER", "tuning.goal: expected one of MAXIMIZE, MINIMIZE, received 'BIGGER'"),
    ("tuning.metrik=accuracy", "tuning.metrik: unknown key"),
    ("tuning.max_trials=0", "tuning.max_trials: expected an integer >= 1, received 0"),
    ("tuning.params.0.type=FLOAT", "tuning.params[0] (model.first_layer_size).type: expected one of INTEGER"),
    ("tuning.params.0.min=600", "tuning.params[0] (model.first_layer_size): expected min < max, received min=600"),
    ("tuning.params.0.min=5.5", "INTEGER needs whole min and max"),
    ("tuning.params.2.min=0", "tuning.params[2] (model.scale_factor).min: a log scale needs min > 0"),
    ("tuning.params.2.scale=LOG", "tuning.params[2] (model.scale_factor).scale: expected one of UNIT_LINEAR_SCALE"),
    ("tuning.params.1.values=[1, 2]", "tuning.params[1] (model.num_layers).values: INTEGER takes min and max"),
    ("tuning.params.0.name=model.num_layers", "every parameter needs its own name"),
    ("tuning.params.0.name=train.epoch", "tuning.params[0] (train.epoch) = 50: train.epoch: unknown key"),
    ("tuning.params.0.name=data.header", "tuning.params[0] (data.header) = 50: data.header: expected true/false"),
    ("tuning.params.3.keys=[features.no_such_column.dimension]",
     "tuning.params[3] (embedding_size) = 4: --set features.no_such_column.dimension: 'no_such_column' is neither"),
    ("tuning.params.0.name=model.first_layer_siz", "tuning.params[0] (model.first_layer_siz) = 50: model.first_layer_siz"),
    ("tuning.metric=precision", "tuning.metric: 'precision' is not a metric WideDeep reports; it reports: loss, accuracy, auc"),
    ("data.validation_split=null", "tuning.metric: trials are scored on validation data"),
    ("tuning.algorithm=GRID_SEARCH", "tuning.params (model.scale_factor): GRID_SEARCH cannot enumerate a DOUBLE"),
])
def test_config_check_refuses_a_bad_tuning_section_naming_the_key(override, message, capsys):
    assert cli.main(["config", "check", TUNED, "--set", override]) == 2
    assert message in capsys.readouterr().err


def test_categorical_values_that_break_the_model_are_refused_before_any_trial(capsys):
    bad = "tuning.params.2={name: model.head, type: CATEGORICAL, values: [binary, no_such_head]}"
    assert cli.main(["config", "check", TUNED, "--set", bad]) == 2
    assert "tuning.params[2] (model.head) = 'no_such_head': " in capsys.readouterr().err


def test_the_census_tuning_example_extends_census_yaml():
    tuned, census = config_lib.load(TUNED), config_lib.load(CENSUS_CONFIG)
    assert tuned["features"] == census["features"] and tuned["data"] == census["data"]
    assert tuned["train"]["epochs"] == 8 and tuned["train"]["optimizer"] == census["train"]["optimizer"]
    assert [p["name"] for p in tuned["tuning"]["params"]] == [
        "model.first_layer_size", "model.num_layers", "model.scale_factor", "embedding_size"]
    assert census["tuning"] is None


def test_base_paths_are_relative_to_the_file_that_names_them(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "child.yaml").write_text(f"base: {CENSUS_CONFIG}\ndata: {{test: mine.csv}}\n")
    config = config_lib.load(str(tmp_path / "sub" / "child.yaml"))
    assert config["data"]["train"] == os.path.join(ROOT, "data", "census", "adult.data.csv.gz")
    assert config["data"]["test"] == str(tmp_path / "sub" / "mine.csv")
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="extends itself"):
        config_lib.load(str(tmp_path / "loop.yaml"))
    assert math.isclose(config["data"]["validation_split"], 0.1)
