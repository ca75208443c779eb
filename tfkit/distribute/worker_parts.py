"""A different part of the data on each worker of a parameter-server cluster.

``ClusterCoordinator.create_per_worker_dataset`` runs one dataset function on
every worker, and ``ParameterServerStrategy`` gives that function the same
input context everywhere (``input_pipeline_id`` 0 of 1): each worker reads all
the data. To give each its own part, :func:`per_worker_iterator` creates each
worker's iterator with a function of its own, the worker's index a constant in
it, as ``create_per_worker_dataset`` creates one function's iterator on all.

This uses the coordinator's workers' ``create_resource`` (what
``create_per_worker_dataset`` itself calls; TensorFlow has no public way to
tell workers apart in a dataset function).
"""

import tensorflow as tf
from tensorflow.python.distribute import input_lib
from tensorflow.python.distribute.coordinator import values as coordinator_values


def per_worker_iterator(coordinator, dataset_fn):
    """An iterator over ``dataset_fn(index, num_workers)`` on each worker, to pass to scheduled functions.

    ``dataset_fn`` takes the worker's index and the number of workers (ints)
    and returns that worker's ``tf.data.Dataset`` (repeat
    it: functions are scheduled by count, not until the data ends). All
    workers' datasets must have the same element structure. A worker that is
    lost and comes back gets its iterator made again (from the start of its part).
    """
    workers = coordinator._cluster.workers
    spec = input_lib.get_iterator_spec_from_dataset(coordinator.strategy, _first_part(dataset_fn, len(workers)))
    iterators = []
    for index, worker in enumerate(workers):
        # A function per worker, its index a constant of it: the worker reads its part only. Not converted by
        # AutoGraph: a dataset function's Python runs once, as it is written (its datasets' own functions are
        # traced by tf.data).
        make_iterator = tf.function(lambda index=index: iter(dataset_fn(index, len(workers))), autograph=False)
        iterator = worker.create_resource(make_iterator)
        iterator._type_spec = spec  # what functions taking the iterator are traced with
        iterators.append(iterator)
    return coordinator_values.PerWorkerDistributedIterator(tuple(iterators))


def _first_part(dataset_fn, num_workers):
    return tf.function(lambda: dataset_fn(0, num_workers), autograph=False).get_concrete_function().structured_outputs


def element_spec(dataset_fn, num_workers):
    """The element spec of ``dataset_fn``'s datasets (all workers' are the same), traced, not read."""
    return _first_part(dataset_fn, num_workers).element_spec
