"""Checkpoints of a run: the model's weights by path, saved at epoch ends and every so many steps."""

import keras
import tensorflow as tf


def weights_checkpoint(model):
    """A trackable of the model's weights by path.

    Keras 3 layers give TF checkpoints only their direct attributes (not layers
    held in lists or dicts), so the weights are tracked here by their paths:
    a checkpoint then restores into any model of the same config, sharded or
    not, with or without its optimizer.
    """
    return tf.train.Checkpoint(**{weight.path: weight for weight in model.weights})


class Checkpoints(keras.callbacks.Callback):
    """Saves at each epoch's end and, with ``every_steps``, every so many steps.

    Checkpoints are numbered by the run's exact global step (on a parameter
    server, not the optimizer's ``iterations``, which loses increments there).
    A run resumed from a checkpoint taken mid-epoch redoes that epoch.
    """

    def __init__(self, run, every_steps=None):
        super().__init__()
        self.run, self.every_steps = run, every_steps
        # Without per-step saves the batch hook does nothing, so Keras need not wait for each step to end.
        self.async_safe = not every_steps
        self.next_step_save = self._next_multiple(run.global_step)

    def _next_multiple(self, step):
        return (step // self.every_steps + 1) * self.every_steps if self.every_steps else None

    def on_train_batch_end(self, batch, logs=None):
        if not self.every_steps:
            return
        # At multiples of every_steps, whatever the epoch-end saves in between (as the old save_checkpoints_steps).
        step = self.run.global_step
        if step >= self.next_step_save:
            self.next_step_save = self._next_multiple(step)
            self._save(step)

    def on_epoch_end(self, epoch, logs=None):
        self.run.epoch.assign(epoch + 1)
        self._save(self.run.global_step)

    def _save(self, step):
        # An epoch's end may save the step just saved again: the epoch counter has moved on since.
        self.run.manager.save(checkpoint_number=step)
