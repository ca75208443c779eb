"""Export: a versioned SavedModel that takes raw features and needs only TensorFlow to serve.

The ``serving_default`` signature takes each raw feature by name with its raw
dtype (``age``: float32, ``workclass``: string, ...), one row per example,
and returns the head's predictions: ``probabilities``, ``logits``,
``class_ids``, ``classes`` (label strings) and, for binary heads,
``logistic``; ``predictions`` for regression.
"""

import glob
import os
import shutil
import time

import keras
import tensorflow as tf

from tfkit import faults
from tfkit.distribute import single_device_copy
from tfkit.files import process_alive


def export_saved_model(model, export_dir):
    """Writes ``model`` to ``export_dir/<unix time>/`` and returns that path.

    The SavedModel is written to a hidden temporary directory first and
    renamed into place, so an interrupted export never leaves a half-written
    version where a server would pick it up. A model trained under a strategy
    is exported from a single-device copy, so the SavedModel holds no cluster
    or device placement.
    """
    model = single_device_copy(model)
    if not model.built:
        model.build()
    signature = model.serving_input_signature()

    @tf.function(input_signature=[signature])
    def serve(features):
        return model.head.predictions(model(features, training=False))

    archive = keras.export.ExportArchive()
    archive.track(model)
    # Lookup layers held in dicts are not reached by SavedModel's object graph;
    # tracking every sublayer makes their tables (and vocabulary assets) part of it.
    for layer in model._flatten_layers(include_self=False):
        archive.track(layer)
    archive.add_endpoint("serving_default", serve)

    os.makedirs(export_dir, exist_ok=True)
    remove_partial_exports(export_dir)
    version = int(time.time())
    while os.path.exists(os.path.join(export_dir, str(version))):
        version += 1
    final = os.path.join(export_dir, str(version))
    temporary = os.path.join(export_dir, f".tmp-{version}-{os.getpid()}")
    try:
        archive.write_out(temporary, verbose=False)
        faults.point("export-written")
        os.rename(temporary, final)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return final


def remove_partial_exports(export_dir):
    """Removes the temporary directories of exports killed before their rename; returns their names."""
    leftovers = []
    for path in sorted(glob.glob(os.path.join(glob.escape(export_dir), ".tmp-*-*"))):
        pid = path.rpartition("-")[2]
        if pid.isdigit() and not process_alive(int(pid)):  # another process may be exporting here now
            shutil.rmtree(path, ignore_errors=True)
            leftovers.append(os.path.join(os.path.basename(export_dir), os.path.basename(path)))
    return leftovers


def latest_export(export_dir):
    """The newest complete version under ``export_dir``, or None."""
    if not os.path.isdir(export_dir):
        return None
    versions = [name for name in os.listdir(export_dir) if name.isdigit()]
    return os.path.join(export_dir, max(versions, key=int)) if versions else None
