"""Strategies by name: the lookup, ``"auto"`` resolved in one place, and what runs where."""

import tensorflow as tf

from tfkit.distribute import cluster
from tfkit.distribute.parameter_server import is_parameter_server
from tfkit.errors import ConfigError
from tfkit.layers.lookup import is_creating_table

# Tables above this size are sharded over the parameter servers (one shard per 256 KiB, at most one per ps).
DEFAULT_MIN_SHARD_BYTES = 256 << 10


class TablePartitioner(tf.distribute.experimental.partitioners.Partitioner):
    """Shards lookup tables (embeddings, linear weights) over the ps tasks, and nothing else.

    A table gets one shard per ``min_shard_bytes``, at most ``max_shards``.
    Tables are the variables tfkit's layers create inside
    :func:`tfkit.layers.lookup.creating_tables`; they are only ever read row
    by row, which works on shards. Dense and convolution kernels stay whole on
    one ps, since Keras layers read them as one tensor.
    """

    def __init__(self, min_shard_bytes=DEFAULT_MIN_SHARD_BYTES, max_shards=1):
        self._by_size = tf.distribute.experimental.partitioners.MinSizePartitioner(min_shard_bytes, max_shards)

    def __call__(self, shape, dtype, axis=0):
        if not is_creating_table():
            return [1] * len(shape)
        return self._by_size(shape, dtype, axis)


def _default():
    return tf.distribute.get_strategy()


def _mirrored(devices=None):
    if devices is None:
        gpus = tf.config.list_logical_devices("GPU")
        # Without GPUs, mirror over the logical CPU devices (one unless configured otherwise).
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices=list(devices))


def _multi_worker_mirrored():
    return tf.distribute.MultiWorkerMirroredStrategy()


def _parameter_server(cluster_resolver=None, min_shard_bytes=DEFAULT_MIN_SHARD_BYTES, max_shards=None):
    if cluster_resolver is None:
        task = cluster.from_tf_config()
        if task is None or not task.num_ps:
            raise ConfigError("strategy parameter_server needs a cluster with ps tasks: set TF_CONFIG (or run `tfkit launch --ps 1`).")
        # From tfkit's reading of TF_CONFIG (which takes an old "master" for the chief), as TensorFlow's would.
        cluster_resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(task.cluster), task_type=task.type, task_id=task.index, rpc_layer="grpc")
    num_ps = len(cluster_resolver.cluster_spec().as_dict().get("ps", ()))
    partitioner = TablePartitioner(min_shard_bytes, max_shards=max_shards or max(1, num_ps))
    return tf.distribute.experimental.ParameterServerStrategy(cluster_resolver, variable_partitioner=partitioner)


_STRATEGIES = {
    "default": _default,
    "mirrored": _mirrored,
    "multi_worker_mirrored": _multi_worker_mirrored,
    "parameter_server": _parameter_server,
}


def names():
    return sorted(_STRATEGIES) + ["auto"]


def resolve_auto(task=None):
    """The strategy name ``"auto"`` stands for here, from ``TF_CONFIG`` (or ``task``) and the visible GPUs."""
    task = cluster.from_tf_config() if task is None else task
    if task is not None and task.num_ps:
        return "parameter_server"
    if task is not None and task.num_workers + len(task.cluster.get("chief", ())) > 1:
        return "multi_worker_mirrored"
    return "mirrored" if len(tf.config.list_logical_devices("GPU")) > 1 else "default"


def get(identifier="auto", **options):
    """A ``tf.distribute.Strategy`` from a name, a config dict ``{"name": ..., **options}`` or an instance.

    Options: ``devices`` for ``mirrored``; ``cluster_resolver``,
    ``min_shard_bytes`` and ``max_shards`` for ``parameter_server``.

    Example:

    >>> from tfkit import distribute
    >>> type(distribute.get("default")).__name__
    '_DefaultDistributionStrategy'
    >>> distribute.get("mirrored", devices=["/cpu:0"]).num_replicas_in_sync
    1
    >>> distribute.get({"name": "mirrored", "gpus": 2})
    Traceback (most recent call last):
    ...
    tfkit.errors.ConfigError: strategy mirrored does not take gpus; it takes: devices.
    """
    if isinstance(identifier, tf.distribute.Strategy):
        return identifier
    if isinstance(identifier, dict):
        options = {**identifier, **options}
        identifier = options.pop("name", "auto")
    if identifier == "auto":
        identifier = resolve_auto()
    if identifier not in _STRATEGIES:
        raise ConfigError(f"Unknown strategy {identifier!r}. Expected one of: {', '.join(names())}.")
    factory = _STRATEGIES[identifier]
    accepted = factory.__code__.co_varnames[: factory.__code__.co_argcount]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        takes = ", ".join(accepted) or "no options"
        raise ConfigError(f"strategy {identifier} does not take {', '.join(unknown)}; it takes: {takes}.")
    return factory(**options)


def describe(strategy):
    """One line saying where ``strategy`` runs, e.g. ``"parameter_server: 2 workers, 1 ps"``.

    Example:

    >>> from tfkit import distribute
    >>> distribute.describe(distribute.get("default"))
    'default: one device'
    """
    if is_parameter_server(strategy):
        return f"parameter_server: {strategy.extended._num_workers} workers, {strategy.extended._num_ps} ps"
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        workers = strategy.extended._num_workers
        return f"multi_worker_mirrored: {workers} workers, {strategy.num_replicas_in_sync} replicas"
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        return f"mirrored: {strategy.num_replicas_in_sync} replicas"
    return "default: one device"


def single_device_copy(model):
    """``model`` itself, or, if it was built under a strategy, a copy with its weights on this device.

    Variables of a cluster live on parameter servers (maybe sharded) or are
    mirrored; the copy's live on this process's default device, so what is
    saved from it (an export) holds no cluster or device placement. Call it
    outside any strategy scope.
    """
    if model._distribute_strategy is None:
        return model
    if tf.distribute.has_strategy():
        raise RuntimeError("single_device_copy must be called outside a strategy scope.")
    import keras

    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    copy.build()
    copy_weights(copy, model)
    return copy


def copy_weights(target, source):
    """Assigns every weight of ``source`` to the same weight of ``target`` (a copy of it), each read once.

    A sharded table reads back as one tensor: its shards concatenated.
    """
    for to, weight in zip(target.weights, source.weights):
        to.assign(tf.convert_to_tensor(weight.value))
