"""Errors that mean "the input is wrong", as opposed to a bug in tfkit.

The command line turns these into a one-paragraph message and exit status 2.
"""


class TfkitError(ValueError):
    """Bad input: a config, a column, a data file. The message says how to fix it."""


class ConfigError(TfkitError):
    """A config key is unknown, missing, or has the wrong type or value."""


class DataError(TfkitError):
    """A data file is malformed; the message names the file and the line."""


class ClusterError(TfkitError):
    """A cluster task was lost or unreachable; the message says how to resume."""
