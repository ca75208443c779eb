"""The parts of neural processes: encoders of context points, cross-attention, and the Gaussian decoder.

Points arrive as ``[batch, points, size]`` tensors. A ``context_mask``
(``[batch, context points]``, 1 for a real point, 0 for padding) lets curves
with different numbers of context points share a batch: padded points change
no aggregate and receive no attention.
"""

import keras
import tensorflow as tf

from tfkit.errors import TfkitError


def _check_sizes(name, sizes):
    sizes = list(sizes) if isinstance(sizes, (list, tuple)) else sizes
    if not isinstance(sizes, list) or not sizes or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise TfkitError(f"{name} must be a non-empty list of positive layer sizes. Received: {name}={sizes!r}")
    return sizes


def _mlp(sizes, name, first_index=0):
    """Dense layers applied to the last axis, ReLU between them (the tutorials' ``batch_mlp``)."""
    layers = [keras.layers.Dense(size, activation="relu" if i < len(sizes) - 1 else None, name=f"{name}_{i + first_index}")
              for i, size in enumerate(sizes)]
    return keras.Sequential(layers, name=name)


def _pointwise(mlp, points):
    """``mlp`` applied to every point of ``[..., points, size]``, as one matrix product over all of them.

    Flattening first (the tutorials' ``batch_mlp`` does too) makes each layer
    one 2-D GEMM instead of a broadcast batched matmul.
    """
    flat = mlp(tf.reshape(points, [-1, points.shape[-1]]))
    return tf.reshape(flat, tf.concat([tf.shape(points)[:-1], tf.shape(flat)[-1:]], axis=0))


def _masked_mean(values, mask):
    if mask is None:
        return tf.reduce_mean(values, axis=1)
    weights = tf.cast(mask, values.dtype)[:, :, None]
    return tf.reduce_sum(values * weights, axis=1) / tf.maximum(tf.reduce_sum(weights, axis=1), 1.0)


@keras.saving.register_keras_serializable(package="tfkit")
class DeterministicEncoder(keras.layers.Layer):
    """Encodes context points into a representation of the curve, or one per target point.

    An MLP over each ``(x, y)`` pair, then either the mean over the context
    points (the CNP's aggregation: ``[batch, size]``, the same for every
    target) or multi-head cross-attention from each target's x to the context
    x (the attentive NP: ``[batch, targets, size]``).

    Args:
        output_sizes: Sizes of the MLP's layers; the last is the representation's.
        attention: None (mean) or ``"multihead"``.
        num_heads: Attention heads.
        attention_sizes: Sizes of the MLP that embeds x into keys and queries
            (one MLP for both, as the ANP tutorial's ``rep="mlp"``).
        self_attention: Context representations attend to each other
            (a residual multi-head self-attention layer) before aggregation.

    Example:

    >>> import numpy as np
    >>> cx, cy, tx = np.zeros([2, 5, 1]), np.zeros([2, 5, 1]), np.zeros([2, 7, 1])
    >>> DeterministicEncoder([16, 8])(cx, cy, tx).shape
    TensorShape([2, 8])
    >>> DeterministicEncoder([16, 8], attention="multihead", num_heads=2, attention_sizes=[8])(cx, cy, tx).shape
    TensorShape([2, 7, 8])
    """

    def __init__(self, output_sizes=(128, 128, 128, 128), attention=None, num_heads=8, attention_sizes=(128, 128),
                 self_attention=False, **kwargs):
        super().__init__(**kwargs)
        self.output_sizes = _check_sizes("output_sizes", output_sizes)
        if attention not in (None, "multihead"):
            raise TfkitError(f"attention must be None or 'multihead'. Received: attention={attention!r}")
        if attention and self.output_sizes[-1] % num_heads:
            raise TfkitError(f"The representation's size ({self.output_sizes[-1]}) must divide into num_heads={num_heads}.")
        self.attention = attention
        self.num_heads = num_heads
        self.attention_sizes = _check_sizes("attention_sizes", attention_sizes)
        self.self_attention = self_attention
        self.mlp = _mlp(self.output_sizes, "pairs")
        size, key_size = self.output_sizes[-1], self.output_sizes[-1] // num_heads
        self.self_attention_layer = (keras.layers.MultiHeadAttention(num_heads, key_size, name="self_attention")
                                     if self_attention else None)
        self.self_attention_norm = keras.layers.LayerNormalization(name="self_attention_norm") if self_attention else None
        if attention:
            self.embed_x = _mlp(self.attention_sizes, "keys_and_queries")
            self.cross_attention = keras.layers.MultiHeadAttention(num_heads, key_size, output_shape=size, name="cross_attention")

    def call(self, context_x, context_y, target_x, context_mask=None):
        hidden = _pointwise(self.mlp, tf.concat([context_x, context_y], axis=-1))
        if self.self_attention:
            pair_mask = None if context_mask is None else _attention_mask(context_mask, tf.shape(context_x)[1])
            hidden = self.self_attention_norm(hidden + self.self_attention_layer(hidden, hidden, attention_mask=pair_mask))
        if not self.attention:
            return _masked_mean(hidden, context_mask)
        mask = None if context_mask is None else _attention_mask(context_mask, tf.shape(target_x)[1])
        queries, keys = _pointwise(self.embed_x, target_x), _pointwise(self.embed_x, context_x)
        return self.cross_attention(queries, hidden, key=keys, attention_mask=mask)

    def get_config(self):
        return {**super().get_config(), "output_sizes": self.output_sizes, "attention": self.attention,
                "num_heads": self.num_heads, "attention_sizes": self.attention_sizes, "self_attention": self.self_attention}


def _attention_mask(context_mask, num_queries):
    """``[batch, queries, context]`` booleans: every query may attend to every real context point."""
    return tf.tile(tf.cast(context_mask, tf.bool)[:, None, :], [1, num_queries, 1])


@keras.saving.register_keras_serializable(package="tfkit")
class LatentEncoder(keras.layers.Layer):
    """Encodes points into a Gaussian over the global latent variable z (the NP's latent path).

    An MLP over each ``(x, y)`` pair, the mean over points, a ReLU layer, then
    the mean and standard deviation of z, σ = 0.1 + 0.9·sigmoid (bounded away
    from 0, as the tutorial).

    Args:
        output_sizes: Sizes of the per-point MLP's layers.
        num_latents: Dimensions of z.

    Example:

    >>> import numpy as np
    >>> mean, stddev = LatentEncoder([16, 16], num_latents=4)(np.zeros([2, 5, 1]), np.zeros([2, 5, 1]))
    >>> mean.shape, bool(np.all(stddev.numpy() >= 0.1))
    (TensorShape([2, 4]), True)
    """

    def __init__(self, output_sizes=(128, 128), num_latents=128, **kwargs):
        super().__init__(**kwargs)
        self.output_sizes = _check_sizes("output_sizes", output_sizes)
        if not isinstance(num_latents, int) or num_latents < 1:
            raise TfkitError(f"num_latents must be a positive integer. Received: num_latents={num_latents!r}")
        self.num_latents = num_latents
        self.mlp = _mlp(self.output_sizes, "pairs")
        self.hidden = keras.layers.Dense((self.output_sizes[-1] + num_latents) // 2, activation="relu", name="hidden")
        self.mean = keras.layers.Dense(num_latents, name="mean")
        self.log_stddev = keras.layers.Dense(num_latents, name="log_stddev")

    def call(self, x, y, mask=None):
        hidden = self.hidden(_masked_mean(_pointwise(self.mlp, tf.concat([x, y], axis=-1)), mask))
        return self.mean(hidden), 0.1 + 0.9 * tf.sigmoid(self.log_stddev(hidden))

    def get_config(self):
        return {**super().get_config(), "output_sizes": self.output_sizes, "num_latents": self.num_latents}


@keras.saving.register_keras_serializable(package="tfkit")
class GaussianDecoder(keras.layers.Layer):
    """Maps representations and a target x to the mean and standard deviation of y there.

    An MLP over ``concat(representation, target_representation, x)``; its
    last layer gives the mean and a raw scale per y dimension, σ = 0.1 +
    0.9·softplus(raw) (bounded below, as the tutorials, so the likelihood
    cannot collapse onto one point).

    ``representation`` is one per curve (``[..., size]``, the CNP's mean, a
    latent z) and ``target_representation`` one per target (``[..., targets,
    size]``, attention's). The first layer's product with a per-curve
    representation is computed once per curve rather than once per target:
    the same function as the concatenation, at a fraction of its cost.

    Args:
        hidden_sizes: Sizes of the MLP's hidden layers.
        y_size: Dimensions of y.

    Example:

    >>> import numpy as np
    >>> decoder = GaussianDecoder([16], y_size=2)
    >>> mean, stddev = decoder(np.zeros([3, 7, 1]), representation=np.zeros([3, 8]))
    >>> mean.shape, bool(np.all(stddev.numpy() > 0.1))
    (TensorShape([3, 7, 2]), True)
    """

    def __init__(self, hidden_sizes=(128, 128), y_size=1, **kwargs):
        super().__init__(**kwargs)
        self.hidden_sizes = _check_sizes("hidden_sizes", hidden_sizes)
        if not isinstance(y_size, int) or y_size < 1:
            raise TfkitError(f"y_size must be a positive integer. Received: y_size={y_size!r}")
        self.y_size = y_size
        self.first = keras.layers.Dense(self.hidden_sizes[0], activation="relu", name="mlp_0")
        self.mlp = _mlp([*self.hidden_sizes[1:], 2 * y_size], "mlp", first_index=1)

    def call(self, target_x, representation=None, target_representation=None):
        per_target = target_x if target_representation is None else tf.concat([target_representation, target_x], -1)
        global_size = 0 if representation is None else representation.shape[-1]
        if not self.first.built:
            self.first.build((None, global_size + per_target.shape[-1]))
        kernel = tf.cast(self.first.kernel, per_target.dtype)
        hidden = _pointwise(lambda points: tf.matmul(points, kernel[global_size:]), per_target)
        if representation is not None:
            hidden += tf.matmul(tf.cast(representation, per_target.dtype), kernel[:global_size])[..., None, :]
        hidden = self.first.activation(hidden + tf.cast(self.first.bias, hidden.dtype))
        mean, raw_scale = tf.split(_pointwise(self.mlp, hidden), 2, axis=-1)
        return mean, 0.1 + 0.9 * tf.nn.softplus(raw_scale)

    def get_config(self):
        return {**super().get_config(), "hidden_sizes": self.hidden_sizes, "y_size": self.y_size}
