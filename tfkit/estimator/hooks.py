"""Hooks: ``tf.estimator``'s ``SessionRunHook``\\ s ran inside a TensorFlow 1 session, which Keras 3 has not. What
``train``, ``evaluate`` and ``predict`` take as ``hooks`` are Keras callbacks, and the hooks made here (which are)."""

import keras


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
