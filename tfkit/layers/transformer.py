"""The transformer layer of transformer neural processes: every token attends to the context tokens only."""

import keras
import tensorflow as tf

from tfkit.errors import TfkitError


@keras.saving.register_keras_serializable(package="tfkit")
class ContextAttentionBlock(keras.layers.Layer):
    """A transformer encoder layer whose keys and values are the context tokens alone.

    ``tokens`` are ``[batch, context + targets, size]``, the context first.
    Each token (context or target) attends to the context tokens, then a
    feed-forward layer follows, each with a residual connection and a layer
    normalisation after it (PyTorch's ``TransformerEncoderLayer``, which
    the TNP paper uses). This is a full self-attention layer with the TNP-D
    mask (targets see the context, not each other; the context sees
    itself), computed without the target-to-target scores the mask would
    throw away.

    Args:
        num_heads: Attention heads.
        feedforward_size: Width of the feed-forward layer's hidden layer.
        dropout: Dropout rate of attention weights and both residual branches.

    Example:

    >>> import numpy as np
    >>> block = ContextAttentionBlock(num_heads=2, feedforward_size=16)
    >>> block(np.zeros([3, 5 + 7, 8]), num_context=5).shape
    TensorShape([3, 12, 8])
    """

    def __init__(self, num_heads=4, feedforward_size=128, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        for key, value in (("num_heads", num_heads), ("feedforward_size", feedforward_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise TfkitError(f"{key} must be a positive integer. Received: {key}={value!r}")
        if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise TfkitError(f"dropout must be in [0, 1). Received: dropout={dropout!r}")
        self.num_heads = num_heads
        self.feedforward_size = feedforward_size
        self.dropout = dropout

    def build(self, input_shape):
        size = input_shape[-1]
        if size % self.num_heads:
            raise TfkitError(f"The token size ({size}) must divide into num_heads={self.num_heads}.")
        self.attention = keras.layers.MultiHeadAttention(self.num_heads, size // self.num_heads, dropout=self.dropout,
                                                         name="attention")
        self.attention.build(input_shape, input_shape)
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="attention_norm")
        self.attention_norm.build(input_shape)
        self.feedforward = keras.Sequential([keras.layers.Dense(self.feedforward_size, activation="relu", name="hidden"),
                                             keras.layers.Dropout(self.dropout), keras.layers.Dense(size, name="output")],
                                            name="feedforward")
        self.feedforward.build(input_shape)
        self.feedforward_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="feedforward_norm")
        self.feedforward_norm.build(input_shape)
        self.residual_dropout = keras.layers.Dropout(self.dropout)

    def call(self, tokens, num_context, context_mask=None, training=False):
        context = tokens[:, :num_context]
        mask = None
        if context_mask is not None:  # [batch, queries, context]: no token attends to a padded context point
            mask = tf.tile(tf.cast(context_mask, tf.bool)[:, None, :], [1, tf.shape(tokens)[1], 1])
        attended = self.attention(tokens, context, attention_mask=mask, training=training)
        tokens = self.attention_norm(tokens + self.residual_dropout(attended, training=training))
        changed = self.feedforward(tokens, training=training)
        return self.feedforward_norm(tokens + self.residual_dropout(changed, training=training))

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "feedforward_size": self.feedforward_size,
                "dropout": self.dropout}
