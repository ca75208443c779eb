"""The canned estimators, with the V2 estimators' arguments and default optimizers, on tfkit's models:
linear and DNN parts are :class:`tfkit.models.WideDeep`'s (FTRL and Adagrad on tfkit's sparse kernels), the
baseline :class:`tfkit.models.Baseline`."""

import math

import keras
import tensorflow as tf

from tfkit import optimizers
from tfkit.estimator.estimator import _CannedEstimator
from tfkit.models import Baseline, WideDeep

# canned/optimizers.py's names, on tfkit's optimizers where it has sparse kernels for embedding tables.
_OPTIMIZERS = {"Adagrad": optimizers.Adagrad, "Adam": keras.optimizers.Adam, "Ftrl": optimizers.Ftrl,
               "RMSProp": keras.optimizers.RMSprop, "SGD": optimizers.SGD}
# Keras' optimizers whose tfkit subclass updates an embedding table's looked-up rows only (tfkit.optimizers.sparse).
_SPARSE = {keras.optimizers.Ftrl: optimizers.Ftrl, keras.optimizers.Adagrad: optimizers.Adagrad,
           keras.optimizers.SGD: optimizers.SGD}
# The estimators' default learning rates (canned/linear.py, dnn.py, dnn_linear_combined.py, baseline.py).
_LINEAR_LEARNING_RATE, _COMBINED_LINEAR_LEARNING_RATE, _COMBINED_DNN_LEARNING_RATE, _BASELINE_LEARNING_RATE = 0.2, 0.005, 0.001, 0.3


def optimizer_factory(optimizer, learning_rate=None):
    """A function making a fresh optimizer from a name (``canned/optimizers.py``'s: with ``learning_rate`` if given,
    else the class' default), a Keras optimizer (its config, read now: a cluster's runtime, connected later, drops
    the variables made before it), or a callable returning one (called when the model is built, as the estimator
    called it). Keras' Ftrl, Adagrad and SGD become tfkit's, whose updates touch only the embedding rows looked up."""
    if isinstance(optimizer, str):
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"Unsupported optimizer name: {optimizer}. Supported names are: {tuple(sorted(_OPTIMIZERS))}")
        cls = _OPTIMIZERS[optimizer]
        return lambda: cls(learning_rate=learning_rate) if learning_rate is not None else cls()
    if isinstance(optimizer, keras.optimizers.Optimizer):
        cls, config = _SPARSE.get(type(optimizer), type(optimizer)), optimizer.get_config()
        return lambda: cls.from_config(config)
    if callable(optimizer):
        return lambda: _checked(optimizer())
    raise ValueError(f"The given object is not a tf.keras.optimizers.Optimizer instance. Given: {optimizer}")


def _checked(optimizer):
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise ValueError(f"The given object is not a tf.keras.optimizers.Optimizer instance. Given: {optimizer}")
    if type(optimizer) in _SPARSE and not optimizer.built:
        optimizer = _SPARSE[type(optimizer)].from_config(optimizer.get_config())
    return optimizer


def _head(n_classes, label_vocabulary):
    if n_classes is None or n_classes < 2:
        raise ValueError(f"n_classes must be > 1: {n_classes}")
    if label_vocabulary is not None:
        if not isinstance(label_vocabulary, (list, tuple)):
            raise ValueError(f"label_vocabulary should be a list or a tuple. Given type: {type(label_vocabulary)}")
        if len(label_vocabulary) != n_classes:
            raise ValueError(f"label_vocabulary has {len(label_vocabulary)} labels, but n_classes is {n_classes}.")
    return ("binary", 1) if n_classes == 2 else ("multiclass", n_classes)


def _check_label_dimension(label_dimension):
    if not isinstance(label_dimension, int) or label_dimension < 1:
        raise ValueError(f"Invalid label_dimension {label_dimension}.")
    return "regression", label_dimension


def _activation(fn):
    """A Keras activation name for TensorFlow's and Keras' own functions (a config can hold it); others as given."""
    for name in ("relu", "elu", "selu", "sigmoid", "tanh", "softplus", "swish", "gelu", "relu6", "leaky_relu"):
        if fn is getattr(tf.nn, name, None) or fn is getattr(keras.activations, name, None) or fn == name:
            return name
    return fn


class _WideDeepEstimator(_CannedEstimator):
    def __init__(self, kind, units, linear_columns, dnn_columns, hidden_units, linear_optimizer, dnn_optimizer,
                 activation_fn, dropout, batch_norm, sparse_combiner, label_vocabulary, weight_column, model_dir, config,
                 warm_start_from, loss_reduction, linear_learning_rate, dnn_learning_rate):
        self._linear_columns, self._dnn_columns = list(linear_columns or ()), list(dnn_columns or ())
        if not self._linear_columns and not self._dnn_columns:
            raise ValueError("Either linear_feature_columns or dnn_feature_columns must be defined.")
        if self._dnn_columns and not hidden_units:
            raise ValueError("dnn_hidden_units must be defined when dnn_feature_columns is specified.")
        if sparse_combiner not in ("sum", "mean", "sqrtn"):
            raise ValueError(f"sparse_combiner must be one of 'sum', 'mean' or 'sqrtn'. Given: {sparse_combiner}")
        self._hidden_units, self._activation_fn = list(hidden_units or ()), _activation(activation_fn)
        self._dropout, self._batch_norm, self._sparse_combiner = dropout or 0.0, bool(batch_norm), sparse_combiner
        self._label_vocabulary = label_vocabulary
        self._optimizers = {part: optimizer_factory(optimizer, rate) for part, optimizer, rate, present in (
            ("wide", linear_optimizer, linear_learning_rate, self._linear_columns),
            ("deep", dnn_optimizer, dnn_learning_rate, self._dnn_columns)) if present}
        super().__init__(kind, units, label_vocabulary, weight_column, model_dir, config, loss_reduction, warm_start_from,
                         self._linear_columns + self._dnn_columns)

    def _new_model(self):
        head = "binary" if self._kind == "binary" else self._kind
        return WideDeep(wide_columns=self._linear_columns, deep_columns=self._dnn_columns,
                        hidden_units=self._hidden_units or [1], activation=self._activation_fn, dropout=self._dropout,
                        batch_norm=self._batch_norm, sparse_combiner=self._sparse_combiner, head=head,
                        num_classes=self._units if self._kind != "binary" else None,
                        label_vocabulary=self._label_vocabulary)

    def _optimizer(self, model):
        return optimizers.MultiOptimizer({part: make() for part, make in self._optimizers.items()})


def _linear_rate(columns):
    return min(_COMBINED_LINEAR_LEARNING_RATE, 1.0 / math.sqrt(max(1, len(columns or ()))))


class LinearClassifier(_WideDeepEstimator):
    """``tf.estimator.LinearClassifier``: a linear model (FTRL, learning rate 0.2) over ``feature_columns``.

    Example:

    >>> import tempfile, tensorflow as tf, tfkit
    >>> job = tfkit.feature_column.categorical_column_with_hash_bucket("job", 100)
    >>> estimator = tfkit.estimator.LinearClassifier([job], n_classes=3, model_dir=tempfile.mkdtemp())
    >>> data = lambda: tf.data.Dataset.from_tensor_slices(({"job": ["cook", "pilot", "clerk"]}, [0, 1, 2])).batch(3)
    >>> estimator.train(data, steps=5).evaluate(data)["global_step"]
    1
    >>> next(estimator.predict(data))["probabilities"].shape
    (3,)
    """

    def __init__(self, feature_columns, model_dir=None, n_classes=2, weight_column=None, label_vocabulary=None,
                 optimizer="Ftrl", config=None, warm_start_from=None, loss_reduction="sum_over_batch_size",
                 sparse_combiner="sum"):
        super().__init__(*_head(n_classes, label_vocabulary), feature_columns, None, None, optimizer, None, None, None, False,
                         sparse_combiner, label_vocabulary, weight_column, model_dir, config, warm_start_from,
                         loss_reduction, _LINEAR_LEARNING_RATE, None)


class LinearRegressor(_WideDeepEstimator):
    """``tf.estimator.LinearRegressor``: a linear model (FTRL, learning rate 0.2) over ``feature_columns``.

    Example:

    >>> import tempfile, tensorflow as tf, tfkit
    >>> estimator = tfkit.estimator.LinearRegressor([tfkit.feature_column.numeric_column("x")], label_dimension=2,
    ...                                             model_dir=tempfile.mkdtemp())
    >>> data = lambda: tf.data.Dataset.from_tensor_slices(({"x": [1.0, 2.0]}, [[1.0, -1.0], [2.0, -2.0]])).batch(2)
    >>> next(estimator.train(data, steps=1).predict(data))["predictions"].shape
    (2,)
    """

    def __init__(self, feature_columns, model_dir=None, label_dimension=1, weight_column=None, optimizer="Ftrl",
                 config=None, warm_start_from=None, loss_reduction="sum_over_batch_size", sparse_combiner="sum"):
        super().__init__(*_check_label_dimension(label_dimension), feature_columns, None, None, optimizer, None, None,
                         None, False, sparse_combiner, None, weight_column, model_dir, config, warm_start_from,
                         loss_reduction, _LINEAR_LEARNING_RATE, None)


class DNNClassifier(_WideDeepEstimator):
    """``tf.estimator.DNNClassifier``: a feed-forward network (Adagrad at its default learning rate, 0.001).

    Example:

    >>> import tempfile, tensorflow as tf, tfkit
    >>> hours = tfkit.feature_column.numeric_column("hours")
    >>> estimator = tfkit.estimator.DNNClassifier([8, 4], [hours], label_vocabulary=["part", "full"], dropout=0.1,
    ...                                           model_dir=tempfile.mkdtemp())
    >>> data = lambda: tf.data.Dataset.from_tensor_slices(({"hours": [20.0, 40.0]}, ["part", "full"])).batch(2)
    >>> next(estimator.train(data).predict(data))["all_classes"].tolist()
    [b'part', b'full']
    """

    def __init__(self, hidden_units, feature_columns, model_dir=None, n_classes=2, weight_column=None,
                 label_vocabulary=None, optimizer="Adagrad", activation_fn=tf.nn.relu, dropout=None, config=None,
                 warm_start_from=None, loss_reduction="sum_over_batch_size", batch_norm=False):
        super().__init__(*_head(n_classes, label_vocabulary), None, feature_columns, hidden_units, None, optimizer,
                         activation_fn, dropout, batch_norm, "sum", label_vocabulary, weight_column, model_dir, config,
                         warm_start_from, loss_reduction, None, None)


class DNNRegressor(_WideDeepEstimator):
    """``tf.estimator.DNNRegressor``: a feed-forward network (Adagrad at its default learning rate, 0.001).

    Example:

    >>> import tempfile, tensorflow as tf, tfkit
    >>> estimator = tfkit.estimator.DNNRegressor([4], [tfkit.feature_column.numeric_column("x")], optimizer="Adam",
    ...                                          model_dir=tempfile.mkdtemp())
    >>> data = lambda: tf.data.Dataset.from_tensor_slices(({"x": [1.0, 2.0]}, [2.0, 4.0])).batch(2)
    >>> sorted(estimator.train(data, steps=3).evaluate(data))
    ['average_loss', 'global_step', 'label/mean', 'loss', 'prediction/mean']
    """

    def __init__(self, hidden_units, feature_columns, model_dir=None, label_dimension=1, weight_column=None,
                 optimizer="Adagrad", activation_fn=tf.nn.relu, dropout=None, config=None, warm_start_from=None,
                 loss_reduction="sum_over_batch_size", batch_norm=False):
        super().__init__(*_check_label_dimension(label_dimension), None, feature_columns, hidden_units, None, optimizer,
                         activation_fn, dropout, batch_norm, "sum", None, weight_column, model_dir, config,
                         warm_start_from, loss_reduction, None, None)


class DNNLinearCombinedClassifier(_WideDeepEstimator):
    """``tf.estimator.DNNLinearCombinedClassifier``: wide & deep, their logits summed; FTRL (learning rate
    ``min(0.005, 1/sqrt(len(linear_feature_columns)))``) for the linear part, Adagrad (0.001) for the DNN."""

    def __init__(self, model_dir=None, linear_feature_columns=None, linear_optimizer="Ftrl", dnn_feature_columns=None,
                 dnn_optimizer="Adagrad", dnn_hidden_units=None, dnn_activation_fn=tf.nn.relu, dnn_dropout=None,
                 n_classes=2, weight_column=None, label_vocabulary=None, config=None, warm_start_from=None,
                 loss_reduction="sum_over_batch_size", batch_norm=False, linear_sparse_combiner="sum"):
        super().__init__(*_head(n_classes, label_vocabulary), linear_feature_columns, dnn_feature_columns, dnn_hidden_units,
                         linear_optimizer, dnn_optimizer, dnn_activation_fn, dnn_dropout, batch_norm,
                         linear_sparse_combiner, label_vocabulary, weight_column, model_dir, config, warm_start_from,
                         loss_reduction, _linear_rate(linear_feature_columns), _COMBINED_DNN_LEARNING_RATE)


class DNNLinearCombinedRegressor(_WideDeepEstimator):
    """``tf.estimator.DNNLinearCombinedRegressor``: wide & deep regression, optimized as the classifier.

    Example:

    >>> import tempfile, tensorflow as tf, tfkit
    >>> city = tfkit.feature_column.categorical_column_with_vocabulary_list("city", ["Lima", "Oslo"])
    >>> estimator = tfkit.estimator.DNNLinearCombinedRegressor(
    ...     linear_feature_columns=[city], dnn_feature_columns=[tfkit.feature_column.numeric_column("rooms")],
    ...     dnn_hidden_units=[4], model_dir=tempfile.mkdtemp())
    >>> data = lambda: tf.data.Dataset.from_tensor_slices(({"city": ["Lima", "Oslo"], "rooms": [2.0, 3.0]},
    ...                                                    [100.0, 300.0])).batch(2)
    >>> estimator.train(data, steps=1).evaluate(data)["label/mean"]
    200.0
    """

    def __init__(self, model_dir=None, linear_feature_columns=None, linear_optimizer="Ftrl", dnn_feature_columns=None,
                 dnn_optimizer="Adagrad", dnn_hidden_units=None, dnn_activation_fn=tf.nn.relu, dnn_dropout=None,
                 label_dimension=1, weight_column=None, config=None, warm_start_from=None,
                 loss_reduction="sum_over_batch_size", batch_norm=False, linear_sparse_combiner="sum"):
        super().__init__(*_check_label_dimension(label_dimension), linear_feature_columns, dnn_feature_columns,
                         dnn_hidden_units, linear_optimizer, dnn_optimizer, dnn_activation_fn, dnn_dropout, batch_norm,
                         linear_sparse_combiner, None, weight_column, model_dir, config, warm_start_from,
                         loss_reduction, _linear_rate(linear_feature_columns), _COMBINED_DNN_LEARNING_RATE)


class _BaselineEstimator(_CannedEstimator):
    def __init__(self, kind, units, label_vocabulary, weight_column, optimizer, model_dir, config, loss_reduction):
        self._make_optimizer, self._label_vocabulary = optimizer_factory(optimizer, _BASELINE_LEARNING_RATE), label_vocabulary
        super().__init__(kind, units, label_vocabulary, weight_column, model_dir, config, loss_reduction, None, [])

    def _new_model(self):
        return Baseline(head=self._kind, num_classes=self._units if self._kind != "binary" else None,
                        label_vocabulary=self._label_vocabulary)

    def _optimizer(self, model):
        return self._make_optimizer()


class BaselineClassifier(_BaselineEstimator):
    """``tf.estimator.BaselineClassifier``: the classes' log-odds, learned (FTRL, 0.3); features are ignored.

    Example:

    >>> import tempfile, tensorflow as tf, tfkit
    >>> estimator = tfkit.estimator.BaselineClassifier(model_dir=tempfile.mkdtemp())
    >>> data = lambda: tf.data.Dataset.from_tensor_slices(({"any": [0, 0, 0, 0]}, [1, 1, 1, 0])).batch(4).repeat()
    >>> round(float(next(estimator.train(data, steps=200).predict(data))["logistic"][0]), 2)
    0.75
    """

    def __init__(self, model_dir=None, n_classes=2, weight_column=None, label_vocabulary=None, optimizer="Ftrl",
                 config=None, loss_reduction="sum_over_batch_size"):
        super().__init__(*_head(n_classes, label_vocabulary), label_vocabulary, weight_column, optimizer, model_dir,
                         config, loss_reduction)


class BaselineRegressor(_BaselineEstimator):
    """``tf.estimator.BaselineRegressor``: the labels' mean, learned (FTRL, 0.3); features are ignored.

    Example:

    >>> import tempfile, tensorflow as tf, tfkit
    >>> estimator = tfkit.estimator.BaselineRegressor(model_dir=tempfile.mkdtemp())
    >>> data = lambda: tf.data.Dataset.from_tensor_slices(({"any": [0, 0]}, [1.0, 3.0])).batch(2).repeat()
    >>> round(float(next(estimator.train(data, steps=300).predict(data))["predictions"][0]), 1)
    2.0
    """

    def __init__(self, model_dir=None, label_dimension=1, weight_column=None, optimizer="Ftrl", config=None,
                 loss_reduction="sum_over_batch_size"):
        super().__init__(*_check_label_dimension(label_dimension), None, weight_column, optimizer, model_dir, config,
                         loss_reduction)
