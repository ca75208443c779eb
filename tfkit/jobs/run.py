"""A training run in a job directory, driven by a validated config.

config → columns → (adapt) → model → fit → evaluate → export, with the job
directory holding everything the run writes::

    job_dir/
      config.yaml        the resolved config
      model.json         the model config with everything adapt learned
      checkpoints/       the last ``train.keep_checkpoints`` checkpoints, ``ckpt-<global step>``
      logs/              TensorBoard event files (loss, metrics, learning rate)
      history.json       every epoch's metrics, across resumes (:mod:`tfkit.jobs.history`)
      metrics.json       final evaluation
      export/<version>/  SavedModel taking raw features

Running the same config again resumes from the newest complete checkpoint
(:mod:`tfkit.jobs.checkpoints`). Checkpoints, metrics and exports are written to
temporary names and renamed into place, so an interrupted run never leaves a
half-written one, and what a killed write leaves is removed on the next run.

In a cluster (``TF_CONFIG``) only the chief writes into ``job_dir``; other
multi-worker tasks checkpoint into a temporary directory of their own (the
collective ops need every worker to save) and remove it. When the chief is
done, ``tfkit train`` writes ``job_dir/chief_done.json``, which tells ps and worker tasks
(:func:`tfkit.distribute.cluster.serve`) and the evaluator
(:mod:`tfkit.jobs.evaluator`) to exit.
"""

import copy
import json
import math
import os
import shutil
import statistics
import tempfile
import time
import warnings

import keras
import tensorflow as tf
import yaml

from tfkit import config as config_lib
from tfkit import data as data_lib
from tfkit import distribute
from tfkit import models  # also registers the model classes that model.json names
from tfkit.distribute import cluster
from tfkit.errors import ClusterError, ConfigError, TfkitError
from tfkit.jobs.checkpoints import CheckpointFiles, Checkpoints, latest_checkpoint, weights_checkpoint
from tfkit.data import data_errors
from tfkit.data.checks import check_data_files
from tfkit.export import export_saved_model, latest_export, remove_partial_exports
from tfkit.features import NumericColumn, closure
from tfkit.io.files import write_json
from tfkit.jobs.history import History
from tfkit.jobs.directory import make_job_dir
from tfkit.jobs.summaries import TensorBoard, verbosity

# Validation and test datasets of unknown length: Keras learns their length from the first pass.
warnings.filterwarnings("ignore", message="Your input ran out of data")

# Keys whose change makes old checkpoints meaningless for this job_dir.
_IDENTITY_KEYS = ("features", "model")


def _spread(values):
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values), "min": min(values), "max": max(values),
            "folds": values}


class Run:
    """One config's run in its job directory. See the module docstring."""

    def __init__(self, config, task=None, fold=None, callbacks=()):
        self.config = config
        # More Keras callbacks for fit (a tuning trial's reporter); not passed on to cross-validation folds.
        self.callbacks = list(callbacks)
        # (i, k): this run is fold i of a k-fold cross-validation, holding out the i-th k-th of train.
        self.fold = fold
        self.job_dir = config["job_dir"]
        self.task = cluster.from_tf_config() if task is None else task
        self.is_chief = self.task is None or self.task.is_chief
        # Training resolves the strategy; evaluation and export run on this device.
        self.strategy, self.parameter_server = None, False
        self.model, self.manager, self.data_source, self.history = None, None, None, None
        self._batches_per_pass = None
        self.model_path = os.path.join(self.job_dir, "model.json")
        self.checkpoint_dir = os.path.join(self.job_dir, "checkpoints")

    # -- data ---------------------------------------------------------------
    def _dataset(self, files, split, training=False, holdout=None, batch_size=None):
        if self.data_source is None:
            defaults = {c.key: c.missing_default for c in closure(self.model.feature_columns()) if isinstance(c, NumericColumn)}
            self.data_source = data_lib.DataSource(self.config["data"], self.model.input_specs(), defaults)
        # Parameter-server workers each read the whole training set: unseeded, each shuffles its own way.
        seed = None if training and self.parameter_server else self.config["train"]["seed"]
        return self.data_source.dataset(files, split, training, holdout, batch_size, seed)

    def _held_out(self):
        """The part of train held out for validation: a fraction, or this fold's range."""
        if self.fold is not None:
            fold, folds = self.fold
            return (fold / folds, (fold + 1) / folds)
        return self.config["data"]["validation_split"]

    def _split(self):
        data = self.config["data"]
        if self.fold is not None:
            return ("train", self._held_out())
        if data["validation_split"] is not None and data["validation"] is not None:
            raise ConfigError("data: give validation or validation_split, not both.")
        return ("train", data["validation_split"]) if data["validation_split"] is not None else None

    def train_dataset(self, training=True, batch_size=None):
        dataset = self._dataset(self.config["data"]["train"], "train", training, self._split(), batch_size)
        if training and batch_size is None and int(dataset.cardinality()) == tf.data.UNKNOWN_CARDINALITY:
            # Keras' fit, reaching the end of a dataset of unknown length, adds one to the optimizer's
            # step count for a step it does not take: every epoch, which shifts learning-rate schedules
            # and step numbers. A dataset that states its length is never read past its end.
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(self.batches_per_pass()))
        return dataset

    def validation_dataset(self):
        data = self.config["data"]
        if data["validation"] is not None:
            return self._dataset(data["validation"], "validation")
        if self._held_out() is not None:
            return self._dataset(data["train"], "train", holdout=("validation", self._held_out()))
        return None

    def test_dataset(self):
        files = self.config["data"]["test"]
        return self._dataset(files, "test") if files is not None else None

    # -- model and checkpoints ---------------------------------------------
    def build(self):
        """Builds (or re-creates from job_dir) the adapted, compiled model for training, and its checkpoint."""
        self.strategy = distribute.get(self.config["strategy"])  # first: multi-worker collectives need a fresh runtime
        config_lib.check(self.config)  # as `tfkit config check`, before any data is read (adapt can take minutes)
        self.parameter_server = distribute.is_parameter_server(self.strategy)
        if self.is_chief:
            make_job_dir(self.job_dir)
            self._check_job_dir()
        keras.utils.set_random_seed(self.config["train"]["seed"])
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
        self.manager = CheckpointFiles(self.checkpoint, directory, self.config["train"]["keep_checkpoints"])
        if self.is_chief:
            self._clean_leftovers()
        latest = latest_checkpoint(self.checkpoint_dir)
        if latest:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        return self.model

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
        with data_errors():
            self.model.adapt(self.train_dataset(training=False, batch_size=4096))
        if pending and self.is_chief:
            print(f"Learned them in {time.time() - started:.1f}s.", flush=True)

    def _read_held_out(self, validation):
        """Reads (and caches) validation and test data before training: a bad row there stops the run now, not at the end."""
        read = [] if self.config["data"]["format"] == "gp_curves" else [validation, self.test_dataset()]  # curves: drawn
        with data_errors():
            for dataset in filter(None, read):
                dataset.reduce(0, lambda count, _: count + 1)

    def _steps_per_execution(self):
        """``train.steps_per_execution`` (default 8 on a parameter server, else 1) dividing ``steps_per_epoch`` and
        ``checkpoint_steps``; 1 on multi-worker mirrored (Keras' multi-step function fails: "You must feed a value...")."""
        train = self.config["train"]
        if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return 1
        given = train["steps_per_execution"] or (distribute.parameter_server.DEFAULT_STEPS_PER_FUNCTION if self.parameter_server else 1)
        return math.gcd(given, train["steps_per_epoch"] or 0, train["checkpoint_steps"] or 0)

    def _optimizer(self):
        schedule = self.config["train"]["learning_rate_schedule"]
        steps_per_epoch = self.steps_per_epoch() if schedule is not None and schedule.get("unit") == "epochs" else None
        return config_lib.build_optimizer(self.config["train"], self.model, steps_per_epoch)

    def steps_per_epoch(self):
        """``train.steps_per_epoch``, or the batches of one pass over the training data."""
        if self.config["train"]["steps_per_epoch"] is not None:
            return self.config["train"]["steps_per_epoch"]
        return self.batches_per_pass()

    def batches_per_pass(self):
        """The batches of one pass over the training data, counted (once) if the dataset does not know."""
        if self._batches_per_pass is None:
            dataset = self.train_dataset(training=False)
            count = int(dataset.cardinality())
            if count < 0:
                with data_errors():
                    count = int(dataset.reduce(0, lambda count, _: count + 1))
            self._batches_per_pass = count
        return self._batches_per_pass

    @property
    def global_step(self):
        """Training steps taken, exact on every strategy."""
        if self.parameter_server:
            return int(self.model._parameter_server_trainer().global_step.numpy())
        return int(self.model.optimizer.iterations.numpy())

    def _check_job_dir(self):
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

    # -- the three jobs -----------------------------------------------------
    def train(self):
        """Trains (or resumes), evaluates and exports; returns the summary written to metrics.json.

        With ``train.cross_validation``, runs every fold instead (see :meth:`cross_validate`)."""
        if self.config["train"]["cross_validation"] is not None and self.fold is None:
            return self.cross_validate()
        try:
            return self._train()
        except (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError) as error:
            if self.task is None:
                raise
            latest = latest_checkpoint(self.checkpoint_dir)
            lost = self.task.task_at(error.message or str(error)) or "a task of the cluster"
            raise ClusterError(
                f"lost {lost} ({type(error).__name__}). Restart it and rerun the same command: training resumes "
                f"from {latest or 'the start (no checkpoint yet)'}; nothing written so far is lost."
            ) from None
        finally:
            if not self.is_chief and self.manager is not None:
                shutil.rmtree(self.manager.directory, ignore_errors=True)

    def _train(self):
        self.build()
        train = self.config["train"]
        initial_epoch = int(self.epoch.numpy())
        started = time.time()
        steps_per_epoch, initial_step, trained = train["steps_per_epoch"], self.global_step, False
        self.history = History(self.job_dir, initial_epoch) if self.is_chief else None
        if not self.done.numpy() and initial_epoch < train["epochs"]:
            if self.is_chief:
                print(f"Training on {distribute.describe(self.strategy)}.", flush=True)
            if initial_epoch and self.is_chief:
                print(f"Resuming from {self.manager.latest_checkpoint} (epoch {initial_epoch}, step {self.global_step}).",
                      flush=True)
            validation = self.validation_dataset()
            self._read_held_out(validation)
            callbacks, stopper = [Checkpoints(self, train["checkpoint_steps"])], None
            if self.is_chief:
                callbacks.append(TensorBoard(os.path.join(self.job_dir, "logs"), write_graph=False))
            if train["early_stopping"] is not None:
                if validation is None:
                    raise ConfigError("train.early_stopping needs validation data: set data.validation or data.validation_split.")
                stopper = keras.callbacks.EarlyStopping(**{"monitor": "val_loss", "restore_best_weights": True,
                                                           **train["early_stopping"]})
                callbacks.append(stopper)
            callbacks.extend(self.callbacks)
            with data_errors():
                self.model.fit(
                    self.train_dataset(),
                    validation_data=validation,
                    epochs=train["epochs"],
                    initial_epoch=initial_epoch,
                    steps_per_epoch=train["steps_per_epoch"],
                    callbacks=callbacks,
                    shuffle=False,  # the dataset shuffles itself
                    verbose=verbosity(train["verbose"]) if self.is_chief else 0,
                )
            trained = True
            if stopper is not None and self.history is not None:
                self.history.record_early_stopping(stopper)
            # Counted, not configured: synchronous replicas share each step's batches.
            steps_per_epoch = (self.global_step - initial_step) // max(1, int(self.epoch.numpy()) - initial_epoch)
            # Early stopping ends the run for good; a finished epoch budget may be raised later.
            self.done.assign(bool(self.model.stop_training))
            self.manager.save(checkpoint_number=self.global_step)
        summary = {"epochs": int(self.epoch.numpy()), "steps": self.global_step, "steps_per_epoch": steps_per_epoch,
                   "train_seconds": round(time.time() - started, 1),
                   **(self.history.summary() if self.history is not None else {"history": {}})}
        if self.is_chief and self.config["train"]["verbose"]:
            print("Evaluating the trained model" + (" and exporting it..." if self.config["export"] else "..."), flush=True)
        summary.update(self.evaluate_loaded())
        if self.is_chief:
            if self.config["export"]:
                # A rerun that trained nothing keeps the export it made; `tfkit export` writes another version.
                previous = None if trained else latest_export(os.path.join(self.job_dir, "export"))
                summary["export"] = previous or self.export()
                summary["export_reused"] = previous is not None
            write_json(os.path.join(self.job_dir, "metrics.json"), summary)
        return summary

    def cross_validate(self):
        """k-fold cross-validation: one run per fold in ``job_dir/fold-<i>``, each validated on its held-out k-th.

        Each fold adapts its vocabularies and statistics on its own training
        part. Returns (and writes to ``job_dir/metrics.json``) every metric's
        per-fold values, mean and standard deviation. Rerunning resumes: a
        finished fold is only evaluated again.
        """
        folds = self.config["train"]["cross_validation"]["folds"]
        if self.task is not None:
            raise ConfigError("train.cross_validation runs its folds one after another on one machine; "
                              "run it without TF_CONFIG.")
        if self.is_chief:
            make_job_dir(self.job_dir)
            self._check_job_dir()
        started, summaries = time.time(), []
        for fold in range(folds):
            print(f"Fold {fold + 1} of {folds}", flush=True)
            config = copy.deepcopy(self.config)
            config["job_dir"], config["export"] = os.path.join(self.job_dir, f"fold-{fold}"), False
            summaries.append(Run(config, self.task, fold=(fold, folds)).train())
        summary = {"folds": folds, "epochs": summaries[0]["epochs"], "steps": sum(s["steps"] for s in summaries),
                   "train_seconds": round(time.time() - started, 1), "cross_validation": {}}
        for split in ("validation", "test"):
            if split in summaries[0]:
                summary["cross_validation"][split] = {
                    metric: _spread([s[split][metric] for s in summaries]) for metric in summaries[0][split]}
        if self.is_chief:
            write_json(os.path.join(self.job_dir, "metrics.json"), summary)
        return summary

    def evaluate_loaded(self):
        """Metrics of the model as it is, on the validation and test data: ``{split: {metric: value}}``."""
        results, baseline = {}, self._exact_gp()
        for name, dataset in (("validation", self.validation_dataset()), ("test", self.test_dataset())):
            if dataset is not None:
                with data_errors():
                    results[name] = {k: float(v) for k, v in self.model.evaluate(dataset, verbose=0, return_dict=True).items()}
                if baseline is not None:
                    results[name]["exact_gp_nll"] = float(baseline.evaluate(dataset, verbose=0, return_dict=True)["nll"])
        return results

    def _exact_gp(self):
        """On GP curves of one fixed kernel, the exact GP: the best NLL any model can reach, reported alongside."""
        data = self.config["data"]
        if data["format"] != "gp_curves" or isinstance(self.model, models.GaussianProcess):
            return None
        return models.GaussianProcess.of_curves(data["train"], x_size=self.model.x_size, y_size=self.model.y_size)

    def evaluate(self):
        """Evaluates the latest checkpoint on the validation and test data."""
        self.restore_trained()
        return self.evaluate_loaded()

    def export(self, export_dir=None):
        """Exports the current (or, when called alone, the latest checkpointed) model."""
        if self.model is None:
            self.restore_trained()
        return export_saved_model(self.model, export_dir or os.path.join(self.job_dir, "export"))

    def load_for_evaluation(self):
        """The trained model's config from job_dir, built on this device, without optimizer state."""
        if not os.path.exists(self.model_path):
            raise TfkitError(f"{self.job_dir} holds no trained model: run `tfkit train` first.")
        self.model = self._read_model()
        self.model.compile(optimizer=self.config["train"]["optimizer"])
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
