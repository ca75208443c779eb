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
