"""The base of every tfkit model: a Keras model with a head, raw-feature inputs and export."""

import contextlib
import warnings
import weakref

import keras
import numpy as np
import tensorflow as tf
from keras.src.saving import serialization_lib

from tfkit import features as features_lib
from tfkit.data import cache as cache_lib
from tfkit.errors import TfkitError
from tfkit.models import heads


class Model(keras.Model):
    """A Keras 3 model whose inputs are raw features and whose head gives named predictions.

    Subclasses create their layers in ``__init__`` and return every feature
    column they read from ``feature_columns()``. The model then:

    * learns column state with ``adapt(dataset)`` (one pass, before building);
    * compiles with the head's loss and metrics by default;
    * ``predict`` returns a dict (``probabilities``, ``class_ids``, ``classes``, ...);
    * ``export(dir)`` writes a SavedModel that takes raw features.
    """

    def __init__(self, head="binary", num_classes=None, label_vocabulary=None, **kwargs):
        super().__init__(**kwargs)
        self.head_name = head
        self.num_classes = num_classes
        self.label_vocabulary = None if label_vocabulary is None else [str(v) for v in label_vocabulary]
        self.head = heads.get(head, num_classes, label_vocabulary)
        # The datasets fit and evaluate were given, each with its batches transformed ahead (see _transformed_ahead).
        self._ahead = weakref.WeakKeyDictionary()

    # -- columns and raw inputs -------------------------------------------
    def feature_columns(self):
        raise NotImplementedError

    def column_transform(self):
        """The :class:`~tfkit.layers.transform.ColumnTransform` of the model's raw inputs (its layers in
        ``self.preprocessing``), or None for a model that reads its inputs as they are."""
        return None

    def input_specs(self):
        """Raw input features and their dtype names, ``{key: dtype}``."""
        return features_lib.input_specs(self.feature_columns())

    def missing_values(self):
        """``{key: value}``: what stands in for a missing value of each raw input a CSV cell can hold.

        A numeric column's ``missing_default`` (NaN when it flags missing values),
        ``""`` for other strings, 0 for other numbers; images and other inputs
        of rank 2 and more have none.

        Example:

        >>> from tfkit.features import CategoricalColumn, NumericColumn
        >>> from tfkit.models import WideDeep
        >>> WideDeep(wide_columns=[CategoricalColumn("job", vocabulary=["cook"])],
        ...          deep_columns=[NumericColumn("age", default_value=30.0), NumericColumn("hours", missing_indicator=True)]
        ...          ).missing_values()
        {'job': '', 'age': 30.0, 'hours': nan}
        """
        defaults = {column.key: column.missing_default for column in features_lib.closure(self.feature_columns())
                    if isinstance(column, features_lib.NumericColumn)}
        return {key: defaults.get(key, "" if spec.dtype == "string" else 0)
                for key, spec in self.input_specs().items() if len(spec.example_shape) <= 1}

    def adapt(self, data, steps=None, progress=None):
        """Learns every vocabulary, boundary and statistic the columns need, in one pass over ``data`` (see
        :func:`tfkit.features.adapt`)."""
        if self.built:
            raise TfkitError("adapt must run before the model is built (before fit, evaluate or predict).")
        features_lib.adapt(self.feature_columns(), data, steps=steps, progress=progress)

    # -- building ----------------------------------------------------------
    def build(self, input_shape=None):
        """Creates every weight from the columns; input shapes are not needed."""
        for layer in self.layers:
            if not layer.built:
                layer.build()
        self.built = True

    def get_build_config(self):
        return {"built": True}

    def build_from_config(self, config):
        if config:
            self.build()

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras' TF trainer MEAN-reduces the first distributed batch across replicas only to
        # learn its structure; that fails on string features ("AddN ... of string") and is the
        # first bug of keras-team/keras#20585. The first replica's batch has that structure.
        if self._distribute_strategy is None or iterator is None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            data_batch = next(batches)
            break
        strategy = self.distribute_strategy

        def first_replica(value):
            if isinstance(value, tf.distribute.DistributedValues):
                return strategy.experimental_local_results(value)[0]
            return value

        with strategy.scope():
            self._symbolic_build(data_batch=tf.nest.map_structure(first_replica, data_batch))

    def _make_function(self, step_function):
        # Under MultiWorkerMirroredStrategy Keras MEAN-reduces each step's scalar metrics with
        # axis=0, which fails on scalars ("Invalid reduction dimension 0 for input with 0
        # dimensions"; the second bug of keras-team/keras#20585). Giving them a leading axis of
        # one makes that reduction the plain mean across replicas.
        if not isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return super()._make_function(step_function)

        def step_with_axis(data):
            return tf.nest.map_structure(lambda value: tf.reshape(value, [1]) if value.shape.rank == 0 else value,
                                         step_function(data))

        return super()._make_function(step_with_axis)

    # -- training and prediction -----------------------------------------
    def compile(self, optimizer=None, loss=None, metrics=None, **kwargs):
        """Keras ``compile`` with the head's loss and metrics and the model's default optimizer."""
        from tfkit import optimizers

        optimizer = self.default_optimizer() if optimizer is None else optimizers.get(optimizer)
        # A parameter-server cluster runs several steps per scheduled function unless told otherwise.
        self._steps_per_execution_given = "steps_per_execution" in kwargs
        super().compile(
            optimizer=optimizer,
            loss=self.head.loss() if loss is None else loss,
            metrics=self.head.metrics() if metrics is None else metrics,
            **kwargs,
        )

    def get_compile_config(self):
        return getattr(self, "_compile_config", None) and self._compile_config.serialize()

    def compile_from_config(self, config):
        self.compile(**serialization_lib.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def _parameter_server_trainer(self):
        return parameter_server_trainer(self)

    def fit(self, x=None, y=None, *args, **kwargs):
        """Keras ``fit``; on a parameter-server cluster, see :mod:`tfkit.distribute.parameter_server`."""
        trainer = self._parameter_server_trainer()
        if trainer is not None:
            return trainer.fit(x, **_parameter_server_arguments("fit", y, args, kwargs))
        if not isinstance(x, tf.data.Dataset):
            return super().fit(_strings_as_objects(x), y, *args, **kwargs)
        kwargs.setdefault("shuffle", False)  # a dataset shuffles itself (tfkit's readers do, with shuffle=True)
        if "validation_data" in kwargs:
            kwargs["validation_data"] = self._transformed_ahead(kwargs["validation_data"])
        with _running_out_is_the_end():
            return super().fit(self._transformed_ahead(x), y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        trainer = self._parameter_server_trainer()
        if trainer is not None:
            logs = trainer.evaluate(x, **_parameter_server_arguments("evaluate", y, args, kwargs))
            return logs if kwargs.get("return_dict") else self._flatten_metrics_in_order(logs)
        with _running_out_is_the_end():
            return super().evaluate(self._transformed_ahead(_strings_as_objects(x)), y, *args, **kwargs)

    def _transformed_ahead(self, data):
        """``data`` with the column transforms done in its pipeline, where it is one of tfkit's readers' datasets:
        then the steps read ids, and an in-memory dataset computes them once (see :mod:`tfkit.data.cache`).

        Other data, and training on more than one machine (where the data sharding is the strategy's), keep the
        raw features and transform them in the step. Exports and ``predict`` take raw features either way.
        """
        transform = self.column_transform()
        strategy = self.distribute_strategy
        machines = isinstance(strategy, (tf.distribute.MultiWorkerMirroredStrategy, tf.distribute.experimental.ParameterServerStrategy))
        if transform is None or not isinstance(data, tf.data.Dataset) or machines:
            return data
        if data not in self._ahead:
            if not self.built:
                with strategy.scope():
                    self.build()

            def ahead(features, *rest):  # tf.data spreads (features, labels[, weights]) over the arguments
                values = transform.ahead(features, self.preprocessing)
                return (values, *rest) if rest else values

            self._ahead[data] = cache_lib.with_transform(data, ahead)  # None: not a reader's
        return self._ahead[data] or data

    def predict(self, x, *args, **kwargs):
        """Like Keras ``predict``, but returns the head's dict of predictions as numpy arrays."""
        trainer = self._parameter_server_trainer()
        if trainer is not None:
            return trainer.predict(_strings_as_objects(x), **_parameter_server_arguments("predict", None, args[1:], kwargs, args[:1]))
        with _running_out_is_the_end():
            return super().predict(_strings_as_objects(x), *args, **kwargs)

    def default_optimizer(self):
        return keras.optimizers.Adam()

    def predict_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        return self.head.predictions(self(x, training=False))

    def serving_input_signature(self):
        """Named ``tf.TensorSpec``s of the raw inputs, one row per example: what exports take."""
        return {
            key: tf.TensorSpec([None, *spec.example_shape], tf.as_dtype(spec.dtype), name=key)
            for key, spec in sorted(self.input_specs().items())
        }

    @property
    def _default_save_signature(self):
        # SavedModel tracing asks every Keras model for a default signature, which Keras makes with
        # float32 for every input; tfkit's raw inputs have their own dtypes (strings, uint8 images).
        if not self.built:
            return None
        return tf.function(lambda features: self(features), input_signature=[self.serving_input_signature()])

    def export(self, export_dir):
        """Writes a versioned SavedModel under ``export_dir`` and returns its path.

        See :func:`tfkit.export.export_saved_model`.
        """
        from tfkit.export import export_saved_model

        return export_saved_model(self, export_dir)

    def get_config(self):
        return {
            "head": self.head_name,
            "num_classes": self.num_classes,
            "label_vocabulary": self.label_vocabulary,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# What the parameter-server loop takes of each Keras method's arguments, and what it ignores.
_PARAMETER_SERVER_ARGUMENTS = {
    "fit": (("epochs", "steps_per_epoch", "initial_epoch", "callbacks", "validation_data", "validation_freq", "verbose"),
            ("shuffle",)),  # datasets shuffle themselves
    "evaluate": (("steps",), ("verbose", "return_dict")),
    "predict": (("batch_size", "steps"), ("verbose",)),
}


def parameter_server_trainer(model):
    """The trainer that runs ``model``'s ``fit`` on a parameter-server cluster; None under any other strategy.

    Keras' fit refuses parameter-server strategies; tfkit's own coordinator loop
    runs them. The only place models reach into tfkit.distribute, and only for
    that loop (Word2Vec's fit comes here too).
    """
    if not isinstance(model.distribute_strategy, tf.distribute.experimental.ParameterServerStrategy):
        return None
    from tfkit.distribute import parameter_server

    return parameter_server.trainer(model)


def _parameter_server_arguments(method, y, args, kwargs, positional=()):
    supported, ignored = _PARAMETER_SERVER_ARGUMENTS[method]
    if y is not None or args:
        raise TfkitError(f"{method} on a parameter-server cluster takes a tf.data.Dataset of (features, labels) batches "
                         "and keyword arguments.")
    arguments = dict(zip(supported, positional), **kwargs)
    unsupported = sorted(set(arguments) - set(supported) - set(ignored))
    if unsupported:
        raise TfkitError(f"{method} on a parameter-server cluster does not take {', '.join(unsupported)}; "
                         f"it takes {', '.join(supported)}.")
    return {k: v for k, v in arguments.items() if k in supported}


@contextlib.contextmanager
def _running_out_is_the_end():
    """A dataset of unknown length ends each pass by running out, which is how Keras learns its length: Keras
    warns about it all the same ("Your input ran out of data"), which is kept quiet here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        yield


def _strings_as_objects(x):
    # Keras' array adapter rejects numpy unicode arrays ("Invalid dtype: str32"); object arrays pass.
    if isinstance(x, dict):
        return {k: (v.astype(object) if isinstance(v, np.ndarray) and v.dtype.kind in "US" else v) for k, v in x.items()}
    return x
