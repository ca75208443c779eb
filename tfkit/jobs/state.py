"""A run's model and its checkpoint state: built (columns adapted, ``model.json`` written) or read back from the job
directory, compiled under the run's strategy, and restored from the newest complete checkpoint."""

import functools
import json
import math
import os
import tempfile
import time

import keras
import tensorflow as tf
import yaml

from tfkit import config as config_lib
from tfkit import distribute
from tfkit import models  # noqa: F401 (registers the model classes that model.json names)
from tfkit.data import data_errors
from tfkit.data.checks import check_data_files
from tfkit.errors import ConfigError, TfkitError
from tfkit.export import remove_partial_exports
from tfkit.features import closure
from tfkit.io.files import write_json
from tfkit.jobs.checkpoints import CheckpointFiles, latest_checkpoint, weights_checkpoint
from tfkit.jobs.directory import make_job_dir
from tfkit.distribute.worker_adapt import adapt_on_workers
from tfkit.jobs.datasets import PASS_BATCH
from tfkit.jobs.progress import RowProgress

# Keys whose change makes old checkpoints meaningless for this job_dir.
_IDENTITY_KEYS = ("features", "model")


class RunState:
    """The model of a run in ``job_dir`` and what its checkpoints hold (weights, optimizer, ``epoch``, ``done``).

    Args:
        config: The run's validated config.
        is_chief: Whether this task writes into ``job_dir`` (the chief, or a
            run outside a cluster); other tasks checkpoint into a temporary
            directory of their own.
        datasets: The run's :class:`~tfkit.jobs.datasets.RunDatasets`, which
            adapt reads and learning-rate schedules in epochs count.
    """

    def __init__(self, config, is_chief, datasets):
        self.config, self.is_chief, self.datasets = config, is_chief, datasets
        self.job_dir, self.train = config["job_dir"], config["train"]
        self.model_path = os.path.join(self.job_dir, "model.json")
        self.checkpoint_dir = os.path.join(self.job_dir, "checkpoints")
        self.strategy, self.parameter_server = None, False
        self.model, self.manager, self.checkpoint, self.epoch, self.done = None, None, None, None, None
        self.adapted = None

    def build(self):
        """Builds (or re-creates from job_dir) the adapted, compiled model for training, and restores its checkpoint."""
        self.strategy = distribute.get(self.config["strategy"])  # first: multi-worker collectives need a fresh runtime
        config_lib.check(self.config)  # as `tfkit config check`, before any data is read (adapt can take minutes)
        self.parameter_server = distribute.is_parameter_server(self.strategy)
        self.datasets.seeded_training = not self.parameter_server
        if self.is_chief:
            make_job_dir(self.job_dir)
            self.check_job_dir()
        keras.utils.set_random_seed(self.train["seed"])
        with self.strategy.scope():
            if os.path.exists(self.model_path):
                self.model = self._read_model()
                check_data_files(self.config["data"], self.model.input_specs())
            else:
                columns = config_lib.build_columns(self.config["features"])
                self.model = config_lib.build_model(self.config["model"], columns, self.config["data"])
                check_data_files(self.config["data"], self.model.input_specs())
                self._adapt()
                if self.is_chief:
                    write_json(self.model_path, keras.saving.serialize_keras_object(self.model))
            self.model.compile(optimizer=self._optimizer(), steps_per_execution=self._steps_per_execution())
            if not self.model.built:
                self.model.build()
            self.model.optimizer.build(distribute.trainable_variables(self.model))
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.done = tf.Variable(False, trainable=False)
        counters = {"epoch": self.epoch, "done": self.done}
        if self.parameter_server:
            counters["step"] = self.model._parameter_server_trainer().global_step
        self.checkpoint = tf.train.Checkpoint(weights=weights_checkpoint(self.model), optimizer=self.model.optimizer, **counters)
        # Workers other than the chief must save too (collective ops), but only into a directory of their own.
        directory = self.checkpoint_dir if self.is_chief else tempfile.mkdtemp(prefix="tfkit-worker-checkpoints-")
        self.checkpoint.save_counter  # made on access: checkpoints then hold it, as tf.train.CheckpointManager's did
        self.manager = CheckpointFiles(self.checkpoint, directory, self.train["keep_checkpoints"])
        if self.is_chief:
            self._clean_leftovers()
        latest = latest_checkpoint(self.checkpoint_dir)
        if latest:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        return self.model

    def check_job_dir(self):
        """Refuses a job_dir whose run has other features or model; writes this config there."""
        path = os.path.join(self.job_dir, "config.yaml")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                previous = yaml.safe_load(f) or {}
            changed = [k for k in _IDENTITY_KEYS if previous.get(k) != self.config[k]]
            if changed:
                raise ConfigError(
                    f"job_dir {self.job_dir!r} holds a run whose {' and '.join(changed)} differ{'s' * (len(changed) == 1)} from this config, so "
                    "its checkpoints do not fit. Use another --job-dir, or delete the old one to start over."
                )
        config_lib.dump(self.config, path)

    def _clean_leftovers(self):
        """Removes what writes killed before they finished left in job_dir: checkpoint temporaries, exports."""
        removed = self.manager.clean() if os.path.isdir(self.checkpoint_dir) else []
        removed += remove_partial_exports(os.path.join(self.job_dir, "export"))
        if removed:
            print(f"Removed {len(removed)} file(s) left by an interrupted write: {', '.join(removed)}.", flush=True)

    def _adapt(self):
        """The one pass that learns vocabularies, boundaries and statistics, said out loud: it reads all of train."""
        pending = [c.name for c in closure(self.model.feature_columns()) if c.needs_adapt]
        started = time.time()
        if pending and self.is_chief:
            shown = ", ".join(pending[:6]) + (f" and {len(pending) - 6} more" if len(pending) > 6 else "")
            print(f"Reading data.train once to learn {len(pending)} columns' vocabularies and statistics ({shown})...", flush=True)
        report = RowProgress(self.datasets.estimated_train_rows()) if pending and self.is_chief else None
        rows = []

        def progress(count):
            rows[:] = [count]
            if report is not None:
                report(count)

        parts = self.worker_parts()
        with data_errors():
            if parts and pending:
                read = adapt_on_workers(self.strategy, self.model.feature_columns(), functools.partial(
                    self.datasets.worker_part, training=False, batch_size=PASS_BATCH), progress)
                print("The workers read their own files: " + "; ".join(
                    f"worker {index} {read[index]:,} rows of {len(files)} file{'s' * (len(files) > 1)}"
                    for index, files in enumerate(parts)) + ".", flush=True)
            else:
                self.model.adapt(self.datasets.adapt_stream(), progress=progress)
        if rows:
            self.datasets.note_train_rows(rows[0])
            self.adapted = (rows[0], time.time() - started)  # rows read and seconds taken (bench/scale.py reads them)
        if pending and self.is_chief:
            print(f"Learned them in {time.time() - started:.1f}s.", flush=True)

    def worker_parts(self):
        """On a parameter-server cluster whose ``data.train`` has a file for each worker at least, each worker's own
        files (see :meth:`~tfkit.jobs.datasets.RunDatasets.worker_files`): it adapts on them and trains on them.
        None otherwise (every worker reads all of train)."""
        if not self.parameter_server:
            return None
        return self.datasets.worker_files(self.strategy.extended._num_workers)

    def _steps_per_execution(self):
        """``train.steps_per_execution`` (default 8 on a parameter server, else 1) dividing ``steps_per_epoch`` and
        ``checkpoint_steps``; 1 on multi-worker mirrored (Keras' multi-step function fails: "You must feed a value...")."""
        train = self.train
        if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return 1
        given = train["steps_per_execution"] or (distribute.parameter_server.DEFAULT_STEPS_PER_FUNCTION if self.parameter_server else 1)
        return math.gcd(given, train["steps_per_epoch"] or 0, train["checkpoint_steps"] or 0)

    def _optimizer(self):
        schedule = self.train["learning_rate_schedule"]
        steps_per_epoch = self.steps_per_epoch() if schedule is not None and schedule.get("unit") == "epochs" else None
        return config_lib.build_optimizer(self.train, self.model, steps_per_epoch)

    def steps_per_epoch(self):
        """``train.steps_per_epoch``, or the batches of one pass over the training data."""
        if self.train["steps_per_epoch"] is not None:
            return self.train["steps_per_epoch"]
        return self.datasets.batches_per_pass()

    @property
    def global_step(self):
        """Training steps taken, exact on every strategy."""
        if self.parameter_server:
            return int(self.model._parameter_server_trainer().global_step.numpy())
        return int(self.model.optimizer.iterations.numpy())

    # -- restoring a trained model on this device ----------------------------------------------------------------
    def load_for_evaluation(self):
        """The trained model's config from job_dir, built on this device, without optimizer state."""
        if not os.path.exists(self.model_path):
            raise TfkitError(f"{self.job_dir} holds no trained model: run `tfkit train` first.")
        self.model = self._read_model()
        self.model.compile(optimizer=self.train["optimizer"])
        self.model.build()
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        return self.model

    def _read_model(self):
        with open(self.model_path, encoding="utf-8") as f:
            return keras.saving.deserialize_keras_object(json.load(f))

    def restore_weights(self, path):
        """Loads a checkpoint's weights (written under any strategy) into the model; returns its epoch."""
        tf.train.Checkpoint(weights=weights_checkpoint(self.model), epoch=self.epoch).read(path).expect_partial()
        return int(self.epoch.numpy())

    def restore_trained(self):
        """The model of job_dir with the weights of its latest checkpoint, on this device."""
        latest = latest_checkpoint(self.checkpoint_dir)
        self.load_for_evaluation()
        if latest is None:
            raise TfkitError(f"{self.job_dir} has no checkpoint yet: run `tfkit train` first.")
        self.restore_weights(latest)
