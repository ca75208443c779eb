"""A run's epoch-by-epoch history, kept in ``job_dir/history.json`` across interruptions and resumes.

Each epoch's metrics are written (whole, see :mod:`tfkit.io.files`) when the
epoch ends, before its checkpoint. A run resumed from the checkpoint of
epoch ``e`` keeps the first ``e`` epochs and drops any later one (an epoch
whose checkpoint was never written is trained again). Early stopping's
outcome, the epoch it stopped after and the epoch whose weights it kept, is
kept with it.
"""

import json
import os

from tfkit.io.files import write_json


class History:
    """The history of the run in ``job_dir``, resumed at ``initial_epoch`` (the restored checkpoint's epoch)."""

    def __init__(self, job_dir, initial_epoch):
        self.path = os.path.join(job_dir, "history.json")
        recorded = {"epochs": [], "early_stopping": None}
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                recorded = json.load(f)
        self.epochs = [e for e in recorded["epochs"] if e["epoch"] <= initial_epoch]
        # A run that early stopping ended is done: resuming it trains nothing, so its outcome stands.
        self.early_stopping = recorded["early_stopping"] if len(self.epochs) == len(recorded["epochs"]) else None

    def record_epoch(self, epoch, logs):
        """Adds epoch ``epoch`` (counting from 1) with its Keras ``logs``, and writes the file."""
        self.epochs = [e for e in self.epochs if e["epoch"] < epoch]
        self.epochs.append({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}})
        self._write()

    def record_early_stopping(self, callback):
        """Keeps what a Keras ``EarlyStopping`` callback did: the epoch it stopped after (None if it did not) and
        the epoch whose weights it restored, counting from 1."""
        self.early_stopping = {
            "monitor": callback.monitor,
            "stopped_epoch": callback.stopped_epoch + 1 if callback.stopped_epoch else None,
            "best_epoch": callback.best_epoch + 1 if callback.best_weights is not None else None,
            "best": None if callback.best_weights is None else float(callback.best),
        }
        self._write()

    def by_metric(self):
        """``{metric: [value of each epoch]}``, like ``keras.callbacks.History.history``."""
        metrics = {}
        for epoch in self.epochs:
            for key, value in epoch.items():
                if key != "epoch":
                    metrics.setdefault(key, []).append(value)
        return metrics

    def summary(self):
        """The keys metrics.json gets: ``history``, and ``stopped_epoch`` and ``best_epoch`` when early stopping acted."""
        summary = {"history": self.by_metric()}
        if self.early_stopping is not None:
            summary.update({k: v for k, v in self.early_stopping.items() if k in ("stopped_epoch", "best_epoch") and v})
        return summary

    def _write(self):
        write_json(self.path, {"epochs": self.epochs, "early_stopping": self.early_stopping})
