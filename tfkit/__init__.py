"""tfkit: declarative feature columns and canned models on Keras 3 + TensorFlow.

The subpackages load on first use, so ``import tfkit`` (and the ``tfkit``
command's ``--help``) does not pay TensorFlow's start-up time.
"""

import importlib

from tfkit._backend import check_backend

check_backend()

__version__ = "0.1.0"

_SUBMODULES = (
    "config",
    "data",
    "distribute",
    "errors",
    "export",
    "features",
    "layers",
    "models",
    "optimizers",
    "run",
)

__all__ = list(_SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"tfkit.{name}")
    raise AttributeError(f"module 'tfkit' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
