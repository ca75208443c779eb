"""An estimator's ``input_fn``: called with the arguments it names, its features made what tfkit's columns read, its
labels made what the head trains on (ids from a ``label_vocabulary``), its ``weight_column`` made sample weights."""

import functools
import inspect

import tensorflow as tf

from tfkit import features as features_lib


class ModeKeys:
    """``tf.estimator.ModeKeys``: what an ``input_fn`` (given ``mode``) is called for."""

    TRAIN = "train"
    EVAL = "eval"
    PREDICT = "infer"


def call_input_fn(input_fn, mode, params, config, input_context=None):
    """``input_fn()`` with those of ``mode``, ``params``, ``config`` and ``input_context`` it takes, as a dataset.

    It may return a ``tf.data.Dataset`` of ``(features, labels)`` (or of
    features, to predict) or one ``(features, labels)`` pair of tensors; a pair
    is one batch, repeated for training.
    """
    if not callable(input_fn):
        raise TypeError(f"`input_fn` must be callable, given: {input_fn}")
    try:
        names = set(inspect.signature(input_fn).parameters)
    except (TypeError, ValueError):  # a builtin or a callable without a signature: it takes nothing
        names = set()
    if isinstance(input_fn, functools.partial):
        names -= set(input_fn.keywords)  # bound by the partial: left as bound, as the estimator left them
    given = {"mode": mode, "params": params, "config": config}
    if input_context is not None:
        given["input_context"] = input_context
    with tf.device("/cpu:0"):
        result = input_fn(**{name: value for name, value in given.items() if name in names})
    if isinstance(result, tf.data.Dataset):
        return result
    batches = _iterator_batches(input_fn, {name: value for name, value in given.items() if name in names})
    if batches is not None:
        return batches
    if isinstance(result, (tuple, list)) and len(result) == 2:
        dataset = tf.data.Dataset.from_tensors(tuple(result))
    elif isinstance(result, dict):
        dataset = tf.data.Dataset.from_tensors(result)
    else:
        raise ValueError("input_fn must return a tf.data.Dataset of (features, labels), or a (features, labels) pair "
                         f"of tensors; it returned {type(result).__name__}.")
    return dataset.repeat() if mode == ModeKeys.TRAIN else dataset


def _iterator_batches(input_fn, arguments):
    """The batches of an ``input_fn`` that returns an iterator's ``get_next()`` (a TensorFlow 1 program's
    ``make_one_shot_iterator(dataset).get_next()``), or None for one that returns plain tensors.

    Called eagerly, such a function gives one batch, which training would repeat: called in a graph of its own
    (as the estimator called it), each run of the graph gives the next batch, until the iterator ends.
    """
    made = {}

    def graph():
        made["result"] = input_fn(**arguments)

    try:
        wrapped = tf.compat.v1.wrap_function(graph, [])
    except (TypeError, ValueError, RuntimeError, tf.errors.OpError):
        return None  # it needs eager execution: its tensors are what it returns
    if not {op.type for op in wrapped.graph.get_operations()} & {"IteratorGetNext", "IteratorGetNextSync"}:
        return None
    result = made["result"]
    result = tuple(result) if isinstance(result, list) else result
    next_batch = wrapped.prune(feeds=[], fetches=result)

    def batches():
        while True:
            try:
                yield next_batch()
            except tf.errors.OutOfRangeError:
                return

    return tf.data.Dataset.from_generator(batches, output_signature=tf.nest.map_structure(tf.type_spec_from_value, result))


def check_features(features):
    if not isinstance(features, dict):
        raise ValueError(f"features should be a dictionary of `Tensor`s. Given type: {type(features)}")


def dense_features(features, columns):
    """``features`` with sparse and ragged values made dense ``[batch, n]`` tensors, padded with what each column reads
    as missing ("" for strings, -1 for integer ids, NaN for numbers); every other feature as it is."""
    specs = features_lib.input_specs(columns)
    dense = {}
    for key, value in features.items():
        if isinstance(value, (tf.SparseTensor, tf.RaggedTensor)):
            dtype = value.dtype
            missing = "" if dtype == tf.string else float("nan") if dtype.is_floating else -1
            spec = specs.get(key)
            if spec is not None and spec.example_shape and value.shape.rank == 2:
                width = spec.example_shape[0]  # a numeric column of a known width: as FixedLen would have read it
                value = value.to_tensor(missing, shape=[None, width]) if isinstance(value, tf.RaggedTensor) else \
                    tf.sparse.to_dense(tf.sparse.reset_shape(value, [value.dense_shape[0], width]), missing)
            else:
                value = value.to_tensor(missing) if isinstance(value, tf.RaggedTensor) else tf.sparse.to_dense(value, missing)
        dense[key] = value
    return dense


class Labels:
    """Labels as the head trains on them: class ids (a ``label_vocabulary``'s strings looked up) or floats."""

    def __init__(self, kind, units, label_vocabulary=None):
        self.kind, self.units = kind, units
        # Compared, not looked up in a table: a few labels, and no resource for a worker's dataset to carry.
        self.vocabulary = None if label_vocabulary is None else [str(label) for label in label_vocabulary]

    def __call__(self, labels):
        if isinstance(labels, dict):
            if len(labels) != 1:
                raise ValueError(f"labels must be a Tensor, or a dict of one; given the keys {sorted(labels)}.")
            labels = next(iter(labels.values()))
        if isinstance(labels, tf.SparseTensor):
            labels = tf.sparse.to_dense(labels)
        labels = tf.convert_to_tensor(labels)
        if self.kind == "regression":
            if labels.dtype == tf.string:
                raise ValueError("Labels of a regressor must be numbers; given strings.")
            return tf.reshape(tf.cast(labels, tf.float32), [-1, self.units])
        labels = tf.reshape(labels, [-1, 1])
        if self.vocabulary is not None:
            if labels.dtype != tf.string:
                raise ValueError(f"Labels dtype should be string if there is a vocabulary. Given: {labels.dtype!r}")
            matches = tf.equal(labels, tf.constant(self.vocabulary)[None, :])
            check = tf.debugging.assert_equal(tf.reduce_any(matches, axis=1), True,
                                              message=f"Labels must be in the label_vocabulary {self.vocabulary}")
            with tf.control_dependencies([check]):
                ids = tf.argmax(tf.cast(matches, tf.int32), axis=1, output_type=tf.int64)[:, None]
        else:
            if labels.dtype == tf.string:
                raise ValueError("Labels are strings: give the estimator a label_vocabulary (the labels in class-id "
                                 "order), or make them class ids.")
            ids = labels
            classes = 2 if self.kind == "binary" else self.units
            if ids.dtype.is_integer:
                checks = [tf.debugging.assert_non_negative(ids, message="Labels must be >= 0"),
                          tf.debugging.assert_less(ids, tf.cast(classes, ids.dtype), message=f"Labels must be <= {classes - 1}")]
                with tf.control_dependencies(checks):
                    ids = tf.identity(ids)
        return tf.cast(ids, tf.float32) if self.kind == "binary" else tf.cast(ids, tf.int64)
