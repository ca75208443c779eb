"""Reading configs: YAML/JSON files with ``base:`` inheritance, ``--set`` overrides, paths made absolute, written back."""

import os

import yaml

from tfkit.config.overrides import apply_override, parse_override
from tfkit.config.validation import validate
from tfkit.data import cache as cache_lib
from tfkit.errors import ConfigError
from tfkit.io.files import replacing


def load(path, overrides=()):
    """Reads, overrides, validates and resolves a config file.

    Data, vocabulary and vector paths are made relative to the folder of the
    config file that names them. ``base: other.yaml`` at the top level makes
    the config the other one with this file's keys merged in (mappings key by
    key, anything else replaced).
    """
    raw = _read(path, ())
    for text in overrides:
        apply_override(raw, *parse_override(text))
    config = validate(raw)
    _resolve_config_paths(config, os.path.dirname(os.path.abspath(path)))
    if config["job_dir"] is None:
        config["job_dir"] = os.path.join("runs", os.path.splitext(os.path.basename(path))[0])
    return config


def _read(path, including):
    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f)
    except OSError as error:
        raise ConfigError(f"Cannot read config {path}: {error.strerror}.") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {getattr(error, 'problem', error)}.") from None
    if raw is None:
        raise ConfigError(f"{path}: the config is empty.")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level.")
    if "base" not in raw:
        return raw
    base = raw.pop("base")
    if not isinstance(base, str):
        raise ConfigError(f"{path}: base: expected the path of the config this one extends, received {base!r}.")
    chain = (*including, os.path.abspath(path))
    base = os.path.normpath(os.path.join(os.path.dirname(chain[-1]), base))
    if base in chain:
        raise ConfigError(f"{path}: base: {base} extends itself (through {' -> '.join(chain)}).")
    extended = _read(base, chain)
    _resolve_config_paths(extended, os.path.dirname(base))
    return _merge(extended, raw)


def _merge(base, changes):
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = _merge(base[key], value) if isinstance(base.get(key), dict) and isinstance(value, dict) else value
    return merged


def _resolve_config_paths(config, folder):
    """Makes the data, vocabulary and vector paths of a (raw or validated) config absolute, from ``folder``."""
    data = config.get("data")
    if isinstance(data, dict) and data.get("format") != "gp_curves":  # curve arguments, not files
        for key in ("train", "validation", "test"):
            if key in data:
                data[key] = _resolve_paths(data[key], folder)
    if isinstance(data, dict) and isinstance(data.get("cache"), str) and data["cache"] not in cache_lib.MODES:
        data["cache"] = _resolve_paths(data["cache"], folder)
    for entry in config.get("features") if isinstance(config.get("features"), list) else ():
        if isinstance(entry, dict) and entry.get("vocabulary_file"):
            entry["vocabulary_file"] = _resolve_paths(entry["vocabulary_file"], folder)
    model = config.get("model")
    if isinstance(model, dict) and isinstance(model.get("vectors"), str):
        model["vectors"] = _resolve_paths(model["vectors"], folder)


def _resolve_paths(value, base):
    if isinstance(value, dict):
        return {k: _resolve_paths(v, base) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_paths(v, base) for v in value]
    if not isinstance(value, str):
        return value
    return value if os.path.isabs(value) else os.path.normpath(os.path.join(base, value))


def dump(config, path):
    """Writes the resolved config as YAML, atomically."""
    with replacing(path) as temporary, open(temporary, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=False)
