"""CrossedColumn: combinations of sparse columns, hashed into ``num_buckets`` ids."""

import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features.base import Ids, RawInput, SparseColumn, check_num_buckets, deserialize, register, serialize

_Values = Ids  # raw values (strings) with their weights, crossed beside parents' ids


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

    def __init__(self, columns, num_buckets, name=None, hash_key=None):
        columns = [c if isinstance(c, str) else deserialize(c) for c in columns]
        if len(columns) < 2 or not all(isinstance(c, (SparseColumn, str)) and c != "" for c in columns):
            raise TfkitError(
                f"CrossedColumn needs two or more sparse (categorical, bucketized, hashed, identity or crossed) "
                f"columns or raw string features (by key). Received: columns={columns!r}"
            )
        super().__init__(name or "_x_".join(c if isinstance(c, str) else c.name for c in columns))
        check_num_buckets(f"CrossedColumn {self.name!r}", num_buckets)
        if hash_key is not None and (not isinstance(hash_key, int) or isinstance(hash_key, bool) or hash_key < 0):
            raise TfkitError(f"CrossedColumn {self.name!r}: hash_key must be an int >= 0 or None. Received: {hash_key!r}")
        self.columns = columns
        self.num_buckets = num_buckets
        self.hash_key = hash_key

    @property
    def parents(self):
        return [c for c in self.columns if not isinstance(c, str)]

    @property
    def raw_keys(self):
        """The raw features crossed by value (given by key)."""
        return [key for key in self.columns if isinstance(key, str)]

    def input_specs(self):
        # Strings, unless another column reads one as a number (tfkit.features.input_specs lets that column say).
        return {key: RawInput("string") for key in self.raw_keys}

    def transform(self, features, parents, layers):
        if any(isinstance(c, str) for c in self.columns):
            # Raw strings crossed as tf.feature_column crosses them (their values, not ids), "" being missing.
            parents, by_name = [], dict(zip([c.name for c in self.parents], parents))
            for column in self.columns:
                if isinstance(column, str):
                    values = tf.convert_to_tensor(features[column])
                    values = values if values.shape.rank == 2 else tf.reshape(values, [-1, 1])  # [batch, n]: n values
                    if values.dtype == tf.string:
                        parents.append(_Values(values, tf.cast(tf.not_equal(values, ""), tf.float32)))
                    else:  # numbers crossed as int64, as TensorFlow's sparse_cross casts them
                        values = tf.cast(values, tf.int64)
                        parents.append(_Values(values, tf.ones_like(values, tf.float32)))
                else:
                    parents.append(by_name[column.name])
        if all(p.ids.shape[-1] == 1 for p in parents):
            return self._cross_single_valued(parents)
        crossed = tf.sparse.cross_hashed([_to_sparse(p) for p in parents], num_buckets=self.num_buckets,
                                         hash_key=self.hash_key)
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
        crossed = tf.sparse.cross_hashed([p.ids for p in parents], num_buckets=self.num_buckets, hash_key=self.hash_key)
        ids = tf.reshape(crossed.values, [-1, 1])
        weights = [p.weights for p in parents if p.weights is not None]
        if not weights:
            return Ids(ids, None)
        present = tf.math.reduce_prod(tf.concat(weights, axis=1), axis=1, keepdims=True) > 0
        return Ids(tf.where(present, ids, tf.zeros_like(ids)), tf.cast(present, tf.float32))

    def get_config(self):
        return {"columns": [c if isinstance(c, str) else serialize(c) for c in self.columns], "num_buckets": self.num_buckets,
                "name": self.name, "hash_key": self.hash_key}
