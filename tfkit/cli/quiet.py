"""TensorFlow started with its start-up lines kept off the terminal."""

import os
import re
import sys
import tempfile

# TensorFlow's start-up lines: absl's banner, INFO and WARNING lines, the CUDA probe's error on a machine without a
# GPU, and the CPU-feature line's continuation. Written by C++ to file descriptor 2 whatever TF_CPP_MIN_LOG_LEVEL says.
_START_UP_LINES = re.compile(r"WARNING: All log messages before absl::InitializeLog|[IW]\d{4} \d\d:\d\d:|"
                             r"E\d{4} .*(cuInit|CUDA|cuda)|To enable the following instructions:")


def quiet_tensorflow():
    """Starts TensorFlow with its start-up lines kept off the terminal; anything else it (or Python) writes to
    stderr meanwhile is passed on. A user who set ``TF_CPP_MIN_LOG_LEVEL`` keeps their choice and every line."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # the platforms' probes log here (no logical device is made)
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        for line in captured.read().decode("utf-8", errors="replace").splitlines(keepends=True):
            if not _START_UP_LINES.match(line):
                sys.stderr.write(line)
