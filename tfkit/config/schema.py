"""Config schemas: typed keys with defaults and docs, checked with errors that name the key path.

A schema is a dict of :class:`Field` (a value) and dicts (a section). The
config loader (:mod:`tfkit.config`) and the tuning spec (:mod:`tfkit.tune.spec`)
are written in it, and the configuration reference of the docs is generated
from it (:func:`reference`), so the three cannot disagree.
"""

import copy

import yaml

from tfkit.errors import ConfigError

REQUIRED = object()

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true/false", list: "a list", dict: "a mapping"}


class Field:
    """One config key: accepted types, default, and what it means."""

    def __init__(self, types, default=REQUIRED, doc="", minimum=None, maximum=None, exclusive=False):
        self.types = types if isinstance(types, tuple) else (types,)
        self.default = default
        self.doc = doc
        # Bounds of a number, inclusive unless ``exclusive``.
        self.minimum, self.maximum, self.exclusive = minimum, maximum, exclusive

    def check(self, value, path):
        if value is None and self.default is None:
            return value
        for kind in self.types:
            if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
                return self._in_range(float(value), path)
            if kind is int and isinstance(value, bool):
                continue
            if isinstance(value, kind):
                return self._in_range(value, path) if kind in (int, float) else value
        raise ConfigError(f"{path}: expected {self.type_names()}, received {type_name(value)} {value!r}.")

    def _in_range(self, value, path):
        below = self.minimum is not None and (value <= self.minimum if self.exclusive else value < self.minimum)
        above = self.maximum is not None and (value >= self.maximum if self.exclusive else value > self.maximum)
        if below or above:
            raise ConfigError(f"{path}: expected {self.type_names()}, received {value!r}.")
        return value

    def type_names(self):
        names = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in self.types)
        if self.minimum is not None and self.maximum is not None:
            brackets = "()" if self.exclusive else "[]"
            return f"{names} in {brackets[0]}{self.minimum}, {self.maximum}{brackets[1]}"
        if self.minimum is not None:
            return f"{names} {'>' if self.exclusive else '>='} {self.minimum}"
        return names


def type_name(value):
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def validate_section(raw, schema, path):
    """``raw`` checked against ``schema``: unknown keys refused, types checked, defaults filled in."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path or 'config'}: expected a mapping, received {type_name(raw)} {raw!r}.")
    unknown = sorted(set(raw) - set(schema), key=str)
    if unknown:
        where = f"{path}.{unknown[0]}" if path else str(unknown[0])
        raise ConfigError(f"{where}: unknown key. Expected one of: {', '.join(schema)}.")
    resolved = {}
    for key, spec in schema.items():
        where = f"{path}.{key}" if path else key
        if isinstance(spec, dict):
            resolved[key] = validate_section(raw.get(key) or {}, spec, where)
        elif key in raw:
            resolved[key] = spec.check(raw[key], where)
        elif spec.default is REQUIRED:
            raise ConfigError(f"{where}: missing; it is required ({spec.doc})")
        else:
            resolved[key] = copy.deepcopy(spec.default)
    return resolved


def reference_table(schema, path=""):
    """The keys of ``schema`` as the lines of a reStructuredText list-table (key, type, default, meaning)."""
    def text(value):
        return "".join("\\" + c if c in "\\*|`_" else c for c in value)

    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 22 14 14 50", "",
             "   * - key", "     - type", "     - default", "     - meaning"]
    for key, types, default, doc in reference(schema, path):
        lines += [f"   * - ``{key}``", f"     - {text(types)}", "     - " + (f"``{default}``" if default else "*required*"),
                  f"     - {text(doc)}"]
    return lines


def reference(schema, path=""):
    """Rows ``(key path, types, default as YAML or None if required, doc)`` of every key, sections flattened."""
    rows = []
    for key, spec in schema.items():
        where = f"{path}.{key}" if path else key
        if isinstance(spec, dict):
            rows.extend(reference(spec, where))
        else:
            default = None if spec.default is REQUIRED else (
                yaml.safe_dump(spec.default, default_flow_style=True, width=10**6).removesuffix("\n").removesuffix("\n..."))
            rows.append((where, spec.type_names(), default, spec.doc))
    return rows
