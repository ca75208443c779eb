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

Each worker's iterator gives its summaries, numbered, then endlessly a mark
that says "this worker is done"; the chief keeps two fetches per worker
scheduled until every worker has said it is done. A lost worker's fetches
are retried on the others (which read on in their own parts), and the pass
waits for the lost worker to come back: if it had sent summaries before, its
part would now be read again from the start, so the pass stops with an error
naming it (a summary numbered twice) instead of counting rows twice;
rerunning the command starts the pass again.
"""

import collections

import tensorflow as tf

from tfkit.distribute.worker_parts import per_worker_iterator
from tfkit.errors import ClusterError
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
        part = adapter.summarized(dataset_fn(index, count))
        done = tf.data.Dataset.from_tensors((index, tf.constant(-1, tf.int64), tf.nest.map_structure(_empty, part.element_spec)))
        return part.enumerate().map(lambda number, summary: (index, number, summary)).concatenate(done.repeat()).prefetch(2)

    iterator = per_worker_iterator(coordinator, summaries)
    fetch = tf.function(lambda iterator: next(iterator), autograph=False)
    parts = _Parts(strategy.extended._num_workers, adapter, progress)
    scheduled = collections.deque()
    while not parts.all_done():
        while len(scheduled) < 2 * parts.count:
            scheduled.append(coordinator.schedule(fetch, args=(iterator,)))
        parts.add(*scheduled.popleft().fetch())
    coordinator.join()
    for remote in scheduled:  # fetched after the last worker was done: marks, or (after a retry) a summary
        parts.add(*remote.fetch())
    parts.check_complete()
    adapter.finish()
    return dict(enumerate(parts.rows))


class _Parts:
    """What the chief has merged of each worker's part: the numbers of its summaries (each must come once) and
    whether its done mark came. A summary that comes twice means the worker was restarted and is reading its part
    again from the start: the pass stops (rerunning the command starts it again) rather than count rows twice."""

    def __init__(self, count, adapter, progress=None):
        self.count, self.adapter, self.progress = count, adapter, progress
        self.seen = [set() for _ in range(count)]
        self.rows = [0] * count
        self.done = set()

    def all_done(self):
        return len(self.done) == self.count

    def add(self, index, number, summary):
        index, number = int(index), int(number)
        if number < 0:
            self.done.add(index)
            return
        if number in self.seen[index]:
            if index in self.done:  # restarted after its part was read whole: nothing is missing or counted twice
                return
            raise ClusterError(f"worker {index} was restarted during the adapt pass, and would count the rows it had "
                               "read twice. Rerun the command: the pass starts again (nothing was written yet).")
        self.seen[index].add(number)
        self.rows[index] += self.adapter.merge(summary)
        if self.progress is not None:
            self.progress(self.adapter.rows)

    def check_complete(self):
        for index, seen in enumerate(self.seen):
            if seen != set(range(len(seen))):
                missing = sorted(set(range(max(seen) + 1)) - seen)
                raise ClusterError(f"worker {index}'s summaries {missing} never came: the adapt pass is incomplete. "
                                   "Rerun the command.")
