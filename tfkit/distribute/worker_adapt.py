"""The adapt pass on a parameter-server cluster's workers, each over its own files.

One machine reading every row to learn vocabularies and statistics is the
slow start of a large job: the chief would read all of the data before any
worker trains. Instead each worker summarizes its own part in its input
pipeline (:class:`tfkit.features.adapt.Adapter`: a vocabulary's values and
their counts, a numeric column's count, mean and sum of squared deviations,
the raw values only for the few columns that keep a sample, such as quantile
bins), and the chief merges the summaries as they come. Counts and moments
merge in any order, so the vocabularies are exactly those of one pass over
every file, and means and variances equal it to float64 rounding.

Each worker's iterator gives its summaries, then endlessly a mark that says
"this worker is done"; the chief schedules one fetch at a time per free
worker until every worker has said it is done. A worker lost during the pass
stops it with the coordinator's error (its part would be read twice or not
at all); rerunning the command starts the pass again.
"""

import collections

import tensorflow as tf

from tfkit.distribute.worker_parts import per_worker_iterator
from tfkit.features.adapt import Adapter


def _empty(spec):
    return tf.zeros([0 if size is None else size for size in spec.shape], spec.dtype)


def adapt_on_workers(strategy, columns, dataset_fn, progress=None):
    """Learns the state of ``columns`` (as :func:`tfkit.features.adapt`) from every worker's part of the data.

    Args:
        strategy: A ``ParameterServerStrategy``.
        columns: Feature columns.
        dataset_fn: ``dataset_fn(worker_index, num_workers)``: the batches of that worker's part, read once.
        progress: Called with the number of rows merged so far after each summary.

    Returns ``{worker_index: rows}``: the rows each worker read (empty when no column needed adapting).
    """
    adapter = Adapter(columns)
    if not adapter.pending:
        return {}
    coordinator = tf.distribute.coordinator.ClusterCoordinator(strategy)  # the strategy's one coordinator

    def summaries(index, count):
        part = dataset_fn(index, count).map(adapter.summarize, num_parallel_calls=tf.data.AUTOTUNE)
        done = tf.data.Dataset.from_tensors((index, False, tf.nest.map_structure(_empty, part.element_spec)))
        return part.map(lambda summary: (index, True, summary)).concatenate(done.repeat()).prefetch(2)

    iterator = per_worker_iterator(coordinator, summaries)
    fetch = tf.function(lambda iterator: next(iterator), autograph=False)
    count = strategy.extended._num_workers
    rows, finished, scheduled = collections.Counter(), set(), collections.deque()
    while len(finished) < count:
        while len(scheduled) < 2 * count:
            scheduled.append(coordinator.schedule(fetch, args=(iterator,)))
        index, has_rows, summary = scheduled.popleft().fetch()
        if has_rows:
            rows[int(index)] += adapter.merge(summary)
            if progress is not None:
                progress(adapter.rows)
        else:
            finished.add(int(index))
    coordinator.join()  # the marks fetched after the last worker finished
    adapter.finish()
    return {index: rows[index] for index in range(count)}
