"""ResNet: the CIFAR-style residual network of He et al. 2016 (§4.2), versions 1 and 2.

A 3×3 convolution, three stages of ``n`` residual blocks with 16, 32 and 64
filters (the second and third stages start with stride 2), global average
pooling and a dense classifier: ``6n + 2`` layers with basic blocks, ``9n + 2``
with bottleneck blocks. The successor of TensorFlow's ``cifar10_estimator``
model, with its flags as constructor arguments.
"""

import keras
import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features import RawInput
from tfkit.layers.residual import SHORTCUTS, ResidualBlock, batch_normalization, convolution, l2
from tfkit.models.base import Model

STANDARDIZATIONS = ("per_image", "rescale", None)


@keras.saving.register_keras_serializable(package="tfkit")
class ResNet(Model):
    """A CIFAR-style ResNet over raw ``uint8`` images.

    Its input is the raw image, ``uint8 [batch, height, width, channels]``,
    either as a tensor or as the feature ``image_key`` of a dict of features;
    the model casts and standardises it, so exports take raw images.

    Args:
        depth: Number of weighted layers: ``6n + 2`` (20, 32, 44, 56, 110, ...)
            with basic blocks, ``9n + 2`` (29, 56, 110, 164, ...) with
            bottleneck blocks.
        version: 1 (post-activation, He et al. 2016a) or 2 (pre-activation,
            He et al. 2016b).
        bottleneck: Bottleneck blocks (1×1, 3×3, 1×1) instead of basic ones.
        shortcut: ``"identity"`` (zero-padded, parameter-free: the paper's
            CIFAR option A) or ``"projection"`` where a stage changes shape.
        filters: Filters of the three (or more) stages.
        num_classes: Number of classes: by default the labels of ``label_vocabulary``, or 10
            without one. A number that contradicts ``label_vocabulary`` is an error.
        label_vocabulary: Class names in class-id order (``classes`` output).
        image_shape: ``[height, width, channels]`` of the raw images.
        image_key: Feature name of the image in a dict of features (and in
            the exported signature).
        standardize: ``"per_image"`` (zero mean, unit variance per image, as
            ``tf.image.per_image_standardization``), ``"rescale"`` (to
            ``[0, 1]``) or None.
        batch_norm_momentum: Momentum of batch-norm moving statistics.
        batch_norm_epsilon: Epsilon of batch normalisation.
        weight_decay: L2 weight decay of the kernels (gradient gains
            ``weight_decay * w``).
        data_format: ``"channels_last"`` or ``"channels_first"`` (the images
            are transposed inside the model; inputs stay ``HWC``).
        synchronized_batch_norm: Batch-norm statistics over the whole global
            batch when several replicas train (MirroredStrategy), so that
            training does not depend on the number of replicas.

    Example:

    >>> import numpy as np
    >>> from tfkit.models import ResNet
    >>> model = ResNet(depth=8, num_classes=3, image_shape=[8, 8, 3], label_vocabulary=["cat", "dog", "owl"])
    >>> model.compile()
    >>> images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype="uint8")
    >>> history = model.fit(images, np.array([0, 1, 2, 1]), epochs=1, verbose=0)
    >>> model.predict(images, verbose=0)["probabilities"].shape
    (4, 3)
    """

    def __init__(
        self,
        depth=20,
        version=1,
        bottleneck=False,
        shortcut="identity",
        filters=(16, 32, 64),
        num_classes=None,
        label_vocabulary=None,
        image_shape=(32, 32, 3),
        image_key="image",
        standardize="per_image",
        batch_norm_momentum=0.997,
        batch_norm_epsilon=1e-5,
        weight_decay=2e-4,
        data_format="channels_last",
        synchronized_batch_norm=True,
        head="multiclass",
        name="resnet",
        **kwargs,
    ):
        if num_classes is None and label_vocabulary is None:
            num_classes = 10
        super().__init__(head=head, num_classes=num_classes, label_vocabulary=label_vocabulary, name=name, **kwargs)
        layers_per_block = 3 if bottleneck else 2
        filters = list(filters)
        per_stage = (depth - 2) / (layers_per_block * len(filters)) if isinstance(depth, int) else 0
        if not per_stage or per_stage != int(per_stage) or per_stage < 1:
            rule = f"{layers_per_block * len(filters)}n + 2"
            raise TfkitError(f"ResNet: depth must be {rule} for n >= 1 with {'bottleneck' if bottleneck else 'basic'} "
                             f"blocks and {len(filters)} stages (e.g. {layers_per_block * len(filters) + 2}, "
                             f"{3 * layers_per_block * len(filters) + 2}). Received: depth={depth!r}")
        image_shape = list(image_shape)
        if len(image_shape) != 3 or not all(isinstance(d, int) and d > 0 for d in image_shape):
            raise TfkitError(f"ResNet: image_shape must be [height, width, channels]. Received: image_shape={image_shape!r}")
        if standardize not in STANDARDIZATIONS:
            raise TfkitError(f"ResNet: standardize must be one of {STANDARDIZATIONS}. Received: standardize={standardize!r}")
        if shortcut not in SHORTCUTS:
            raise TfkitError(f"ResNet: shortcut must be one of {SHORTCUTS}. Received: shortcut={shortcut!r}")
        self.depth = depth
        self.version = version
        self.bottleneck = bool(bottleneck)
        self.shortcut = shortcut
        self.filters = filters
        self.image_shape = image_shape
        self.image_key = image_key
        self.standardize = standardize
        self.batch_norm_momentum = batch_norm_momentum
        self.batch_norm_epsilon = batch_norm_epsilon
        self.weight_decay = weight_decay
        self.data_format = data_format
        self.synchronized_batch_norm = bool(synchronized_batch_norm)
        self.blocks_per_stage = int(per_stage)

        block_options = dict(version=version, bottleneck=bottleneck, shortcut=shortcut, batch_norm_momentum=batch_norm_momentum,
                             batch_norm_epsilon=batch_norm_epsilon, weight_decay=weight_decay, data_format=data_format,
                             synchronized_batch_norm=synchronized_batch_norm)
        self.stem = convolution(filters[0], 3, 1, weight_decay, data_format, "stem")
        # Version 1 normalises the stem's output; version 2 the last block's.
        self.stem_norm = self._batch_norm("stem_batch_norm") if version == 1 else None
        self.blocks = [
            ResidualBlock(stage_filters, strides=2 if stage and not block else 1, name=f"stage_{stage}_block_{block}", **block_options)
            for stage, stage_filters in enumerate(filters)
            for block in range(self.blocks_per_stage)
        ]
        self.final_norm = self._batch_norm("final_batch_norm") if version == 2 else None
        self.pool = keras.layers.GlobalAveragePooling2D(data_format=data_format, name="pool")
        # Under a mixed-precision policy the logits (and so the loss) stay float32.
        logits_dtype = "float32" if keras.config.dtype_policy().name.startswith("mixed") else None
        self.classifier = keras.layers.Dense(self.head.units, kernel_regularizer=l2(weight_decay), dtype=logits_dtype, name="logits")

    def _batch_norm(self, name):
        return batch_normalization(self.batch_norm_momentum, self.batch_norm_epsilon, self.data_format,
                                   self.synchronized_batch_norm, name)

    def feature_columns(self):
        return []

    def input_specs(self):
        height, width, channels = self.image_shape
        return {self.image_key: RawInput("uint8", width=height * width * channels, shape=(height, width, channels))}

    def build(self, input_shape=None):
        if self.built:
            return
        height, width, channels = self.image_shape
        shape = (None, height, width, channels) if self.data_format == "channels_last" else (None, channels, height, width)
        self.stem.build(shape)
        shape = self.stem.compute_output_shape(shape)
        for layer in [self.stem_norm, *self.blocks, self.final_norm]:
            if layer is not None:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)
        self.pool.build(shape)
        self.classifier.build(self.pool.compute_output_shape(shape))
        self.built = True

    def images(self, inputs):
        """The float32 network input of raw images (a tensor or a dict holding ``image_key``)."""
        images = inputs[self.image_key] if isinstance(inputs, dict) else inputs
        images = tf.cast(images, tf.float32)
        if self.standardize == "per_image":
            images = tf.image.per_image_standardization(images)
        elif self.standardize == "rescale":
            images = images / 255.0
        if self.data_format == "channels_first":
            images = tf.transpose(images, [0, 3, 1, 2])
        return images

    def call(self, inputs, training=False):
        x = self.stem(self.images(inputs))
        if self.stem_norm is not None:
            x = keras.ops.relu(self.stem_norm(x, training=training))
        for block in self.blocks:
            x = block(x, training=training)
        if self.final_norm is not None:
            x = keras.ops.relu(self.final_norm(x, training=training))
        return self.classifier(self.pool(x))

    def default_optimizer(self):
        """Momentum SGD as in the paper (``lr=0.1, momentum=0.9``); the config adds the piecewise schedule."""
        return keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)

    def get_config(self):
        config = super().get_config()
        config.update(
            depth=self.depth,
            version=self.version,
            bottleneck=self.bottleneck,
            shortcut=self.shortcut,
            filters=self.filters,
            image_shape=self.image_shape,
            image_key=self.image_key,
            standardize=self.standardize,
            batch_norm_momentum=self.batch_norm_momentum,
            batch_norm_epsilon=self.batch_norm_epsilon,
            weight_decay=self.weight_decay,
            data_format=self.data_format,
            synchronized_batch_norm=self.synchronized_batch_norm,
        )
        return config
