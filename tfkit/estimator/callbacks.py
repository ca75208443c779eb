"""The callbacks an estimator's ``train`` runs beside the hooks: the global step counted exactly, the run's checkpoints
with the saving listeners after each, and the estimator's step logging."""

import logging
import time

import keras

from tfkit.jobs.checkpoints import Checkpoints

log = logging.getLogger("tfkit.estimator")


class StepCounter(keras.callbacks.Callback):
    """Makes the global step count the batches trained on, as the estimator's did, when each call of the step runs
    one step.

    Keras 3 (3.15) adds one to ``optimizer.iterations`` when a dataset of
    unknown length (a file's lines) runs out: the last ``get_next`` fails, but
    the increment, which does not wait for it, has run (no weight changes).
    Checked at the epoch's end, before the checkpoint of that step is saved.
    (Calls of several steps read their input with ``get_next_as_optional``
    and count exactly.)
    """

    async_safe = True

    def on_train_begin(self, logs=None):
        self.start, self.batches = int(self.model.optimizer.iterations.numpy()), 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        iterations = self.model.optimizer.iterations
        if int(iterations.numpy()) != self.start + self.batches:
            iterations.assign(self.start + self.batches)


class StepLogger(keras.callbacks.Callback):
    """Logs ``loss = ..., step = ...`` and ``global_step/sec`` every ``every`` steps at INFO, as the estimator did (only
    when the ``tfkit.estimator`` logger shows INFO; in Keras' callback thread, so training does not wait for it)."""

    async_safe = True

    def __init__(self, estimator, every):
        super().__init__()
        self.estimator, self.every = estimator, every
        self.last_step, self.last_time = None, None

    def on_train_batch_end(self, batch, logs=None):
        step = self.estimator.global_step
        if self.last_step is None:
            self.last_step, self.last_time = step, time.time()
        elif step // self.every > self.last_step // self.every:
            now = time.time()
            log.info("global_step/sec: %g", (step - self.last_step) / max(now - self.last_time, 1e-9))
            log.info("loss = %g, step = %d", float((logs or {}).get("loss", float("nan"))), step)
            self.last_step, self.last_time = step, now


class Saver(Checkpoints):
    """The run's checkpoints, and after each save the ``saving_listeners``' ``after_save(None, global_step)``."""

    def __init__(self, estimator, every_steps, every_seconds, listeners):
        super().__init__(estimator, every_steps, every_seconds)
        self.listeners = listeners
        self.async_safe = self.async_safe and not listeners
        latest = estimator.latest_checkpoint()
        self.last_saved = int(latest.rpartition("-")[2]) if latest else None

    def on_train_begin(self, logs=None):
        for listener in self.listeners:
            listener.begin()

    def _save(self, step):
        if step == self.last_saved:  # the end of training, just after a save at the same step
            return
        super()._save(step)
        self.last_saved = step
        for listener in self.listeners:
            if listener.after_save(None, step):
                self.model.stop_training = True  # as a listener's True stops the estimator's training

    def on_train_end(self, logs=None):
        for listener in self.listeners:
            listener.end(None, self.run.global_step)
