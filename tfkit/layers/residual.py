"""ResidualBlock: the basic and bottleneck blocks of ResNet v1 and v2 (He et al. 2016a, 2016b)."""

import keras

from tfkit.errors import TfkitError

SHORTCUTS = ("identity", "projection")


def l2(weight_decay):
    """The regularizer of ``weight_decay`` (gradient ``weight_decay * w``), or None."""
    return keras.regularizers.L2(weight_decay / 2) if weight_decay else None


def convolution(filters, size, strides, weight_decay, data_format, name):
    """A ResNet convolution: "same" padding, no bias (batch norm follows), He initialisation."""
    return keras.layers.Conv2D(filters, size, strides=strides, padding="same", use_bias=False, data_format=data_format,
                               kernel_initializer="he_normal", kernel_regularizer=l2(weight_decay), name=name)


def batch_normalization(momentum, epsilon, data_format, synchronized, name):
    """Batch normalisation over the channel axis of ``data_format``."""
    return keras.layers.BatchNormalization(axis=-1 if data_format == "channels_last" else 1, momentum=momentum,
                                           epsilon=epsilon, synchronized=synchronized, name=name)


@keras.saving.register_keras_serializable(package="tfkit")
class ResidualBlock(keras.layers.Layer):
    """A residual block: ``output = F(x) + shortcut(x)``.

    * ``version=1`` (post-activation, He et al. 2016a): conv → BN → ReLU → … →
      BN, then the sum, then ReLU.
    * ``version=2`` (pre-activation, He et al. 2016b): BN → ReLU → conv → …,
      the sum last, nothing after it.
    * ``bottleneck=False``: two 3×3 convolutions with ``filters`` maps;
      ``bottleneck=True``: 1×1 (``filters``) → 3×3 (``filters``) → 1×1
      (``4 * filters``).

    When the block changes the shape (``strides > 1`` or other channels) the
    shortcut is, with ``shortcut="identity"``, the paper's parameter-free
    option A (the input subsampled by ``strides`` and its channels padded with
    zeros); with ``"projection"``, option B (a 1×1 convolution, plus BN in
    version 1). Otherwise it is the identity.

    Args:
        filters: Feature maps of the block (of its 3×3 convolutions).
        strides: Stride of the block's first 3×3 convolution (1 or 2).
        version: 1 (post-activation) or 2 (pre-activation).
        bottleneck: Bottleneck block (output ``4 * filters`` maps).
        shortcut: ``"identity"`` (option A) or ``"projection"`` (option B)
            when the shape changes.
        batch_norm_momentum: Momentum of the moving statistics (the old
            ``batch_norm_decay``).
        batch_norm_epsilon: Epsilon of batch normalisation.
        weight_decay: L2 weight decay of the convolution kernels: the loss
            gains ``weight_decay / 2 * ||w||²``, so each step's gradient gains
            ``weight_decay * w``.
        data_format: ``"channels_last"`` or ``"channels_first"``.
        synchronized_batch_norm: Batch statistics over all replicas of a
            distributed step instead of each replica's share of the batch.

    Example:

    >>> import numpy as np
    >>> from tfkit.layers import ResidualBlock
    >>> block = ResidualBlock(32, strides=2, version=2)
    >>> block(np.zeros((2, 16, 16, 16), "float32")).shape
    TensorShape([2, 8, 8, 32])
    """

    def __init__(
        self,
        filters,
        strides=1,
        version=1,
        bottleneck=False,
        shortcut="identity",
        batch_norm_momentum=0.997,
        batch_norm_epsilon=1e-5,
        weight_decay=0.0,
        data_format="channels_last",
        synchronized_batch_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or isinstance(filters, bool) or filters < 1:
            raise TfkitError(f"ResidualBlock: filters must be a positive int. Received: filters={filters!r}")
        if strides not in (1, 2):
            raise TfkitError(f"ResidualBlock: strides must be 1 or 2. Received: strides={strides!r}")
        if version not in (1, 2):
            raise TfkitError(f"ResidualBlock: version must be 1 or 2. Received: version={version!r}")
        if shortcut not in SHORTCUTS:
            raise TfkitError(f"ResidualBlock: shortcut must be one of {SHORTCUTS}. Received: shortcut={shortcut!r}")
        if data_format not in ("channels_last", "channels_first"):
            raise TfkitError(f"ResidualBlock: data_format must be channels_last or channels_first. Received: {data_format!r}")
        if weight_decay < 0:
            raise TfkitError(f"ResidualBlock: weight_decay must be >= 0. Received: weight_decay={weight_decay!r}")
        self.filters = filters
        self.strides = strides
        self.version = version
        self.bottleneck = bool(bottleneck)
        self.shortcut = shortcut
        self.batch_norm_momentum = batch_norm_momentum
        self.batch_norm_epsilon = batch_norm_epsilon
        self.weight_decay = weight_decay
        self.data_format = data_format
        self.synchronized_batch_norm = bool(synchronized_batch_norm)
        self.channel_axis = -1 if data_format == "channels_last" else 1
        self.output_filters = 4 * filters if self.bottleneck else filters

        # (kernel size, maps, strides) of the residual branch's convolutions.
        if self.bottleneck:
            shapes = [(1, filters, 1), (3, filters, strides), (1, self.output_filters, 1)]
        else:
            shapes = [(3, filters, strides), (3, filters, 1)]
        self.convolutions = [self._convolution(size, maps, stride, f"conv_{i}") for i, (size, maps, stride) in enumerate(shapes)]
        # Version 1 normalises each convolution's output; version 2 each convolution's input.
        self.batch_norms = [self._batch_norm(f"batch_norm_{i}") for i in range(len(shapes))]
        self.projection = self.projection_norm = None

    def _convolution(self, size, maps, strides, name):
        return convolution(maps, size, strides, self.weight_decay, self.data_format, name)

    def _batch_norm(self, name):
        return batch_normalization(self.batch_norm_momentum, self.batch_norm_epsilon, self.data_format,
                                   self.synchronized_batch_norm, name)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self.input_filters = input_shape[self.channel_axis]
        self.changes_shape = self.strides != 1 or self.input_filters != self.output_filters
        if self.changes_shape and self.shortcut == "projection":
            self.projection = self._convolution(1, self.output_filters, self.strides, "projection")
            self.projection.build(input_shape)
            if self.version == 1:
                self.projection_norm = self._batch_norm("projection_batch_norm")
                self.projection_norm.build(self.projection.compute_output_shape(input_shape))
        shape = input_shape
        for convolution, batch_norm in zip(self.convolutions, self.batch_norms):
            if self.version == 2:
                batch_norm.build(shape)
            convolution.build(shape)
            shape = convolution.compute_output_shape(shape)
            if self.version == 1:
                batch_norm.build(shape)
        self.built = True

    def call(self, inputs, training=False):
        x = inputs
        if self.version == 2:
            # The shortcut of a shape-changing pre-activation block starts after the first BN-ReLU.
            x = keras.ops.relu(self.batch_norms[0](x, training=training))
            shortcut = self._shortcut(x if self.changes_shape else inputs, training)
            for i, convolution in enumerate(self.convolutions):
                if i:
                    x = keras.ops.relu(self.batch_norms[i](x, training=training))
                x = convolution(x)
            return x + shortcut
        shortcut = self._shortcut(inputs, training)
        last = len(self.convolutions) - 1
        for i, (convolution, batch_norm) in enumerate(zip(self.convolutions, self.batch_norms)):
            x = batch_norm(convolution(x), training=training)
            if i < last:
                x = keras.ops.relu(x)
        return keras.ops.relu(x + shortcut)

    def _shortcut(self, x, training):
        if not self.changes_shape:
            return x
        if self.projection is not None:
            x = self.projection(x)
            return self.projection_norm(x, training=training) if self.projection_norm is not None else x
        # Option A: subsample, then zero-pad the new channels.
        if self.strides > 1:
            x = x[:, :, :: self.strides, :: self.strides] if self.channel_axis == 1 else x[:, :: self.strides, :: self.strides, :]
        extra = self.output_filters - self.input_filters
        if extra < 0:
            raise TfkitError(
                f"ResidualBlock {self.name!r}: an identity shortcut cannot reduce {self.input_filters} channels to "
                f"{self.output_filters}; use shortcut='projection'."
            )
        padding = [[0, 0]] * 4
        padding[self.channel_axis] = [extra // 2, extra - extra // 2]
        return keras.ops.pad(x, padding)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        spatial = (1, 2) if self.channel_axis == -1 else (2, 3)
        for axis in spatial:
            if shape[axis] is not None:
                shape[axis] = -(-shape[axis] // self.strides)
        shape[self.channel_axis] = self.output_filters
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            strides=self.strides,
            version=self.version,
            bottleneck=self.bottleneck,
            shortcut=self.shortcut,
            batch_norm_momentum=self.batch_norm_momentum,
            batch_norm_epsilon=self.batch_norm_epsilon,
            weight_decay=self.weight_decay,
            data_format=self.data_format,
            synchronized_batch_norm=self.synchronized_batch_norm,
        )
        return config
