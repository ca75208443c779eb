"""Linear: logits as a sparse weighted sum over feature columns (the "wide" part)."""

import keras
import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features import DenseColumn, EmbeddingColumn, SparseColumn, deserialize, input_specs, serialize
from tfkit.features.embedding import check_combiner
from tfkit.layers.lookup import combine_lookup
from tfkit.layers.transform import ColumnTransform


@keras.saving.register_keras_serializable(package="tfkit")
class Linear(keras.layers.Layer):
    """A linear model over raw features: ``bias + sum of per-column weights``.

    Each sparse column (categorical, bucketized, hashed, crossed, ...) gets a
    ``[num_buckets, units]`` weight table and contributes the rows of its ids,
    combined with ``sparse_combiner``: an embedding of width ``units``, never a
    dense one-hot, so a cross of millions of buckets costs one gather. Dense
    columns (numeric, indicator) are multiplied by a ``[output_dim, units]`` kernel.

    Args:
        columns: Sparse and dense (not embedding) feature columns.
        units: Number of outputs (1 for binary or regression, else classes).
        sparse_combiner: ``"sum"``, ``"mean"`` or ``"sqrtn"`` for multi-valued cells.

    Example:

    >>> import numpy as np
    >>> from tfkit.features import CategoricalColumn, CrossedColumn
    >>> from tfkit.layers import Linear
    >>> edu = CategoricalColumn("education", vocabulary=["HS", "BSc"])
    >>> job = CategoricalColumn("job", vocabulary=["clerk", "cook"])
    >>> wide = Linear([edu, CrossedColumn([edu, job], num_buckets=5_000_000)])
    >>> wide({"education": np.array(["HS"]), "job": np.array(["cook"])}).shape
    TensorShape([1, 1])
    """

    def __init__(self, columns, units=1, sparse_combiner="sum", **kwargs):
        super().__init__(**kwargs)
        self.columns = [deserialize(c) for c in columns]
        if not self.columns:
            raise TfkitError("Linear needs at least one column.")
        for column in self.columns:
            if isinstance(column, EmbeddingColumn) or not isinstance(column, (SparseColumn, DenseColumn)):
                raise TfkitError(
                    f"Linear takes sparse columns and numeric or indicator columns. Column {column.name!r} is "
                    f"{type(column).__name__}: use its categorical column in the linear part instead."
                )
        if not isinstance(units, int) or units < 1:
            raise TfkitError(f"Linear: units must be a positive int. Received: units={units!r}")
        check_combiner("Linear", sparse_combiner)
        self.units = units
        self.sparse_combiner = sparse_combiner
        self._transform = ColumnTransform(self.columns)
        self.values_from_owner = False

    def input_specs(self):
        return input_specs(self.columns)

    def build(self, input_shape=None):
        # A model that computes column values once for several parts (WideDeep) calls
        # ``combine`` directly and sets ``values_from_owner``; then no preprocessing is made here.
        self.preprocessing = {} if self.values_from_owner else self._transform.make_layers()
        self.column_weights = {}
        for column in self.columns:
            rows = column.num_buckets if isinstance(column, SparseColumn) else column.output_dim
            self.column_weights[column.name] = self.add_weight(
                name=f"{column.name}_weights", shape=(rows, self.units), initializer="zeros"
            )
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        self.built = True

    def call(self, features):
        return self.combine(self._transform(features, self.preprocessing))

    def combine(self, values):
        """Logits from column values already computed (``{column name: value}``)."""
        terms = []
        for column in self.columns:
            # The variable itself, so that a lookup reads only the rows it needs.
            weights = self.column_weights[column.name].value
            value = values[column.name]
            if isinstance(column, SparseColumn):
                terms.append(combine_lookup(weights, value, self.sparse_combiner))
            else:
                terms.append(tf.matmul(value, weights))
        return tf.add_n(terms) + self.bias

    def compute_output_shape(self, input_shape):
        return (None, self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            columns=[serialize(c) for c in self.columns], units=self.units, sparse_combiner=self.sparse_combiner
        )
        return config
