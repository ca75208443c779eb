"""Property tests: malformed configs never crash the loader; `tfkit config check` exits 2 naming the key."""

import os
import re

import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import CENSUS_CONFIG, ROOT
from tfkit import cli
from tfkit.config import SCHEMA
from tfkit.config.schema import Field

TUNED_CONFIG = os.path.join(ROOT, "configs", "census_tuning.yaml")
with open(CENSUS_CONFIG, encoding="utf-8") as f:
    CENSUS = yaml.safe_load(f)

# Errors open with the key path: `train.epochs: ...`, `features[3] ('age').type: ...`, `tuning.params[0] (x) = 5: ...`.
def names_a_key(error):
    head = re.sub(r" \([^)]*\)", "", error.split(": ", 1)[0]).split(" = ", 1)[0]
    return bool(head) and " " not in head and ": " in error


values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def key_paths(node, prefix=()):
    """Every key path of a config, list entries by index."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    paths = []
    for key, value in items:
        paths.append((*prefix, str(key)))
        paths.extend(key_paths(value, (*prefix, str(key))))
    return paths


def check(capsys, path, *overrides):
    """`tfkit config check`; returns (status, the error message)."""
    status = cli.main(["config", "check", path, *[f"--set={o}" for o in overrides]])
    captured = capsys.readouterr()
    assert status in (0, 2), captured.err
    assert "Traceback" not in captured.err
    error = ""
    if status == 2:  # the message is the command's last words (warnings may come before it)
        assert "tfkit config: error: " in captured.err, captured.err
        error = captured.err.rsplit("tfkit config: error: ", 1)[1].strip()
    return status, error


def as_yaml(value):
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("\n...").removesuffix("...").strip()




@given(path=st.sampled_from(key_paths(CENSUS)), value=values)
def test_any_value_anywhere_in_the_census_config_is_accepted_or_refused_naming_a_key(path, value, capsys):
    status, error = check(capsys, CENSUS_CONFIG, f"{'.'.join(path)}={as_yaml(value)}")
    if status == 2:
        assert names_a_key(error) or error.startswith("--set"), error
    field = SCHEMA.get(path[0])
    field = field.get(path[1]) if isinstance(field, dict) and len(path) == 2 else field if len(path) == 1 else None
    if isinstance(field, Field) and value is not None and not any(
            isinstance(value, t) and not (isinstance(value, bool) and t in (int, float)) for t in field.types) and not (
            float in field.types and isinstance(value, int) and not isinstance(value, bool)):
        # A value of the wrong type for a schema key: refused, naming exactly that key.
        assert status == 2 and error.startswith(f"{'.'.join(path)}: expected "), error


@given(section=st.sampled_from(["", "data.", "train.", "model.", "tuning.", "tuning.params.0."]),
       key=st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True), value=values)
def test_an_unknown_key_is_refused_by_its_name(section, key, value, capsys):
    known = {"": SCHEMA, "data.": SCHEMA["data"], "train.": SCHEMA["train"]}.get(section)
    if known is not None and key in known or section == "model." and key in ("name",) or key == "base":
        return
    status, error = check(capsys, TUNED_CONFIG, f"{section}{key}={as_yaml(value)}")
    if section == "model.":  # any constructor argument name may exist; an unknown one is named
        assert status == 0 or f"model.{key}" in error or error.startswith("model"), error
        return
    shown = f"{section}{key}".replace("params.0.", "params[0].")
    assert status == 2 and error.startswith(f"{shown}: unknown key"), error


@given(text=st.text(max_size=200))
def test_any_text_as_a_config_file_is_refused_naming_the_file_or_a_key(text, tmp_path_factory, capsys):
    path = str(tmp_path_factory.mktemp("config") / "config.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    status, error = check(capsys, path)
    assert status == 2 and (error.startswith(path) or names_a_key(error)), error


@given(override=st.text(alphabet=st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=30))
def test_any_set_argument_is_applied_or_refused_without_a_traceback(override, capsys):
    status, error = check(capsys, CENSUS_CONFIG, override)
    if status == 2:
        assert names_a_key(error) or error.startswith("--set"), error
