"""NumericEmbedding: the trainable part of a numeric embedding column, one set of weights per feature."""

import math

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfkit")
class NumericEmbedding(keras.layers.Layer):
    """``[batch, features * width + flags]`` in, ``[batch, features * units + flags]`` out.

    Each of the ``num_features`` features has ``width`` input values (its
    piecewise-linear encoding, or 1 standardized value) and its own weights:
    with ``num_frequencies``, first ``concat(cos(2 pi c x), sin(2 pi c x))``
    for its trainable frequencies ``c`` (initially ``N(0, sigma^2)``), then a
    linear layer to ``units`` and ``activation``. The last ``num_flags``
    inputs (missing-value flags) pass through unchanged. Weights are
    initialised like ``torch.nn.Linear``, as in the paper.

    Example:

    >>> import numpy as np
    >>> from tfkit.layers.numeric_embedding import NumericEmbedding
    >>> layer = NumericEmbedding(num_features=3, width=1, units=4, num_frequencies=8, sigma=0.1)
    >>> layer(np.zeros((2, 3), "float32")).shape
    TensorShape([2, 12])
    """

    def __init__(self, num_features, width, units, activation=None, num_frequencies=None, sigma=None, num_flags=0, **kwargs):
        super().__init__(**kwargs)
        self.num_features = num_features
        self.width = width
        self.units = units
        self.activation = activation
        self.num_frequencies = num_frequencies
        self.sigma = sigma
        self.num_flags = num_flags
        self._activation = keras.activations.get(activation)

    def build(self, input_shape=None):
        features, fan_in = self.num_features, self.width
        if self.num_frequencies:
            self.frequencies = self.add_weight(
                name="frequencies", shape=(features, self.num_frequencies),
                initializer=keras.initializers.RandomNormal(stddev=self.sigma))
            fan_in = 2 * self.num_frequencies
        bound = 1.0 / math.sqrt(fan_in)
        uniform = keras.initializers.RandomUniform(-bound, bound)
        self.kernel = self.add_weight(name="kernel", shape=(features, fan_in, self.units), initializer=uniform)
        self.bias = self.add_weight(name="bias", shape=(features, self.units), initializer=uniform)
        self.built = True

    def call(self, inputs):
        split = self.num_features * self.width
        x = tf.reshape(inputs[:, :split], [-1, self.num_features, self.width])
        if self.num_frequencies:
            angles = 2.0 * math.pi * x * self.frequencies  # [batch, features, frequencies]
            x = tf.concat([tf.cos(angles), tf.sin(angles)], axis=-1)
        y = self._activation(tf.einsum("bfi,fio->bfo", x, self.kernel) + self.bias)
        y = tf.reshape(y, [-1, self.num_features * self.units])
        return tf.concat([y, inputs[:, split:]], axis=1) if self.num_flags else y

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_features * self.units + self.num_flags)

    def get_config(self):
        config = super().get_config()
        config.update(num_features=self.num_features, width=self.width, units=self.units, activation=self.activation,
                      num_frequencies=self.num_frequencies, sigma=self.sigma, num_flags=self.num_flags)
        return config
