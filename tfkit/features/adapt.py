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
        if summaries:
            out["summaries"] = summaries
        if readers:
            raw_keys = sorted({key for column in closure(readers) for key in column.input_specs()})
            out["features"] = {key: features[key] for key in raw_keys if key in features}
        if labels is not None and any(column.adapt_needs_labels for column in readers):
            out["labels"] = labels
        return out


class Adapter:
    """The adapt pass of ``columns`` in parts: :meth:`summarize` reduces a batch (in a ``tf.data`` pipeline, on any
    machine), :meth:`merge` adds a summary's numpy value to the columns' accumulators, :meth:`finish` stores what
    was learned. Summaries merge in any order: a cluster's workers summarize their own files and the chief merges
    them (see :func:`tfkit.distribute.worker_adapt.adapt_on_workers`) into what one pass over every file learns.
    """

    def __init__(self, columns):
        self.columns = columns
        self.pending = [c for c in closure(columns) if c.needs_adapt]
        self.summarize = tf.autograph.experimental.do_not_convert(_Summarizer(self.pending))
        self.accumulators = {c.name: c.adapt_accumulator() for c in self.pending}
        self.batches = self.rows = 0

    def summarized(self, data):
        """The summaries of a dataset's batches, made in its pipeline, in parallel with reading.

        The pass runs with tf.data's autotuning off, so that each parallel stage (parsing above all) runs on every
        core: one long CPU-bound pass is what its hill-climbing misjudges. Census ×100's adapt pass took 11.5 s in
        each of three runs with it and 5.7–7.4 s without it (``bench/scale.py``).
        """
        options = tf.data.Options()
        options.autotune.enabled = False
        return data.map(self.summarize, num_parallel_calls=tf.data.AUTOTUNE).with_options(options)

    def summaries(self, data, steps=None):
        """The numpy summaries of ``data``'s batches (a dataset, summarized in its pipeline, or an iterable)."""
        if isinstance(data, tf.data.Dataset):
            if steps is not None:
                data = data.take(steps)
            yield from self.summarized(data).prefetch(2).as_numpy_iterator()
            return
        for step, batch in enumerate(data):
            if steps is not None and step >= steps:
                return
            element = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
            yield tf.nest.map_structure(np.asarray, self.summarize(*element))

    def merge(self, batch):
        """Adds one summary (numpy) to the accumulators; returns its rows."""
        summaries = batch.get("summaries", {})
        for column in self.pending:
            accumulator = self.accumulators[column.name]
            if column.name in summaries:
                column.adapt_merge(accumulator, summaries[column.name])
            elif column.adapt_needs_labels:
                column.adapt_update(accumulator, batch["features"], batch.get("labels"))
            else:
                column.adapt_update(accumulator, batch["features"])
        self.batches += 1
        self.rows += int(batch["rows"])
        return int(batch["rows"])

    def finish(self):
        """Stores the learned state into every column (copies with the same name included)."""
        if not self.batches:
            raise TfkitError("adapt received no data: the dataset is empty.")
        for column in _every_object(self.columns):
            if column.name in self.accumulators and column.needs_adapt:
                column.adapt_finish(self.accumulators[column.name])


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
    adapter = Adapter(columns)
    if not adapter.pending:
        return
    for batch in adapter.summaries(data, steps):
        adapter.merge(batch)
        if progress is not None:
            progress(adapter.rows)
    adapter.finish()
