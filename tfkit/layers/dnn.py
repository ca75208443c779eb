"""DNN: dense features through a stack of fully connected layers (the "deep" part)."""

import keras

from tfkit.errors import TfkitError
from tfkit.features import deserialize, serialize
from tfkit.layers.dense_features import DenseFeatures


@keras.saving.register_keras_serializable(package="tfkit")
class DNN(keras.layers.Layer):
    """Raw features → ``DenseFeatures`` → hidden layers → ``units`` outputs (no activation).

    Args:
        columns: Dense feature columns (numeric, embedding, indicator).
        hidden_units: Width of each hidden layer.
        units: Number of outputs.
        activation: Hidden-layer activation.
        dropout: Dropout rate after each hidden layer (0 for none).
        batch_norm: Batch normalisation after each hidden layer.

    Example:

    >>> import numpy as np
    >>> from tfkit.features import NumericColumn
    >>> from tfkit.layers import DNN
    >>> deep = DNN([NumericColumn("x", shape=2)], hidden_units=[8, 4], units=3)
    >>> deep({"x": np.zeros((5, 2), "float32")}).shape
    TensorShape([5, 3])
    """

    def __init__(self, columns, hidden_units=(64, 32), units=1, activation="relu", dropout=0.0, batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        hidden_units = list(hidden_units)
        if not all(isinstance(u, int) and not isinstance(u, bool) and u > 0 for u in hidden_units):
            raise TfkitError(f"DNN: hidden_units must be positive ints. Received: hidden_units={hidden_units!r}")
        if not 0.0 <= dropout < 1.0:
            raise TfkitError(f"DNN: dropout must be in [0, 1). Received: dropout={dropout!r}")
        self.columns = [deserialize(c) for c in columns]
        self.hidden_units = hidden_units
        self.units = units
        self.activation = activation
        self.dropout = float(dropout)
        self.batch_norm = bool(batch_norm)
        self.features = DenseFeatures(self.columns, name="features")
        self.hidden = []
        for i, width in enumerate(hidden_units):
            self.hidden.append(keras.layers.Dense(width, activation=None if batch_norm else activation, name=f"hidden_{i}"))
            if batch_norm:
                self.hidden.append(keras.layers.BatchNormalization(name=f"batch_norm_{i}"))
                self.hidden.append(keras.layers.Activation(activation, name=f"activation_{i}"))
            if dropout:
                self.hidden.append(keras.layers.Dropout(dropout, name=f"dropout_{i}"))
        self.logits = keras.layers.Dense(units, name="logits")

    def input_specs(self):
        return self.features.input_specs()

    def build(self, input_shape=None):
        self.features.build()
        shape = (None, self.features.output_dim)
        for layer in self.hidden + [self.logits]:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    def call(self, features, training=False):
        return self.stack(self.features(features), training)

    def combine(self, values, training=False):
        """Outputs from column values already computed (``{column name: value}``)."""
        return self.stack(self.features.combine(values), training)

    def stack(self, x, training=False):
        """The hidden layers and the output layer over dense features ``x``."""
        for layer in self.hidden:
            x = layer(x, training=training)
        return self.logits(x)

    def compute_output_shape(self, input_shape):
        return (None, self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            columns=[serialize(c) for c in self.columns],
            hidden_units=self.hidden_units,
            units=self.units,
            activation=self.activation,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
        )
        return config
