"""A training run in a job directory, driven by a validated config.

config → columns → (adapt) → model → fit → evaluate → export, with the job
directory holding everything the run writes::

    job_dir/
      config.yaml        the resolved config
      model.json         the model config with everything adapt learned
      checkpoints/       the last ``train.keep_checkpoints`` checkpoints, ``ckpt-<global step>``
      logs/              TensorBoard event files (loss, metrics, learning rate)
      history.json       every epoch's metrics, across resumes (:mod:`tfkit.jobs.history`)
      metrics.json       final evaluation, and the tfkit, TensorFlow, Keras and Python versions that ran it
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
import os
import shutil
import statistics
import time
import warnings

import keras
import tensorflow as tf

from tfkit import distribute
from tfkit import models  # also registers the model classes that model.json names
from tfkit.data import data_errors
from tfkit.distribute import cluster
from tfkit.errors import ClusterError, ConfigError
from tfkit.export import export_saved_model, latest_export
from tfkit.io.files import write_json
from tfkit.io.versions import versions
from tfkit.jobs.checkpoints import Checkpoints, latest_checkpoint
from tfkit.jobs.datasets import RunDatasets
from tfkit.jobs.directory import make_job_dir
from tfkit.jobs.history import History
from tfkit.jobs.state import RunState
from tfkit.jobs.summaries import TensorBoard, verbosity

# Validation and test datasets of unknown length: Keras learns their length from the first pass.
warnings.filterwarnings("ignore", message="Your input ran out of data")


def _spread(values):
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values), "min": min(values), "max": max(values),
            "folds": values}


class Run:
    """One config's run in its job directory: train, cross-validate, evaluate, export. See the module docstring.

    Its parts have names: :attr:`datasets` (:class:`~tfkit.jobs.datasets.RunDatasets`,
    what the run reads) and :attr:`state` (:class:`~tfkit.jobs.state.RunState`,
    the model built or restored with its checkpoint).
    """

    def __init__(self, config, task=None, fold=None, callbacks=()):
        self.config = config
        # More Keras callbacks for fit (a tuning trial's reporter); not passed on to cross-validation folds.
        self.callbacks = list(callbacks)
        # (i, k): this run is fold i of a k-fold cross-validation, holding out the i-th k-th of train.
        self.fold = fold
        self.job_dir = config["job_dir"]
        self.task = cluster.from_tf_config() if task is None else task
        self.is_chief = self.task is None or self.task.is_chief
        self.datasets = RunDatasets(config["data"], config["train"]["seed"], fold, lambda: self.state.model,
                                    spill=None if self.task else os.path.join(self.job_dir, "data-cache"),
                                    in_process=self.task is None)
        self.state = RunState(config, self.is_chief, self.datasets)
        self.history = None

    # -- the parts' names, as callbacks, the evaluator and the commands use them ----------------------------------
    model = property(lambda self: self.state.model)
    epoch = property(lambda self: self.state.epoch)
    manager = property(lambda self: self.state.manager)
    global_step = property(lambda self: self.state.global_step)
    model_path = property(lambda self: self.state.model_path)
    checkpoint_dir = property(lambda self: self.state.checkpoint_dir)

    def train_dataset(self, training=True, batch_size=None):
        return self.datasets.train(training, batch_size)

    def validation_dataset(self):
        return self.datasets.validation()

    def test_dataset(self):
        return self.datasets.test()

    def load_for_evaluation(self):
        return self.state.load_for_evaluation()

    def restore_weights(self, path):
        return self.state.restore_weights(path)

    def restore_trained(self):
        self.state.restore_trained()

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
            self.datasets.close()
            if not self.is_chief and self.manager is not None:
                shutil.rmtree(self.manager.directory, ignore_errors=True)

    def _train(self):
        self.state.build()
        train = self.config["train"]
        initial_epoch = int(self.epoch.numpy())
        started = time.time()
        steps_per_epoch, initial_step, trained = train["steps_per_epoch"], self.global_step, False
        self.history = History(self.job_dir, initial_epoch) if self.is_chief else None
        if not self.state.done.numpy() and initial_epoch < train["epochs"]:
            if self.is_chief:
                print(f"Training on {distribute.describe(self.state.strategy)}.", flush=True)
                cache = self.datasets.describe_cache()
                if cache:
                    print(cache, flush=True)
            if initial_epoch and self.is_chief:
                print(f"Resuming from {self.manager.latest_checkpoint} (epoch {initial_epoch}, step {self.global_step}).",
                      flush=True)
            validation = self.datasets.validation()
            self.datasets.read_ahead()
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
            if self.state.worker_parts():  # each worker trains on its own files
                training, steps = self.datasets.worker_part, self.state.steps_per_epoch()
            else:
                training, steps = self.datasets.train(), train["steps_per_epoch"]
            with data_errors():
                self.model.fit(
                    training,
                    validation_data=validation,
                    epochs=train["epochs"],
                    initial_epoch=initial_epoch,
                    steps_per_epoch=steps,
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
            self.state.done.assign(bool(self.model.stop_training))
            self.manager.save(checkpoint_number=self.global_step)
        summary = {"epochs": int(self.epoch.numpy()), "steps": self.global_step, "steps_per_epoch": steps_per_epoch,
                   "train_seconds": round(time.time() - started, 1), "versions": versions(),
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
            self.state.check_job_dir()
        started, summaries = time.time(), []
        for fold in range(folds):
            print(f"Fold {fold + 1} of {folds}", flush=True)
            config = copy.deepcopy(self.config)
            config["job_dir"], config["export"] = os.path.join(self.job_dir, f"fold-{fold}"), False
            summaries.append(Run(config, self.task, fold=(fold, folds)).train())
        summary = {"folds": folds, "epochs": summaries[0]["epochs"], "steps": sum(s["steps"] for s in summaries),
                   "train_seconds": round(time.time() - started, 1), "versions": versions(), "cross_validation": {}}
        for split in ("validation", "test"):
            if split in summaries[0]:
                summary["cross_validation"][split] = {
                    metric: _spread([s[split][metric] for s in summaries]) for metric in summaries[0][split]}
        if self.is_chief:
            write_json(os.path.join(self.job_dir, "metrics.json"), summary)
        return summary

    def evaluate_loaded(self):
        """Metrics of the model as it is, on the validation and test data: ``{split: {metric: value}}``."""
        results, baseline = {}, self.exact_gp()
        for name, dataset in (("validation", self.datasets.validation()), ("test", self.datasets.test())):
            if dataset is not None:
                with data_errors():
                    results[name] = {k: float(v) for k, v in self.model.evaluate(dataset, verbose=0, return_dict=True).items()}
                if baseline is not None:
                    results[name]["exact_gp_nll"] = float(baseline.evaluate(dataset, verbose=0, return_dict=True)["nll"])
        return results

    def exact_gp(self):
        """On GP curves of one fixed kernel, the exact GP: the best NLL any model can reach, reported alongside."""
        data = self.config["data"]
        if data["format"] != "gp_curves" or isinstance(self.model, models.GaussianProcess):
            return None
        return models.GaussianProcess.of_curves(data["train"], x_size=self.model.x_size, y_size=self.model.y_size)

    def evaluate(self):
        """Evaluates the latest checkpoint on the validation and test data."""
        self.restore_trained()
        try:
            return self.evaluate_loaded()
        finally:
            self.datasets.close()

    def export(self, export_dir=None):
        """Exports the current (or, when called alone, the latest checkpointed) model."""
        if self.model is None:
            self.restore_trained()
        return export_saved_model(self.model, export_dir or os.path.join(self.job_dir, "export"))
