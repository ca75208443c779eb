"""The convolutional conditional neural process (Gordon et al. 2020, ICLR), for 1-D inputs."""

import keras
import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.layers.set_conv import SetConvDecoder, SetConvEncoder, UNet, uniform_grid
from tfkit.models.neural_process import PointSetModel


@keras.saving.register_keras_serializable(package="tfkit")
class ConvCNP(PointSetModel):
    """The ConvCNP: context onto a grid, a U-Net on the grid, the grid read back at the targets.

    A SetConv encoder puts the context on a uniform grid of
    ``points_per_unit`` points per unit of x (a density channel, and y
    divided by it), a linear layer widens it to ``unet_channels[0]``
    channels, a 1-D :class:`~tfkit.layers.UNet` works on it, and a SetConv
    decoder reads its channels at each target x, from which a linear layer
    gives the mean and σ = ``min_stddev`` + softplus. The grid spans the
    batch's context and target points, so targets far outside the context
    are predicted as well as those inside it. As in the paper, one grid
    serves the whole batch: near the grid's ends the CNN's padding differs
    from open space, so a curve's prediction can move slightly (within the
    receptive field of those ends) with the extent of the curves batched
    with it.

    Every step sees x only through differences: the model is
    translation-equivariant (shift the context and targets together, and
    the predictions do not change), which is the inductive bias GP curves
    of a stationary kernel have, and why it gets far closer to the exact GP
    than the MLP-based models.

    Args:
        x_size: Dimensions of x: 1 (a grid of higher dimension is not built).
        y_size: Dimensions of y.
        points_per_unit: The grid's density; the U-Net's receptive field,
            ``(kernel_size - 1) * (2**levels - 1)`` grid points either
            way, should cover the curves' correlation length (the paper's 64
            with six levels: about four units).
        unet_channels: Filters of the U-Net's levels on the way down; the
            first is also the width the encoder's channels are mapped to.
        kernel_size: Width of the U-Net's convolutions.
        min_stddev: The least standard deviation predicted.

    Example:

    >>> import numpy as np
    >>> from tfkit.data import GPCurves
    >>> model = ConvCNP(points_per_unit=16, unet_channels=[8, 8, 16])
    >>> model.compile()
    >>> _ = model.fit(GPCurves(batch_size=8, seed=0).dataset(), steps_per_epoch=5, verbose=0)
    >>> predictions = model.predict(np.zeros([1, 3, 1]), np.ones([1, 3, 1]), np.linspace(-4, 4, 20)[None, :, None], verbose=0)
    >>> predictions["mean"].shape, bool(np.all(predictions["stddev"] > 0))
    ((1, 20, 1), True)
    """

    def __init__(self, x_size=1, y_size=1, points_per_unit=64, unet_channels=(8, 16, 16, 32, 32, 64), kernel_size=5,
                 min_stddev=0.01, name="conv_cnp"):
        super().__init__(x_size, y_size, name=name)
        if x_size != 1:
            raise TfkitError(f"ConvCNP puts its context on a 1-D grid: x_size must be 1. Received: x_size={x_size!r}")
        if not isinstance(min_stddev, (int, float)) or isinstance(min_stddev, bool) or min_stddev < 0:
            raise TfkitError(f"min_stddev must be a number >= 0. Received: min_stddev={min_stddev!r}")
        self.unet = UNet(unet_channels, kernel_size, name="unet")
        self.encoder = SetConvEncoder(1 + y_size, points_per_unit, name="encoder")
        self.widen = keras.layers.Dense(self.unet.channels[0], activation="sigmoid", name="widen")
        self.decoder = SetConvDecoder(2 * self.unet.channels[0], points_per_unit, name="decoder")
        self.gaussian = keras.layers.Dense(2 * y_size, name="gaussian")
        self.points_per_unit = points_per_unit
        self.unet_channels = self.unet.channels
        self.kernel_size = kernel_size
        self.min_stddev = float(min_stddev)

    def call(self, inputs, training=False):
        context_x, context_y, target_x, mask = self._points(inputs)
        context_extent = context_x if mask is None else _masked_to_targets(context_x, target_x, mask)
        grid = uniform_grid([context_extent, target_x], self.points_per_unit, self.unet.downsampling)
        gridded = self.unet(self.widen(self.encoder(context_x, context_y, grid, mask)))
        mean, raw_scale = tf.split(self.gaussian(self.decoder(gridded, grid, target_x)), 2, axis=-1)
        stddev = self.min_stddev + tf.nn.softplus(raw_scale)
        return tf.concat([mean, stddev], axis=-1)[:, :, None, :]  # one "sample": [batch, targets, 1, 2 * y_size]

    def default_optimizer(self):
        return keras.optimizers.Adam(1e-3)  # the paper's rate for its U-Net model

    def get_config(self):
        return {**super().get_config(), "points_per_unit": self.points_per_unit, "unet_channels": self.unet_channels,
                "kernel_size": self.kernel_size, "min_stddev": self.min_stddev}


def _masked_to_targets(context_x, target_x, mask):
    """Padded context points moved onto a target point, so that they do not stretch the grid."""
    return tf.where(tf.cast(mask, tf.bool)[:, :, None], context_x, target_x[:, :1])
