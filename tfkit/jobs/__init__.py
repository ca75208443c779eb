"""The job layer: a config run in a job directory, from the CLI or from Python.

A job directory (``runs/census/``) holds what a run leaves: ``config.yaml``,
``model.json``, checkpoints, ``history.json``, ``metrics.json``, TensorBoard
logs and the export. The modules, one responsibility each:

* :mod:`~tfkit.jobs.run`: :class:`~tfkit.jobs.run.Run`, which trains,
  resumes, cross-validates, evaluates and exports a config there, over
  :mod:`~tfkit.jobs.datasets` (what the run reads: train, its held-out part or
  fold, validation, test) and :mod:`~tfkit.jobs.state` (the model built or
  read back, with its checkpoint state);
* :mod:`~tfkit.jobs.directory`: making the directory and its lock, one command at a time;
* :mod:`~tfkit.jobs.checkpoints`: checkpoints written whole, recovery of killed ones;
* :mod:`~tfkit.jobs.history` and :mod:`~tfkit.jobs.summaries`: the epochs' metrics, TensorBoard;
* :mod:`~tfkit.jobs.evaluator`: the cluster's evaluator task;
* :mod:`~tfkit.jobs.predict`: batch prediction with an export;
* :mod:`~tfkit.jobs.word2vec`: the word2vec job; :mod:`~tfkit.jobs.plots`: neural-process pictures.

Files written whole or not at all and the kill points that prove it are in
:mod:`tfkit.io`, below every layer. Modules load on first use: importing the
package costs nothing.
"""

import importlib

_EXPOSED = {"Run": "tfkit.jobs.run"}

__all__ = sorted(_EXPOSED)


def __getattr__(name):
    if name in _EXPOSED:
        return getattr(importlib.import_module(_EXPOSED[name]), name)
    raise AttributeError(f"module 'tfkit.jobs' has no attribute {name!r}")
