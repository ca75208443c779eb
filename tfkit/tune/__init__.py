"""Hyperparameter tuning: ``tfkit tune CONFIG`` searches the config's ``tuning`` section.

:mod:`tfkit.tune.spec` reads the section (no TensorFlow, no Optuna);
:mod:`tfkit.tune.study` runs the study, each trial a process of its own
(:mod:`tfkit.tune.trial`). Optuna is an optional extra: ``pip install tfkit-estimator[tune]``.
"""
