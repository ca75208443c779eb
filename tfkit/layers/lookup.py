"""Gather-and-combine over padded ids: the dense twin of ``tf.nn.embedding_lookup_sparse``."""

import tensorflow as tf


def combine_lookup(table, ids, combiner):
    """Looks up ``ids`` (a :class:`tfkit.features.Ids`) in ``table`` and combines per example.

    Only the rows that are looked up get a gradient (``IndexedSlices``), so a
    table of millions of rows costs one gather per step, never a one-hot matmul.
    Missing values (weight 0) contribute nothing; an example with none gives zeros.
    """
    weights = tf.cast(ids.weights, table.dtype)
    if ids.ids.shape[-1] == 1 and combiner != "sqrtn":
        # One value per example: sum and mean coincide, skip the reductions.
        return tf.gather(table, ids.ids[:, 0]) * weights
    vectors = tf.gather(table, ids.ids) * weights[..., None]
    total = tf.reduce_sum(vectors, axis=1)
    if combiner == "sum":
        return total
    if combiner == "mean":
        return tf.math.divide_no_nan(total, tf.reduce_sum(weights, axis=1, keepdims=True))
    return tf.math.divide_no_nan(total, tf.sqrt(tf.reduce_sum(tf.square(weights), axis=1, keepdims=True)))
