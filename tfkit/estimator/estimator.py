"""The estimator's methods over tfkit's job machinery: ``train`` as ``model.fit`` with the run's checkpoints
(:mod:`tfkit.jobs.checkpoints`) and summaries in ``model_dir``; ``evaluate``, ``predict`` and ``export_saved_model``
on the model read back from a checkpoint, as the estimator ran them."""

import logging
import os
import tempfile
import warnings

import keras
import tensorflow as tf

from tfkit import distribute
from tfkit.estimator import arguments
from tfkit.estimator import callbacks as callbacks_lib
from tfkit.estimator import hooks as hooks_lib
from tfkit.estimator.inputs import Labels, ModeKeys, call_input_fn, check_features, dense_features
from tfkit.estimator.metrics import EvalMetrics
from tfkit.jobs.checkpoints import CheckpointFiles, latest_checkpoint, weights_checkpoint
from tfkit.jobs.directory import make_job_dir
from tfkit.jobs.summaries import TensorBoard

log = logging.getLogger("tfkit.estimator")

# Steps a call of the compiled training step runs (the census config's train.steps_per_execution).
_STEPS_PER_EXECUTION = 16


class Estimator:
    """``tf.estimator.Estimator``: tfkit runs the canned estimators (see :mod:`tfkit.estimator`), not ``model_fn``\\ s.

    A ``model_fn`` written for ``tf.estimator`` builds a TensorFlow 1 graph
    (``tf.compat.v1`` layers, ``EstimatorSpec``, ``train_op``) that Keras 3 cannot
    run; constructing one raises at once, saying what to use instead.
    """

    def __init__(self, model_fn=None, model_dir=None, config=None, params=None, warm_start_from=None):
        if model_fn is None:
            raise ValueError("model_fn must be provided to Estimator.")
        raise ValueError(
            "tfkit.estimator.Estimator does not run a custom model_fn: it builds a TensorFlow 1 graph that Keras 3 "
            "cannot run. Use a canned estimator (LinearClassifier, DNNClassifier, DNNLinearCombinedClassifier, "
            "BaselineClassifier and their Regressors), or write the model as a Keras model (a subclass of "
            "tfkit.models.Model) and train it with model.fit or `tfkit train`. See docs/migrating.rst.")


class _CannedEstimator(Estimator):
    """What every canned estimator shares; a subclass makes the model (:meth:`_new_model`) and its optimizer."""

    def __init__(self, kind, units, label_vocabulary, weight_column, model_dir, config, loss_reduction, warm_start_from,
                 columns):
        self._config = arguments.config_with_model_dir(config, model_dir)
        self._kind, self._units = kind, units
        self._labels = Labels(kind, units, label_vocabulary)
        self._weight_key = arguments.weight_key(weight_column)
        self._reduction = arguments.reduction(loss_reduction)
        self._warm_start_from = warm_start_from
        self._columns = list(columns)
        self._train_model = self.manager = self.epoch = None
        self.history = None  # Checkpoints records no epochs for an estimator
        self._restored_models = {}

    # -- what tf.estimator.Estimator exposes -------------------------------------------------------------------
    model_dir = property(lambda self: self._config.model_dir)
    config = property(lambda self: self._config)
    params = property(lambda self: {})

    def latest_checkpoint(self):
        """The newest complete checkpoint in ``model_dir`` (a path prefix), or None."""
        return latest_checkpoint(self.model_dir)

    def get_variable_names(self):
        """The names of the variables in the latest checkpoint."""
        return [name for name, _ in tf.train.list_variables(self._checkpoint_or_raise())]

    def get_variable_value(self, name):
        """The value of variable ``name`` of the latest checkpoint, as a numpy array."""
        return tf.train.load_variable(self._checkpoint_or_raise(), name)

    def eval_dir(self, name=None):
        return os.path.join(self.model_dir, "eval" if not name else "eval_" + name)

    def _checkpoint_or_raise(self):
        path = self.latest_checkpoint()
        if path is None:
            raise ValueError(f"Could not find trained model in model_dir: {self.model_dir}.")
        return path

    # -- train -------------------------------------------------------------------------------------------------
    @property
    def global_step(self):
        """Training steps taken: exact on every strategy (on a parameter server, its trainer's counter)."""
        trainer = self._train_model._parameter_server_trainer()
        return int((trainer.global_step if trainer is not None else self._train_model.optimizer.iterations).numpy())

    def train(self, input_fn, hooks=None, steps=None, max_steps=None, saving_listeners=None):
        """Trains from the latest checkpoint on ``input_fn``'s batches: ``steps`` more, or up to global step
        ``max_steps``, or until the input ends. Saves a checkpoint at the end. Returns the estimator."""
        if steps is not None and max_steps is not None:
            raise ValueError("Can not provide both steps and max_steps.")
        if steps is not None and steps <= 0:
            raise ValueError(f"Must specify steps > 0, given: {steps}")
        if max_steps is not None and max_steps <= 0:
            raise ValueError(f"Must specify max_steps > 0, given: {max_steps}")
        callbacks = hooks_lib.as_callbacks(hooks)
        listeners = hooks_lib.saving_listeners(saving_listeners)
        self._build_training()
        # Hooks see every step (StopAtStepHook stops at its exact step): one step a call while there are some.
        self._set_steps_per_execution(1 if callbacks else self._steps_per_execution(self._train_model.distribute_strategy))
        if max_steps is not None:
            if self.global_step >= max_steps:
                log.info("Skipping training since max_steps has already saved.")
                return self
            steps = max_steps - self.global_step
        every_steps, every_seconds = self._config.save_checkpoints_steps, self._config.save_checkpoints_secs
        callbacks = [callbacks_lib.Saver(self, every_steps or None, every_seconds or None, listeners),
                     TensorBoard(self.model_dir, write_graph=False, update_freq=self._summary_calls()),
                     *callbacks]
        if self._config.log_step_count_steps and log.isEnabledFor(logging.INFO):
            callbacks.append(callbacks_lib.StepLogger(self, self._config.log_step_count_steps))
        if self._train_model._parameter_server_trainer() is not None:
            if steps is None:
                raise ValueError("On a parameter-server cluster train needs steps or max_steps (TrainSpec's max_steps): "
                                 "each worker reads its own input_fn's dataset, repeated.")
            data = lambda index, count: self._dataset(  # noqa: E731 (each worker's input pipeline, made on it)
                input_fn, ModeKeys.TRAIN, tf.distribute.InputContext(count, index, 1))
        else:
            # The input ends after `steps` batches: Keras runs whole calls of steps_per_execution steps to a given
            # steps_per_epoch (3 became 16), but stops a call where its input ends.
            data = self._dataset(input_fn, ModeKeys.TRAIN)
            data, steps = (data if steps is None else data.take(steps)), None
            if self._train_model.steps_per_execution == 1:
                callbacks.insert(0, callbacks_lib.StepCounter())
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            self._train_model.fit(data, epochs=1, steps_per_epoch=steps, callbacks=callbacks, verbose=0)
        self._restored_models.clear()
        return self

    def _build_training(self):
        if self._train_model is not None:
            return
        if self._config.is_chief:
            make_job_dir(self.model_dir)
        task = self._config.task
        # A cluster with parameter servers trains on tfkit's parameter-server loop, coordinated by the chief.
        strategy = self._config.train_distribute or (distribute.get("parameter_server") if task and task.num_ps else
                                                     tf.distribute.get_strategy())
        if self._config.tf_random_seed is not None:
            keras.utils.set_random_seed(self._config.tf_random_seed)
        with strategy.scope():
            model = self._new_model()
            model.compile(optimizer=self._optimizer(model), loss=arguments.loss(self._kind, self._reduction),
                          steps_per_execution=self._steps_per_execution(strategy))
            model.build()
            model.optimizer.build(distribute.trainable_variables(model))
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        trainer = model._parameter_server_trainer()
        checkpoint = tf.train.Checkpoint(weights=weights_checkpoint(model), optimizer=model.optimizer,
                                         global_step=trainer.global_step if trainer else model.optimizer.iterations)
        checkpoint.save_counter  # made on access: checkpoints then hold it, as the run's do (tfkit.jobs.state)
        directory = self.model_dir if self._config.is_chief else tempfile.mkdtemp(prefix="tfkit-worker-checkpoints-")
        self.manager = CheckpointFiles(checkpoint, directory, self._config.keep_checkpoint_max or 1_000_000)
        latest = self.latest_checkpoint()
        if latest is not None:
            checkpoint.restore(latest).assert_existing_objects_matched()
        elif self._warm_start_from is not None:
            arguments.warm_start(model, self._warm_start_from)
        self._train_model = model

    def _summary_calls(self):
        """``save_summary_steps`` in calls of the step (what Keras' TensorBoard counts), or once per train."""
        every = self._config.save_summary_steps
        return max(1, every // (self._train_model.steps_per_execution or 1)) if every else "epoch"

    def _set_steps_per_execution(self, steps):
        model = self._train_model
        if steps is not None and model.steps_per_execution != steps:
            model.steps_per_execution = steps
            model.train_function = None  # traced again with the new count

    def _steps_per_execution(self, strategy):
        """Steps a call of the compiled step runs: up to 16, as ``tfkit train`` runs the census (a parameter server's
        own default there), the most that divide ``save_checkpoints_steps`` so that checkpoints come at their exact
        steps; 1 on mirrored strategies (Keras' multi-step function fails there: "You must feed a value for
        placeholder"). Each call ends in one wait for the device: 1,272 census steps train in 13.0 s one a call,
        7.2 s ten a call (bench/estimator.py)."""
        if isinstance(strategy, (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy)):
            return 1
        if distribute.is_parameter_server(strategy):
            return None
        every = self._config.save_checkpoints_steps
        return max(d for d in range(1, _STEPS_PER_EXECUTION + 1) if not every or every % d == 0)

    # -- evaluate, predict -------------------------------------------------------------------------------------
    def _restored(self, checkpoint_path, purpose):
        """A single-device model with the weights of ``checkpoint_path`` (default: the latest), and its global step."""
        path = checkpoint_path or self.latest_checkpoint()
        if path not in self._restored_models:
            model = self._new_model()
            model.build()
            step = tf.Variable(0, dtype=tf.int64)
            if path is None:
                log.info("Could not find trained model in model_dir: %s, running initialization to %s.",
                         self.model_dir, purpose)
            else:
                tf.train.Checkpoint(weights=weights_checkpoint(model), global_step=step).read(path).expect_partial()
            self._restored_models = {path: (model, int(step.numpy()))}
        return self._restored_models[path]

    def evaluate(self, input_fn, steps=None, hooks=None, checkpoint_path=None, name=None):
        """Metrics of a checkpoint (default: the latest) on ``input_fn``'s batches (``steps`` of them, or all), with
        ``global_step``; also written for TensorBoard in :meth:`eval_dir`."""
        if steps is not None and steps <= 0:
            raise ValueError(f"Must specify steps > 0, given: {steps}")
        hooks_lib.as_callbacks(hooks)
        model, step = self._restored(checkpoint_path, "evaluate")
        dataset = self._dataset(input_fn, ModeKeys.EVAL)
        if steps is not None:
            dataset = dataset.take(steps)
        metrics = EvalMetrics(self._kind, self._reduction)

        @tf.function
        def update(features, labels, weights=None):
            logits = model(features, training=False)
            metrics.update(labels, logits, model.head.predictions(logits), weights)

        for batch in dataset:
            update(*batch)
        results = {**metrics.result(), "global_step": step}
        writer = tf.summary.create_file_writer(self.eval_dir(name))
        # Always: an evaluation during training (train_and_evaluate) runs under Keras TensorBoard's record_if.
        with writer.as_default(), tf.summary.record_if(True):
            for key, value in results.items():
                if key != "global_step":
                    tf.summary.scalar(key, value, step=step)
        writer.close()  # written now: BestExporter and early-stopping hooks read them back
        return results

    def predict(self, input_fn, predict_keys=None, hooks=None, checkpoint_path=None, yield_single_examples=True):
        """Yields the predictions of a checkpoint (default: the latest) for ``input_fn``'s features: a dict per example
        (or per batch), with the head's keys (``predict_keys`` only, when given)."""
        hooks_lib.as_callbacks(hooks)
        model, _ = self._restored(checkpoint_path, "predict")
        keys = None if predict_keys is None else [predict_keys] if isinstance(predict_keys, str) else list(predict_keys)

        @tf.function
        def predictions(features):
            return self._predictions(model, features)

        for batch in self._dataset(input_fn, ModeKeys.PREDICT):
            outputs = {key: value.numpy() for key, value in predictions(batch).items()}
            if keys is not None:
                missing = [key for key in keys if key not in outputs]
                if missing:
                    raise ValueError(f"Expected to run at least one output from {sorted(outputs)}, provided {keys}.")
                outputs = {key: outputs[key] for key in keys}
            if not yield_single_examples:
                yield outputs
                continue
            for index in range(len(next(iter(outputs.values())))):
                yield {key: value[index] for key, value in outputs.items()}

    def _predictions(self, model, features):
        """The head's predictions, with estimator's ``all_class_ids`` and ``all_classes`` for classifiers."""
        outputs = dict(model.head.predictions(model(features, training=False)))
        if self._kind in ("binary", "multiclass"):
            classes = 2 if self._kind == "binary" else self._units
            rows = tf.shape(outputs["logits"])[0]
            ids = tf.range(classes, dtype=tf.int32)
            outputs["all_class_ids"] = tf.tile(ids[None], [rows, 1])
            outputs["all_classes"] = tf.tile(model.head._classes(tf.cast(ids, tf.int64))[None], [rows, 1])
        return outputs

    # -- input -------------------------------------------------------------------------------------------------
    def _dataset(self, input_fn, mode, input_context=None):
        """``input_fn``'s batches as the model takes them: ``(features, labels[, weights])``, or features to predict."""
        dataset = call_input_fn(input_fn, mode, self.params, self._config, input_context)

        def prepare(*element):
            features, labels = element if len(element) == 2 else (element[0], None)
            if isinstance(features, tuple) and len(features) == 2 and mode != ModeKeys.PREDICT:
                features, labels = features
            check_features(features)
            features = dict(features)
            weights = None
            if self._weight_key is not None and mode == ModeKeys.PREDICT:
                features.pop(self._weight_key, None)  # weights weigh losses and metrics: predictions need none
            elif self._weight_key is not None:
                if self._weight_key not in features:
                    raise ValueError(f"weight_column {self._weight_key!r} is not among the features {sorted(features)}")
                weights = tf.reshape(tf.cast(features.pop(self._weight_key), tf.float32), [-1, 1])
            features = dense_features(features, self._columns)
            if mode == ModeKeys.PREDICT:
                return features
            if labels is None:
                raise ValueError(f"input_fn must return labels to {'train' if mode == ModeKeys.TRAIN else 'evaluate'}.")
            labels = self._labels(labels)
            return (features, labels) if weights is None else (features, labels, weights)

        return dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def export_saved_model(self, export_dir_base, serving_input_receiver_fn, assets_extra=None, as_text=False,
                           checkpoint_path=None, experimental_mode=ModeKeys.PREDICT):
        """Exports a checkpoint (default: the latest) as ``export_dir_base/<timestamp>/``; returns that path (bytes).

        See :mod:`tfkit.estimator.export` for the signatures each receiver gives."""
        from tfkit.estimator import export

        if not serving_input_receiver_fn:
            raise ValueError("An input_receiver_fn must be defined.")
        if checkpoint_path is None and self.latest_checkpoint() is None:
            raise ValueError(f"Couldn't find trained model at {self.model_dir}.")
        if assets_extra or as_text or experimental_mode != ModeKeys.PREDICT:
            raise ValueError("export_saved_model: tfkit exports the predict mode in binary form, without assets_extra.")
        model, _ = self._restored(checkpoint_path, "export")
        path = export.export(model, export_dir_base, serving_input_receiver_fn, self._kind,
                             lambda features: self._predictions(model, dense_features(features, self._columns)))
        return path.encode()
