"""What can be known about a config's data files before they are read in full.

Every file that ``data.train``, ``data.validation`` and ``data.test`` name
exists and can be read, and a CSV file's header holds the label and every
column the model's features read, with at least one row under it. Only the
first lines are read, so ``tfkit config check`` stays fast; ``tfkit train``
runs the same checks before its first pass, so a mistake in the test file
is found before training rather than after it. Errors name the key and the
file.
"""

import os

from tfkit.data.csv import head_rows
from tfkit.data.lines import expand_files
from tfkit.data.text import text_files
from tfkit.errors import DataError

_SPLITS = ("train", "validation", "test")


def check_data_files(data, input_specs):
    """Raises a :class:`DataError` for the first data file of ``data`` (a validated ``data`` section) that is
    missing or unreadable, or (CSV) lacks a column that ``input_specs`` (the model's raw inputs) or the label need.

    Example:

    >>> import os, tempfile
    >>> from tfkit.data.checks import check_data_files
    >>> path = os.path.join(tempfile.mkdtemp(), "jobs.csv")
    >>> _ = open(path, "w").write("age,income\\n39,<=50K\\n")
    >>> data = {"format": "csv", "train": path, "validation": None, "test": path + ".gz", "label": "income",
    ...         "header": True, "column_names": None, "field_delim": ","}
    >>> check_data_files(data, {"age": None})
    Traceback (most recent call last):
    ...
    tfkit.errors.DataError: data.test: no data file matches '.../jobs.csv.gz'.
    """
    if data["format"] == "gp_curves":  # drawn, not read
        return
    for key in _SPLITS:
        if data[key] is None:
            continue
        files = _files(data, key)
        for path in files:
            _check_readable(path, key)
        if data["format"] == "csv":
            _check_csv(data, key, files, input_specs)


def _files(data, key):
    value = data[key]
    try:
        if data["format"] == "text":
            return text_files(None if isinstance(value, dict) else value, value if isinstance(value, dict) else None)
        if data["format"] in ("csv", "tfrecord"):
            return expand_files(value)
    except DataError as error:
        message = str(error)
        raise DataError(f"data.{key}: {message[0].lower()}{message[1:]}") from None
    # Image sets name files or folders (a CIFAR-10 folder, an image folder, an .npz file).
    paths = [value] if isinstance(value, str) else list(value)
    for path in paths:
        if not os.path.exists(path):
            raise DataError(f"data.{key}: {path}: no such file or folder.")
    return [path for path in paths if os.path.isfile(path)]


def _check_readable(path, key):
    if os.path.isdir(path):
        raise DataError(f"data.{key}: {path} is a folder; {key} names data files (or globs of them).")
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as error:
        raise DataError(f"data.{key}: cannot read {path}: {error.strerror}.") from None


def _check_csv(data, key, files, input_specs):
    needed = sorted(set(input_specs) | ({data["label"]} if data["label"] else set()))
    rows = 0
    for path in files:
        head = head_rows(path, data["field_delim"], 2)
        if data["header"]:
            if not head:
                raise DataError(f"data.{key}: {path} is empty; it has no header line.")
            header = [name.strip() for name in head[0]]
            names = data["column_names"] or header
            if len(names) != len(header):
                raise DataError(f"data.column_names: gives {len(names)} columns, but the header of {path} has "
                                f"{len(header)}: {', '.join(header)}.")
            head = head[1:]
        elif data["column_names"] is None:
            raise DataError("data.column_names: missing; files without a header line (data.header: false) need "
                            "their columns' names.")
        else:
            names = data["column_names"]
        rows += len(head)
        missing = [name for name in needed if name not in names]
        if missing:
            what = "the label" if missing[0] == data["label"] else "a feature the model reads"
            where = "data.label" if missing[0] == data["label"] else f"data.{key}"
            raise DataError(f"{where}: {path} has no column {missing[0]!r} ({what}). Columns: {', '.join(names)}.")
    if not rows:
        shown = files[0] if len(files) == 1 else f"{files[0]} and the other {len(files) - 1} files"
        raise DataError(f"data.{key}: {shown} hold{'s' * (len(files) == 1)} no rows"
                        + (", only a header line." if data["header"] else "."))
