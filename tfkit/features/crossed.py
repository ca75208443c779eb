"""CrossedColumn: combinations of sparse columns, hashed into ``num_buckets`` ids."""

import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features.base import Ids, SparseColumn, check_num_buckets, deserialize, register, serialize


def _to_sparse(ids):
    present = tf.ones_like(ids.ids, tf.bool) if ids.weights is None else ids.weights > 0
    indices = tf.where(present)
    return tf.SparseTensor(indices, tf.gather_nd(ids.ids, indices), tf.shape(ids.ids, out_type=tf.int64))


@register("crossed")
class CrossedColumn(SparseColumn):
    """The hashed cross of two or more sparse columns (categorical, bucketized, hashed, ...).

    Each example gets one id per combination of its parents' ids (several when a
    parent is multi-valued), hashed with ``tf.sparse.cross_hashed`` (the op
    behind Keras' ``HashedCrossing``, which takes only scalar inputs). Only ids
    are stored, so millions of buckets cost nothing until a consumer's table;
    ``Linear`` keeps that a sparse weighted sum.

    Args:
        columns: Sparse columns to cross.
        num_buckets: Hash space of the cross.
        name: Column name. Defaults to the parents' names joined by ``"_x_"``.

    Example:

    >>> from tfkit.features import CategoricalColumn, CrossedColumn
    >>> edu = CategoricalColumn("education", vocabulary=["HS", "BSc"])
    >>> job = CategoricalColumn("job", vocabulary=["clerk", "engineer"])
    >>> CrossedColumn([edu, job], num_buckets=1_000_000).name
    'education_x_job'
    """

    def __init__(self, columns, num_buckets, name=None):
        columns = [deserialize(c) for c in columns]
        if len(columns) < 2 or not all(isinstance(c, SparseColumn) for c in columns):
            raise TfkitError(
                f"CrossedColumn needs two or more sparse (categorical, bucketized, hashed, identity or crossed) "
                f"columns. Received: columns={columns!r}"
            )
        super().__init__(name or "_x_".join(c.name for c in columns))
        check_num_buckets(f"CrossedColumn {self.name!r}", num_buckets)
        self.columns = columns
        self.num_buckets = num_buckets

    @property
    def parents(self):
        return list(self.columns)

    def transform(self, features, parents, layers):
        if all(p.ids.shape[-1] == 1 for p in parents):
            return self._cross_single_valued(parents)
        crossed = tf.sparse.cross_hashed([_to_sparse(p) for p in parents], num_buckets=self.num_buckets)
        # At least one column, so that a batch with nothing to cross still has a row per example.
        shape = tf.stack([crossed.dense_shape[0], tf.maximum(crossed.dense_shape[1], 1)])
        ids = tf.sparse.to_dense(tf.SparseTensor(crossed.indices, crossed.values, shape), default_value=-1)
        return Ids(tf.maximum(ids, 0), tf.cast(ids >= 0, tf.float32))

    def _cross_single_valued(self, parents):
        """One id per example, crossed from the dense ``[batch, 1]`` ids with no sparse detour.

        ``cross_hashed`` of dense inputs makes exactly one combination per row, in
        row order, and hashes it as it would the same ids given sparse. A row with a
        parent missing (weight 0) gets id 0 and weight 0, as the sparse path gives it.
        """
        crossed = tf.sparse.cross_hashed([p.ids for p in parents], num_buckets=self.num_buckets)
        ids = tf.reshape(crossed.values, [-1, 1])
        weights = [p.weights for p in parents if p.weights is not None]
        if not weights:
            return Ids(ids, None)
        present = tf.math.reduce_prod(tf.concat(weights, axis=1), axis=1, keepdims=True) > 0
        return Ids(tf.where(present, ids, tf.zeros_like(ids)), tf.cast(present, tf.float32))

    def get_config(self):
        return {"columns": [serialize(c) for c in self.columns], "num_buckets": self.num_buckets, "name": self.name}
