"""Batches of images for training and evaluation, with the CIFAR augmentation done by tf.data.

The augmentation of He et al. 2016 and the CIFAR-10 tutorial: pad each side
by 4 pixels, crop a random patch of the original size, flip horizontally at
random. It runs in parallel ``map`` calls on the CPU, training data only.
Standardisation is part of the model (so exports take raw images), not of
the pipeline.
"""

import numpy as np
import tensorflow as tf

from tfkit.data.cells import MARK
from tfkit.data.lines import holdout_predicate
from tfkit.data.images import ImageSet
from tfkit.errors import DataError

AUGMENTATION_KEYS = ("pad", "flip")


def augment(image, pad=4, flip=True, seed=None):
    """Pads ``image`` ([h, w, c]) by ``pad`` pixels, crops a random [h, w] patch, and flips it left-right at random.

    Example:

    >>> import numpy as np
    >>> from tfkit.data import augment
    >>> augment(np.ones((32, 32, 3), "uint8"), pad=4).shape
    TensorShape([32, 32, 3])
    """
    image = tf.convert_to_tensor(image)
    if pad:
        shape = tf.shape(image)
        image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
        image = tf.image.random_crop(image, shape, seed=seed)
    if flip:
        image = tf.image.random_flip_left_right(image, seed=seed)
    return image


def image_dataset(
    source,
    batch_size,
    image_key="image",
    image_shape=None,
    training=False,
    augmentation=None,
    shuffle_buffer_size=10_000,
    seed=None,
    holdout=None,
    drop_remainder=False,
):
    """Batches of ``({image_key: uint8 images}, int64 labels)``.

    Args:
        source: An :class:`~tfkit.data.ImageSet`, or a dataset of ``(image,
            label)`` pairs such as :func:`~tfkit.data.read_tfrecords` gives.
        batch_size: Images per batch.
        image_key: Feature name of the images.
        image_shape: ``[height, width, channels]`` the model expects; images
            of another shape stop the pipeline with an error saying so.
        training: Shuffle and augment (with ``augmentation``).
        augmentation: ``{"pad": 4, "flip": True}`` (see :func:`augment`), or
            None for none.
        shuffle_buffer_size: Images in the shuffle buffer.
        seed: Seed of shuffling and augmentation.
        holdout: ``("train" | "validation", fraction)``: a deterministic split
            by position, the same every time the source is read.
        drop_remainder: Drop the last, smaller batch.

    Example:

    >>> import numpy as np
    >>> from tfkit.data import ImageSet, image_dataset
    >>> images = ImageSet(np.zeros((10, 32, 32, 3), "uint8"), np.arange(10) % 2)
    >>> features, labels = next(iter(image_dataset(images, 4, training=True, augmentation={"pad": 4, "flip": True})))
    >>> features["image"].shape, labels.shape
    (TensorShape([4, 32, 32, 3]), TensorShape([4]))
    """
    augmentation = dict(augmentation or {})
    unknown = sorted(set(augmentation) - set(AUGMENTATION_KEYS))
    if unknown:
        raise DataError(f"augmentation.{unknown[0]}: unknown key. Expected one of: {', '.join(AUGMENTATION_KEYS)}.")
    if isinstance(source, ImageSet):
        if image_shape is not None and list(source.images.shape[1:]) != list(image_shape):
            raise DataError(f"The images are {list(source.images.shape[1:])} (height, width, channels) but the model "
                            f"takes {list(image_shape)}: set the model's image_shape, or resize the images.")
        images, labels = source.images, source.labels.astype(np.int64)
        if holdout is not None:
            # Split here rather than filter the dataset: its length stays known (see tfkit.jobs.datasets).
            keep = holdout_predicate(*holdout)(tf.strings.as_string(tf.range(len(labels), dtype=tf.int64))).numpy()
            images, labels = images[keep], labels[keep]
        dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    else:
        dataset = source
        if image_shape is not None:
            dataset = dataset.map(_shape_check(list(image_shape)), num_parallel_calls=tf.data.AUTOTUNE)
        if holdout is not None:
            keep = holdout_predicate(*holdout)
            dataset = dataset.enumerate().filter(lambda index, example: keep(tf.strings.as_string(index)))
            dataset = dataset.map(lambda index, example: example)
    if training:
        dataset = dataset.shuffle(shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True)
        if augmentation:
            dataset = dataset.map(lambda image, label: (augment(image, seed=seed, **augmentation), label),
                                  num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.map(lambda images, labels: ({image_key: images}, labels)).prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _shape_check(expected):
    def check(image, label):
        shape = tf.shape(image, out_type=tf.int64)
        message = tf.strings.join([MARK, "{an image of the data is ", tf.strings.as_string(shape)[0], "x",
                                   tf.strings.as_string(shape)[1], "x", tf.strings.as_string(shape)[2],
                                   f" but the model takes {expected[0]}x{expected[1]}x{expected[2]} "
                                   "(height x width x channels): set the model's image_shape, or convert the images "
                                   "again with --image-size}", MARK])
        ok = tf.reduce_all(tf.equal(shape, tf.constant(expected, tf.int64)))
        with tf.control_dependencies([tf.debugging.Assert(ok, [message])]):
            return tf.ensure_shape(tf.identity(image), expected), label

    return check
