"""Config loading: defaults, overrides, relative paths, and errors that name the key."""

import pytest
import yaml

from tests.conftest import CENSUS_CONFIG, ROOT
from tfkit import config as C
from tfkit.errors import ConfigError
from tfkit.models import WideDeep


def write(tmp_path, config):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def minimal(**changes):
    config = {
        "data": {"train": "train.csv", "label": "y"},
        "features": [{"type": "categorical", "name": "job", "vocabulary": ["a", "b"]}, {"type": "numeric", "name": "age"}],
        "model": {"name": "wide_deep", "wide_columns": ["job"], "deep_columns": ["age"]},
    }
    for key, value in changes.items():
        config[key] = value
    return config


def error(tmp_path, config, overrides=()):
    with pytest.raises(ConfigError) as info:
        loaded = C.load(write(tmp_path, config), overrides)
        C.build_model(loaded["model"], C.build_columns(loaded["features"]), loaded["data"])
    return str(info.value)


def test_bundled_census_config_loads_and_builds_its_model():
    config = C.load(CENSUS_CONFIG)
    assert config["data"]["train"] == f"{ROOT}/data/census/adult.data.csv.gz"
    assert config["train"]["keep_checkpoints"] == 3  # a default filled in
    columns = C.build_columns(config["features"])
    model = C.build_model(config["model"], columns, config["data"])
    assert isinstance(model, WideDeep)
    assert model.hidden_units == [100, 70, 48, 34]  # first_layer_size/num_layers/scale_factor shorthand
    assert model.label_vocabulary == ["<=50K", ">50K"]
    assert columns["age_x_education_x_occupation"].columns[0] is columns["age_buckets"]


def test_overrides_are_parsed_as_yaml_and_type_checked(tmp_path):
    path = write(tmp_path, minimal())
    config = C.load(path, ["train.epochs=3", "data.batch_size=64", "features.1.normalize=true", "strategy=mirrored"])
    assert config["train"]["epochs"] == 3 and config["data"]["batch_size"] == 64
    assert config["features"][1]["normalize"] is True and config["strategy"] == "mirrored"
    assert config["job_dir"] == "runs/config"
    with pytest.raises(ConfigError, match=r"train.epochs: expected an integer >= 1, received a string 'many'"):
        C.load(path, ["train.epochs=many"])
    with pytest.raises(ConfigError, match="expected key.path=value"):
        C.load(path, ["train.epochs"])
    with pytest.raises(ConfigError, match="is neither an index of the list"):
        C.load(path, ["features.7.name=x"])


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"trian": {}}, "trian: unknown key. Expected one of: job_dir, data, features"),
        ({"train": {"epoch": 3}}, "train.epoch: unknown key. Expected one of: epochs"),
        ({"data": {"label": "y"}}, "data.train: missing; it is required"),
        ({"data": {"train": "x.csv", "label": "y", "batch_size": 1.5}}, "data.batch_size: expected an integer >= 1, received a number 1.5"),
        ({"model": {"name": "resnet9000"}}, "model.name: Unknown model 'resnet9000'"),
        ({"model": {"name": "wide_deep", "wide_columns": ["jbo"]}}, "model.wide_columns[0]: column 'jbo' is not defined"),
        ({"model": {"name": "wide_deep", "deep_columns": ["age"], "hiden_units": [3]}}, "model.hiden_units: unknown key for WideDeep"),
        ({"model": {"name": "wide_deep", "deep_columns": ["age"], "num_layers": 2}}, "model: give hidden_units, or all of"),
        ({"features": [{"type": "categorial", "name": "x"}]}, "features[0] ('x').type: Unknown feature column type 'categorial'"),
        ({"features": [{"type": "embedding", "name": "e", "categorical": "nope", "dimension": 2}]},
         "features[0] ('e').categorical: column 'nope' is not defined"),
        ({"features": [{"type": "numeric", "name": "a", "shape": 0}]}, "features[0] ('a'): NumericColumn 'a': shape must be"),
        ({"features": [{"type": "numeric", "name": "a", "normalise": True}]}, "features[0] ('a').normalise: unknown key for NumericColumn"),
        ({"features": [{"type": "embedding", "name": "e", "categorical": "job"}, {"type": "categorical", "name": "job"}]},
         "features[0] ('e').dimension: missing; EmbeddingColumn requires it"),
        ({"features": [{"type": "numeric", "name": "a"}, {"type": "numeric", "name": "a"}]}, "features[1]: a column named 'a' is defined twice"),
        ({"features": [{"type": "crossed", "name": "c", "columns": ["c", "c"], "num_buckets": 3}]}, "refers to itself"),
        ({"features": ["age"]}, "features[0]: expected a mapping with 'type' and 'name'"),
    ],
)
def test_bad_configs_name_the_key(tmp_path, changes, message):
    assert message in error(tmp_path, minimal(**changes))


def test_invalid_yaml_reports_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("data:\n  train: x.csv\n  label: [y\n")
    with pytest.raises(ConfigError, match=r"broken.yaml, line \d+, column \d+: not valid YAML"):
        C.load(str(path))


def test_dump_round_trips_the_resolved_config(tmp_path):
    config = C.load(CENSUS_CONFIG, ["train.epochs=2"])
    path = tmp_path / "resolved.yaml"
    C.dump(config, str(path))
    assert C.validate(yaml.safe_load(path.read_text())) == config
