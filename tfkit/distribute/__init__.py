"""Where training runs: strategy lookup by name, with ``"auto"`` resolved in one place.

Models and layers never import this package; the training run does.
"""

import tensorflow as tf

from tfkit.errors import TfkitError


def _default(devices=None):
    if devices:
        raise TfkitError("The default strategy takes no devices; use 'mirrored' to choose devices.")
    return tf.distribute.get_strategy()


def _mirrored(devices=None):
    if devices is None:
        gpus = tf.config.list_logical_devices("GPU")
        # Without GPUs, mirror over the logical CPU devices (one unless configured otherwise).
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices=list(devices))


_STRATEGIES = {"default": _default, "mirrored": _mirrored}


def names():
    return sorted(_STRATEGIES) + ["auto"]


def resolve_auto():
    """The strategy name ``"auto"`` stands for on this machine: mirrored over 2+ GPUs, else default."""
    return "mirrored" if len(tf.config.list_logical_devices("GPU")) > 1 else "default"


def get(identifier="auto", devices=None):
    """A ``tf.distribute.Strategy`` from a name, ``{"name": ..., "devices": [...]}`` or an instance.

    Example:

    >>> from tfkit import distribute
    >>> type(distribute.get("default")).__name__
    '_DefaultDistributionStrategy'
    >>> distribute.get("mirrored", devices=["/cpu:0"]).num_replicas_in_sync
    1
    """
    if isinstance(identifier, tf.distribute.Strategy):
        return identifier
    if isinstance(identifier, dict):
        options = dict(identifier)
        name = options.pop("name", "auto")
        devices = options.pop("devices", devices)
        if options:
            raise TfkitError(f"Unknown strategy option(s) {sorted(options)}; expected name and devices.")
        identifier = name
    if identifier == "auto":
        identifier = resolve_auto()
    if identifier not in _STRATEGIES:
        raise TfkitError(f"Unknown strategy {identifier!r}. Expected one of: {', '.join(names())}.")
    return _STRATEGIES[identifier](devices)
