"""``fit``, ``evaluate`` and ``predict`` for models built under a ``ParameterServerStrategy``.

Keras 3's own ``fit`` refuses parameter-server strategies (keras-team/keras#18624),
so a tfkit model built under one hands its ``fit / evaluate / predict`` calls to
a :class:`Trainer`, which runs the steps through a ``ClusterCoordinator``:

* every worker reads its own copy of the training data, repeated (each shuffles
  in its own order when the dataset is shuffled without a seed); an epoch is
  ``steps_per_epoch`` steps, counted from one pass over the data if not given.
  Or, given a function of the worker's index, each worker reads its own part;
* a model with a ``parameter_server_step(data, variables, metric_states)``
  (Word2Vec) runs that for each step: it applies its gradients to
  ``variables`` (sharded tables split into shards) and returns the metrics'
  new states;
* one scheduled function runs ``steps_per_execution`` steps (the compile
  argument; without one, :data:`DEFAULT_STEPS_PER_FUNCTION`) and adds the
  change it made to each metric's state to the metric's variables on the
  parameter servers with atomic ``assign_add``, so metrics add up exactly
  however the steps were spread over workers. Nothing is fetched back from a
  worker, so losing one loses no result: the coordinator re-runs its
  unfinished functions on the others;
* every function is run exactly once: it marks itself done on a parameter
  server with its last update (the metrics, the global step), and a function
  the coordinator re-runs after losing its worker finds the mark and does
  nothing if its first run got that far. A function whose worker died before
  its end is run again whole: the updates of the steps it had applied are
  applied a second time, but the step count, checkpoint numbers and metrics
  count them once, and the optimizers' step counters (which learning-rate
  schedules read) are set back to the exact global step after every epoch;
* the global step is a plain ``tf.Variable`` incremented atomically on a
  parameter server. ``KerasVariable.assign_add`` reads then writes, so
  concurrent workers lose increments of the optimizer's ``iterations`` (40
  steps left it at 26); the trainer makes those counters atomic as well, which
  keeps learning-rate schedules exact;
* evaluation and prediction run on the coordinator, exactly once per example,
  on a local copy of the model whose weights are read from the parameter
  servers once per call (not at every batch);
* Keras callbacks (progress bar, History, TensorBoard, EarlyStopping,
  checkpoints) are called as Keras' ``fit`` calls them, except that batch
  callbacks come as steps complete (about once a second, with the index of the
  last step done), not once per step.

Tables larger than the strategy's partitioner allows are sharded over the
parameter servers; gradients and optimizer slots are then per shard.
"""

import functools
import time

import keras
import numpy as np
import tensorflow as tf
from keras.src import tree

# How often fit reports progress (batch callbacks, progress bar) while steps run.
_PROGRESS_SECONDS = 1.0

#: Steps per scheduled function when compile was not given ``steps_per_execution``
#: (bench/parameter_server.py: see docs/performance.rst).
DEFAULT_STEPS_PER_FUNCTION = 8


def is_parameter_server(strategy):
    return isinstance(strategy, tf.distribute.experimental.ParameterServerStrategy)


def trainable_variables(model):
    """The model's trainable variables, each sharded table split into its shards.

    Gradients and optimizer slots are per shard, so each slot lives on the
    parameter server of its shard. A shard is given the ``path`` of its table
    plus ``/part_N``: optimizers name slots after it and
    :class:`tfkit.optimizers.MultiOptimizer` routes by it. Sharded tables are
    also made to checkpoint as slices of one tensor (see
    :class:`_ShardedTable`), so their checkpoints restore into any sharding or
    none.
    """
    variables = []
    for variable in model.trainable_variables:
        if isinstance(getattr(variable, "value", None), tf.__internal__.distribute.ShardedVariable):
            _ShardedTable.adopt(variable)
            for index, shard in enumerate(variable.value.variables):
                shard.path = f"{variable.path}/part_{index}"
                variables.append(shard)
        else:
            variables.append(variable)
    return variables


class _ShardedTable:
    """Checkpointing for a Keras variable whose value is a ``ShardedVariable``.

    Keras' TF variable saves ``{"VARIABLE_VALUE": value}``, which fails for a
    ``ShardedVariable`` ("has no attribute 'device'"). Defining
    ``_gather_saveables_for_checkpoint`` on the variable's class makes TF use
    the ``ShardedVariable``'s own saveables: each shard saved as a slice of
    the whole table, which restores into a table of any sharding or none.
    """

    _classes = {}

    @classmethod
    def adopt(cls, variable):
        base = type(variable)
        if base in cls._classes.values():  # adopted already
            return
        if base not in cls._classes:
            cls._classes[base] = type(f"Sharded{base.__name__}", (base,), {
                "_gather_saveables_for_checkpoint": lambda self: self.value._gather_saveables_for_checkpoint(),
            })
        variable.__class__ = cls._classes[base]


def _make_atomic(variable):
    # The tf.Variable's AssignAddVariableOp holds the variable's lock; KerasVariable's reads, then writes.
    def assign_add(value):
        return variable.value.assign_add(tf.cast(value, variable.dtype))

    variable.assign_add = assign_add


def trainer(model):
    """The model's :class:`Trainer` (one per model, created on first use)."""
    if getattr(model, "_tfkit_trainer", None) is None:
        # object.__setattr__: Keras would otherwise try to track the trainer as a layer attribute.
        object.__setattr__(model, "_tfkit_trainer", Trainer(model))
    return model._tfkit_trainer


class Trainer:
    """Runs a compiled model's steps on a parameter-server cluster. See the module docstring."""

    def __init__(self, model):
        self.model = model
        self.strategy = model.distribute_strategy
        self.coordinator = tf.distribute.coordinator.ClusterCoordinator(self.strategy)
        with self.strategy.scope():
            self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        self._done = None  # per function of an epoch: the first global step of the last epoch it completed in
        self._local = None  # the single-device copy that evaluates and predicts

    @property
    def num_workers(self):
        return self.strategy.extended._num_workers

    # -- preparation ---------------------------------------------------------
    def _prepare(self, dataset, element_spec=None):
        """Builds the model, its optimizer and its metrics (the latter from a batch of ``dataset``, or of zeros shaped
        as ``element_spec``: the batches of a dataset function are on the workers)."""
        model = self.model
        if dataset is None and element_spec is not None:
            zeros = tf.nest.map_structure(lambda spec: tf.zeros([size or 1 for size in spec.shape], spec.dtype), element_spec)
            dataset = tf.data.Dataset.from_tensors(zeros)
        # Variables are created under the strategy, so they live on the parameter servers.
        with self.strategy.scope():
            if not model.built:
                model.build()
            if model.optimizer is not None:
                self._prepare_optimizer()  # before Keras' symbolic build would build it on whole tables
            if dataset is not None and not all(getattr(metric, "built", True) for metric in model.metrics):
                model._symbolic_build(data_batch=next(iter(dataset)))
        self._metrics = [m for m in model.metrics if m.variables]

    def _prepare_optimizer(self):
        optimizer = self.model.optimizer
        self.variables = trainable_variables(self.model)
        if not optimizer.built:
            optimizer.build(self.variables)
        self._iterations = [v for v in optimizer.variables if v.name == "iteration"]
        for variable in self._iterations:
            _make_atomic(variable)

    def _mark_capacity(self, functions):
        """Room for ``functions`` done-marks on a parameter server (a new step function if it grows)."""
        if self._done is None or int(self._done.shape[0]) < functions:
            with self.strategy.scope():
                self._done = tf.Variable(tf.fill([functions], tf.constant(-1, tf.int64)), trainable=False, name="functions_done")
            self.__dict__.pop("_train_function", None)

    def _initial_state(self):
        return [[np.asarray(v) for v in m.stateless_reset_state()] for m in self._metrics]

    def _update_state(self, state, x, y, y_pred, sample_weight, loss):
        updated = []
        for metric, variables in zip(self._metrics, state):
            if metric is self.model._loss_tracker:
                batch_size = tf.shape(tree.flatten(x)[0])[0]
                updated.append(metric.stateless_update_state(variables, loss, sample_weight=batch_size))
            else:
                updated.append(metric.stateless_update_state(variables, y, y_pred, sample_weight=sample_weight))
        return updated

    def _logs(self, state=None):
        """Metric results: of the metrics' variables on the parameter servers, or of ``state``."""
        logs = {}
        for index, metric in enumerate(self._metrics):
            if state is None:
                result = metric.result()
            else:
                result = metric.stateless_result([tf.convert_to_tensor(v) for v in state[index]])
            logs.update(result if isinstance(result, dict) else {metric.name: result})
        return {k: float(v) for k, v in logs.items()}

    # -- the step functions ---------------------------------------------------
    @functools.cached_property
    def _train_function(self):
        model, initial = self.model, self._initial_state()

        def one_step(data, state):
            if hasattr(model, "parameter_server_step"):  # a model with a step of its own (Word2Vec)
                return model.parameter_server_step(data, self.variables, state)
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            with tf.GradientTape() as tape:
                y_pred = model(x, training=True)
                loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
            gradients = tape.gradient(loss, self.variables)
            model.optimizer.apply(gradients, self.variables)
            return self._update_state(state, x, y, y_pred, sample_weight, loss)

        # Every argument a tensor: one trace, whatever the number of steps. A re-run of a function that
        # completed runs no step and adds nothing (arithmetic, not tf.cond: a cond around the loop breaks
        # the function's partitioning over the cluster, "You must feed a value for placeholder tensor").
        @tf.function
        def train(iterator, num_steps, epoch, index):
            first_run = tf.gather(self._done, index) != epoch
            state = tree.map_structure(tf.constant, initial)
            steps = tf.where(first_run, num_steps, tf.zeros_like(num_steps))
            for _ in tf.range(steps):
                state = self.strategy.run(one_step, args=(next(iterator), state))
            # Atomic on the parameter servers, unlike KerasVariable.assign_add.
            for metric, after, before in zip(self._metrics, state, initial):
                for variable, new, old in zip(metric.variables, after, before):
                    variable.value.assign_add(new - old)
            self.global_step.assign_add(steps)
            self._done.scatter_nd_update([[index]], [epoch])

        return train

    def _local_model(self):
        """A single-device copy of the model holding the weights the parameter servers hold now.

        Made once; each call reads every weight once (a sharded table whole), so
        that evaluation and prediction never read remote variables per batch.
        """
        from tfkit.distribute.strategies import copy_weights, single_device_copy

        if self._local is None:
            self._local = single_device_copy(self.model)
            if self.model.compiled:
                self._local.compile(loss=self.model.loss)
        else:
            copy_weights(self._local, self.model)
        return self._local

    @functools.cached_property
    def _test_function(self):
        model = self._local

        @tf.function
        def test(data, state):
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            y_pred = model(x, training=False)
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False)
            return self._update_state(state, x, y, y_pred, sample_weight, loss)

        return test

    @functools.cached_property
    def _predict_function(self):
        return tf.function(self._local.predict_step)

    # -- fit --------------------------------------------------------------------
    def fit(self, x, epochs=1, steps_per_epoch=None, initial_epoch=0, callbacks=None, validation_data=None,
            validation_freq=1, verbose="auto"):
        """Trains on ``x``: a dataset every worker reads whole, or ``dataset_fn(worker_index, num_workers)``
        giving each worker its part (see :func:`tfkit.distribute.worker_parts.per_worker_iterator`; then
        ``steps_per_epoch`` is needed)."""
        if callable(x) and not isinstance(x, tf.data.Dataset):
            if steps_per_epoch is None:
                raise TypeError("fit with a dataset function per worker needs steps_per_epoch.")
            from tfkit.distribute.worker_parts import element_spec, per_worker_iterator

            self._prepare(None, element_spec(x, self.num_workers))
            iterator = per_worker_iterator(self.coordinator, lambda index, count: x(index, count).repeat())
        else:
            dataset = _as_dataset(x, "fit")
            self._prepare(dataset)
            if steps_per_epoch is None:
                steps_per_epoch = _count_batches(dataset)
            iterator = iter(self.coordinator.create_per_worker_dataset(dataset.repeat()))
        per_execution = steps_per_function(self.model)
        self._mark_capacity(-(-steps_per_epoch // per_execution))
        train = self._train_function

        model = self.model
        callback_list = keras.callbacks.CallbackList(
            callbacks, add_history=True, add_progbar=verbose != 0, verbose=1 if verbose == "auto" else verbose,
            epochs=epochs, steps=steps_per_epoch, model=model,
        )
        model.stop_training = False
        callback_list.on_train_begin()
        logs = {}
        for epoch in range(initial_epoch, epochs):
            for metric in self._metrics:
                metric.reset_state()
            callback_list.on_epoch_begin(epoch)
            first_step = int(self.global_step.numpy())
            callback_list.on_train_batch_begin(0)
            for index, start in enumerate(range(0, steps_per_epoch, per_execution)):
                steps = min(per_execution, steps_per_epoch - start)
                # The epoch's first global step tells its functions from every other epoch's, over fit calls too.
                self.coordinator.schedule(train, args=(iterator, *(tf.constant(v, tf.int64) for v in (steps, first_step, index))))
            # The exact step counter tells how far the workers are; done() raises what a step raised.
            reported = time.time()
            while not self.coordinator.done():
                time.sleep(0.02)
                if time.time() - reported >= _PROGRESS_SECONDS:
                    done, reported = int(self.global_step.numpy()) - first_step, time.time()
                    if 0 < done < steps_per_epoch:
                        callback_list.on_train_batch_end(done - 1, self._logs())
            self.coordinator.join()
            for variable in self._iterations:  # steps a lost worker applied before dying counted once
                variable.value.assign(tf.cast(self.global_step, variable.dtype))
            logs = self._logs()
            callback_list.on_train_batch_end(steps_per_epoch - 1, logs)
            if validation_data is not None and (epoch + 1) % validation_freq == 0:
                validation_logs = self.evaluate(validation_data)
                logs.update({f"val_{k}": v for k, v in validation_logs.items()})
            callback_list.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        callback_list.on_train_end(logs)
        return model.history

    # -- evaluate and predict ---------------------------------------------------
    def evaluate(self, x, steps=None):
        """Metrics over the whole of ``x`` (or its first ``steps`` batches), computed on the coordinator."""
        dataset = _as_dataset(x, "evaluate")
        self._prepare(dataset)
        if steps is not None:
            dataset = dataset.take(steps)
        self._local_model()
        test, state = self._test_function, self._initial_state()
        for data in dataset:
            state = test(data, state)
        return self._logs(state)

    def predict(self, x, batch_size=None, steps=None):
        dataset = _as_dataset(x, "predict", batch_size=batch_size or 32)
        if steps is not None:
            dataset = dataset.take(steps)
        if not self.model.built:
            with self.strategy.scope():
                self.model.build()
        self._local_model()
        predict = self._predict_function
        outputs = [predict(data) for data in dataset]
        return tree.map_structure(lambda *batches: np.concatenate([np.asarray(b) for b in batches]), *outputs)


def steps_per_function(model):
    """Steps per scheduled function: compile's ``steps_per_execution`` if given, else :data:`DEFAULT_STEPS_PER_FUNCTION`."""
    if getattr(model, "_steps_per_execution_given", False):
        return max(1, int(model.steps_per_execution or 1))
    return DEFAULT_STEPS_PER_FUNCTION


def _as_dataset(x, method, batch_size=None):
    if isinstance(x, tf.data.Dataset):
        return x
    if batch_size is not None and x is not None:
        return tf.data.Dataset.from_tensor_slices(x).batch(batch_size)
    raise TypeError(
        f"{method} on a parameter-server cluster takes a tf.data.Dataset of (features, labels) batches. "
        f"Received: {type(x).__name__}."
    )


def _count_batches(dataset):
    cardinality = int(dataset.cardinality())
    if cardinality == tf.data.INFINITE_CARDINALITY:
        raise ValueError("The training dataset repeats forever: pass steps_per_epoch.")
    if cardinality >= 0:
        return cardinality
    return int(dataset.reduce(np.int64(0), lambda count, _: count + 1))

