"""``tf.estimator.RunConfig``: where a run writes, how often it checkpoints, and its place in a ``TF_CONFIG`` cluster."""

import json

from tfkit.distribute import cluster

_DEFAULT_CHECKPOINT_SECONDS = 600
_DEFAULT = object()  # an argument not given (None, given, means "none")


class RunConfig:
    """How an estimator runs (``tf.estimator.RunConfig``'s arguments and properties).

    Checkpoints are saved every ``save_checkpoints_steps`` steps, or every
    ``save_checkpoints_secs`` seconds (600 when neither is given), and at the end
    of each ``train``; the newest ``keep_checkpoint_max`` are kept. Summaries
    for TensorBoard are written every ``save_summary_steps`` steps. The task
    (``task_type``, ``task_id``, ``is_chief``, ``cluster_spec``, ...) is read from
    the ``TF_CONFIG`` environment variable, as TensorFlow reads it.
    ``train_distribute`` takes a ``tf.distribute`` strategy (MirroredStrategy,
    or a ParameterServerStrategy on a cluster).

    Example:

    >>> from tfkit.estimator import RunConfig
    >>> config = RunConfig(model_dir="/tmp/census", save_checkpoints_steps=500)
    >>> config.save_checkpoints_secs, config.keep_checkpoint_max, config.task_type, config.is_chief
    (None, 5, 'worker', True)
    >>> config.replace(keep_checkpoint_max=1).keep_checkpoint_max
    1
    """

    _SUPPORTED_IGNORED = ("session_config", "device_fn", "protocol", "experimental_max_worker_delay_secs",
                          "session_creation_timeout_secs", "checkpoint_save_graph_def", "keep_checkpoint_every_n_hours",
                          "eval_distribute", "experimental_distribute")

    def __init__(self, model_dir=None, tf_random_seed=None, save_summary_steps=100, save_checkpoints_steps=_DEFAULT,
                 save_checkpoints_secs=_DEFAULT, session_config=None, keep_checkpoint_max=5,
                 keep_checkpoint_every_n_hours=10000, log_step_count_steps=100, train_distribute=None, device_fn=None,
                 protocol=None, eval_distribute=None, experimental_distribute=None, experimental_max_worker_delay_secs=None,
                 session_creation_timeout_secs=7200, checkpoint_save_graph_def=True):
        if save_checkpoints_steps is _DEFAULT and save_checkpoints_secs is _DEFAULT:
            save_checkpoints_steps, save_checkpoints_secs = None, _DEFAULT_CHECKPOINT_SECONDS
        # Given one, the other is None; both None: no checkpoints but the one at the end of each train.
        save_checkpoints_steps = None if save_checkpoints_steps is _DEFAULT else save_checkpoints_steps
        save_checkpoints_secs = None if save_checkpoints_secs is _DEFAULT else save_checkpoints_secs
        if save_checkpoints_steps is not None and save_checkpoints_secs is not None:
            raise ValueError("`save_checkpoints_steps` and `save_checkpoints_secs` cannot be both set.")
        for name, value in (("save_checkpoints_steps", save_checkpoints_steps), ("save_checkpoints_secs", save_checkpoints_secs),
                            ("save_summary_steps", save_summary_steps), ("keep_checkpoint_max", keep_checkpoint_max)):
            if value is not None and value < 0:
                raise ValueError(f"{name} should be >= 0")
        if log_step_count_steps is not None and log_step_count_steps <= 0:
            raise ValueError("log_step_count_steps should be > 0")
        if tf_random_seed is not None and not isinstance(tf_random_seed, int):
            raise ValueError("tf_random_seed must be integer.")
        self._model_dir = model_dir
        self._tf_random_seed = tf_random_seed
        self._save_summary_steps = save_summary_steps
        self._save_checkpoints_steps = save_checkpoints_steps
        self._save_checkpoints_secs = save_checkpoints_secs
        self._keep_checkpoint_max = keep_checkpoint_max
        self._keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self._log_step_count_steps = log_step_count_steps
        self._train_distribute = train_distribute
        self._eval_distribute = eval_distribute
        self._session_config = session_config
        self._task = cluster.from_tf_config()

    # -- what the run writes --------------------------------------------------------------------------------------
    model_dir = property(lambda self: self._model_dir)
    tf_random_seed = property(lambda self: self._tf_random_seed)
    save_summary_steps = property(lambda self: self._save_summary_steps)
    save_checkpoints_steps = property(lambda self: self._save_checkpoints_steps)
    save_checkpoints_secs = property(lambda self: self._save_checkpoints_secs)
    keep_checkpoint_max = property(lambda self: self._keep_checkpoint_max)
    keep_checkpoint_every_n_hours = property(lambda self: self._keep_checkpoint_every_n_hours)
    log_step_count_steps = property(lambda self: self._log_step_count_steps)
    train_distribute = property(lambda self: self._train_distribute)
    eval_distribute = property(lambda self: self._eval_distribute)
    session_config = property(lambda self: self._session_config)

    # -- the task, from TF_CONFIG ---------------------------------------------------------------------------------
    @property
    def task(self):
        """tfkit's :class:`~tfkit.distribute.cluster.Task` of ``TF_CONFIG``, or None outside a cluster."""
        return self._task

    @property
    def cluster_spec(self):
        import tensorflow as tf

        return tf.train.ClusterSpec(self._task.cluster if self._task else {})

    @property
    def task_type(self):
        return self._task.type if self._task else "worker"

    @property
    def task_id(self):
        return self._task.index if self._task else 0

    @property
    def is_chief(self):
        return self._task is None or self._task.is_chief

    @property
    def num_ps_replicas(self):
        return self._task.num_ps if self._task else 0

    @property
    def num_worker_replicas(self):
        if self._task is None:
            return 1
        return self._task.num_workers + len(self._task.cluster.get("chief", ()))

    @property
    def global_id_in_cluster(self):
        """The task's index among chief, workers and ps (in that order), as TensorFlow numbers them."""
        if self._task is None:
            return 0
        order = [job for job in ("chief", "worker", "ps") if job in self._task.cluster]
        before = sum(len(self._task.cluster[job]) for job in order[: order.index(self._task.type)]) \
            if self._task.type in order else 0
        return before + self._task.index

    @property
    def master(self):
        return "" if self._task is None or self._task.type == "evaluator" else f"grpc://{self._task.address}"

    @property
    def evaluation_master(self):
        return ""

    def replace(self, **kwargs):
        """A copy with the given arguments replaced (``RunConfig.replace``)."""
        arguments = {name: getattr(self, f"_{name}", None) for name in (
            "model_dir", "tf_random_seed", "save_summary_steps", "save_checkpoints_steps", "save_checkpoints_secs",
            "session_config", "keep_checkpoint_max", "keep_checkpoint_every_n_hours", "log_step_count_steps",
            "train_distribute", "eval_distribute")}
        if "save_checkpoints_steps" in kwargs and "save_checkpoints_secs" not in kwargs:
            arguments["save_checkpoints_secs"] = None
        if "save_checkpoints_secs" in kwargs and "save_checkpoints_steps" not in kwargs:
            arguments["save_checkpoints_steps"] = None
        unknown = sorted(set(kwargs) - set(arguments) - set(self._SUPPORTED_IGNORED))
        if unknown:
            raise ValueError(f"{', '.join(unknown)} are not allowed to be replaced.")
        arguments.update({k: v for k, v in kwargs.items() if k in arguments})
        return RunConfig(**arguments)

    def __repr__(self):
        shown = {"model_dir": self.model_dir, "task_type": self.task_type, "task_id": self.task_id,
                 "save_checkpoints_steps": self.save_checkpoints_steps, "save_checkpoints_secs": self.save_checkpoints_secs}
        return f"RunConfig({json.dumps(shown)})"
