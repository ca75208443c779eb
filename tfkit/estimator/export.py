"""``tf.estimator.export``: serving input receivers, and the SavedModels ``export_saved_model`` writes from them.

A receiver function says what a served model takes and how that becomes
features: ``build_parsing_serving_input_receiver_fn(feature_spec)`` takes
serialized ``tf.train.Example``\\ s (``examples``) and parses them, as TensorFlow
Serving's classify, regress and predict clients send them;
``build_raw_serving_input_receiver_fn(features)`` takes each feature as a
tensor. A function of one's own may build a ``ServingInputReceiver`` from
``tf.compat.v1.placeholder``\\ s, as for the estimator: it runs in a graph of its
own, and what it computes runs in the export.

The export's signatures are the estimator's: a classifier's ``classification``
(``inputs`` → ``classes``, ``scores``), a binary classifier's ``regression``
(``outputs``: the logistic), a regressor's ``regression`` (``outputs``), all
on a receiver of one string tensor (serialized examples); ``predict`` (every
prediction) on the receiver's tensors; ``serving_default`` is classification
(regression) where there is one, else predict.
"""

import tensorflow as tf

from tfkit.export import write_export


class ServingInputReceiver:
    """The features a served model computes (``features``) from what it receives (``receiver_tensors``).

    A single tensor is named ``feature`` (``input``), as in ``tf.estimator.export.ServingInputReceiver``.
    """

    def __init__(self, features, receiver_tensors, receiver_tensors_alternatives=None):
        if features is None:
            raise ValueError("features must be defined.")
        if receiver_tensors is None:
            raise ValueError("receiver_tensors must be defined.")
        self.features = features if isinstance(features, dict) else {"feature": features}
        self.receiver_tensors = receiver_tensors if isinstance(receiver_tensors, dict) else {"input": receiver_tensors}
        for name, tensor in self.receiver_tensors.items():
            if not isinstance(name, str):
                raise ValueError(f"receiver_tensors keys must be strings: {name}.")
            if not tf.is_tensor(tensor):
                raise ValueError(f"receiver_tensor {name} must be a Tensor.")
        self.receiver_tensors_alternatives = receiver_tensors_alternatives


def build_parsing_serving_input_receiver_fn(feature_spec, default_batch_size=None):
    """A receiver function taking serialized ``tf.train.Example``\\ s (``examples``) and parsing ``feature_spec``.

    Example:

    >>> import tfkit
    >>> columns = [tfkit.feature_column.numeric_column("age"), tfkit.feature_column.categorical_column_with_hash_bucket("job", 10)]
    >>> receiver_fn = tfkit.estimator.export.build_parsing_serving_input_receiver_fn(
    ...     tfkit.feature_column.make_parse_example_spec(columns))
    >>> callable(receiver_fn)
    True
    """
    feature_spec = dict(feature_spec)

    def serving_input_receiver_fn():
        serialized = tf.compat.v1.placeholder(tf.string, [default_batch_size], name="input_example_tensor")
        return ServingInputReceiver(tf.io.parse_example(serialized, feature_spec), {"examples": serialized})

    return serving_input_receiver_fn


def build_raw_serving_input_receiver_fn(features, default_batch_size=None):
    """A receiver function taking each feature as a tensor of the dtype and shape of ``features``' (a row each)."""
    features = dict(features)

    def serving_input_receiver_fn():
        receivers = {}
        for name, tensor in features.items():
            shape = [default_batch_size] + list(tf.TensorShape(tensor.shape)[1:]) if tensor.shape.rank else [default_batch_size]
            receivers[name] = tf.compat.v1.placeholder(tensor.dtype, shape, name=name)
        return ServingInputReceiver(dict(receivers), receivers)

    return serving_input_receiver_fn


def _receiver(serving_input_receiver_fn):
    """The receiver's tensors (``{name: TensorSpec}``) and a function of them computing the features."""
    made = {}

    def graph():
        made["receiver"] = serving_input_receiver_fn()

    wrapped = tf.compat.v1.wrap_function(graph, [])
    receiver = made["receiver"]
    if not isinstance(receiver, ServingInputReceiver):
        raise ValueError(f"serving_input_receiver_fn must return a ServingInputReceiver; it returned {type(receiver).__name__}.")
    names = sorted(receiver.receiver_tensors)
    feeds = [receiver.receiver_tensors[name] for name in names]
    compute = wrapped.prune(feeds=feeds, fetches=receiver.features)
    specs = {name: tf.TensorSpec(tensor.shape, tensor.dtype, name=name) for name, tensor in zip(names, feeds)}
    return specs, lambda tensors: compute(*[tensors[name] for name in names])


def export(model, export_dir_base, serving_input_receiver_fn, kind, predictions):
    """Writes ``model`` with the estimator's signatures for ``serving_input_receiver_fn`` (see the module docstring)."""
    specs, features_of = _receiver(serving_input_receiver_fn)

    @tf.function(input_signature=[specs])
    def predict(tensors):
        return predictions(features_of(tensors))

    endpoints = {"predict": (predict, "predict")}
    (name, spec), = specs.items() if len(specs) == 1 else ((None, None),)
    if spec is not None and spec.dtype == tf.string:
        inputs = tf.TensorSpec(spec.shape, tf.string, name="inputs")

        @tf.function(input_signature=[inputs])
        def classify(inputs):
            outputs = predict({name: inputs})
            return {"classes": outputs["all_classes"], "scores": outputs["probabilities"]}

        @tf.function(input_signature=[inputs])
        def regress(inputs):
            outputs = predict({name: inputs})
            return {"outputs": outputs["logistic"] if kind == "binary" else outputs["predictions"]}

        if kind in ("binary", "multiclass"):
            endpoints["classification"] = (classify, "classify")
        if kind == "binary" or (kind == "regression" and model.head.units == 1):
            endpoints["regression"] = (regress, "regress")
        endpoints["serving_default"] = endpoints.get("classification" if kind != "regression" else "regression",
                                                     endpoints["predict"])
    else:
        endpoints["serving_default"] = endpoints["predict"]
    return write_export(model, export_dir_base, endpoints)
