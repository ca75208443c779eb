"""Shared by the column-consuming layers: compute every column's value from raw features."""

import tensorflow as tf

from tfkit.features import EmbeddingColumn, closure


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
        values = {}
        for column in self.order:
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
