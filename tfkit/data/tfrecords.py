"""Images and labels in sharded TFRecord files: write once, train from them many times.

The successor of the CIFAR-10 tutorial's ``generate_cifar10_tfrecords`` step.
Each record is a ``tf.train.Example`` with ``image`` (the raw ``uint8``
bytes, row-major ``HWC``), ``shape`` (``[height, width, channels]``) and
``label`` (the class id). Shards are written under temporary names and
renamed when all are complete, so an interrupted conversion leaves no file a
reader would take for a whole one.
"""

import os

import numpy as np
import tensorflow as tf

from tfkit.data.lines import expand_files
from tfkit.errors import DataError

_FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "shape": tf.io.FixedLenFeature([3], tf.int64),
    "label": tf.io.FixedLenFeature([], tf.int64),
}
# Files handed to readers in this process: where a corrupt record is looked for (see explain_data_loss).
_READ = []


def shard_names(prefix, num_shards):
    return [f"{prefix}-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]


def write_tfrecords(image_set, prefix, num_shards=1):
    """Writes an :class:`~tfkit.data.images.ImageSet` to ``<prefix>-0000i-of-0000n.tfrecord`` files; returns their paths.

    Example:

    >>> import os, tempfile, numpy as np
    >>> from tfkit.data import ImageSet, read_tfrecords, write_tfrecords
    >>> images = ImageSet(np.zeros((5, 4, 4, 3), "uint8"), np.array([0, 1, 2, 1, 0]))
    >>> files = write_tfrecords(images, os.path.join(tempfile.mkdtemp(), "train"), num_shards=2)
    >>> [os.path.basename(f) for f in files]
    ['train-00000-of-00002.tfrecord', 'train-00001-of-00002.tfrecord']
    >>> sorted(int(label) for _, label in read_tfrecords(files))
    [0, 0, 1, 1, 2]
    """
    if not isinstance(num_shards, int) or num_shards < 1:
        raise DataError(f"num_shards must be a positive int. Received: num_shards={num_shards!r}")
    if len(image_set) < num_shards:
        raise DataError(f"Cannot write {len(image_set)} images into {num_shards} shards; use fewer shards.")
    folder = os.path.dirname(os.path.abspath(prefix))
    os.makedirs(folder, exist_ok=True)
    files = shard_names(prefix, num_shards)
    temporary = [f"{f}.tmp-{os.getpid()}" for f in files]
    try:
        for shard, path in enumerate(temporary):
            with tf.io.TFRecordWriter(path) as writer:
                for index in range(shard, len(image_set), num_shards):
                    writer.write(_example(image_set.images[index], image_set.labels[index]))
        for source, target in zip(temporary, files):
            os.replace(source, target)
    finally:
        for path in temporary:
            if os.path.exists(path):
                os.remove(path)
    return files


def _example(image, label):
    image = np.ascontiguousarray(image, dtype=np.uint8)
    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.tobytes()])),
        "shape": tf.train.Feature(int64_list=tf.train.Int64List(value=list(image.shape))),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def check_framing(path):
    """Raises a :class:`DataError` naming ``path`` unless it is a sequence of whole TFRecord records.

    Reads only the 12-byte record headers, so it is quick; a record whose
    contents are damaged (bad checksum) is found while reading.
    """
    size, offset, count = os.path.getsize(path), 0, 0
    with open(path, "rb") as f:
        while offset < size:
            header = f.read(12)
            length = int.from_bytes(header[:8], "little") if len(header) == 12 else None
            if length is None or offset + 16 + length > size:
                raise DataError(f"{path}: truncated after {count} whole records (at byte {offset} of {size}); "
                                "the file is incomplete or not a TFRecord file. Write it again.")
            offset += 16 + length
            count += 1
            f.seek(offset)
    return count


def read_tfrecords(file_pattern):
    """An unbatched dataset of ``(image uint8 [h, w, c], label int64)`` from TFRecord files written by :func:`write_tfrecords`."""
    files = expand_files(file_pattern)
    for path in files:
        check_framing(path)
    _READ.extend(f for f in files if f not in _READ)
    records = tf.data.Dataset.from_tensor_slices(files).interleave(
        tf.data.TFRecordDataset, cycle_length=min(len(files), 4), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return records.map(_parse, num_parallel_calls=tf.data.AUTOTUNE)


def _parse(record):
    example = tf.io.parse_single_example(record, _FEATURES)
    image = tf.reshape(tf.io.decode_raw(example["image"], tf.uint8), example["shape"])
    return image, example["label"]


def explain_data_loss():
    """The :class:`DataError` naming the TFRecord file behind a ``DataLossError`` raised while reading, or None."""
    for path in _READ:
        if not os.path.exists(path):
            continue
        try:
            for _ in tf.data.TFRecordDataset(path):
                pass
        except tf.errors.DataLossError as found:
            detail = found.message.split("}}")[-1].split("[Op:")[0].strip()
            return DataError(f"{path}: {detail}; the file is damaged. Write it again.")
    return None
