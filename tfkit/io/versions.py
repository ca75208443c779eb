"""Which tfkit, TensorFlow, Keras and Python wrote something, and which distribution installed tfkit.

tfkit's version is ``tfkit.__version__`` (the one place it is written; the
package metadata takes it from there when the wheel is built). Nothing here
imports TensorFlow: ``tfkit --version`` answers at once.
"""

import importlib.metadata
import platform
import sys

import tfkit

DISTRIBUTION = "tfkit-estimator"
"""The name tfkit is installed by (``pip install tfkit-estimator``); the import package and the command are ``tfkit``."""

# An unrelated project (a "Transformers kit") owns the name ``tfkit`` on PyPI and also installs a ``tfkit`` package.
CONFLICTING_DISTRIBUTION = "tfkit"


def extra_requirement(extra):
    """What to ``pip install`` for one of tfkit's extras (``serve``, ``tune``, ``plots``): ``tfkit-estimator[serve]``.

    Every install hint tfkit prints is made here, so that none names another distribution (plain ``tfkit[serve]``
    installs the unrelated project).
    """
    return f"{DISTRIBUTION}[{extra}]"


def installed_version(distribution):
    """The installed version of ``distribution``, or None."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _module_version(module, *distributions):
    """A module's version: its ``__version__`` once imported (the build actually running), else the metadata of the
    first of ``distributions`` installed (tensorflow, tensorflow-cpu, ...)."""
    if module in sys.modules and getattr(sys.modules[module], "__version__", None):
        return sys.modules[module].__version__
    return next(filter(None, map(installed_version, distributions)), None)


def versions():
    """``{"tfkit", "tensorflow", "keras", "python"}``: the versions in this process, as exports and metrics.json record them.

    Example:

    >>> from tfkit.io.versions import versions
    >>> sorted(versions())
    ['keras', 'python', 'tensorflow', 'tfkit']
    >>> versions()["tfkit"] == tfkit.__version__
    True
    """
    return {"tfkit": tfkit.__version__,
            "tensorflow": _module_version("tensorflow", "tensorflow", "tensorflow-cpu", "tf-nightly"),
            "keras": _module_version("keras", "keras", "keras-nightly"),
            "python": platform.python_version()}


def version_line():
    """What ``tfkit --version`` prints: tfkit's version, the distribution it came from and the versions around it,
    and a warning when the unrelated ``tfkit`` distribution is installed too (the two overwrite each other's files)."""
    found = versions()
    line = (f"tfkit {found['tfkit']} (distribution {DISTRIBUTION} {installed_version(DISTRIBUTION) or 'not installed'}; "
            f"TensorFlow {found['tensorflow']}, Keras {found['keras']}, Python {found['python']})")
    other = installed_version(CONFLICTING_DISTRIBUTION)
    if other is not None:
        line += (f"\nwarning: the unrelated distribution {CONFLICTING_DISTRIBUTION!r} {other} is installed too and "
                 f"ships a package of the same name; run `pip uninstall {CONFLICTING_DISTRIBUTION} {DISTRIBUTION}` and "
                 f"then `pip install {DISTRIBUTION}`.")
    return line
