"""Optimizers: sparse-aware FTRL, Adagrad, SGD and LazyAdam, Keras' others, and ``MultiOptimizer``.

The names ``ftrl``, ``adagrad``, ``sgd`` and ``lazy_adam`` give tfkit's
optimizers (:mod:`tfkit.optimizers.sparse`), which update only the rows of a
table that a batch touched; every other name gives Keras' optimizer.
"""

import functools

import keras

from tfkit.errors import TfkitError
from tfkit.optimizers.multi_optimizer import MultiOptimizer
from tfkit.optimizers.sparse import SGD, Adagrad, Ftrl, LazyAdam, keras_get

__all__ = ["SGD", "Adagrad", "Ftrl", "LazyAdam", "MultiOptimizer", "get", "learning_rate_schedule", "names", "with_learning_rate"]


def get(identifier, name=None):
    """An optimizer from a name, a config dict, an instance, or a dict of parts (``MultiOptimizer``).

    ``{"name": "adam", "learning_rate": 0.01}`` gives ``Adam(learning_rate=0.01)``;
    a dict without ``name`` maps model parts to optimizers, each named after its
    part (so TensorBoard logs ``learning_rate_wide`` and ``learning_rate_deep``).

    Example:

    >>> from tfkit import optimizers
    >>> type(optimizers.get({"name": "adam", "learning_rate": 0.01})).__name__
    'Adam'
    >>> type(optimizers.get("ftrl"))
    <class 'tfkit.optimizers.sparse.Ftrl'>
    >>> [o.name for o in optimizers.get({"wide": "ftrl", "deep": {"name": "adam"}}).optimizers]
    ['wide', 'deep']
    """
    if isinstance(identifier, keras.optimizers.Optimizer):
        return identifier
    if isinstance(identifier, str):
        identifier = {"name": identifier}
    if isinstance(identifier, dict) and "class_name" in identifier:
        return keras_get(identifier)
    if isinstance(identifier, dict) and "name" in identifier:
        config = dict(identifier)
        kind = config.pop("name")
        if name:
            config["name"] = name
        try:
            optimizer = keras_get({"class_name": kind, "config": config})
        except (TypeError, ValueError) as error:
            raise TfkitError(f"Optimizer {kind!r}: {error}") from None
        # Keras hands back an unknown class name unchanged instead of raising.
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise TfkitError(f"unknown optimizer {kind!r}. Expected one of: {', '.join(names())}.")
        return optimizer
    if isinstance(identifier, dict) and identifier:
        parts = {}
        for part, value in identifier.items():
            try:
                parts[part] = get(value, name=part)
            except TfkitError as error:
                raise TfkitError(f"{part}: {error}") from None
        return MultiOptimizer(parts)
    raise TfkitError(f"Cannot make an optimizer from {identifier!r}.")


# Keras optimizers that wrap others: not made from a name alone.
_WRAPPERS = ("Optimizer", "LossScaleOptimizer", "MultiOptimizer")


@functools.cache
def names():
    """The optimizer names :func:`get` knows: tfkit's sparse-aware ones and the Keras optimizers Keras finds by name."""
    candidates = {c.__name__.lower() for c in map(functools.partial(getattr, keras.optimizers), dir(keras.optimizers))
                  if isinstance(c, type) and issubclass(c, keras.optimizers.Optimizer) and c.__name__ not in _WRAPPERS}
    return sorted(n for n in candidates | {"lazy_adam"}
                  if isinstance(keras_get({"class_name": n, "config": {}}), keras.optimizers.Optimizer))


# Keras schedules by config name, with the arguments that count steps (given in epochs with unit: epochs).
SCHEDULES = {
    "piecewise_constant": (keras.optimizers.schedules.PiecewiseConstantDecay, ("boundaries",)),
    "exponential_decay": (keras.optimizers.schedules.ExponentialDecay, ("decay_steps",)),
    "cosine_decay": (keras.optimizers.schedules.CosineDecay, ("decay_steps", "warmup_steps")),
}


def learning_rate_schedule(spec, steps_per_epoch=None):
    """A Keras learning-rate schedule from ``{name, unit, ...arguments}``.

    ``unit: epochs`` gives the step-counting arguments (``boundaries``,
    ``decay_steps``, ``warmup_steps``) in epochs, converted with
    ``steps_per_epoch``: piecewise-constant ``values[i + 1]`` then applies
    from the first step of epoch ``boundaries[i]`` (counting from 0) on.
    ``unit: steps`` (the default) takes them as Keras does.

    Example: the ResNet recipe, 0.1 divided by 10 after epochs 2 and 3 of 100 steps:

    >>> from tfkit.optimizers import learning_rate_schedule
    >>> schedule = learning_rate_schedule({"name": "piecewise_constant", "unit": "epochs", "boundaries": [2, 3],
    ...                                    "values": [0.1, 0.01, 0.001]}, steps_per_epoch=100)
    >>> [round(float(schedule(step)), 4) for step in (0, 199, 200, 299, 300)]  # the step count before each update
    [0.1, 0.1, 0.01, 0.01, 0.001]
    """
    spec = dict(spec)
    name, unit = spec.pop("name", None), spec.pop("unit", "steps")
    if name not in SCHEDULES:
        raise TfkitError(f"learning_rate_schedule.name: expected one of {', '.join(SCHEDULES)}, received {name!r}.")
    if unit not in ("epochs", "steps"):
        raise TfkitError(f"learning_rate_schedule.unit: expected epochs or steps, received {unit!r}.")
    cls, step_arguments = SCHEDULES[name]
    if unit == "epochs":
        if not steps_per_epoch:
            raise TfkitError("learning_rate_schedule: unit epochs needs the number of steps per epoch.")
        for key in step_arguments:
            if key in spec:
                value = spec[key]
                spec[key] = [int(round(v * steps_per_epoch)) for v in value] if isinstance(value, list) else int(round(value * steps_per_epoch))
        if name == "piecewise_constant" and isinstance(spec.get("boundaries"), list):
            # Keras keeps values[i] while the step count is <= boundaries[i]; "from epoch 2 on" means the
            # update after 2 epochs' steps, which Keras sees with the count at 2 * steps_per_epoch.
            spec["boundaries"] = [b - 1 for b in spec["boundaries"]]
    try:
        return cls(**spec)
    except (TypeError, ValueError) as error:
        raise TfkitError(f"learning_rate_schedule ({name}): {error}") from None


def with_learning_rate(optimizer, learning_rate):
    """A copy of ``optimizer`` (not yet built) whose learning rate is ``learning_rate`` (a number or a schedule)."""
    if isinstance(optimizer, MultiOptimizer):
        raise TfkitError("A learning-rate schedule applies to one optimizer; give each part of a multi-part "
                         "optimizer its own learning_rate instead.")
    config = optimizer.get_config()
    config["learning_rate"] = learning_rate
    return type(optimizer).from_config(config)
