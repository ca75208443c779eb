"""Gather-and-combine over padded ids: the dense twin of ``tf.nn.embedding_lookup_sparse``."""

import tensorflow as tf


def combine_lookup(table, ids, combiner):
    """Looks up ``ids`` (a :class:`tfkit.features.Ids`) in ``table`` and combines per example.

    ``table`` may be a variable: only the rows looked up are read, and only they
    get a gradient (``IndexedSlices``), so a table of millions of rows costs one
    gather per step, never a one-hot matmul. Missing values (weight 0)
    contribute nothing; an example with none gives zeros.
    """
    if ids.ids.shape[-1] == 1:
        # One value per example (weight 0 or 1): sum, mean and sqrtn all give the row itself.
        vectors = tf.gather(table, ids.ids[:, 0])
        return vectors if ids.weights is None else vectors * ids.weights
    weights = tf.ones_like(ids.ids, tf.float32) if ids.weights is None else ids.weights
    vectors = tf.gather(table, ids.ids) * weights[..., None]
    total = tf.reduce_sum(vectors, axis=1)
    if combiner == "sum":
        return total
    if combiner == "mean":
        return tf.math.divide_no_nan(total, tf.reduce_sum(weights, axis=1, keepdims=True))
    return tf.math.divide_no_nan(total, tf.sqrt(tf.reduce_sum(tf.square(weights), axis=1, keepdims=True)))
