"""WeightedColumn: a sparse column's ids, each weighted by a value of another raw feature (``tf.feature_column``'s
``weighted_categorical_column``)."""

import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features.base import Ids, RawInput, SparseColumn, deserialize, register, serialize

_WEIGHT_DTYPES = ("float32", "float64")


@register("weighted")
class WeightedColumn(SparseColumn):
    """The ids of ``categorical``, each weighted by the value of ``weight_key`` at the same position.

    The linear part multiplies each id's weight by it; an embedding combines
    the vectors with these weights (``sum``: their weighted sum). Weights of 0
    and missing ids contribute nothing.

    Args:
        categorical: The sparse column whose ids are weighted.
        weight_key: Raw feature holding one weight per value of ``categorical``
            (as many per example as it has ids).
        dtype: ``"float32"`` or ``"float64"``.
        name: Column name. Defaults to ``"<categorical>_weighted_by_<weight_key>"``.

    Example:

    >>> import numpy as np
    >>> from tfkit.features import CategoricalColumn, WeightedColumn
    >>> words = CategoricalColumn("words", vocabulary=["good", "bad"], num_oov_buckets=0)
    >>> counts = WeightedColumn(words, "counts")
    >>> ids = counts.transform({"counts": np.array([3.0, 0.5])}, [words.transform(
    ...     {"words": np.array(["bad", "good"])}, [], words.make_layers())], None)
    >>> ids.ids.numpy().ravel().tolist(), ids.weights.numpy().ravel().tolist()
    ([1, 0], [3.0, 0.5])
    """

    def __init__(self, categorical, weight_key, dtype="float32", name=None):
        categorical = deserialize(categorical)
        if not isinstance(categorical, SparseColumn):
            raise TfkitError(f"WeightedColumn needs a sparse (categorical) column. Received: categorical={categorical!r}")
        if not isinstance(weight_key, str) or not weight_key:
            raise TfkitError(f"WeightedColumn: weight_key must be a non-empty string. Received: weight_key={weight_key!r}")
        if dtype not in _WEIGHT_DTYPES:
            raise TfkitError(f"WeightedColumn: dtype must be one of {_WEIGHT_DTYPES}. Received: dtype={dtype!r}")
        super().__init__(name or f"{categorical.name}_weighted_by_{weight_key}")
        self.categorical, self.weight_key, self.dtype = categorical, weight_key, dtype

    @property
    def parents(self):
        return [self.categorical]

    @property
    def num_buckets(self):
        return self.categorical.num_buckets

    @property
    def kept_ahead(self):
        return self.categorical.kept_ahead

    def input_specs(self):
        return {self.weight_key: RawInput(self.dtype)}

    def transform(self, features, parents, layers):
        ids = parents[0]
        weights = tf.cast(features[self.weight_key], tf.float32)
        weights = tf.reshape(weights, [tf.shape(ids.ids)[0], -1])
        # A multi-valued cell's ids are padded to the batch's longest: so are its weights (with 0s).
        weights = tf.pad(weights, [[0, 0], [0, tf.maximum(0, tf.shape(ids.ids)[1] - tf.shape(weights)[1])]])
        weights = weights[:, : tf.shape(ids.ids)[1]]
        return Ids(ids.ids, weights if ids.weights is None else ids.weights * weights)

    def get_config(self):
        return {"categorical": serialize(self.categorical), "weight_key": self.weight_key, "dtype": self.dtype,
                "name": self.name}
