"""Export: a versioned SavedModel that takes raw features and needs only TensorFlow to serve.

The ``serving_default`` signature takes each raw feature by name with its raw
dtype (``age``: float32, ``workclass``: string, ...), one row per example,
and returns the head's predictions: ``probabilities``, ``logits``,
``class_ids``, ``classes`` (label strings) and, for binary heads,
``logistic``; ``predictions`` for regression.

Classifiers also get a ``classification`` signature and one-output
regressors a ``regression`` signature, as estimators exported them for
TensorFlow Serving's classify and regress APIs: they take ``inputs``, a
batch of serialized ``tf.train.Example`` protos holding the raw features by name,
and return ``classes`` (every label) with their ``scores``, or ``outputs``.
A feature an example lacks is taken as missing, as an empty CSV cell is
(:meth:`tfkit.models.Model.missing_values`); images must be given.

Every version records what wrote it in ``assets.extra/tfkit.json`` (the
tfkit, TensorFlow, Keras and Python versions; :func:`export_versions` reads
it), a file TensorFlow's loaders and servers leave alone.
"""

import glob
import json
import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.saved_model import fingerprinting_utils

from tfkit.io import faults
from tfkit.distribute import single_device_copy
from tfkit.io.files import process_alive, write_json
from tfkit.io.versions import versions

VERSIONS_FILE = os.path.join("assets.extra", "tfkit.json")


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

    endpoints = {"serving_default": (serve, "predict")}
    example_endpoint = _example_endpoint(model, serve)
    if example_endpoint is not None:
        name, method, function = example_endpoint
        endpoints[name] = (function, method)
    return write_export(model, export_dir, endpoints)


def write_export(model, export_dir, endpoints):
    """Writes ``model`` with ``endpoints`` (``{signature: (tf.function, "predict" | "classify" | "regress")}``) to
    ``export_dir/<unix time>/``, whole or not at all (see :func:`export_saved_model`); returns that path."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    # Lookup layers held in dicts are not reached by SavedModel's object graph;
    # tracking every sublayer makes their tables (and vocabulary assets) part of it.
    for layer in model._flatten_layers(include_self=False):
        archive.track(layer)
    methods = {}
    for name, (function, method) in endpoints.items():
        archive.add_endpoint(name, function)
        if method != "predict":
            methods[name] = f"tensorflow/serving/{method}"

    os.makedirs(export_dir, exist_ok=True)
    remove_partial_exports(export_dir)
    version = int(time.time())
    while os.path.exists(os.path.join(export_dir, str(version))):
        version += 1
    final = os.path.join(export_dir, str(version))
    temporary = os.path.join(export_dir, f".tmp-{version}-{os.getpid()}")
    try:
        archive.write_out(temporary, verbose=False)
        _set_method_names(temporary, methods)
        os.makedirs(os.path.join(temporary, "assets.extra"), exist_ok=True)
        write_json(os.path.join(temporary, VERSIONS_FILE), versions())
        faults.point("export-written")
        os.rename(temporary, final)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return final


def export_versions(path):
    """The versions that wrote the SavedModel at ``path``: ``{"tfkit", "tensorflow", "keras", "python"}`` (``{}`` for
    a SavedModel tfkit did not write, or wrote before it recorded them).

    Example:

    >>> import tempfile
    >>> import tfkit
    >>> from tfkit.features import NumericColumn
    >>> from tfkit.models import WideDeep
    >>> model = WideDeep(deep_columns=[NumericColumn("hours")], hidden_units=[2])
    >>> model.compile()
    >>> export = model.export(tempfile.mkdtemp())
    >>> export_versions(export)["tfkit"] == tfkit.__version__
    True
    """
    try:
        with open(os.path.join(path, VERSIONS_FILE), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def example_features(model):
    """The ``tf.io.parse_example`` spec of the model's raw inputs as tf.Example features, or None if one has no fixed shape.

    Floats are read from float lists, integers and booleans from int64 lists,
    strings from bytes lists; a feature with a missing value
    (:meth:`~tfkit.models.Model.missing_values`) may be left out of an example.
    """
    missing = model.missing_values()
    spec = {}
    for key, tensor_spec in model.serving_input_signature().items():
        shape, dtype = tensor_spec.shape[1:], tensor_spec.dtype
        if not shape.is_fully_defined():
            return None
        kind = tf.string if dtype == tf.string else tf.float32 if dtype.is_floating else tf.int64
        default = None if key not in missing else np.full(shape, missing[key], kind.as_numpy_dtype)
        spec[key] = tf.io.FixedLenFeature(shape, kind, default)
    return spec


def _example_endpoint(model, serve):
    """``(name, method, function)`` of the classification or regression signature on serialized tf.Examples, or None.

    It parses the examples and calls ``serve`` (the traced ``serving_default``), so the model is traced once.
    """
    method = model.head.example_method
    spec = example_features(model) if method else None
    if spec is None:
        return None
    signature = model.serving_input_signature()

    def parse(inputs):
        features = tf.io.parse_example(inputs, spec)
        return {key: _cast(key, value, signature[key].dtype) for key, value in features.items()}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def examples(inputs):
        return model.head.example_outputs(serve(parse(inputs)))

    return {"classify": "classification", "regress": "regression"}[method], method, examples


def _cast(key, values, dtype):
    """Parsed values as the input's dtype; integers out of its range are refused, naming the feature."""
    if dtype.is_integer and dtype != tf.int64:
        checks = [tf.debugging.assert_greater_equal(values, tf.cast(dtype.min, tf.int64), message=f"feature {key}: "
                                                    f"values below the {dtype.name} range"),
                  tf.debugging.assert_less_equal(values, tf.cast(dtype.max, tf.int64), message=f"feature {key}: "
                                                 f"values above the {dtype.name} range")]
        with tf.control_dependencies(checks):
            values = tf.identity(values)
    return values if values.dtype == dtype else tf.cast(values, dtype)


def _set_method_names(path, methods):
    """Gives the signatures ``methods`` names (``tf.saved_model.save`` names every one predict) and refreshes the fingerprint."""
    if not methods:
        return
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    for meta_graph in saved_model.meta_graphs:
        for name, method in methods.items():
            if name not in meta_graph.signature_def:
                raise KeyError(f"the SavedModel at {path} has no signature {name!r} to name {method}")
            meta_graph.signature_def[name].method_name = method
    with open(os.path.join(path, "saved_model.pb"), "wb") as f:
        f.write(saved_model.SerializeToString())
    fingerprinting_utils.write_fingerprint(path)


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
