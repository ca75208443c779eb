"""``tf.estimator.train_and_evaluate``: training with evaluations (and exports) as checkpoints are saved."""

import collections
import logging
import os
import time

from tfkit.distribute import cluster
from tfkit.estimator.exporter import Exporter
from tfkit.estimator.hooks import CheckpointSaverListener

log = logging.getLogger("tfkit.estimator")


class TrainSpec(collections.namedtuple("TrainSpec", ["input_fn", "max_steps", "hooks", "saving_listeners"])):
    """What to train on (``input_fn``) and for how long (``max_steps``, global; None: until the input ends)."""

    def __new__(cls, input_fn, max_steps=None, hooks=None, saving_listeners=None):
        if not callable(input_fn):
            raise TypeError(f"`input_fn` must be callable, given: {input_fn}")
        if max_steps is not None and max_steps <= 0:
            raise ValueError(f"Must specify max_steps > 0, given: {max_steps}")
        return super().__new__(cls, input_fn, max_steps, tuple(hooks or ()), tuple(saving_listeners or ()))


class EvalSpec(collections.namedtuple("EvalSpec", ["input_fn", "steps", "name", "hooks", "exporters", "start_delay_secs",
                                                   "throttle_secs"])):
    """What to evaluate on (``steps`` batches of ``input_fn``; None: all), which exporters to run after each
    evaluation, and how often: at most every ``throttle_secs`` seconds, on a new checkpoint, and at the end."""

    def __new__(cls, input_fn, steps=100, name=None, hooks=None, exporters=None, start_delay_secs=120, throttle_secs=600):
        if not callable(input_fn):
            raise TypeError(f"`input_fn` must be callable, given: {input_fn}")
        if steps is not None and steps <= 0:
            raise ValueError(f"Must specify steps > 0, given: {steps}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be string, given: {name}")
        if start_delay_secs < 0:
            raise ValueError(f"Must specify start_delay_secs >= 0, given: {start_delay_secs}")
        if throttle_secs < 0:
            raise ValueError(f"Must specify throttle_secs >= 0, given: {throttle_secs}")
        exporters = () if exporters is None else tuple(exporters) if isinstance(exporters, (list, tuple)) else (exporters,)
        for exporter in exporters:
            if not isinstance(exporter, Exporter):
                raise TypeError(f"`exporters` must be an Exporter, an iterable of Exporter, or `None`, found {exporter}.")
        names = [exporter.name for exporter in exporters]
        if len(set(names)) != len(names):
            raise ValueError(f"`exporters` must have unique names. Such a name cannot be `None`. {names} was given.")
        return super().__new__(cls, input_fn, steps, name, tuple(hooks or ()), exporters, start_delay_secs, throttle_secs)


class _Evaluations(CheckpointSaverListener):
    """Evaluates (and exports) after a checkpoint is saved, at most every ``throttle_secs``: the first checkpoint
    training saves is evaluated (the estimator skipped only the one it saved at the start, which tfkit does not
    save), then those ``throttle_secs`` after the last evaluation."""

    def __init__(self, estimator, eval_spec):
        self.estimator, self.eval_spec = estimator, eval_spec
        self.last = -float("inf")
        self.results, self.exports, self.evaluated = None, [], None

    def after_save(self, session, global_step_value):
        if time.time() - self.last >= self.eval_spec.throttle_secs:
            self.evaluate(final=False)

    def evaluate(self, final):
        self.last = time.time()
        spec = self.eval_spec
        checkpoint = self.estimator.latest_checkpoint()
        if not (final and self.results and checkpoint == self.evaluated):  # the last checkpoint is evaluated once
            self.results = self.estimator.evaluate(spec.input_fn, steps=spec.steps, hooks=spec.hooks, name=spec.name,
                                                   checkpoint_path=checkpoint)
            self.evaluated = checkpoint
            log.info("Saving dict for global step %d: %s", self.results["global_step"], self.results)
        self.exports = []
        for exporter in spec.exporters:
            path = os.path.join(self.estimator.model_dir, "export", exporter.name)
            self.exports.append(exporter.export(self.estimator, path, checkpoint, self.results, final))
        return self.results


def train_and_evaluate(estimator, train_spec, eval_spec):
    """Trains ``estimator`` to ``train_spec.max_steps``, evaluating on ``eval_spec`` as checkpoints are saved and at
    the end, then runs its exporters (a ``FinalExporter`` exports then). Returns ``(eval_result, export_results)``.

    Example:

    >>> import tempfile, tensorflow as tf
    >>> import tfkit
    >>> estimator = tfkit.estimator.LinearRegressor([tfkit.feature_column.numeric_column("x")], model_dir=tempfile.mkdtemp())
    >>> def input_fn():
    ...     return tf.data.Dataset.from_tensor_slices(({"x": [1.0, 2.0, 3.0]}, [2.0, 4.0, 6.0])).batch(3).repeat()
    >>> metrics, exports = tfkit.estimator.train_and_evaluate(
    ...     estimator, tfkit.estimator.TrainSpec(input_fn, max_steps=20), tfkit.estimator.EvalSpec(input_fn, steps=1))
    >>> metrics["global_step"], exports
    (20, [])
    """
    from tfkit.estimator.estimator import _CannedEstimator

    if not isinstance(estimator, _CannedEstimator):
        raise TypeError(f"`estimator` must have type `tf.estimator.Estimator`. Got: {type(estimator)}")
    if not isinstance(train_spec, TrainSpec):
        raise TypeError(f"`train_spec` must have type `tf.estimator.TrainSpec`. Got: {type(train_spec)}")
    if not isinstance(eval_spec, EvalSpec):
        raise TypeError(f"`eval_spec` must have type `tf.estimator.EvalSpec`. Got: {type(eval_spec)}")
    task = estimator.config.task
    if task is not None and task.num_ps:
        return _on_cluster(estimator, task, train_spec, eval_spec)
    if task is not None and task.num_workers + len(task.cluster.get("chief", ())) > 1:
        raise ValueError("tfkit.estimator trains on a TF_CONFIG cluster with parameter servers (ps tasks): its "
                         "parameter-server loop. For synchronous training on several machines, use `tfkit train` "
                         "with strategy multi_worker_mirrored.")
    evaluations = _Evaluations(estimator, eval_spec)
    estimator.train(train_spec.input_fn, hooks=train_spec.hooks, max_steps=train_spec.max_steps,
                    saving_listeners=[*train_spec.saving_listeners, evaluations])
    evaluations.evaluate(final=True)
    return evaluations.results, evaluations.exports


def _on_cluster(estimator, task, train_spec, eval_spec):
    """A task of a parameter-server cluster: ps and workers serve until the chief is done (they exit then); the chief
    trains, scheduling the steps on the workers, and marks the run done; the evaluator evaluates each new checkpoint
    and runs the exporters, the last time as the final export. The chief returns ``(None, [])``, as the estimator's
    chief returned no evaluation."""
    if task.type in ("ps", "worker"):
        cluster.serve_if_only_serving(task, estimator.model_dir)  # does not return
    if task.type == "evaluator":
        return _evaluate_continuously(estimator, train_spec, eval_spec)
    try:
        estimator.train(train_spec.input_fn, hooks=train_spec.hooks, max_steps=train_spec.max_steps,
                        saving_listeners=train_spec.saving_listeners)
    finally:
        cluster.mark_chief_done(estimator.model_dir)
    return None, []


def _evaluate_continuously(estimator, train_spec, eval_spec, poll_seconds=1.0):
    """The evaluator: after ``start_delay_secs``, each new checkpoint (at most every ``throttle_secs``, but the last one
    at once) until the chief is done; its final evaluation's results and exports."""
    started = time.time()
    evaluations = _Evaluations(estimator, eval_spec)
    evaluations.last = started - eval_spec.throttle_secs + eval_spec.start_delay_secs
    while True:
        done = cluster.chief_done_since(estimator.model_dir, started)  # first: the chief's last checkpoint is never missed
        latest = estimator.latest_checkpoint()
        step = int(latest.rpartition("-")[2]) if latest else None
        final = latest is not None and (done or (train_spec.max_steps is not None and step >= train_spec.max_steps))
        due = time.time() - evaluations.last >= eval_spec.throttle_secs
        if latest is not None and latest != evaluations.evaluated and (due or final):
            evaluations.evaluate(final=final)
            if final:
                return evaluations.results, evaluations.exports
        elif done:
            if evaluations.results is not None:
                evaluations.evaluate(final=True)
            return evaluations.results, evaluations.exports
        time.sleep(poll_seconds)
