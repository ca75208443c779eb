"""``--set KEY=VALUE`` overrides: parsed, and applied to a raw config (dict keys, list items by index or by name)."""

import yaml

from tfkit.errors import ConfigError


def parse_override(text):
    """``"train.epochs=5"`` → ``(["train", "epochs"], 5)``; the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key.path=value.")
    key, value = text.split("=", 1)
    keys = key.strip().split(".")
    if not all(keys):
        raise ConfigError(f"--set {text!r}: expected key.path=value, with a key between every two dots.")
    try:
        return keys, yaml.safe_load(value)
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {key}: cannot parse value {value!r}: {error}") from None


def _list_index(items, key, keys):
    """A list entry by position, or (features) by its ``name``."""
    if key.isdigit() and int(key) < len(items):
        return int(key)
    named = [i for i, item in enumerate(items) if isinstance(item, dict) and item.get("name") == key]
    if not named:
        raise ConfigError(f"--set {'.'.join(keys)}: {key!r} is neither an index of the list nor the name of one of its entries.")
    return named[0]


def apply_override(raw, keys, value):
    """Sets ``raw[keys[0]][keys[1]]...`` to ``value``, making sections on the way; list entries by index or name."""
    node = raw
    for i, key in enumerate(keys[:-1]):
        where = ".".join(keys[: i + 1])
        if isinstance(node, list):
            node = node[_list_index(node, key, keys)]
        else:
            if node.get(key) is None:  # a missing or empty section
                node[key] = {}
            node = node[key]
        if not isinstance(node, (dict, list)):
            raise ConfigError(f"--set {'.'.join(keys)}: {where} is a value, not a section.")
    last = keys[-1]
    if isinstance(node, list):
        node[_list_index(node, last, keys)] = value
    else:
        node[last] = value
