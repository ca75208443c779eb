"""Hooks: ``tf.estimator``'s ``SessionRunHook``\\ s ran inside a TensorFlow 1 session, which Keras 3 has not. What
``train``, ``evaluate`` and ``predict`` take as ``hooks`` are Keras callbacks, and the hooks made here (which are)."""

import logging
import operator
import time

import keras

log = logging.getLogger("tfkit.estimator")


class StopAtStepHook(keras.callbacks.Callback):
    """Stops training after ``num_steps`` more steps, or at global step ``last_step`` (``tf.estimator.StopAtStepHook``).

    Example:

    >>> from tfkit.estimator import StopAtStepHook
    >>> StopAtStepHook(last_step=100).last_step
    100
    """

    def __init__(self, num_steps=None, last_step=None):
        super().__init__()
        if (num_steps is None) == (last_step is None):
            raise ValueError("One of num_steps or last_step must be specified.")
        if num_steps is not None and num_steps < 0:
            raise ValueError("num_steps must be non-negative.")
        self.num_steps, self.last_step = num_steps, last_step

    def on_train_begin(self, logs=None):
        if self.num_steps is not None:
            self.last_step = int(self.model.optimizer.iterations.numpy()) + self.num_steps

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.last_step:
            self.model.stop_training = True


class CheckpointSaverListener:
    """What ``train``'s ``saving_listeners`` are (``tf.estimator.CheckpointSaverListener``): ``begin()``, then
    ``after_save(session, global_step_value)`` after each checkpoint (``session`` is None: there is none; returning
    True stops training), and ``end(session, global_step_value)``."""

    def begin(self):
        pass

    def before_save(self, session, global_step_value):
        pass

    def after_save(self, session, global_step_value):
        pass

    def end(self, session, global_step_value):
        pass


def saving_listeners(listeners):
    """``listeners``, each checked to have ``after_save`` (and given the others it lacks)."""
    checked = []
    for listener in listeners or ():
        if not callable(getattr(listener, "after_save", None)):
            raise ValueError(f"saving_listeners must be CheckpointSaverListeners (with after_save); given {listener!r}.")
        for name in ("begin", "end"):
            if not callable(getattr(listener, name, None)):
                setattr(listener, name, getattr(CheckpointSaverListener(), name))
        checked.append(listener)
    return checked


def as_callbacks(hooks):
    """``hooks`` as Keras callbacks; a TensorFlow 1 hook is refused, saying what to use instead."""
    callbacks = []
    for hook in hooks or ():
        if not isinstance(hook, keras.callbacks.Callback):
            raise ValueError(
                f"{type(hook).__name__} is a TensorFlow 1 SessionRunHook, which Keras 3 cannot run. tfkit.estimator takes "
                "Keras callbacks as hooks, and makes these: StopAtStepHook, and the early-stopping hooks "
                "stop_if_no_decrease_hook / stop_if_no_increase_hook (for train_and_evaluate). To log tensors "
                "(LoggingTensorHook), use a keras.callbacks.Callback's on_train_batch_end, or TensorBoard: the "
                "estimator writes summaries to model_dir every RunConfig.save_summary_steps steps.")
        callbacks.append(hook)
    return callbacks


class _StopOnEvaluations(keras.callbacks.Callback):
    """Stops training when ``should_stop(evaluations)`` says so, looking every ``run_every_secs`` seconds (or
    ``run_every_steps`` steps) at the evaluations written to ``eval_dir`` (``early_stopping.py``'s hooks)."""

    def __init__(self, eval_dir, should_stop, run_every_secs, run_every_steps):
        super().__init__()
        if (run_every_secs is None) == (run_every_steps is None):
            raise ValueError("Only one of `run_every_secs` and `run_every_steps` must be set.")
        self.eval_dir, self.should_stop = eval_dir, should_stop
        self.every_secs, self.every_steps = run_every_secs, run_every_steps
        self.next_time, self.next_step = time.time() + (run_every_secs or 0), run_every_steps

    def on_train_batch_end(self, batch, logs=None):
        from tfkit.estimator.exporter import read_eval_metrics

        step = int(self.model.optimizer.iterations.numpy())
        if self.every_secs is not None and time.time() < self.next_time or \
                self.every_steps is not None and step < self.next_step:
            return
        self.next_time, self.next_step = time.time() + (self.every_secs or 0), step + (self.every_steps or 0)
        if self.should_stop(read_eval_metrics(self.eval_dir)):
            self.model.stop_training = True


def _estimator_eval_dir(estimator, eval_dir):
    from tfkit.estimator.estimator import Estimator

    if not isinstance(estimator, Estimator):
        raise TypeError(f"`estimator` must have type `tf.estimator.Estimator`. Got: {type(estimator)}")
    return eval_dir or estimator.eval_dir()


def _no_improvement_hook(estimator, metric_name, max_steps, higher_is_better, eval_dir, min_steps, run_every_secs,
                         run_every_steps):
    better = operator.gt if higher_is_better else operator.lt

    def should_stop(evaluations):
        best, best_step = None, None
        for step, metrics in evaluations.items():
            if step < min_steps or metric_name not in metrics:
                continue
            if best is None or better(metrics[metric_name], best):
                best, best_step = metrics[metric_name], step
            if step - best_step >= max_steps:
                log.info("No %s in metric %r for %d steps, which is greater than or equal to max steps (%d) configured "
                         "for early stopping.", "increase" if higher_is_better else "decrease", metric_name,
                         step - best_step, max_steps)
                return True
        return False

    return _StopOnEvaluations(_estimator_eval_dir(estimator, eval_dir), should_stop, run_every_secs, run_every_steps)


def _threshold_hook(estimator, metric_name, threshold, compare, eval_dir, min_steps, run_every_secs, run_every_steps):
    def should_stop(evaluations):
        return any(step >= min_steps and metric_name in metrics and compare(metrics[metric_name], threshold)
                   for step, metrics in evaluations.items())

    return _StopOnEvaluations(_estimator_eval_dir(estimator, eval_dir), should_stop, run_every_secs, run_every_steps)


def stop_if_no_decrease_hook(estimator, metric_name, max_steps_without_decrease, eval_dir=None, min_steps=0,
                             run_every_secs=60, run_every_steps=None):
    """Stops training once ``metric_name`` of the evaluations has not decreased for ``max_steps_without_decrease``
    steps (``tf.estimator.experimental.stop_if_no_decrease_hook``); pass it in ``TrainSpec(hooks=...)``.

    Example:

    >>> import tempfile, tfkit
    >>> estimator = tfkit.estimator.BaselineRegressor(model_dir=tempfile.mkdtemp())
    >>> hook = tfkit.estimator.experimental.stop_if_no_decrease_hook(estimator, "loss", 1000)
    >>> hook.eval_dir == estimator.eval_dir()
    True
    """
    return _no_improvement_hook(estimator, metric_name, max_steps_without_decrease, False, eval_dir, min_steps,
                                run_every_secs, run_every_steps)


def stop_if_no_increase_hook(estimator, metric_name, max_steps_without_increase, eval_dir=None, min_steps=0,
                             run_every_secs=60, run_every_steps=None):
    """Stops training once ``metric_name`` has not increased for ``max_steps_without_increase`` steps."""
    return _no_improvement_hook(estimator, metric_name, max_steps_without_increase, True, eval_dir, min_steps,
                                run_every_secs, run_every_steps)


def stop_if_higher_hook(estimator, metric_name, threshold, eval_dir=None, min_steps=0, run_every_secs=60,
                        run_every_steps=None):
    """Stops training once an evaluation's ``metric_name`` is higher than ``threshold``."""
    return _threshold_hook(estimator, metric_name, threshold, operator.gt, eval_dir, min_steps, run_every_secs,
                           run_every_steps)


def stop_if_lower_hook(estimator, metric_name, threshold, eval_dir=None, min_steps=0, run_every_secs=60,
                       run_every_steps=None):
    """Stops training once an evaluation's ``metric_name`` is lower than ``threshold``."""
    return _threshold_hook(estimator, metric_name, threshold, operator.lt, eval_dir, min_steps, run_every_secs,
                           run_every_steps)
