"""Linear: logits as a sparse weighted sum over feature columns (the "wide" part)."""

import keras
import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features import DenseColumn, EmbeddingColumn, SparseColumn, deserialize, input_specs, serialize
from tfkit.features.embedding import check_combiner
from tfkit.layers.lookup import combiner_weights, creating_tables, gather_rows
from tfkit.layers.transform import ColumnConsumer, ColumnTransform


@keras.saving.register_keras_serializable(package="tfkit")
class Linear(ColumnConsumer, keras.layers.Layer):
    """A linear model over raw features: ``bias + sum of per-column weights``.

    Each sparse column (categorical, bucketized, hashed, crossed, ...) owns
    ``num_buckets`` rows of width ``units`` and contributes the rows of its ids,
    combined with ``sparse_combiner``: an embedding of width ``units``, never a
    dense one-hot, so a cross of millions of buckets costs one gather. The rows
    of all sparse columns live in one table (``sparse_weights``, columns at
    offsets in their order; :meth:`weights_of` slices one out), so a step does one
    gather and the optimizer one sparse update, however many columns there are.
    Dense columns (numeric, indicator) share one ``[total width, units]`` kernel.

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
            if isinstance(column, DenseColumn) and column.has_weights:
                raise TfkitError(
                    f"Linear takes columns without weights of their own. Column {column.name!r} ({type(column).__name__}) "
                    f"has some: put it in the deep part, or use a PiecewiseLinearColumn without a dimension here."
                )
        if not isinstance(units, int) or units < 1:
            raise TfkitError(f"Linear: units must be a positive int. Received: units={units!r}")
        check_combiner("Linear", sparse_combiner)
        self.units = units
        self.sparse_combiner = sparse_combiner
        self._transform = ColumnTransform(self.columns)

    def input_specs(self):
        return input_specs(self.columns)

    @property
    def _sparse_columns(self):
        return [c for c in self.columns if isinstance(c, SparseColumn)]

    @property
    def _dense_columns(self):
        return [c for c in self.columns if not isinstance(c, SparseColumn)]

    def build(self, input_shape=None):
        self.build_preprocessing()
        self.offsets, rows = {}, 0
        for column in self._sparse_columns:
            self.offsets[column.name] = rows
            rows += column.num_buckets
        with creating_tables():
            self.sparse_weights = self.add_weight(name="sparse_weights", shape=(rows, self.units), initializer="zeros") if rows else None
        width = sum(c.output_dim for c in self._dense_columns)
        self.dense_kernel = self.add_weight(name="dense_kernel", shape=(width, self.units), initializer="zeros") if width else None
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        self.built = True

    def combine(self, values):
        """Logits from column values already computed (``{column name: value}``)."""
        logits = tf.convert_to_tensor(self.bias)
        if self.sparse_weights is not None:
            ids, weights = [], []
            for column in self._sparse_columns:
                value, offset = values[column.name], self.offsets[column.name]
                ids.append(value.ids + offset if offset else value.ids)
                column_weights = combiner_weights(value, self.sparse_combiner)
                weights.append(tf.ones_like(value.ids, tf.float32) if column_weights is None else column_weights)
            # The variable itself, so that the gather reads only the rows it needs.
            rows = gather_rows(self.sparse_weights.value, tf.concat(ids, axis=1))
            logits = logits + tf.reduce_sum(rows * tf.concat(weights, axis=1)[..., None], axis=1)
        if self.dense_kernel is not None:
            dense = tf.concat([values[c.name] for c in self._dense_columns], axis=1)
            logits = logits + tf.matmul(dense, self.dense_kernel)
        return logits

    def weights_of(self, column_name):
        """The ``[rows, units]`` weights of one column (its rows of the shared table, or its kernel rows)."""
        sparse = {c.name: c for c in self._sparse_columns}
        if column_name in sparse:
            start = self.offsets[column_name]
            return self.sparse_weights[start : start + sparse[column_name].num_buckets]
        start = 0
        for column in self._dense_columns:
            if column.name == column_name:
                return self.dense_kernel[start : start + column.output_dim]
            start += column.output_dim
        raise TfkitError(f"Linear has no column {column_name!r}.")

    def compute_output_shape(self, input_shape):
        return (None, self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            columns=[serialize(c) for c in self.columns], units=self.units, sparse_combiner=self.sparse_combiner
        )
        return config
