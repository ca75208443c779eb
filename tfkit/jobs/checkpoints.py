"""Checkpoints of a run: the model's weights by path, saved at epoch ends and every so many steps.

A run's checkpoints are found from their files, not from TensorFlow's
``checkpoint`` pointer file: a checkpoint is complete when its index and every
data shard it names are there, and the newest complete one is the run's
latest, whatever the pointer says (a process killed while rewriting the
pointer leaves it naming an older one). The pointer is still written, for
TensorFlow's own tools.
"""

import glob
import os
import re
import shutil
import time

import keras
import tensorflow as tf

from tfkit.io import faults
from tfkit.io.files import replacing

_SHARD = re.compile(r"\.data-(\d+)-of-(\d+)$")


def weights_checkpoint(model):
    """A trackable of the model's weights by path.

    Keras 3 layers give TF checkpoints only their direct attributes (not layers
    held in lists or dicts), so the weights are tracked here by their paths:
    a checkpoint then restores into any model of the same config, sharded or
    not, with or without its optimizer.
    """
    return tf.train.Checkpoint(**{weight.path: weight for weight in model.weights})


class Checkpoints(keras.callbacks.Callback):
    """Saves at each epoch's end and, with ``every_steps`` (or ``every_seconds``), every so many steps (seconds).

    Checkpoints are numbered by the run's exact global step (on a parameter
    server, not the optimizer's ``iterations``, which loses increments there).
    A run resumed from a checkpoint taken mid-epoch redoes that epoch.
    ``run`` is what it saves for: a :class:`~tfkit.jobs.run.Run`, or an
    estimator; it has ``global_step``, ``manager`` (:class:`CheckpointFiles`),
    ``epoch`` (a variable) and ``history`` (None, or a
    :class:`~tfkit.jobs.history.History` to record each epoch in).
    """

    def __init__(self, run, every_steps=None, every_seconds=None):
        super().__init__()
        self.run, self.every_steps, self.every_seconds = run, every_steps, every_seconds
        # Without per-step saves the batch hook does nothing, so Keras need not wait for each step to end.
        self.async_safe = not (every_steps or every_seconds)
        self.next_step_save = self._next_multiple(run.global_step)
        self.next_time_save = time.time() + every_seconds if every_seconds else None

    def _next_multiple(self, step):
        return (step // self.every_steps + 1) * self.every_steps if self.every_steps else None

    def on_train_batch_end(self, batch, logs=None):
        if self.every_seconds and time.time() >= self.next_time_save:
            self.next_time_save = time.time() + self.every_seconds
            self._save(self.run.global_step)
        if not self.every_steps:
            return
        # At multiples of every_steps, whatever the epoch-end saves in between (as the old save_checkpoints_steps).
        step = self.run.global_step
        if step >= self.next_step_save:
            self.next_step_save = self._next_multiple(step)
            self._save(step)

    def on_epoch_end(self, epoch, logs=None):
        if self.run.history is not None:  # first: an epoch whose checkpoint is missing is dropped on resume
            self.run.history.record_epoch(epoch + 1, logs)
        self.run.epoch.assign(epoch + 1)
        self._save(self.run.global_step)

    def _save(self, step):
        # An epoch's end may save the step just saved again: the epoch counter has moved on since.
        self.run.manager.save(checkpoint_number=step)


def write_pointer(directory, names):
    """Writes TensorFlow's ``checkpoint`` pointer file in ``directory``, whole or not at all: ``names`` (newest last).

    The file is a ``CheckpointState`` text proto, as ``tf.train.CheckpointManager``
    writes it (TensorFlow's own writer, ``update_checkpoint_state``, is
    deprecated). Names are relative, so the folder can move.

    Example:

    >>> import tempfile, tensorflow as tf
    >>> from tfkit.jobs.checkpoints import write_pointer
    >>> directory = tempfile.mkdtemp()
    >>> write_pointer(directory, ["ckpt-4", "ckpt-5"])
    >>> state = tf.train.get_checkpoint_state(directory)
    >>> os.path.basename(state.model_checkpoint_path), [os.path.basename(p) for p in state.all_model_checkpoint_paths]
    ('ckpt-5', ['ckpt-4', 'ckpt-5'])
    """
    for name in names:
        if not re.fullmatch(r"[\w.-]+", name):  # nothing to escape in the text proto's strings
            raise ValueError(f"write_pointer: checkpoint names are file names. Received: {name!r}")
    lines = [f'model_checkpoint_path: "{names[-1]}"'] + [f'all_model_checkpoint_paths: "{name}"' for name in names]
    # "checkpoint.tmp-<pid>" while it is written: what CheckpointFiles.clean removes if a kill leaves it.
    with replacing(os.path.join(directory, "checkpoint")) as temporary, open(temporary, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def complete_checkpoints(directory):
    """Prefixes of the complete ``ckpt-<step>`` checkpoints in ``directory``, oldest first."""
    steps = []
    for index in glob.glob(os.path.join(glob.escape(directory), "ckpt-*.index")):
        prefix = index[: -len(".index")]
        step = prefix.rpartition("ckpt-")[2]
        shards = [_SHARD.search(path) for path in glob.glob(glob.escape(prefix) + ".data-*")]
        counts = {int(match.group(2)) for match in shards if match}
        if step.isdigit() and len(counts) == 1 and len(shards) == counts.pop():
            steps.append(int(step))
    return [os.path.join(directory, f"ckpt-{step}") for step in sorted(steps)]


def latest_checkpoint(directory):
    """The newest complete checkpoint in ``directory`` (a prefix) whose index reads back, or None."""
    for prefix in reversed(complete_checkpoints(directory)):
        try:
            tf.train.load_checkpoint(prefix)
            return prefix
        except (tf.errors.OpError, ValueError):  # an index cut short by a kill
            continue
    return None


class CheckpointFiles:
    """Writes ``checkpoint`` as ``directory/ckpt-<step>`` and keeps the newest ``max_to_keep``.

    Like ``tf.train.CheckpointManager``, but it reads the directory instead
    of trusting the pointer file, and :meth:`clean` removes what killed
    writes leave behind: TensorFlow's temporary shards and pointer files,
    data shards without an index.
    """

    def __init__(self, checkpoint, directory, max_to_keep):
        self.checkpoint, self.directory, self.max_to_keep = checkpoint, directory, max_to_keep

    @property
    def latest_checkpoint(self):
        return latest_checkpoint(self.directory)

    def clean(self):
        """Removes the leftovers of killed writes; returns their names. Call it while holding the job's lock."""
        complete = set(complete_checkpoints(self.directory))
        removed = []
        for path in glob.glob(os.path.join(glob.escape(self.directory), "*")):
            name = os.path.basename(path)
            prefix = re.sub(r"(_temp.*|\.index|\.data-\d+-of-\d+)$", "", path)
            if name.startswith("checkpoint.tmp") or "_temp" in name or (name.startswith("ckpt-") and prefix not in complete):
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
                removed.append(name)
        return sorted(removed)

    def save(self, checkpoint_number):
        prefix = os.path.join(self.directory, f"ckpt-{checkpoint_number}")
        self.checkpoint.write(prefix)
        faults.point("checkpoint-written")
        older = [path for path in complete_checkpoints(self.directory) if path != prefix]
        kept = (older[-(self.max_to_keep - 1):] if self.max_to_keep > 1 else []) + [prefix]
        write_pointer(self.directory, [os.path.basename(path) for path in kept])
        for old in set(older) - set(kept):
            for path in glob.glob(glob.escape(old) + ".*"):
                os.remove(path)
        return prefix
