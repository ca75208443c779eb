"""The transformer neural process, TNP-D (Nguyen & Grover 2022, ICML)."""

import keras
import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.layers.neural_process import _check_sizes, _mlp, _pointwise
from tfkit.layers.transformer import ContextAttentionBlock
from tfkit.models.neural_process import PointSetModel


@keras.saving.register_keras_serializable(package="tfkit")
class TransformerNeuralProcess(PointSetModel):
    """TNP-D: context and target points as tokens of one transformer, targets attending to the context only.

    Each context point ``(x, y, 1)`` and each target ``(x, 0, 0)`` (the last
    value tells them apart) is embedded by an MLP; ``num_layers``
    :class:`~tfkit.layers.ContextAttentionBlock` layers let every token
    attend to the context tokens; an MLP (the predictor) maps each target's token to
    the mean and σ = ``min_stddev`` + softplus of a Gaussian (the "D",
    diagonal: targets are predicted independently given the context).
    Attention is what lets it use the context points nearest a target
    directly, as the ANP does, but with every layer of the network.

    Args:
        x_size: Dimensions of x.
        y_size: Dimensions of y.
        model_size: Width of the tokens (the paper's 64).
        num_layers: Transformer layers (the paper's 6).
        num_heads: Attention heads (the paper's 4).
        feedforward_size: Hidden width of each layer's feed-forward part (the paper's 128).
        embedding_sizes: Hidden layers of the token embedding MLP (the
            paper's depth-4 MLP: three of ``model_size``); its output is
            ``model_size``.
        predictor_sizes: Hidden layers of the predictor MLP (the paper's one of 128).
        dropout: Dropout in the transformer layers (the paper's 0).
        min_stddev: The least standard deviation predicted.

    Example:

    >>> import numpy as np
    >>> from tfkit.data import GPCurves
    >>> model = TransformerNeuralProcess(model_size=16, num_layers=2, num_heads=2, feedforward_size=16,
    ...                                  embedding_sizes=[16], predictor_sizes=[16])
    >>> model.compile()
    >>> _ = model.fit(GPCurves(batch_size=8, seed=0).dataset(), steps_per_epoch=5, verbose=0)
    >>> model.predict(np.zeros([1, 3, 1]), np.ones([1, 3, 1]), np.zeros([1, 20, 1]), verbose=0)["stddev"].shape
    (1, 20, 1)
    """

    def __init__(self, x_size=1, y_size=1, model_size=64, num_layers=6, num_heads=4, feedforward_size=128,
                 embedding_sizes=(64, 64, 64), predictor_sizes=(128,), dropout=0.0, min_stddev=0.01,
                 name="transformer_neural_process"):
        super().__init__(x_size, y_size, name=name)
        for key, value in (("model_size", model_size), ("num_layers", num_layers)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise TfkitError(f"{key} must be a positive integer. Received: {key}={value!r}")
        if isinstance(num_heads, int) and num_heads > 0 and model_size % num_heads:
            raise TfkitError(f"model_size ({model_size}) must divide into num_heads={num_heads}.")
        if not isinstance(min_stddev, (int, float)) or isinstance(min_stddev, bool) or min_stddev < 0:
            raise TfkitError(f"min_stddev must be a number >= 0. Received: min_stddev={min_stddev!r}")
        self.embedding_sizes = _check_sizes("embedding_sizes", embedding_sizes)
        self.predictor_sizes = _check_sizes("predictor_sizes", predictor_sizes)
        self.embed = _mlp([*self.embedding_sizes, model_size], "embed")
        self.blocks = [ContextAttentionBlock(num_heads, feedforward_size, dropout, name=f"transformer_{i}")
                       for i in range(num_layers)]
        self.predictor = _mlp([*self.predictor_sizes, 2 * y_size], "predictor")
        self.model_size = model_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.feedforward_size = feedforward_size
        self.dropout = float(dropout)
        self.min_stddev = float(min_stddev)

    def call(self, inputs, training=False):
        context_x, context_y, target_x, mask = self._points(inputs)
        target_shape = tf.concat([tf.shape(target_x)[:-1], [self.y_size + 1]], axis=0)
        tokens = tf.concat([tf.concat([context_x, context_y, tf.ones_like(context_y[..., :1])], axis=-1),
                            tf.concat([target_x, tf.zeros(target_shape, target_x.dtype)], axis=-1)], axis=1)
        tokens = _pointwise(self.embed, tokens)
        num_context = tf.shape(context_x)[1]
        for block in self.blocks:
            tokens = block(tokens, num_context, mask, training=training)
        mean, raw_scale = tf.split(_pointwise(self.predictor, tokens[:, num_context:]), 2, axis=-1)
        stddev = self.min_stddev + tf.nn.softplus(raw_scale)
        return tf.concat([mean, stddev], axis=-1)[:, :, None, :]  # one "sample": [batch, targets, 1, 2 * y_size]

    def default_optimizer(self):
        return keras.optimizers.Adam(5e-4)

    def get_config(self):
        return {**super().get_config(), "model_size": self.model_size, "num_layers": self.num_layers,
                "num_heads": self.num_heads, "feedforward_size": self.feedforward_size,
                "embedding_sizes": self.embedding_sizes, "predictor_sizes": self.predictor_sizes, "dropout": self.dropout,
                "min_stddev": self.min_stddev}
