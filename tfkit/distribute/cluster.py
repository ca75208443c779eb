"""Clusters: the task ``TF_CONFIG`` describes, its TensorFlow server, and clusters on localhost.

A cluster has a ``chief`` (runs the training program: the coordinator of a
parameter-server cluster, or worker 0 of a multi-worker one), ``worker`` tasks,
``ps`` tasks holding the variables, and optionally an ``evaluator`` outside the
cluster that evaluates checkpoints as they appear. ``TF_CONFIG`` is the JSON
that Kubernetes ``TFJob``, managed training services and ``tfkit launch`` set
in each process::

    {"cluster": {"chief": ["host0:2222"], "worker": ["host1:2222"], "ps": ["host2:2222"]},
     "task": {"type": "worker", "index": 0}}
"""

import dataclasses
import json
import os
import signal
import socket
import sys
import time

from tfkit.io.files import write_json

ROLES = ("chief", "worker", "ps", "evaluator")
CHIEF_DONE = "chief_done.json"
# A marker counts if written after a task started, give or take clock skew between machines.
CLOCK_SKEW_SECONDS = 30


@dataclasses.dataclass(frozen=True)
class Task:
    """This process's place in a cluster: the cluster (``{job: [address, ...]}``), its type and index."""

    cluster: dict
    type: str
    index: int = 0

    @property
    def is_chief(self):
        """Whether this task writes the run's checkpoints, summaries, metrics and export."""
        return self.type == "chief" or (self.type == "worker" and self.index == 0 and "chief" not in self.cluster)

    @property
    def address(self):
        return self.cluster[self.type][self.index]

    def task_at(self, text):
        """``"ps:0 (host:port)"`` for a cluster task that ``text`` (an error) mentions, ps first, else None.

        Workers report a lost ps in their own errors, so the ps is the likelier culprit.
        """
        for job in sorted(self.cluster, key=lambda job: job != "ps"):
            for index, address in enumerate(self.cluster[job]):
                if address in text or f"/job:{job}/replica:0/task:{index}" in text:
                    return f"{job}:{index} ({address})"
        return None

    @property
    def num_workers(self):
        return len(self.cluster.get("worker", ()))

    @property
    def num_ps(self):
        return len(self.cluster.get("ps", ()))


def from_tf_config(environ=None):
    """The :class:`Task` that ``TF_CONFIG`` describes, or None when it is unset (one process).

    Example:

    >>> config = '{"cluster": {"chief": ["a:1"], "worker": ["b:1"], "ps": ["c:1"]}, "task": {"type": "ps", "index": 0}}'
    >>> task = from_tf_config({"TF_CONFIG": config})
    >>> task.type, task.address, task.is_chief, task.num_ps
    ('ps', 'c:1', False, 1)
    >>> from_tf_config({"TF_CONFIG": '{"cluster": {"master": ["a:1"], "ps": ["c:1"]}, "task": {"type": "master"}}'}).type
    'chief'
    """
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
        cluster, task = dict(config.get("cluster") or {}), config.get("task") or {}
        if not cluster and not task:
            return None  # an empty TF_CONFIG, as some launchers set one: a single process
        # Cloud ML Engine's older TF_CONFIG names the chief "master".
        if "master" in cluster:
            cluster["chief"] = cluster.pop("master")
        task_type, index = task["type"], int(task.get("index", 0))
        task_type = "chief" if task_type == "master" else task_type
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise _error(f"TF_CONFIG is not valid: {error!r}. Expected JSON like "
                     '{"cluster": {"worker": ["host:port"]}, "task": {"type": "worker", "index": 0}}.') from None
    if task_type not in ROLES:
        raise _error(f"TF_CONFIG task type {task_type!r} is not one of {', '.join(ROLES)}.")
    unknown = sorted(set(cluster) - set(ROLES))
    if unknown:
        raise _error(f"TF_CONFIG cluster has unknown job(s) {unknown}; expected {', '.join(ROLES[:3])}.")
    if task_type != "evaluator" and not 0 <= index < len(cluster.get(task_type, ())):
        raise _error(f"TF_CONFIG task {task_type}:{index} is not in the cluster {cluster}.")
    return Task({job: list(addresses) for job, addresses in cluster.items()}, task_type, index)


def _error(message):
    from tfkit.errors import ConfigError

    return ConfigError(message)


def free_ports(count):
    """``count`` distinct free TCP ports on 127.0.0.1.

    Example:

    >>> ports = free_ports(3)
    >>> len(set(ports)) == 3 and all(0 < port < 65536 for port in ports)
    True
    """
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start_server(task):
    """Starts this task's TensorFlow gRPC server (for ``ps`` and ``worker`` tasks) and returns it."""
    import tensorflow as tf

    cluster = {job: addresses for job, addresses in task.cluster.items() if job != "evaluator"}
    config = tf.compat.v1.ConfigProto()
    if task.type == "worker":
        # Workers run several scheduled functions at once; with too few inter-op threads they
        # deadlock on small machines (TF's parameter-server tutorial sets the same).
        config.inter_op_parallelism_threads = max(config.inter_op_parallelism_threads, task.num_workers + 1)
    return tf.distribute.Server(
        tf.train.ClusterSpec(cluster), job_name=task.type, task_index=task.index, protocol="grpc", config=config, start=True
    )


def local_cluster_spec(num_workers, num_ps=0, chief=True, host="127.0.0.1"):
    """``{"chief": [...], "worker": [...], "ps": [...]}`` on free ports of ``host`` (no ps key without ps)."""
    jobs = {"chief": 1 if chief else 0, "worker": num_workers, "ps": num_ps}
    ports = iter(free_ports(sum(jobs.values())))
    return {job: [f"{host}:{next(ports)}" for _ in range(count)] for job, count in jobs.items() if count or job == "worker"}


def local_cluster(num_workers=2, num_ps=1):
    """Starts an in-process cluster of TensorFlow servers on free localhost ports.

    Returns ``(resolver, servers)``: a cluster resolver for
    ``tfkit.distribute.get("parameter_server", cluster_resolver=resolver)``
    and the servers, which live as long as the process. For trying
    parameter-server training in one process (tests, notebooks); real clusters
    come from ``TF_CONFIG``.
    """
    import tensorflow as tf

    cluster = local_cluster_spec(num_workers, num_ps, chief=False)
    servers = [start_server(Task(cluster, job, index)) for job in cluster for index in range(len(cluster[job]))]
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(tf.train.ClusterSpec(cluster), rpc_layer="grpc")
    return resolver, servers


def mark_chief_done(job_dir):
    """Tells the other tasks (which poll ``job_dir``) that the chief has finished."""
    path = os.path.join(job_dir, CHIEF_DONE)
    write_json(path, {"time": time.time()})


def chief_done_since(job_dir, started):
    """Whether the chief marked the run done after ``started`` (a ``time.time()``)."""
    try:
        with open(os.path.join(job_dir, CHIEF_DONE), encoding="utf-8") as f:
            return json.load(f)["time"] >= started - CLOCK_SKEW_SECONDS
    except (OSError, ValueError, KeyError):
        return False


def serve(task, job_dir, poll_seconds=1.0):
    """Runs a ``ps`` or ``worker`` task of a parameter-server cluster until the chief is done.

    The chief schedules all the work onto this server; the task only waits.
    It exits when the chief marks the run done, so no process is left behind.
    A chief that dies without finishing leaves the task serving, ready for the
    restarted chief to resume with.
    """
    started = time.time()
    server = start_server(task)
    print(f"{task.type}:{task.index} serving at {task.address}; waiting for the chief to finish.", flush=True)
    while not chief_done_since(job_dir, started):
        time.sleep(poll_seconds)
    print(f"{task.type}:{task.index}: the chief is done; exiting.", flush=True)
    return server


def serve_if_only_serving(task, job_dir):
    """On a ps task, or a worker of a parameter-server cluster: serve until the chief is done, then exit the process.

    Such tasks only serve: the chief schedules the work. SIGTERM (``tfkit
    launch`` stopping the cluster) ends them quietly. Other tasks return at once.
    """
    if task is None or not (task.type == "ps" or (task.type == "worker" and task.num_ps)):
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    serve(task, job_dir)
    sys.stdout.flush()
    os._exit(0)  # the gRPC server cannot be stopped; don't wait for its threads


def exit_if_parameter_server_task(status):
    """Ends this process now with ``status`` if it is a task of a parameter-server cluster (``TF_CONFIG``).

    Call it once everything is written. A normal shutdown would free the
    functions the process made, and TensorFlow would ask every task to remove
    each one, logging gRPC errors for those a task never had.
    """
    from tfkit.errors import TfkitError

    try:
        task = from_tf_config()
    except TfkitError:  # a TF_CONFIG the command has already reported
        return
    if task is not None and task.num_ps:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
