"""CrossedColumn: combinations of sparse columns, hashed into ``num_buckets`` ids."""

import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features.base import Ids, SparseColumn, deserialize, register, serialize


def _to_sparse(ids):
    indices = tf.where(ids.weights > 0)
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
        if not isinstance(num_buckets, int) or isinstance(num_buckets, bool) or num_buckets < 1:
            raise TfkitError(f"CrossedColumn {self.name!r}: num_buckets must be a positive int. Received: num_buckets={num_buckets!r}")
        self.columns = columns
        self._num_buckets = num_buckets

    @property
    def parents(self):
        return list(self.columns)

    @property
    def num_buckets(self):
        return self._num_buckets

    def transform(self, features, parents, layers):
        crossed = tf.sparse.cross_hashed([_to_sparse(p) for p in parents], num_buckets=self._num_buckets)
        ids = tf.sparse.to_dense(crossed, default_value=-1)
        # Keep a width of at least one so that examples with nothing to cross still have a row.
        ids = tf.pad(ids, [[0, 0], [0, 1]], constant_values=-1)[:, : tf.maximum(1, tf.shape(ids)[1])]
        valid = ids >= 0
        return Ids(tf.where(valid, ids, tf.zeros_like(ids)), tf.cast(valid, tf.float32))

    def get_config(self):
        return {"columns": [serialize(c) for c in self.columns], "num_buckets": self._num_buckets, "name": self.name}
