"""Where training runs: strategy lookup by name, with ``"auto"`` resolved in one place.

Models and layers never import this package; the training run does (the one
exception: a model built under a parameter-server strategy hands ``fit`` to
:mod:`tfkit.distribute.parameter_server`).

==========================  =====================================================
name                        runs on
==========================  =====================================================
``default``                 one device
``mirrored``                the GPUs of this machine (or its logical CPUs), in sync
``multi_worker_mirrored``   the workers of a ``TF_CONFIG`` cluster, in sync
``parameter_server``        the workers of a ``TF_CONFIG`` cluster (or of a given
                            ``cluster_resolver``), asynchronously, variables on ``ps``
``auto``                    parameter_server if the cluster has ``ps`` tasks, else
                            multi_worker_mirrored if it has several workers, else
                            mirrored over 2+ GPUs, else default
==========================  =====================================================
"""

# TensorFlow is imported on first use of a strategy function, so that `tfkit launch`
# (which only starts processes) and TF_CONFIG parsing stay light.
_EXPORTS = {
    "get": "strategies", "names": "strategies", "resolve_auto": "strategies", "describe": "strategies",
    "single_device_copy": "strategies", "TablePartitioner": "strategies", "DEFAULT_MIN_SHARD_BYTES": "strategies",
    "is_parameter_server": "parameter_server", "trainable_variables": "parameter_server",
}
__all__ = sorted(_EXPORTS) + ["cluster", "launch", "parameter_server"]


def __getattr__(name):
    import importlib

    if name in _EXPORTS:
        return getattr(importlib.import_module(f"tfkit.distribute.{_EXPORTS[name]}"), name)
    if name in ("cluster", "launch", "parameter_server", "strategies"):
        return importlib.import_module(f"tfkit.distribute.{name}")
    raise AttributeError(f"module 'tfkit.distribute' has no attribute {name!r}")
