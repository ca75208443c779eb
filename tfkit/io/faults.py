"""Named points where a test kills the process, to prove that whatever a killed command leaves behind is recovered.

With ``TFKIT_KILL_AT=<point>`` (or ``<point>:<n>``: the n-th time it is
reached) in the environment, :func:`point` sends SIGKILL to its own process
there: no ``finally`` block, no cleanup, as the OOM killer or a power cut
would. The points are ``checkpoint-written`` (a checkpoint's files are
complete, its pointer file not yet updated), ``export-written`` (a SavedModel
is written under its temporary name, not yet renamed into place) and
``predictions-written`` (a first batch of predictions is in the temporary
output file). Without the variable, a point costs one environment lookup.
"""

import os
import signal

_reached = {}


def point(name):
    """Kills this process here if ``TFKIT_KILL_AT`` names ``name`` (and this is the n-th time it is reached)."""
    wanted = os.environ.get("TFKIT_KILL_AT")
    if not wanted or wanted.partition(":")[0] != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] >= int(wanted.partition(":")[2] or 1):
        os.kill(os.getpid(), signal.SIGKILL)
