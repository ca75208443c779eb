"""Image sets in memory: the CIFAR-10 download layouts, image folders and numpy files.

Each reader returns an :class:`ImageSet` of ``uint8 [n, height, width,
channels]`` images, integer labels and class names; a malformed file stops
with a :class:`~tfkit.errors.DataError` naming it. :func:`read_images`
dispatches on the ``format`` name a config gives.
"""

import glob
import os
import pickle
from typing import NamedTuple

import numpy as np

from tfkit.errors import DataError

FORMATS = ("cifar10", "image_folder", "numpy")
CIFAR10_SHAPE = (32, 32, 3)
_CIFAR10_RECORD = 1 + 32 * 32 * 3
_CIFAR10_FILES = {
    "python": {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]},
    "binary": {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]},
}
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


class ImageSet(NamedTuple):
    """Images ``uint8 [n, height, width, channels]``, labels ``int64 [n]`` and class names (or None)."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list = None

    def __len__(self):
        return len(self.labels)


# -- CIFAR-10 -----------------------------------------------------------------


def read_cifar10(path, split="train"):
    """Reads CIFAR-10 batches: a download folder (python or binary layout), a batch file, or a list of them.

    A folder holds either the python pickles (``data_batch_1`` … ``data_batch_5``,
    ``test_batch``, ``batches.meta``) or the binary batches (``data_batch_1.bin``
    … ``test_batch.bin``, ``batches.meta.txt``); ``split`` picks the training
    or the test batches. Files ending in ``.bin`` are read as binary batches,
    others as python ones.

    Example:

    >>> import os, pickle, tempfile, numpy as np
    >>> from tfkit.data import read_cifar10
    >>> folder = tempfile.mkdtemp()
    >>> batch = {b"data": np.zeros((2, 3072), "uint8"), b"labels": [3, 7]}
    >>> pickle.dump(batch, open(os.path.join(folder, "test_batch"), "wb"))
    >>> images = read_cifar10(folder, split="test")
    >>> images.images.shape, images.labels.tolist()
    ((2, 32, 32, 3), [3, 7])
    """
    if split not in ("train", "test"):
        raise DataError(f"CIFAR-10 split must be 'train' or 'test'. Received: split={split!r}")
    folder = None
    if isinstance(path, (str, os.PathLike)) and os.path.isdir(path):
        folder = os.fspath(path)
        files = _cifar10_folder_files(folder, split)
    else:
        files = [os.fspath(p) for p in ([path] if isinstance(path, (str, os.PathLike)) else path)]
        missing = [f for f in files if not os.path.isfile(f)]
        if missing:
            raise DataError(f"No CIFAR-10 batch file {missing[0]!r}.")
        folder = os.path.dirname(files[0])
    parts = [_read_cifar10_binary(f) if f.endswith(".bin") else _read_cifar10_python(f) for f in files]
    return ImageSet(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), _cifar10_class_names(folder))


def _cifar10_folder_files(folder, split):
    for layout in ("python", "binary"):
        names = _CIFAR10_FILES[layout][split]
        present = [name for name in names if os.path.isfile(os.path.join(folder, name))]
        if present:
            if len(present) != len(names):
                missing = sorted(set(names) - set(present))
                raise DataError(f"{folder}: the CIFAR-10 {layout} {split} batches are incomplete; missing {', '.join(missing)}.")
            return [os.path.join(folder, name) for name in names]
    expected = " or ".join(", ".join(_CIFAR10_FILES[layout][split]) for layout in ("python", "binary"))
    raise DataError(f"{folder}: no CIFAR-10 {split} batches; expected {expected}.")


def _read_cifar10_binary(path):
    size = os.path.getsize(path)
    if size == 0 or size % _CIFAR10_RECORD:
        raise DataError(f"{path}: {size} bytes is not a whole number of {_CIFAR10_RECORD}-byte CIFAR-10 records; "
                        "the file is truncated or not a CIFAR-10 binary batch.")
    records = np.fromfile(path, dtype=np.uint8).reshape(-1, _CIFAR10_RECORD)
    labels = records[:, 0].astype(np.int64)
    _check_labels(path, labels, 10, "record")
    return _chw_rows_to_images(records[:, 1:]), labels


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain data and numpy arrays only: a batch file cannot run code."""

    _ALLOWED = {
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _unpickle(path):
    try:
        with open(path, "rb") as f:
            return _ArrayUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise DataError(f"{path}: not a CIFAR-10 python batch; the file is truncated or corrupt ({error}).") from None


def _read_cifar10_python(path):
    batch = _unpickle(path)
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataError(f"{path}: not a CIFAR-10 python batch; expected a dict with b'data' and b'labels'.")
    data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
        raise DataError(f"{path}: b'data' must be uint8 [n, 3072] with one label per row; received {data.dtype} "
                        f"{list(data.shape)} and {len(labels)} labels.")
    _check_labels(path, labels, 10, "row")
    return _chw_rows_to_images(data), labels


def _chw_rows_to_images(rows):
    # Each row is the red plane, then green, then blue, each 32x32 in row-major order.
    return np.ascontiguousarray(rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


def _check_labels(path, labels, num_classes, what):
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(bad):
        raise DataError(f"{path}, {what} {bad[0] + 1}: label {labels[bad[0]]} is not a class id in [0, {num_classes}).")


def _cifar10_class_names(folder):
    python, text = os.path.join(folder, "batches.meta"), os.path.join(folder, "batches.meta.txt")
    if os.path.isfile(python):
        meta = _unpickle(python)
        names = meta.get(b"label_names") if isinstance(meta, dict) else None
        return [n.decode() if isinstance(n, bytes) else str(n) for n in names] if names else None
    if os.path.isfile(text):
        with open(text, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()] or None
    return None


# -- image folders ------------------------------------------------------------


def read_image_folder(path, image_size=None, channels=3):
    """Reads ``path/<class name>/<image file>`` (PNG, JPEG, BMP, GIF), classes in sorted order.

    Images are decoded one by one, so a corrupt file stops the read with its
    name. Without ``image_size`` every image must have the first one's size;
    with ``[height, width]`` each is resized (bilinear, antialiased).

    Example:

    >>> import os, tempfile, numpy as np, tensorflow as tf
    >>> from tfkit.data import read_image_folder
    >>> root = tempfile.mkdtemp()
    >>> for name in ("cat", "dog"):
    ...     os.makedirs(os.path.join(root, name))
    ...     png = tf.io.encode_png(np.full((5, 4, 3), 200, "uint8")).numpy()
    ...     _ = open(os.path.join(root, name, "0.png"), "wb").write(png)
    >>> images = read_image_folder(root, image_size=[8, 8])
    >>> images.images.shape, images.labels.tolist(), images.class_names
    ((2, 8, 8, 3), [0, 1], ['cat', 'dog'])
    """
    import tensorflow as tf

    path = os.fspath(path)
    if not os.path.isdir(path):
        raise DataError(f"No image folder {path!r}.")
    class_names = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)) and not d.startswith("."))
    if not class_names:
        raise DataError(f"{path}: no class folders; expected {path}/<class name>/<images>.")
    images, labels = [], []
    for label, name in enumerate(class_names):
        files = sorted(f for f in glob.glob(os.path.join(path, name, "*")) if f.lower().endswith(IMAGE_EXTENSIONS))
        for file in files:
            try:
                image = tf.io.decode_image(tf.io.read_file(file), channels=channels, expand_animations=False)
            except (tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError) as error:
                raise DataError(f"{file}: not a readable image ({error.message.splitlines()[0]}).") from None
            if image_size is not None:
                image = tf.cast(tf.round(tf.clip_by_value(tf.image.resize(image, image_size, antialias=True), 0, 255)), tf.uint8)
            elif images and image.shape != images[0].shape:
                raise DataError(f"{file}: image is {list(image.shape)} but {files[0]} is {list(images[0].shape)}; "
                                "give image_size to resize them all.")
            images.append(image.numpy())
            labels.append(label)
    if not images:
        raise DataError(f"{path}: no images ({', '.join(IMAGE_EXTENSIONS)}) in its class folders.")
    return ImageSet(np.stack(images), np.array(labels, np.int64), class_names)


# -- numpy --------------------------------------------------------------------


def read_numpy(path):
    """Reads an ``.npz`` file with ``images`` (uint8 ``[n, h, w]`` or ``[n, h, w, c]``), ``labels`` and optional ``class_names``.

    Example:

    >>> import os, tempfile, numpy as np
    >>> from tfkit.data import read_numpy
    >>> path = os.path.join(tempfile.mkdtemp(), "set.npz")
    >>> np.savez(path, images=np.zeros((3, 4, 4), "uint8"), labels=[0, 1, 0])
    >>> read_numpy(path).images.shape
    (3, 4, 4, 1)
    """
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError) as error:
        raise DataError(f"{path}: not a readable .npz file ({error}).") from None
    missing = [key for key in ("images", "labels") if key not in arrays]
    if missing:
        raise DataError(f"{path}: no {' or '.join(missing)} array; it holds {', '.join(arrays) or 'nothing'}.")
    images, labels = arrays["images"], arrays["labels"]
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype != np.uint8 or images.ndim != 4:
        raise DataError(f"{path}: images must be uint8 [n, height, width(, channels)]; received {images.dtype} {list(images.shape)}.")
    if labels.ndim != 1 or len(labels) != len(images) or labels.dtype.kind not in "iu":
        raise DataError(f"{path}: labels must be one integer per image; received {labels.dtype} {list(labels.shape)} "
                        f"for {len(images)} images.")
    class_names = [str(n) for n in arrays["class_names"]] if "class_names" in arrays else None
    return ImageSet(images, labels.astype(np.int64), class_names)


def read_images(path, format, split="train", image_size=None):
    """An :class:`ImageSet` from ``path`` (or a list of paths) in one of :data:`FORMATS`.

    ``split`` picks the batches of a CIFAR-10 folder. Several image folders or
    ``.npz`` files are read one after the other into one set; they must agree
    on the image shape and the class names.
    """
    if format == "cifar10":
        return read_cifar10(path, split)
    if format not in FORMATS:
        raise DataError(f"Unknown image format {format!r}. Expected one of: {', '.join(FORMATS)}.")
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    sets = [read_image_folder(p, image_size) if format == "image_folder" else read_numpy(p) for p in paths]
    for other, other_path in zip(sets[1:], paths[1:]):
        if other.images.shape[1:] != sets[0].images.shape[1:] or other.class_names != sets[0].class_names:
            raise DataError(f"{other_path}: its images ({list(other.images.shape[1:])}) or class names differ from "
                            f"those of {paths[0]} ({list(sets[0].images.shape[1:])}).")
    if len(sets) == 1:
        return sets[0]
    return ImageSet(np.concatenate([s.images for s in sets]), np.concatenate([s.labels for s in sets]), sets[0].class_names)

