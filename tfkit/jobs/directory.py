"""A job directory, one command at a time: made with a clear error, locked while a command writes in it.

``tfkit train``, ``tune`` and ``export`` hold ``job_dir/.tfkit.lock`` while
they run, so a second command on a busy job directory stops at once, naming
the one that holds it, instead of both overwriting each other's checkpoints.
The lock is an ``flock`` on that file, which holds the owner's host, pid and
command: the kernel releases it when its process ends, however it ends, so a
lock left by a killed process is simply taken over (with a message saying
whose it was).
"""

import contextlib
import fcntl
import json
import os
import signal
import socket
import sys
import tempfile
import time

from tfkit.errors import TfkitError

LOCK_FILE = ".tfkit.lock"


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is: ``finally`` blocks run, nothing written is lost."""


def make_job_dir(job_dir):
    """Creates ``job_dir`` (and its parents) if needed; a path that cannot be a writable folder is a clear error."""
    try:
        os.makedirs(job_dir, exist_ok=True)
    except FileExistsError:
        raise TfkitError(f"job_dir {job_dir} is a file, not a folder: use another --job-dir.") from None
    except NotADirectoryError:
        raise TfkitError(f"job_dir {job_dir}: a part of the path is a file, not a folder.") from None
    except OSError as error:
        raise TfkitError(f"cannot create job_dir {job_dir}: {error.strerror}.") from None
    try:
        with tempfile.TemporaryFile(dir=job_dir):  # what writing there would meet: permissions, a read-only mount
            pass
    except OSError as error:
        raise TfkitError(f"cannot write in job_dir {job_dir}: {error.strerror}.") from None


def _describe(owner):
    command = owner.get("command", "a tfkit command")
    return f"`{command}` (pid {owner.get('pid')} on {owner.get('host')}, since {owner.get('started')})"


@contextlib.contextmanager
def job_lock(job_dir, command):
    """Holds ``job_dir``'s lock while the block runs; raises :class:`TfkitError` naming the holder if it is taken.

    Example:

    >>> import tempfile
    >>> from tfkit.jobs.directory import job_lock
    >>> job_dir = tempfile.mkdtemp()
    >>> with job_lock(job_dir, "tfkit train a.yaml"):
    ...     with job_lock(job_dir, "tfkit train b.yaml"):
    ...         pass
    Traceback (most recent call last):
    ...
    tfkit.errors.TfkitError: job_dir ... is in use by `tfkit train a.yaml` (pid ...); wait for it to finish, or use another --job-dir.
    """
    make_job_dir(job_dir)
    path = os.path.join(job_dir, LOCK_FILE)
    try:
        lock = open(path, "a+", encoding="utf-8")
    except OSError as error:
        raise TfkitError(f"cannot write in job_dir {job_dir}: {error.strerror}.") from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TfkitError(f"job_dir {job_dir} is in use by {_describe(_owner(lock) or {})}; wait for it to finish, "
                             "or use another --job-dir.") from None
        previous = _owner(lock)
        if previous:  # its process ended without releasing it: killed, or its machine went down
            print(f"Taking over the lock of {job_dir} left by {_describe(previous)}, which is no longer running.",
                  file=sys.stderr, flush=True)
        _write(lock, {"command": command, "host": socket.gethostname(), "pid": os.getpid(),
                      "started": time.strftime("%Y-%m-%d %H:%M:%S")})
        try:
            yield
        finally:
            _write(lock, None)  # released in order: the next owner finds no one to report


def _owner(lock):
    lock.seek(0)
    try:
        return json.loads(lock.read() or "null")
    except json.JSONDecodeError:
        return {}


def _write(lock, owner):
    lock.seek(0)
    lock.truncate()
    if owner is not None:
        json.dump(owner, lock)
    lock.flush()


@contextlib.contextmanager
def terminate_as_interrupt():
    """While the block runs, SIGTERM raises :class:`Terminated` (a ``KeyboardInterrupt``), as Ctrl-C does."""
    def terminate(signum, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
