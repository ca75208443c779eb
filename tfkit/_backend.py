"""Fail early, and say how to fix it, when Keras is set to a backend other than TensorFlow.

This runs when ``tfkit`` is imported, before Keras itself, so it reads the same
settings Keras reads (``KERAS_BACKEND``, then ``$KERAS_HOME/keras.json``)
without importing anything heavy.
"""

import json
import os


def configured_backend():
    """Returns the Keras backend name the environment selects ("tensorflow" if none)."""
    backend = os.environ.get("KERAS_BACKEND")
    if backend:
        return backend
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(keras_home, "keras.json")) as f:
            return json.load(f).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def check_backend():
    backend = configured_backend()
    if backend != "tensorflow":
        raise ImportError(
            f"tfkit needs Keras 3 with the TensorFlow backend, but Keras is configured "
            f"to use backend={backend!r}. Fix: set the environment variable "
            f"KERAS_BACKEND=tensorflow (or set \"backend\": \"tensorflow\" in ~/.keras/keras.json)."
        )
    # Pin it so that a later `import keras` agrees with the check above.
    os.environ["KERAS_BACKEND"] = "tensorflow"
