"""``adapt``: learn every vocabulary, boundary and statistic of a set of columns in one pass."""

import numpy as np

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


def _numpy_batches(data, steps):
    if hasattr(data, "as_numpy_iterator"):
        data = data.as_numpy_iterator()
    for step, batch in enumerate(data):
        if steps is not None and step >= steps:
            return
        labels = None
        if isinstance(batch, (tuple, list)):
            batch, labels = batch[0], (np.asarray(batch[1]) if len(batch) > 1 else None)  # (features, label[, weights])
        if not isinstance(batch, dict):
            raise TfkitError(f"adapt expects batches of feature dicts (or (features, label) tuples). Received: {type(batch).__name__}")
        yield {key: np.asarray(value) for key, value in batch.items()}, labels


def adapt(columns, data, steps=None):
    """Learns the state of every column in ``columns`` (and their parents) that needs it.

    Args:
        columns: Feature columns.
        data: A ``tf.data.Dataset`` or an iterable of batches; a batch is a
            dict of raw feature arrays, or a ``(features, label)`` tuple
            (columns that learn from the labels, such as tree-binned
            ``PiecewiseLinearColumn``, need the latter).
        steps: Read at most this many batches.

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
    batches = 0
    for batch, labels in _numpy_batches(data, steps):
        batches += 1
        for column in pending:
            if column.adapt_needs_labels:
                column.adapt_update(accumulators[column.name], batch, labels)
            else:
                column.adapt_update(accumulators[column.name], batch)
    if not batches:
        raise TfkitError("adapt received no data: the dataset is empty.")
    for column in _every_object(columns):
        if column.name in accumulators and column.needs_adapt:
            column.adapt_finish(accumulators[column.name])
