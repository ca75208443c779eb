"""``adapt``: learn every vocabulary, boundary and statistic of a set of columns in one pass.

Columns that can reduce a batch in TensorFlow (:meth:`~tfkit.features.base.Column.adapt_summary`: a vocabulary's
values and counts) do it inside the input pipeline, in parallel with reading, so that only the small summaries
reach Python; the others read the batch's raw numpy values (only the inputs they need).
"""

import numpy as np
import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features.base import closure


def _every_object(columns):
    """Every column object reachable from ``columns``, copies with the same name included."""
    found = {}

    def visit(column):
        if id(column) not in found:
            found[id(column)] = column
            for parent in column.parents:
                visit(parent)

    for column in columns:
        visit(column)
    return list(found.values())


class _Summarizer:
    """Reduces a batch to what the pending columns need: ``{"rows", "summaries"?, "features"?, "labels"?}``."""

    def __init__(self, pending):
        self.pending = pending
        self.raw_keys = None  # the inputs of the columns without a summary, known once a batch is traced

    def __call__(self, *element):
        features, labels = element[0], (element[1] if len(element) > 1 else None)
        if not isinstance(features, dict):
            raise TfkitError("adapt expects batches of feature dicts (or (features, label) tuples). "
                             f"Received: {type(features).__name__}")
        out = {"rows": tf.shape(tf.nest.flatten(features)[0], out_type=tf.int64)[0]}
        summaries, readers = {}, []
        for column in self.pending:
            summary = None if column.adapt_needs_labels else column.adapt_summary(features)
            if summary is None:
                readers.append(column)
            else:
                summaries[column.name] = summary
        self.raw_keys = sorted({key for column in closure(readers) for key in column.input_specs()})
        if summaries:
            out["summaries"] = summaries
        if readers:
            out["features"] = {key: features[key] for key in self.raw_keys if key in features}
        if labels is not None and any(column.adapt_needs_labels for column in readers):
            out["labels"] = labels
        return out


def _summaries(pending, data, steps):
    summarize = _Summarizer(pending)
    if isinstance(data, tf.data.Dataset):
        if steps is not None:
            data = data.take(steps)
        yield from data.map(tf.autograph.experimental.do_not_convert(summarize), num_parallel_calls=tf.data.AUTOTUNE).prefetch(2).as_numpy_iterator()
        return
    for step, batch in enumerate(data):
        if steps is not None and step >= steps:
            return
        element = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
        yield tf.nest.map_structure(np.asarray, summarize(*element))


def adapt(columns, data, steps=None, progress=None):
    """Learns the state of every column in ``columns`` (and their parents) that needs it.

    Args:
        columns: Feature columns.
        data: A ``tf.data.Dataset`` or an iterable of batches; a batch is a
            dict of raw feature arrays, or a ``(features, label)`` tuple
            (columns that learn from the labels, such as tree-binned
            ``PiecewiseLinearColumn``, need the latter).
        steps: Read at most this many batches.
        progress: Called with the number of rows read so far after each batch.

    Columns whose state is already known (given or adapted before) are left as
    they are. The data is read once whatever the number of columns.

    Example:

    >>> import numpy as np
    >>> from tfkit.features import CategoricalColumn, NumericColumn, adapt
    >>> columns = [NumericColumn("hours", normalize=True), CategoricalColumn("job")]
    >>> adapt(columns, [{"hours": np.array([38.0, 42.0]), "job": np.array(["clerk", "cook"])}])
    >>> columns[0].mean, columns[1].vocabulary
    ([40.0], ['clerk', 'cook'])
    """
    pending = [c for c in closure(columns) if c.needs_adapt]
    if not pending:
        return
    accumulators = {c.name: c.adapt_accumulator() for c in pending}
    batches = rows = 0
    for batch in _summaries(pending, data, steps):
        batches += 1
        summaries = batch.get("summaries", {})
        for column in pending:
            accumulator = accumulators[column.name]
            if column.name in summaries:
                column.adapt_merge(accumulator, summaries[column.name])
            elif column.adapt_needs_labels:
                column.adapt_update(accumulator, batch["features"], batch.get("labels"))
            else:
                column.adapt_update(accumulator, batch["features"])
        rows += int(batch["rows"])
        if progress is not None:
            progress(rows)
    if not batches:
        raise TfkitError("adapt received no data: the dataset is empty.")
    for column in _every_object(columns):
        if column.name in accumulators and column.needs_adapt:
            column.adapt_finish(accumulators[column.name])
