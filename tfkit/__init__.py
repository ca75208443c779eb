"""tfkit: declarative feature columns and canned models on Keras 3 + TensorFlow.

The subpackages load on first use, so ``import tfkit`` (and the ``tfkit``
command's ``--help``) does not pay TensorFlow's start-up time.
"""

import importlib
import json
import os


def _configured_backend():
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


def _check_backend():
    backend = _configured_backend()
    if backend != "tensorflow":
        raise ImportError(
            f"tfkit needs Keras 3 with the TensorFlow backend, but Keras is configured "
            f"to use backend={backend!r}. Fix: set the environment variable "
            f"KERAS_BACKEND=tensorflow (or set \"backend\": \"tensorflow\" in ~/.keras/keras.json)."
        )
    # Pin it so that a later `import keras` agrees with the check above.
    os.environ["KERAS_BACKEND"] = "tensorflow"


# Before Keras itself is imported: fail early, saying how to fix it, when Keras is set to another backend. It reads
# the settings Keras reads (KERAS_BACKEND, then $KERAS_HOME/keras.json) without importing anything heavy.
_check_backend()

__version__ = "0.1.0"

_SUBMODULES = (
    "config",
    "data",
    "distribute",
    "errors",
    "estimator",
    "export",
    "feature_column",
    "features",
    "jobs",
    "layers",
    "models",
    "optimizers",
)

__all__ = list(_SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"tfkit.{name}")
    raise AttributeError(f"module 'tfkit' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
