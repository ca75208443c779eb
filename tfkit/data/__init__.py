"""tf.data readers for tfkit models: CSV files, labelled sentences, image sets, TFRecords, word-vector files, GP curves."""

import contextlib

from tfkit.data.csv import CsvSchema, read_csv
from tfkit.data.lines import expand_files
from tfkit.data.csv import explain as _explain_assertion
from tfkit.data.gp_curves import GPCurves
from tfkit.data.image_dataset import augment, image_dataset
from tfkit.data.images import FORMATS as IMAGE_FORMATS
from tfkit.data.images import ImageSet, read_cifar10, read_image_folder, read_images, read_numpy
from tfkit.data.skip_grams import TextFiles
from tfkit.data.sources import DataSource
from tfkit.data.text import read_text, standardize_kim
from tfkit.data.tfrecords import explain_data_loss, read_tfrecords, write_tfrecords
from tfkit.data.vectors import read_word_vectors, write_word_vectors

__all__ = [
    "IMAGE_FORMATS",
    "CsvSchema",
    "DataSource",
    "GPCurves",
    "ImageSet",
    "TextFiles",
    "augment",
    "data_errors",
    "expand_files",
    "explain",
    "image_dataset",
    "read_cifar10",
    "read_csv",
    "read_image_folder",
    "read_images",
    "read_numpy",
    "read_text",
    "read_tfrecords",
    "read_word_vectors",
    "standardize_kim",
    "write_tfrecords",
    "write_word_vectors",
]


def explain(error):
    """The :class:`~tfkit.errors.DataError` behind a TensorFlow error raised while reading data, or None."""
    import tensorflow as tf

    if isinstance(error, tf.errors.DataLossError):
        return explain_data_loss()
    return _explain_assertion(error)


@contextlib.contextmanager
def data_errors():
    """Turns a data-pipeline assertion raised inside the block (a bad row, a bad label) into its :class:`DataError`."""
    import tensorflow as tf

    try:
        yield
    except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as error:
        explained = explain(error)
        if explained is None:
            raise
        raise explained from None
