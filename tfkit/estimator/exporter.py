"""Exporters (``tf.estimator.FinalExporter``, ``LatestExporter``, ``BestExporter``): what ``train_and_evaluate``
exports after each evaluation, into ``model_dir/export/<exporter name>/<timestamp>/``."""

import glob
import os
import shutil

import tensorflow as tf


class Exporter:
    """An exporter has a ``name`` and ``export(estimator, export_path, checkpoint_path, eval_result,
    is_the_final_export)``, which returns the export's path or None."""

    @property
    def name(self):
        raise NotImplementedError

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
        raise NotImplementedError


class _SavedModelExporter(Exporter):
    def __init__(self, name, serving_input_receiver_fn, assets_extra=None, as_text=False):
        if not isinstance(name, str) or not name:
            raise ValueError(f"An exporter needs a name (a non-empty string). Given: {name!r}")
        if not callable(serving_input_receiver_fn):
            raise ValueError("serving_input_receiver_fn must be defined.")
        self._name, self._receiver_fn = name, serving_input_receiver_fn
        self._assets_extra, self._as_text = assets_extra, as_text

    @property
    def name(self):
        return self._name

    def _write(self, estimator, export_path, checkpoint_path):
        return estimator.export_saved_model(export_path, self._receiver_fn, assets_extra=self._assets_extra,
                                            as_text=self._as_text, checkpoint_path=checkpoint_path)


class FinalExporter(_SavedModelExporter):
    """Exports once, after the last evaluation (``tf.estimator.FinalExporter``).

    Example:

    >>> import tfkit
    >>> receiver_fn = tfkit.estimator.export.build_parsing_serving_input_receiver_fn({})
    >>> tfkit.estimator.FinalExporter("census", receiver_fn).name
    'census'
    """

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
        return self._write(estimator, export_path, checkpoint_path) if is_the_final_export else None


class LatestExporter(_SavedModelExporter):
    """Exports after each evaluation, keeping the newest ``exports_to_keep`` (``tf.estimator.LatestExporter``)."""

    def __init__(self, name, serving_input_receiver_fn, assets_extra=None, as_text=False, exports_to_keep=5):
        super().__init__(name, serving_input_receiver_fn, assets_extra, as_text)
        if exports_to_keep is not None and exports_to_keep <= 0:
            raise ValueError("`exports_to_keep`, if provided, must be positive number")
        self._exports_to_keep = exports_to_keep

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
        path = self._write(estimator, export_path, checkpoint_path)
        _keep_newest(export_path, self._exports_to_keep)
        return path


def _loss_smaller(best_eval_result, current_eval_result):
    """``BestExporter``'s default ``compare_fn``: whether the current evaluation's ``loss`` is smaller."""
    for result in (best_eval_result, current_eval_result):
        if not result or "loss" not in result:
            raise ValueError("best_eval_result and current_eval_result cannot be empty and must hold 'loss'.")
    return best_eval_result["loss"] > current_eval_result["loss"]


class BestExporter(_SavedModelExporter):
    """Exports when an evaluation is the best yet by ``compare_fn`` (default: smaller ``loss``), keeping the newest
    ``exports_to_keep`` (``tf.estimator.BestExporter``). The best so far is read back from the evaluations' event files
    (``event_file_pattern`` under ``model_dir``), so a restarted job does not export a worse model."""

    def __init__(self, name="best_exporter", serving_input_receiver_fn=None, event_file_pattern="eval/*.tfevents.*",
                 compare_fn=_loss_smaller, assets_extra=None, as_text=False, exports_to_keep=5):
        super().__init__(name, serving_input_receiver_fn, assets_extra, as_text)
        if not callable(compare_fn):
            raise ValueError("`compare_fn` must be callable.")
        if exports_to_keep is not None and exports_to_keep <= 0:
            raise ValueError("`exports_to_keep`, if provided, must be a positive number. Got %s" % exports_to_keep)
        self._compare_fn, self._event_file_pattern, self._exports_to_keep = compare_fn, event_file_pattern, exports_to_keep
        self._best = None

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
        if self._best is None and self._event_file_pattern:
            self._best = _best_in_events(os.path.join(estimator.model_dir, self._event_file_pattern), self._compare_fn,
                                         eval_result)
        if self._best is not None and not self._compare_fn(self._best, eval_result):
            return None
        self._best = dict(eval_result)
        path = self._write(estimator, export_path, checkpoint_path)
        _keep_newest(export_path, self._exports_to_keep)
        return path


def read_eval_metrics(eval_dir_or_pattern):
    """``{step: {metric: value}}`` of the evaluations recorded in an eval dir's event files (or those a glob matches),
    by step (``tf.estimator.experimental.read_eval_metrics``'s result)."""
    pattern = eval_dir_or_pattern if glob.has_magic(eval_dir_or_pattern) else \
        os.path.join(eval_dir_or_pattern, "events.out.tfevents.*")
    by_step = {}
    for path in glob.glob(pattern):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.HasField("tensor") or value.HasField("simple_value"):
                    number = value.simple_value if value.HasField("simple_value") else float(tf.make_ndarray(value.tensor))
                    by_step.setdefault(event.step, {})[value.tag] = number
    return dict(sorted(by_step.items()))


def _best_in_events(pattern, compare_fn, current):
    """The best evaluation recorded in the event files (each step's scalars), other than ``current``'s step."""
    best = None
    for step, result in read_eval_metrics(pattern).items():
        if step == current.get("global_step") or "loss" not in result:
            continue
        if best is None or compare_fn(best, result):
            best = result
    return best


def _keep_newest(export_path, keep):
    if keep is None or not os.path.isdir(export_path):
        return
    versions = sorted((name for name in os.listdir(export_path) if name.isdigit() and len(name) == 10), key=int)
    for name in versions[:-keep]:
        shutil.rmtree(os.path.join(export_path, name), ignore_errors=True)
