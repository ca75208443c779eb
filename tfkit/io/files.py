"""Files written whole or not at all: a reader never sees half of one, an interrupted writer leaves none behind."""

import contextlib
import errno
import glob
import json
import os


@contextlib.contextmanager
def replacing(path):
    """A temporary path beside ``path`` that replaces ``path`` when the block succeeds and is removed when it fails.

    Example:

    >>> import os, tempfile
    >>> from tfkit.io.files import replacing
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
    >>> with replacing(path) as temporary, open(temporary, "w") as f:
    ...     _ = f.write("done")
    >>> open(path).read(), os.listdir(os.path.dirname(path))
    ('done', ['notes.txt'])
    """
    if os.path.isdir(path):  # else the rename at the end would fail, naming the temporary file
        raise IsADirectoryError(errno.EISDIR, "Is a directory; expected a file name", path)
    root, extension = os.path.splitext(path)
    temporary = f"{root}.tmp-{os.getpid()}{extension}"
    for stale in glob.glob(f"{glob.escape(root)}.tmp-*{glob.escape(extension)}"):
        # Left by a writer that was killed before its rename (a finished or failed one removes its own).
        pid = stale[len(root) + len(".tmp-"): len(stale) - len(extension)]
        if pid.isdigit() and not process_alive(int(pid)):
            os.remove(stale)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def process_alive(pid):
    """Whether a process ``pid`` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's
        return True
    return True


def write_json(path, value):
    """Writes ``value`` as indented JSON, whole or not at all."""
    with replacing(path) as temporary, open(temporary, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, sort_keys=True)
