"""NumericColumn: a real-valued feature, optionally clipped, log-scaled, z-score normalised, with a missing flag."""

import math

import keras
import numpy as np
import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features.base import DenseColumn, RawInput, register

_NUMERIC_DTYPES = ("float32", "float64", "int32", "int64")


@register("numeric")
class NumericColumn(DenseColumn):
    """A real-valued feature of fixed width.

    Args:
        name: Column name, also the raw feature key unless ``key`` is given.
        key: Raw feature to read. Defaults to ``name``.
        shape: Number of values per example.
        dtype: Raw dtype of the feature: float32, float64, int32 or int64.
        default_value: Value that stands in for a missing one: the CSV reader
            uses it for empty cells and ``na_values``, and the model for NaN
            (``null`` in ``tfkit predict --json-instances``, a NaN sent to the
            exported SavedModel).
        normalize: If True, output ``(x - mean) / sqrt(variance)``; both are
            learned by ``adapt`` unless given (on the clipped, log-scaled values).
        clip: ``[low, high]``: values are clipped to it (None for no bound).
        log: If True, ``log(1 + x)`` of the (clipped) values, for skewed
            non-negative features such as amounts and counts.
        missing_indicator: If True, a 0/1 "was missing" value follows each
            value (the CSV reader leaves a missing cell NaN, which becomes
            ``default_value``); float dtypes only.
        mean: Learned (or given) mean, one per value.
        variance: Learned (or given) variance, one per value.
        normalizer_fn: A function of the ``[batch, shape]`` float32 values
            applied last (``tf.feature_column.numeric_column``'s), traced into
            the model and its exports; not learned by ``adapt``, and not part
            of the column's config.

    Example:

    >>> import numpy as np
    >>> from tfkit.features import NumericColumn, adapt
    >>> age = NumericColumn("age", normalize=True)
    >>> adapt([age], [{"age": np.array([20.0, 30.0, 40.0])}])
    >>> age.mean, round(age.variance[0], 2)
    ([30.0], 66.67)
    """

    kept_ahead = True  # its value is its raw numbers, normalised

    def __init__(
        self,
        name,
        key=None,
        shape=1,
        dtype="float32",
        default_value=0.0,
        normalize=False,
        mean=None,
        variance=None,
        clip=None,
        log=False,
        missing_indicator=False,
        normalizer_fn=None,
    ):
        super().__init__(name)
        self.key = key or name
        if normalizer_fn is not None and not callable(normalizer_fn):
            raise TfkitError(f"NumericColumn {name!r}: normalizer_fn must be callable. Received: {normalizer_fn!r}")
        self.normalizer_fn = normalizer_fn
        if not isinstance(shape, int) or shape < 1:
            raise TfkitError(f"NumericColumn {name!r}: shape must be a positive int. Received: shape={shape!r}")
        if dtype not in _NUMERIC_DTYPES:
            raise TfkitError(
                f"NumericColumn {name!r}: dtype must be one of {_NUMERIC_DTYPES}. Received: dtype={dtype!r}"
            )
        self.shape = shape
        self.dtype = dtype
        self.default_value = float(default_value)
        self.normalize = bool(normalize)
        self.mean = _as_list(mean, shape, name, "mean")
        self.variance = _as_list(variance, shape, name, "variance")
        if (self.mean is None) != (self.variance is None):
            raise TfkitError(f"NumericColumn {name!r}: give both mean and variance, or neither.")
        if clip is not None and (not isinstance(clip, (list, tuple)) or len(clip) != 2 or not all(
                b is None or (isinstance(b, (int, float)) and not isinstance(b, bool)) for b in clip)
                or None not in clip and clip[0] > clip[1]):
            raise TfkitError(f"NumericColumn {name!r}: clip must be [low, high] (numbers or null, low <= high). "
                             f"Received: clip={clip!r}")
        if missing_indicator and not dtype.startswith("float"):
            raise TfkitError(f"NumericColumn {name!r}: missing_indicator needs a float dtype (an integer cannot "
                             f"be NaN). Received: dtype={dtype!r}")
        self.clip = None if clip is None else [None if b is None else float(b) for b in clip]
        self.log = bool(log)
        self.missing_indicator = bool(missing_indicator)

    @property
    def output_dim(self):
        return self.shape * (2 if self.missing_indicator else 1)

    @property
    def missing_default(self):
        """What the CSV reader gives a missing cell: NaN when the column flags missing values, else the default."""
        return math.nan if self.missing_indicator else self.default_value

    def input_specs(self):
        return {self.key: RawInput(self.dtype, self.shape)}

    @property
    def needs_adapt(self):
        return self.normalize and self.mean is None

    def adapt_accumulator(self):
        return moments_accumulator(self.shape)

    def adapt_update(self, accumulator, features):
        moments_update(accumulator, self.scaled(self.read_numpy(features).astype(np.float64), np))

    def adapt_summary(self, features):
        if self.key not in features:
            return None  # adapt_update names the missing input
        values = tf.cast(features[self.key], tf.float64)
        values = tf.where(tf.math.is_nan(values), tf.constant(self.default_value, tf.float64), values)
        values = self.scaled(tf.reshape(values, [-1, self.shape]), tf)
        return moments_summary(values)

    def adapt_merge(self, accumulator, summary):
        moments_merge(accumulator, summary)

    def adapt_finish(self, accumulator):
        self.mean, self.variance = moments_finish(accumulator, f"NumericColumn {self.name!r}")

    def read_numpy(self, features):
        """The raw values of a numpy batch as a ``[batch, shape]`` float array."""
        if self.key not in features:
            raise TfkitError(f"NumericColumn {self.name!r}: input feature {self.key!r} is missing.")
        values = np.asarray(features[self.key], dtype=np.float64)
        values = np.where(np.isnan(values), self.default_value, values)
        return values.reshape(len(values), self.shape)

    def read(self, features):
        """The raw values as a ``[batch, shape]`` float32 tensor, NaN (a missing value) replaced by ``default_value``."""
        values = tf.cast(features[self.key], tf.float32)
        values = tf.where(tf.math.is_nan(values), self.default_value, values)
        return tf.reshape(values, [-1, self.shape])

    def make_layers(self):
        if not self.normalize:
            return None
        self.check_ready()
        layer = keras.layers.Normalization(mean=self.mean, variance=self.variance, name=f"{self.name}_normalization")
        # Build now: built lazily inside a traced step, its constants would belong to that graph.
        layer.build((None, self.shape))
        return layer

    def scaled(self, values, ops):
        """``values`` clipped, then log-scaled, as the column does before normalizing (``ops``: ``numpy`` or ``tensorflow``)."""
        if self.clip is not None:
            low, high = (-math.inf if self.clip[0] is None else self.clip[0]), (math.inf if self.clip[1] is None else self.clip[1])
            values = ops.minimum(ops.maximum(values, low), high)
        log1p = tf.math.log1p if ops is tf else np.log1p
        return log1p(values) if self.log else values

    def transform(self, features, parents, layers):
        values = self.scaled(self.read(features), tf)
        values = layers(values) if layers is not None else values
        if self.normalizer_fn is not None:
            values = tf.cast(self.normalizer_fn(values), tf.float32)
        if not self.missing_indicator:
            return values
        missing = tf.cast(tf.math.is_nan(tf.reshape(tf.cast(features[self.key], tf.float32), [-1, self.shape])), tf.float32)
        return tf.concat([values, missing], axis=-1)

    def get_config(self):
        if self.normalizer_fn is not None:
            raise TfkitError(f"NumericColumn {self.name!r} has a normalizer_fn, a Python function, which no config can "
                             "hold (model.json, a model copied off a strategy to export it): use normalize=True, clip or "
                             "log, which are learned and written with the column.")
        return self._config()

    def __eq__(self, other):
        return type(self) is type(other) and self.normalizer_fn is other.normalizer_fn and self._config() == other._config()

    __hash__ = DenseColumn.__hash__

    def _config(self):
        return {
            "name": self.name,
            "key": self.key,
            "shape": self.shape,
            "dtype": self.dtype,
            "default_value": self.default_value,
            "normalize": self.normalize,
            "mean": self.mean,
            "variance": self.variance,
            "clip": self.clip,
            "log": self.log,
            "missing_indicator": self.missing_indicator,
        }


def moments_accumulator(shape):
    """An empty ``{count, mean, m2}`` for :func:`moments_update`, of values of ``shape``."""
    return {"count": 0, "mean": np.zeros(shape), "m2": np.zeros(shape)}


def moments_update(accumulator, values):
    """Merges a ``[batch, k]`` numpy batch into ``{count, mean, m2}``."""
    if len(values):
        mean = values.mean(axis=0)
        moments_merge(accumulator, {"count": len(values), "mean": mean, "m2": ((values - mean) ** 2).sum(axis=0)})


def moments_summary(values):
    """``{count, mean, m2}`` of a ``[batch, k]`` float64 tensor, for :func:`moments_merge`."""
    count = tf.shape(values, out_type=tf.int64)[0]
    mean = tf.math.divide_no_nan(tf.reduce_sum(values, axis=0), tf.cast(count, tf.float64))
    return {"count": count, "mean": mean, "m2": tf.reduce_sum(tf.square(values - mean), axis=0)}


def moments_merge(accumulator, summary):
    """Merges the ``{count, mean, m2}`` of a batch (or of a worker's rows) into an accumulator: Chan et al.'s
    parallel update, exact and stable in one pass, in any order."""
    n_a, n_b = accumulator["count"], int(summary["count"])
    if not n_b:
        return
    mean_b, m2_b = np.asarray(summary["mean"], np.float64), np.asarray(summary["m2"], np.float64)
    delta = mean_b - accumulator["mean"]
    total = n_a + n_b
    accumulator["mean"] = accumulator["mean"] + delta * n_b / total
    accumulator["m2"] = accumulator["m2"] + m2_b + delta**2 * n_a * n_b / total
    accumulator["count"] = total


def moments_finish(accumulator, owner):
    """``(mean, variance)`` as lists of floats."""
    if accumulator["count"] == 0:
        raise TfkitError(f"{owner}: adapt saw no values.")
    return [float(v) for v in accumulator["mean"]], [float(v) for v in accumulator["m2"] / accumulator["count"]]


def _as_list(value, shape, name, what):
    if value is None:
        return None
    values = [float(v) for v in np.ravel(value)]
    if len(values) != shape or not all(math.isfinite(v) for v in values):
        raise TfkitError(f"NumericColumn {name!r}: {what} must be {shape} finite number(s). Received: {what}={value!r}")
    return values
