"""Gather-and-combine over padded ids: the dense twin of ``tf.nn.embedding_lookup_sparse``."""

import contextlib
import threading

import tensorflow as tf

_tables = threading.local()


@contextlib.contextmanager
def creating_tables():
    """Marks the variables created inside as lookup tables (rows gathered by id).

    Tables are what a parameter-server strategy may shard over its servers
    (:func:`is_creating_table`): only rows are ever read from them, through
    :func:`gather_rows`. Dense kernels stay whole, since Keras layers read them
    as one tensor.
    """
    previous = getattr(_tables, "active", False)
    _tables.active = True
    try:
        yield
    finally:
        _tables.active = previous


def is_creating_table():
    return getattr(_tables, "active", False)


def combiner_weights(ids, combiner):
    """Weights that make a plain weighted sum of ``ids``' rows implement ``combiner``.

    Returns None when every weight is 1 (one present value per example).
    """
    if ids.ids.shape[-1] == 1:
        # One value per example: mean and sqrtn give the row itself (or nothing, weight 0), sum the row times its weight.
        return ids.weights if combiner == "sum" or ids.weights is None else tf.sign(ids.weights)
    weights = tf.ones_like(ids.ids, tf.float32) if ids.weights is None else ids.weights
    if combiner == "sum":
        return weights
    if combiner == "mean":
        return tf.math.divide_no_nan(weights, tf.reduce_sum(weights, axis=1, keepdims=True))
    return tf.math.divide_no_nan(weights, tf.sqrt(tf.reduce_sum(tf.square(weights), axis=1, keepdims=True)))


def gather_rows(table, ids):
    """The rows of ``table`` at ``ids`` (any rank), also when ``table`` is sharded.

    A ``ShardedVariable`` (a table partitioned over parameter servers) looks up
    1-D ids only, and its ``tf.gather`` (``sparse_read``) returns the rows
    grouped by shard rather than in id order (TF 2.21); ``embedding_lookup``
    stitches them back in order.
    """
    rows = tf.nn.embedding_lookup(table, tf.reshape(ids, [-1]))
    return tf.reshape(rows, tf.concat([tf.shape(ids), tf.shape(rows)[1:]], axis=0))


def combine_lookup(table, ids, combiner, max_norm=None):
    """Looks up ``ids`` (a :class:`tfkit.features.Ids`) in ``table`` and combines per example.

    ``table`` may be a variable: only the rows looked up are read, and only they
    get a gradient (``IndexedSlices``), so a table of millions of rows costs one
    gather per step, never a one-hot matmul. Missing values (weight 0)
    contribute nothing; an example with none gives zeros.
    """
    weights = combiner_weights(ids, combiner)
    if ids.ids.shape[-1] == 1:
        vectors = _clipped(gather_rows(table, ids.ids[:, 0]), max_norm)
        return vectors if weights is None else vectors * weights
    return tf.reduce_sum(_clipped(gather_rows(table, ids.ids), max_norm) * weights[..., None], axis=1)


def _clipped(rows, max_norm):
    """Rows whose L2 norm is over ``max_norm`` scaled down to it (``tf.nn.embedding_lookup``'s ``max_norm``)."""
    return rows if max_norm is None else tf.clip_by_norm(rows, max_norm, axes=[-1])
