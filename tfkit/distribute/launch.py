"""``tfkit launch``: a cluster of local processes, each with its ``TF_CONFIG``, for development and tests.

``tfkit launch --workers 2 --ps 1 --evaluator -- tfkit train config.yaml``
picks free localhost ports, starts the command once per task (ps first, then
workers, the chief and the evaluator) with that task's ``TF_CONFIG``, prefixes
every line a process prints with its role (``[worker:1] ...``) and returns the
chief's exit status.

When the chief exits, the other tasks get a grace period to finish on their own
(ps and workers exit when the chief marks the run done; the evaluator
evaluates the last checkpoint), then are stopped. Every process started is
stopped on Ctrl-C, on SIGTERM, when the chief fails, and when a worker fails
in a cluster without ps (multi-worker mirrored training cannot go on without
it). On a parameter-server cluster a lost worker is not fatal: the chief
re-schedules its steps on the others.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time

from tfkit.distribute.cluster import local_cluster_spec

# Seconds the other tasks get to finish after the chief exits successfully, and to stop when told.
GRACE_SECONDS = {"ps": 30, "worker": 30, "evaluator": 600}
STOP_SECONDS = 10


class _Task:
    def __init__(self, role, task_type, index, command, cluster, output, lock):
        environment = dict(os.environ, PYTHONUNBUFFERED="1",
                           TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}}))
        self.role, self.type = role, task_type
        # A session of its own: stopping the task stops whatever it started too.
        self.process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        self.reader = threading.Thread(target=self._relay, args=(output, lock), daemon=True)
        self.reader.start()

    def _relay(self, output, lock):
        with self.process.stdout:  # closed at its end
            for line in iter(self.process.stdout.readline, b""):
                with lock:
                    output.write(f"[{self.role}] {line.decode(errors='replace')}")
                    output.flush()

    def signal(self, number):
        try:
            os.killpg(self.process.pid, number)
        except ProcessLookupError:
            pass


def launch(command, num_workers=2, num_ps=0, evaluator=False, output=None):
    """Runs ``command`` as every task of a local cluster; returns the chief's exit status."""
    output = output or sys.stdout
    lock = threading.Lock()
    cluster = local_cluster_spec(num_workers, num_ps)
    # The evaluator is not part of the cluster the others connect to; it knows only its own role.
    layout = [("ps", i) for i in range(num_ps)] + [("worker", i) for i in range(num_workers)] + [("chief", 0)]
    tasks = []

    def say(message):
        with lock:
            output.write(f"[launch] {message}\n")
            output.flush()

    def stop_all():
        running = [t for t in tasks if t.process.poll() is None]
        for task in running:
            task.signal(signal.SIGTERM)
        deadline = time.time() + STOP_SECONDS
        for task in running:
            try:
                task.process.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                task.signal(signal.SIGKILL)
                task.process.wait()

    previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
    try:
        for task_type, index in layout + ([("evaluator", 0)] if evaluator else []):
            role = "chief" if task_type == "chief" else "evaluator" if task_type == "evaluator" else f"{task_type}:{index}"
            tasks.append(_Task(role, task_type, index, command, cluster, output, lock))
            say(f"{role} pid {tasks[-1].process.pid}" + (f" at {cluster[task_type][index]}" if task_type in cluster else ""))
        chief = next(t for t in tasks if t.type == "chief")
        reported = set()
        while chief.process.poll() is None:
            for task in tasks:
                code = task.process.poll()
                if code is None or task in reported or task is chief:
                    continue
                reported.add(task)
                if code != 0 and task.type == "worker" and not num_ps:
                    say(f"{task.role} failed with status {code}; multi-worker training cannot go on: stopping the cluster.")
                    stop_all()
                    return _status(code)
                if code != 0:
                    say(f"{task.role} exited with status {code}" +
                        ("; the chief re-schedules its work." if task.type == "worker" else "."))
            time.sleep(0.2)
        code = chief.process.returncode
        if code == 0:
            deadlines = {t: time.time() + GRACE_SECONDS[t.type] for t in tasks if t is not chief}
            while any(t.process.poll() is None and time.time() < deadline for t, deadline in deadlines.items()):
                time.sleep(0.2)
        else:
            say(f"chief failed with status {code}: stopping the cluster.")
        stop_all()
        return _status(code)
    except KeyboardInterrupt:
        say("interrupted: stopping the cluster.")
        stop_all()
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
        for task in tasks:
            task.reader.join(timeout=5)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _status(code):
    # A process killed by signal N reports -N; shells report 128 + N.
    return 128 - code if code < 0 else code
