"""YAML/JSON run configs: schema, defaults, ``--set`` overrides and validation with clear errors.

A config has the sections ``data``, ``features``, ``model``, ``train``,
``strategy``, ``export`` and ``job_dir``. Feature entries are column
constructor arguments plus ``type``; columns refer to other columns by name.
Model keys are the model's constructor arguments (columns by name). Every
error names the key path, what was expected and what was received.

The package: :mod:`~tfkit.config.loading` reads a file (``base:``, ``--set``
overrides, paths), :mod:`~tfkit.config.validation` holds the schema and its
checks, :mod:`~tfkit.config.schema` the field types and the reference tables
the docs show, and :mod:`~tfkit.config.build` makes the columns, model and
optimizer a config describes.
"""

from tfkit.config.build import build_columns, build_model, build_optimizer, check, with_model_defaults
from tfkit.config.loading import dump, load
from tfkit.config.overrides import apply_override, parse_override
from tfkit.config.schema import Field
from tfkit.config.validation import DATA_FORMATS, SCHEMA, validate

__all__ = ["DATA_FORMATS", "SCHEMA", "Field", "apply_override", "build_columns", "build_model", "build_optimizer", "check",
           "dump", "load", "parse_override", "validate", "with_model_defaults"]
