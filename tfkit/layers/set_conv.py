"""The parts of the convolutional CNP (Gordon et al. 2020): SetConv layers onto and off a grid, and a 1-D U-Net.

A SetConv layer turns a set of points into a function on other points with
a Gaussian kernel of learned length scale, one per channel: the encoder
puts the context onto a uniform grid (a density channel, and each y channel
divided by the density), a CNN works on the grid, and the decoder reads the
CNN's channels back at the target points. Every step depends on x only
through differences, so the model is translation-equivariant: shifting the
context and the targets together (by a whole number of grid steps) shifts
nothing else.
"""

import math

import keras
import tensorflow as tf

from tfkit.errors import TfkitError


def uniform_grid(points, points_per_unit, multiple=1, margin=0.1):
    """The grid under all ``points``: ``[grid points]`` x values ``k / points_per_unit``.

    It covers every point with ``margin`` to spare, starts on a multiple of
    the grid's step (so a shift of the points by whole steps shifts the grid
    by exactly that much, and what is on it not at all), and runs on past the
    last point until its length divides into ``multiple``.

    Args:
        points: Tensors of x values (``[batch, points, 1]``), the points to cover.
        points_per_unit: Grid points per unit of x.
        multiple: The grid's length divides into it (a U-Net's downsampling factor).
        margin: Units of x beyond the outermost points.

    Example:

    >>> import numpy as np
    >>> uniform_grid([np.array([[[0.0], [1.0]]])], points_per_unit=4, multiple=4).numpy().tolist()
    [-0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    """
    low = tf.reduce_min([tf.reduce_min(p) for p in points]) - margin
    high = tf.reduce_max([tf.reduce_max(p) for p in points]) + margin
    start = tf.cast(tf.floor(low * points_per_unit), tf.int32)
    span = tf.cast(tf.math.ceil(high * points_per_unit), tf.int32) - start
    length = (span + multiple - 1) // multiple * multiple
    return tf.cast(tf.range(start, start + length), low.dtype) / float(points_per_unit)


class _SetConv(keras.layers.Layer):
    """A Gaussian kernel with a learned length scale per channel."""

    def __init__(self, channels, points_per_unit=64, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
            raise TfkitError(f"channels must be a positive integer. Received: channels={channels!r}")
        if not isinstance(points_per_unit, (int, float)) or isinstance(points_per_unit, bool) or points_per_unit <= 0:
            raise TfkitError(f"points_per_unit must be a positive number. Received: points_per_unit={points_per_unit!r}")
        self.channels = channels
        self.points_per_unit = points_per_unit

    def build(self, *args, **kwargs):
        # Twice the grid's spacing to start with, as the paper.
        self.log_length_scale = self.add_weight(
            shape=(self.channels,), name="log_length_scale",
            initializer=keras.initializers.Constant(math.log(2.0 / self.points_per_unit)))

    def _weights(self, x, grid):
        """``[batch, points, grid points, channels]``: the kernel between each point and each grid point."""
        length_scale = tf.exp(tf.cast(self.log_length_scale, x.dtype))
        distance = tf.square(x - grid[None, None, :])[..., None]  # x: [batch, points, 1]
        return tf.exp(-0.5 * distance / tf.square(length_scale))

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "points_per_unit": self.points_per_unit}


@keras.saving.register_keras_serializable(package="tfkit")
class SetConvEncoder(_SetConv):
    """Context points onto a grid: a density channel, then each y channel normalised by the density.

    Args:
        channels: ``1 + y_size``: the density and the y channels.
        points_per_unit: The grid's density (sets the initial length scale).

    Example:

    >>> import numpy as np
    >>> encoder = SetConvEncoder(channels=2, points_per_unit=8)
    >>> grid = uniform_grid([np.zeros([1, 1, 1])], points_per_unit=8)
    >>> encoded = encoder(np.zeros([1, 1, 1]), np.full([1, 1, 1], 3.0), grid)
    >>> encoded.shape, float(encoded[0, 1, 0]), round(float(encoded[0, 1, 1]), 3)
    (TensorShape([1, 2, 2]), 1.0, 3.0)
    """

    def call(self, context_x, context_y, grid, context_mask=None):
        weights = self._weights(context_x, grid)
        if context_mask is not None:
            weights *= tf.cast(context_mask, weights.dtype)[:, :, None, None]
        values = tf.concat([tf.ones_like(context_y[..., :1]), context_y], axis=-1)  # [batch, context, channels]
        gridded = tf.einsum("bngc,bnc->bgc", weights, values)
        density = gridded[..., :1]
        return tf.concat([density, gridded[..., 1:] / (density + 1e-8)], axis=-1)


@keras.saving.register_keras_serializable(package="tfkit")
class SetConvDecoder(_SetConv):
    """Channels on a grid read at target points: the kernel-weighted sum over grid points, per channel.

    Example:

    >>> import numpy as np
    >>> decoder = SetConvDecoder(channels=3, points_per_unit=8)
    >>> grid = uniform_grid([np.zeros([1, 1, 1])], points_per_unit=8)
    >>> decoder(np.ones([2, len(grid), 3]), grid, np.zeros([2, 5, 1])).shape
    TensorShape([2, 5, 3])
    """

    def call(self, values, grid, target_x):
        return tf.einsum("btgc,bgc->btc", self._weights(target_x, grid), tf.cast(values, target_x.dtype))


@keras.saving.register_keras_serializable(package="tfkit")
class UNet(keras.layers.Layer):
    """A 1-D U-Net (the ConvCNP paper's): strided convolutions down, transposed ones up, skip connections.

    Each level halves the grid with a stride-2 convolution of ``channels[i]``
    filters; the way up doubles it with transposed convolutions, each
    concatenated with the level below it on the way down; the output
    concatenates the last with the input (``2 * input channels``). With
    ``L`` levels and kernel size ``k`` the receptive field is about
    ``(k - 1) * (2**L - 1)`` grid points either way of a point; the grid's
    length must divide into ``2**L``.

    Args:
        channels: Filters of each level on the way down (the paper's
            8, 16, 16, 32, 32, 64 from 8 input channels).
        kernel_size: Width of every convolution.

    Example:

    >>> import numpy as np
    >>> UNet(channels=[4, 8], kernel_size=3)(np.zeros([2, 12, 4])).shape
    TensorShape([2, 12, 8])
    """

    def __init__(self, channels=(8, 16, 16, 32, 32, 64), kernel_size=5, **kwargs):
        super().__init__(**kwargs)
        self.channels = list(channels) if isinstance(channels, (list, tuple)) else channels
        if (not isinstance(self.channels, list) or not self.channels
                or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in self.channels)):
            raise TfkitError(f"channels must be a non-empty list of positive filter counts. Received: channels={channels!r}")
        if not isinstance(kernel_size, int) or isinstance(kernel_size, bool) or kernel_size < 1:
            raise TfkitError(f"kernel_size must be a positive integer. Received: kernel_size={kernel_size!r}")
        self.kernel_size = kernel_size
        self.down = [keras.layers.Conv1D(c, kernel_size, strides=2, padding="same", activation="relu", name=f"down_{i}")
                     for i, c in enumerate(self.channels)]
        self.up = None  # the last level's filters are the input's: known at build

    def build(self, input_shape):
        widths = [input_shape[-1], *self.channels[:-1]]  # the way up ends at each level's input width
        self.up = [keras.layers.Conv1DTranspose(width, self.kernel_size, strides=2, padding="same", activation="relu",
                                                name=f"up_{i}") for i, width in reversed(list(enumerate(widths)))]

    @property
    def downsampling(self):
        """The factor the grid is halved by; its length must divide into it."""
        return 2 ** len(self.channels)

    def call(self, inputs):
        levels = [inputs]
        for layer in self.down:
            levels.append(layer(levels[-1]))
        hidden = levels.pop()
        for layer in self.up:
            hidden = tf.concat([layer(hidden), levels.pop()], axis=-1)
        return hidden

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "kernel_size": self.kernel_size}
