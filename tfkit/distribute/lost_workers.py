"""The chief's log after a worker is lost: one line saying so, not TensorFlow's errors for every function.

When a parameter-server worker dies, the coordinator re-runs its functions on
the other workers, and TensorFlow logs (from C++ and from Python) an error
for every function it then fails to register on or remove from the dead
worker, each with lines of gRPC detail: hundreds of lines for one event.
:func:`reporting_lost_workers` filters the chief's standard error while it
trains: those blocks are dropped, and the first one about each worker is
replaced by a single line naming it. Blocks about removing a function that a
task never had (the chief frees a function it only ran itself, and TensorFlow
asks every task to remove it) say nothing about any task and are dropped
whole. Everything else passes through as written.
"""

import contextlib
import os
import re
import sys
import threading

# The first line of a block: TensorFlow's messages about a function or a closure on an unreachable task.
_BLOCK_START = re.compile(
    r"Failed to (register|remove) function remotely|encountered the following error when processing closure"
    r"|Remote function on worker|Worker /job:worker\S* failed with|has been temporarily disconnected"
    r"|failed to connect to all addresses")
# The lines that continue a block (gRPC's detail lines start with ":").
_DETAIL = re.compile(r"^(Additional GRPC error information|:|This could happen if the remote target|"
                     r"It is treated as a transient connectivity failure|\s*$)")
_WORKER = re.compile(r"/job:worker/(?:replica:\d+/)?task:(\d+)")
_NEVER_REGISTERED = "Tried to remove non-existent function"


class _Filter:
    def __init__(self, addresses, write):
        self.addresses, self.write = addresses, write
        self.reported, self.held = set(), []

    def line(self, text):
        if self.held and _DETAIL.match(text):
            self.held.append(text)
            return
        self.flush()
        if _BLOCK_START.search(text):
            self.held = [text]
        else:
            self.write(text)

    def flush(self):
        """Ends the held block: dropped if it is about a worker (reported once), written as it was otherwise."""
        if not self.held:
            return
        block, self.held = "".join(self.held), []
        if _NEVER_REGISTERED in block:
            return
        match = _WORKER.search(block)
        if match is None:
            self.write(block)
            return
        index = int(match.group(1))
        if index not in self.reported:
            self.reported.add(index)
            address = self.addresses[index] if index < len(self.addresses) else "unknown address"
            self.write(f"tfkit: lost worker:{index} ({address}): the functions it was running are rescheduled on the "
                       f"other workers, and training goes on without it.\n")


@contextlib.contextmanager
def reporting_lost_workers(worker_addresses):
    """Filters this process's standard error (file descriptor 2) as described in the module docstring."""
    sys.stderr.flush()
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    lines = _Filter(list(worker_addresses), lambda text: os.write(original, text.encode(errors="replace")))

    def pump():
        with os.fdopen(read_end, "r", errors="replace", newline="") as pipe:
            for text in pipe:
                lines.line(text)
        lines.flush()

    thread = threading.Thread(target=pump, name="tfkit-stderr", daemon=True)
    thread.start()
    try:
        yield lines
    finally:
        sys.stderr.flush()
        os.dup2(original, 2)  # closes the pipe's last write end: the pump reads to its end and stops
        thread.join(timeout=5)
        os.close(original)


def on_the_chief(task):
    """On a parameter-server chief, :func:`reporting_lost_workers` for its workers; elsewhere a context that does nothing."""
    if task is None or not task.num_ps:
        return contextlib.nullcontext()
    return reporting_lost_workers(task.cluster.get("worker", []))
