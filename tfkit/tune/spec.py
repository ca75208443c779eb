"""The ``tuning`` section of a config: the old tuning-spec vocabulary, checked, and its parameters' value spaces.

Every numeric parameter is searched in the unit interval and mapped onto
``[min, max]`` by its scale, as the old tuning service did:

* ``UNIT_LINEAR_SCALE``: evenly;
* ``UNIT_LOG_SCALE``: evenly in log(value), so small values are searched as
  finely as large ones (learning rates);
* ``UNIT_REVERSE_LOG_SCALE``: the mirror image, fine near ``max``
  (momentum-like values close to 1).

This module needs neither TensorFlow nor Optuna; :mod:`tfkit.tune.study` runs the search.
"""

import math

from tfkit.errors import ConfigError
from tfkit.config.schema import REQUIRED, Field, validate_section

GOALS = ("MAXIMIZE", "MINIMIZE")
ALGORITHMS = ("BAYESIAN_OPTIMIZATION", "RANDOM_SEARCH", "GRID_SEARCH")
TYPES = ("INTEGER", "DOUBLE", "CATEGORICAL", "DISCRETE")
LINEAR, LOG, REVERSE_LOG = "UNIT_LINEAR_SCALE", "UNIT_LOG_SCALE", "UNIT_REVERSE_LOG_SCALE"
SCALES = (LINEAR, LOG, REVERSE_LOG)

TUNING_SCHEMA = {
    "goal": Field(str, "MAXIMIZE", "MAXIMIZE | MINIMIZE the metric."),
    "metric": Field(str, REQUIRED, "The validation metric a trial is scored by (the old hyperparameter metric tag): "
                    "loss or one of the model's metrics, e.g. accuracy, auc, nll. With train.cross_validation, its "
                    "mean over the folds."),
    "max_trials": Field(int, 10, "Trials in the study, counting those of earlier (resumed) invocations."),
    "max_parallel_trials": Field(int, 1, "Trials running at once, each a process of its own sharing the CPU cores."),
    "early_stopping": Field(bool, False, "Stop unpromising trials: after each epoch, a trial whose validation metric "
                            "is worse than the median of earlier trials' at the same epoch stops (Optuna's median rule, "
                            "from the second epoch, once 2 trials have finished)."),
    "algorithm": Field(str, "BAYESIAN_OPTIMIZATION", "BAYESIAN_OPTIMIZATION (Optuna's TPE sampler) | RANDOM_SEARCH | "
                       "GRID_SEARCH (every combination of INTEGER, CATEGORICAL and DISCRETE values, then stop)."),
    "seed": Field(int, None, "Seed of the search. Default: train.seed."),
    "params": Field(list, REQUIRED, "The parameters searched: a list of {name, type, min, max, values, scale, keys}."),
}

PARAM_SCHEMA = {
    "name": Field(str, REQUIRED, "The config key path the value goes to, e.g. model.first_layer_size or "
                  "features.occupation_embedding.dimension (list entries by index or by their name)."),
    "keys": Field(list, None, "Key paths that all take the value, when one parameter sets several keys; name then only "
                  "labels it."),
    "type": Field(str, REQUIRED, "INTEGER | DOUBLE (between min and max) | CATEGORICAL | DISCRETE (one of values)."),
    "min": Field((int, float), None, "Smallest value (INTEGER, DOUBLE)."),
    "max": Field((int, float), None, "Largest value (INTEGER, DOUBLE)."),
    "values": Field(list, None, "The values to choose from (CATEGORICAL: any, DISCRETE: numbers)."),
    "scale": Field(str, None, "UNIT_LINEAR_SCALE (default) | UNIT_LOG_SCALE | UNIT_REVERSE_LOG_SCALE: how the unit "
                   "interval maps onto [min, max] (INTEGER, DOUBLE)."),
}


def scale(unit, low, high, scale_type):
    """The value in ``[low, high]`` at ``unit`` in ``[0, 1]`` on a scale.

    Example:

    >>> from tfkit.tune.spec import scale
    >>> scale(0.5, 1.0, 100.0, "UNIT_LINEAR_SCALE"), scale(0.5, 1.0, 100.0, "UNIT_LOG_SCALE")
    (50.5, 10.0)
    >>> round(scale(0.5, 1.0, 100.0, "UNIT_REVERSE_LOG_SCALE"), 6)
    91.0
    """
    if scale_type == LINEAR:
        return low + unit * (high - low)
    if scale_type == LOG:
        return low * (high / low) ** unit
    return high + low - low * (high / low) ** (1.0 - unit)


def unit(value, low, high, scale_type):
    """The inverse of :func:`scale`: where ``value`` lies in the unit interval."""
    if scale_type == LINEAR:
        return (value - low) / (high - low)
    if scale_type == LOG:
        return math.log(value / low) / math.log(high / low)
    return 1.0 - math.log((high + low - value) / low) / math.log(high / low)


class Param:
    """One searched parameter (a validated ``tuning.params`` entry): what the search samples, as a config value.

    Example:

    >>> from tfkit.tune.spec import Param
    >>> layers = Param("model.num_layers", "INTEGER", min=1, max=15)
    >>> layers.value(0.0), layers.value(0.5), layers.value(1.0)
    (1, 8, 15)
    >>> Param("optimizer", "CATEGORICAL", values=["adam", "sgd"]).value(1)
    'sgd'
    """

    def __init__(self, name, type, keys=None, min=None, max=None, values=None, scale=None):
        self.name, self.type, self.keys = name, type, keys or [name]
        self.min, self.max, self.values, self.scale = min, max, values, scale or LINEAR

    @property
    def numeric(self):
        return self.type in ("INTEGER", "DOUBLE")

    def _range(self):
        # An integer k owns [k - 0.5, k + 0.5): every integer in [min, max] gets its scale's share.
        return (self.min - 0.5, self.max + 0.5) if self.type == "INTEGER" else (self.min, self.max)

    def value(self, sampled):
        """The config value of what the search sampled: a unit number, or an index into ``values``."""
        if not self.numeric:
            return self.values[sampled]
        value = scale(sampled, *self._range(), self.scale)
        if self.type == "INTEGER":
            return int(min(self.max, max(self.min, round(value))))
        return min(self.max, max(self.min, value))

    def grid(self):
        """What the search samples for each value a grid search visits."""
        if self.type == "DOUBLE":
            raise ConfigError(f"tuning.params ({self.name}): GRID_SEARCH cannot enumerate a DOUBLE; use DISCRETE values.")
        if not self.numeric:
            return list(range(len(self.values)))
        return [unit(k, *self._range(), self.scale) for k in range(self.min, self.max + 1)]

    def extremes(self):
        """Values every trial's config must accept: the ends of the range, or every choice."""
        return [self.min, self.max] if self.numeric else list(self.values)

    def overrides(self, value):
        """``(keys, value)`` pairs that put ``value`` into a config."""
        return [(key.split("."), value) for key in self.keys]


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _param(raw, where):
    entry = validate_section(raw, PARAM_SCHEMA, where)
    kind, low, high, values = entry["type"], entry["min"], entry["max"], entry["values"]
    where = f"{where} ({entry['name']})"
    if kind not in TYPES:
        raise ConfigError(f"{where}.type: expected one of {', '.join(TYPES)}, received {kind!r}.")
    if entry["keys"] is not None and (not entry["keys"] or not all(isinstance(k, str) for k in entry["keys"])):
        raise ConfigError(f"{where}.keys: expected a list of key paths, received {entry['keys']!r}.")
    if kind in ("INTEGER", "DOUBLE"):
        if values is not None:
            raise ConfigError(f"{where}.values: {kind} takes min and max; CATEGORICAL and DISCRETE take values.")
        if low is None or high is None:
            raise ConfigError(f"{where}.{'min' if low is None else 'max'}: missing; {kind} needs min and max.")
        if kind == "INTEGER" and not (isinstance(low, int) and isinstance(high, int)):
            raise ConfigError(f"{where}: INTEGER needs whole min and max, received min={low!r}, max={high!r}.")
        if not low < high:
            raise ConfigError(f"{where}: expected min < max, received min={low!r}, max={high!r}.")
        if entry["scale"] is not None and entry["scale"] not in SCALES:
            raise ConfigError(f"{where}.scale: expected one of {', '.join(SCALES)}, received {entry['scale']!r}.")
        if entry["scale"] in (LOG, REVERSE_LOG) and low <= (0.5 if kind == "INTEGER" else 0):
            raise ConfigError(f"{where}.min: a log scale needs min > 0, received {low!r}.")
        return entry
    if low is not None or high is not None:
        raise ConfigError(f"{where}.{'min' if low is not None else 'max'}: {kind} takes values, not min and max.")
    if entry["scale"] is not None:
        raise ConfigError(f"{where}.scale: only INTEGER and DOUBLE have a scale; {kind} values are taken as listed.")
    if not values:
        raise ConfigError(f"{where}.values: missing; {kind} needs a non-empty list of values.")
    if kind == "DISCRETE" and not all(_is_number(v) for v in values):
        raise ConfigError(f"{where}.values: DISCRETE values are numbers, received {values!r} (CATEGORICAL takes any).")
    return entry


def validate(raw, default_seed):
    """The ``tuning`` section checked and its defaults filled in; errors name the key path."""
    spec = validate_section(raw, TUNING_SCHEMA, "tuning")
    for key, choices in (("goal", GOALS), ("algorithm", ALGORITHMS)):
        if spec[key] not in choices:
            raise ConfigError(f"tuning.{key}: expected one of {', '.join(choices)}, received {spec[key]!r}.")
    for key in ("max_trials", "max_parallel_trials"):
        if spec[key] < 1:
            raise ConfigError(f"tuning.{key}: expected an integer >= 1, received {spec[key]!r}.")
    if not spec["params"]:
        raise ConfigError("tuning.params: expected at least one parameter to search.")
    spec["params"] = [_param(entry, f"tuning.params[{i}]") for i, entry in enumerate(spec["params"])]
    names = [entry["name"] for entry in spec["params"]]
    if len(set(names)) != len(names):
        raise ConfigError(f"tuning.params: every parameter needs its own name; {sorted(names)!r} repeats one.")
    if spec["algorithm"] == "GRID_SEARCH":
        for param in params(spec):
            param.grid()
    if spec["seed"] is None:
        spec["seed"] = default_seed
    return spec


def params(spec):
    """The :class:`Param` of each entry of a validated ``tuning`` section."""
    return [Param(**entry) for entry in spec["params"]]
