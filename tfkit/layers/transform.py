"""Shared by the column-consuming layers: compute every column's value from raw features."""

from typing import NamedTuple

import tensorflow as tf

from tfkit.features import EmbeddingColumn, Ids, closure


class ColumnValues(NamedTuple):
    """Column values computed ahead of the training step, in the input pipeline (see :meth:`ColumnTransform.ahead`).

    ``values`` holds the columns' values by name, ``features`` the raw
    features that the columns left to the step still read. A model or layer
    called on it computes only those columns.
    """

    values: dict
    features: dict


def _kept(column, value):
    """A column's value as an input pipeline keeps it: ids in the narrowest integer dtype that holds the column's
    ids (a census column's in one or two bytes, not eight), with weights of 1 where it has none (distributed
    datasets cannot carry a None)."""
    if not isinstance(value, Ids):
        return value
    ids, weights = value
    dtype = next(dtype for dtype in (tf.uint8, tf.int16, tf.int32, tf.int64) if column.num_buckets - 1 <= dtype.max)
    return Ids(tf.cast(ids, dtype), tf.ones_like(ids, tf.float32) if weights is None else weights)


def _widened(value):
    """A value :func:`_kept` narrowed, with int64 ids again."""
    return Ids(tf.cast(value.ids, tf.int64), value.weights) if isinstance(value, Ids) else value


class ColumnTransform:
    """Evaluates a set of columns (and their parents) over a dict of raw features.

    The Keras layer or model that owns the transform tracks its preprocessing
    layers (``layers``), so they are saved and exported with it. A model whose
    parts share columns (wide & deep) evaluates them once with one transform and
    hands the values to each part. Embedding columns are skipped: their tables
    belong to the consuming layer.
    """

    def __init__(self, columns):
        self.order = [c for c in closure(columns) if not isinstance(c, EmbeddingColumn)]

    def make_layers(self):
        # Lookup tables and constants must outlive the step function that may trigger the build.
        with tf.init_scope():
            return self._make_layers()

    def _make_layers(self):
        layers = {}
        for column in self.order:
            column.check_ready()
            made = column.make_layers()
            if made is not None:
                if not made.built:
                    # Stateless of shape: mark built so that exports track their tables without a call.
                    made.build(None)
                layers[column.name] = made
        return layers

    def __call__(self, features, layers):
        """Every column's value, ``{name: value}``, from raw ``features`` or the :class:`ColumnValues` of :meth:`ahead`."""
        values = {}
        if isinstance(features, ColumnValues):
            values, features = {name: _widened(value) for name, value in features.values.items()}, features.features
        return self._evaluate(self.order, features, layers, values)

    def ahead(self, features, layers):
        """The :class:`ColumnValues` an input pipeline computes once and keeps, so that each step does not.

        These are the values of the columns that are ``kept_ahead`` (ids, in
        the narrowest dtype that holds them, and normalised numbers: the
        string lookups, hashes and crosses that cost most), and the raw
        features the other columns still read in the step.

        Example:

        >>> import numpy as np
        >>> from tfkit.features import CategoricalColumn, IndicatorColumn
        >>> from tfkit.layers.transform import ColumnTransform
        >>> job = CategoricalColumn("job", vocabulary=["clerk", "cook"], num_oov_buckets=0)
        >>> transform = ColumnTransform([IndicatorColumn(job)])
        >>> layers = transform.make_layers()
        >>> ahead = transform.ahead({"job": np.array(["cook"], object)}, layers)
        >>> sorted(ahead.values), ahead.values["job"].ids.numpy().tolist()
        (['job'], [[1]])
        >>> transform(ahead, layers)["job_indicator"].numpy().tolist()
        [[0.0, 1.0]]
        """
        kept = [c for c in self.order if c.kept_ahead]
        values = self._evaluate(closure(kept), features, layers, {})
        left = [c for c in self.order if not c.kept_ahead]
        read = sorted({key for column in left for key in column.input_specs()})
        return ColumnValues({c.name: _kept(c, values[c.name]) for c in kept}, {key: features[key] for key in read})

    @staticmethod
    def _evaluate(columns, features, layers, values):
        for column in columns:
            if column.name not in values:
                parents = [values[p.name] for p in column.parents]
                values[column.name] = column.transform(features, parents, layers.get(column.name))
        return values


class ColumnConsumer:
    """Mixin for Keras layers that compute column values from raw features, then ``combine`` them.

    The layer sets ``self._transform`` (a :class:`ColumnTransform`) in ``__init__``,
    calls ``build_preprocessing()`` in ``build`` and defines ``combine(values)``.
    A model that computes column values once for several parts (WideDeep) sets
    ``values_from_owner`` on them and calls ``combine`` itself; then the layer
    makes no preprocessing layers of its own.
    """

    values_from_owner = False

    def build_preprocessing(self):
        self.preprocessing = {} if self.values_from_owner else self._transform.make_layers()

    def call(self, features):
        return self.combine(self._transform(features, self.preprocessing))
