"""A tf.data CSV reader with typed columns, missing values, labels and located errors.

Lines are read with ``TextLineDataset`` (gzip by extension), numbered, split
off into a deterministic validation holdout if asked, parsed in large
batches in parallel, cached (:mod:`tfkit.data.cache`), then shuffled and
batched for each pass. A malformed row stops the pipeline with an error naming
the file and line: a row with the wrong number of fields, a number that is
not one, a label outside the label vocabulary. Convert the TensorFlow error
raised while iterating with :func:`explain`.
"""

import csv
import gzip
import io
import re

import numpy as np
import tensorflow as tf

from tfkit.data import cache as cache_lib
from tfkit.data.cache import plain
from tfkit.data.cells import (MARK, check_numbers, check_utf8, field_counts, located, well_formed_line)
from tfkit.data.lines import drop_blank, expand_files, held_out, line_key, numbered_lines
from tfkit.errors import DataError

DTYPES = ("string", "int64", "int32", "float32", "float64")
_INFER_ROWS = 1000


def explain(error):
    """The :class:`DataError` a pipeline assertion carries inside a TensorFlow error, or None."""
    match = re.search(MARK + r"\{(.*?)\}" + MARK, str(error), re.S)
    # The message may come back with quotes escaped (repr of the assertion data).
    return DataError(match.group(1).replace("\\'", "'")) if match else None


def _open_text(path):
    raw = gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")


def estimated_lines(files, sample=1000):
    """About how many lines ``files`` hold: the bytes of their text over the mean length of the first file's first
    ``sample`` lines."""
    try:
        with (gzip.open if files[0].endswith(".gz") else open)(files[0], "rb") as f:
            lengths = [len(line) for _, line in zip(range(sample), f)]
    except (OSError, EOFError):
        return None
    return round(cache_lib.text_bytes(files) / (sum(lengths) / len(lengths))) if lengths else 0


def head_rows(path, field_delim, rows):
    try:
        with _open_text(path) as f:
            reader = csv.reader(f, delimiter=field_delim)
            return [row for _, row in zip(range(rows), reader)]
    except (OSError, EOFError, csv.Error) as error:
        raise DataError(f"Cannot read {path}: {error}.") from None


def _infer_dtype(values, na_values):
    values = [v.strip() for v in values if v.strip() not in na_values]
    if not values:
        return "string"
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        return "string"
    return "int64" if all(n.is_integer() and re.fullmatch(r"[+-]?\d+", v) for n, v in zip(numbers, values)) else "float32"


class CsvSchema:
    """Column names and dtypes of a set of CSV files, read from the header and a sample of rows."""

    def __init__(self, files, column_names=None, header=True, column_dtypes=None, na_values=("?", ""), field_delim=","):
        self.files = files
        self.header = header
        self.field_delim = field_delim
        self.na_values = tuple(na_values)
        sample = head_rows(files[0], field_delim, _INFER_ROWS + 1)
        if header:
            if not sample:
                raise DataError(f"{files[0]}: the file is empty, so it has no header line.")
            names = [n.strip() for n in sample[0]]
            for path in files[1:]:
                other = [n.strip() for n in (head_rows(path, field_delim, 1) or [[]])[0]]
                if other != names:
                    raise DataError(f"{path}: header {other} differs from the header of {files[0]}: {names}.")
            sample = sample[1:]
        if column_names is not None:
            if header and len(column_names) != len(names):
                raise DataError(f"{files[0]}: header has {len(names)} columns but column_names gives {len(column_names)}.")
            names = list(column_names)
        elif not header:
            raise DataError("CSV files without a header need column_names.")
        self.names = names
        column_dtypes = dict(column_dtypes or {})
        unknown = sorted(set(column_dtypes) - set(names))
        if unknown:
            raise DataError(f"{files[0]}: no column named {', '.join(map(repr, unknown))}. Columns: {', '.join(names)}.")
        self.dtypes = {}
        for i, name in enumerate(names):
            dtype = column_dtypes.get(name) or _infer_dtype([row[i] for row in sample if len(row) > i], self.na_values)
            if dtype not in DTYPES:
                raise DataError(f"Column {name!r}: dtype must be one of {DTYPES}. Received: {dtype!r}")
            self.dtypes[name] = dtype


def read_csv(
    file_pattern,
    batch_size=32,
    label=None,
    label_vocabulary=None,
    label_aliases=None,
    select_columns=None,
    column_names=None,
    header=True,
    column_dtypes=None,
    column_defaults=None,
    na_values=("?", ""),
    field_delim=",",
    strip=True,
    shuffle=False,
    shuffle_buffer_size=10_000,
    seed=None,
    num_epochs=1,
    holdout=None,
    drop_remainder=False,
    cache="auto",
    encoding="utf-8",
    label_threshold=None,
    num_parallel_calls=tf.data.AUTOTUNE,
):
    """Reads CSV files into batches of ``(features, label)`` (or ``features`` without a label).

    Each row is parsed once: the parsed rows are cached as ``cache`` says
    (see :mod:`tfkit.data.cache`) and every later pass reads them from there.

    Args:
        file_pattern: A path, glob, or list of them; ``.gz`` files are gunzipped.
        batch_size: Rows per batch.
        label: Name of the label column, or None.
        label_vocabulary: Label strings; labels become their index (int32).
            Without it, labels are parsed as float32 numbers.
        label_aliases: Extra label spellings, e.g. ``{">50K.": ">50K"}``.
        select_columns: Feature columns to keep (default: all but the label).
        column_names: Column names, for files without a header (or to rename).
        header: Whether each file starts with a header line.
        column_dtypes: ``{column: dtype}``; other columns are inferred from
            the first rows (int64, float32 or string).
        column_defaults: ``{column: value}`` used for missing cells; numbers
            default to 0 and strings to ``""`` (missing).
        na_values: Cell values that mean "missing".
        field_delim: Field delimiter.
        strip: Strip whitespace around string values.
        label_threshold: Rows whose (numeric) label is at least this are
            class 1, the others class 0 (a rating >= 4 as the positive class).
        shuffle: Shuffle rows, in a new order every pass.
        shuffle_buffer_size: Rows in the shuffle buffer (when not cached in memory,
            where every pass is a full permutation).
        seed: Shuffle seed.
        num_epochs: Times to read the data (None: forever).
        holdout: ``("train" | "validation", fraction)``: a deterministic split
            by file name and line number, the same every time the files are read.
        drop_remainder: Drop the last, smaller batch.
        cache: ``auto``, ``memory``, ``none`` or a file path prefix.
        encoding: The files' encoding; other encodings than UTF-8 are
            transcoded to it. A string cell that is not valid UTF-8 is an error.
        num_parallel_calls: Parallelism of parsing.

    Example:

    >>> import os, tempfile
    >>> from tfkit.data import read_csv
    >>> path = os.path.join(tempfile.mkdtemp(), "jobs.csv")
    >>> _ = open(path, "w").write("age,job,income\\n39,clerk,<=50K\\n50,?,>50K\\n")
    >>> features, labels = next(iter(read_csv(path, 2, label="income", label_vocabulary=["<=50K", ">50K"])))
    >>> features["age"].numpy().tolist(), features["job"].numpy().tolist(), labels.numpy().tolist()
    ([39, 50], [b'clerk', b''], [0, 1])
    """
    files = expand_files(file_pattern)
    cache = cache_lib.resolve(cache, files)
    stream = csv_examples(
        files, label, label_vocabulary, label_aliases, select_columns, column_names, header, column_dtypes,
        column_defaults, na_values, field_delim, strip, holdout, num_parallel_calls, encoding=encoding, label_threshold=label_threshold)
    dataset = cache_lib.batches(cache_lib.cached(stream, cache), batch_size, cache, shuffle, shuffle_buffer_size, seed,
                                drop_remainder, stream=stream)
    return cache_lib.derived(dataset.repeat(num_epochs), dataset, lambda again: again.repeat(num_epochs)) if num_epochs != 1 else dataset


def csv_examples(
    file_pattern,
    label=None,
    label_vocabulary=None,
    label_aliases=None,
    select_columns=None,
    column_names=None,
    header=True,
    column_dtypes=None,
    column_defaults=None,
    na_values=("?", ""),
    field_delim=",",
    strip=True,
    holdout=None,
    num_parallel_calls=tf.data.AUTOTUNE,
    keys=False,
    encoding="utf-8",
    label_threshold=None,
    in_process=False,
):
    """The rows of CSV files, parsed in batches in the files' order (see :func:`read_csv`).

    With ``keys``, each batch comes as ``(examples, keys)``: the rows' holdout
    keys (:func:`line_key`) beside them, to split the parsed rows later
    (:func:`split`) instead of reading the files again for each part.
    ``in_process``: lines read by Python, for a dataset read in this process
    only (see :func:`tfkit.data.lines.numbered_lines`).
    """
    files = expand_files(file_pattern)
    schema = CsvSchema(files, column_names, header, column_dtypes, na_values, field_delim)
    names = schema.names
    if label is not None and label not in names:
        raise DataError(f"{files[0]}: no label column {label!r}. Columns: {', '.join(names)}.")
    selected = list(select_columns) if select_columns is not None else [n for n in names if n != label]
    missing = [n for n in selected if n not in names]
    if missing:
        raise DataError(f"{files[0]}: no column named {', '.join(map(repr, missing))}. Columns: {', '.join(names)}.")
    defaults = dict(column_defaults or {})
    label_table = None if label_threshold is not None else _label_table(label_vocabulary, label_aliases)

    # A blank line has one field: with more columns, it fails the check of every line and is dropped only then.
    keep_blank = len(names) > 1
    dataset = tf.data.Dataset.from_tensor_slices(files).interleave(
        plain(lambda path: numbered_lines(path, 2 if header else 1, encoding, in_process, keep_blank)),
        cycle_length=min(len(files), 4),
        **({"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": True} if len(files) > 1 else {}),
    )
    if holdout is not None:
        dataset = held_out(dataset, holdout)

    # Cells that must be numbers: a missing value stands in for one in a feature, not in a label.
    numbers_in = {name: name != label for name in names if name in selected and schema.dtypes[name] != "string"}
    if label is not None and (label_vocabulary is None or label_threshold is not None):
        numbers_in[label] = False
    well_formed = well_formed_line(names, numbers_in, schema.na_values, field_delim)

    used = [name for name in names if name in selected or name == label]

    def texts(name, values):
        """A column's cells as the parse reads them: stripped, a missing value replaced by its default."""
        if name == label:
            return tf.strings.strip(values) if strip else values
        return _cell_texts(values, schema.dtypes[name], defaults.get(name), schema.na_values, strip)

    def check_lines(path, numbers, lines):
        """Stops at the first bad cell of a batch, naming its file, line and column; True otherwise."""
        counts = field_counts(lines, field_delim, len(names))
        check = located(
            path, numbers, counts != len(names),
            lambda i: tf.strings.join([f"expected {len(names)} fields, found ", tf.strings.as_string(counts[i])]),
        )
        with tf.control_dependencies([check]):
            fields = tf.io.decode_csv(lines, record_defaults=[""] * len(names), field_delim=field_delim)
        # One pass over the lines says whether any cell can hold bytes that are not UTF-8 (RE2 matches valid
        # UTF-8 only; a transcode of every cell costs six times the whole parse).
        readable = tf.reduce_all(tf.strings.regex_full_match(lines, "(?s).*"))
        columns = dict(zip(names, fields))
        strings = {name: columns[name] for name in selected if schema.dtypes[name] == "string"}
        checks = [tf.cond(readable, lambda: True, lambda: check_utf8(strings, path, numbers))] if strings else []
        if numbers_in:
            checks.append(check_numbers({f"label {label!r}" if name == label else f"column {name!r}": texts(name, columns[name])
                                          for name in numbers_in}, path, numbers))
        with tf.control_dependencies(checks):
            return tf.constant(True)

    def checked(path, numbers, lines):
        """``(numbers, lines)`` of a batch whose lines did not all pass the check of every line, once
        ``check_lines`` passes, blank lines dropped."""
        if keep_blank:
            numbers, lines = drop_blank(numbers, lines)
        fine = tf.cond(tf.size(lines) > 0, lambda: check_lines(path, numbers, lines), lambda: True)
        with tf.control_dependencies([fine]):
            return tf.identity(numbers), tf.identity(lines)

    def parse(path, numbers, lines):
        # One regular expression over each line says whether every check would pass (field count, UTF-8, numbers):
        # the checks that find and name a bad cell run only for a batch where it does not.
        fine = tf.reduce_all(tf.strings.regex_full_match(lines, well_formed))
        numbers, lines = tf.cond(fine, lambda: (numbers, lines), lambda: checked(path, numbers, lines))
        fields = tf.io.decode_csv(lines, record_defaults=[""] * len(used), field_delim=field_delim,  # the columns read only
                                  select_cols=[names.index(name) for name in used])
        columns = {name: texts(name, field) for name, field in zip(used, fields)}
        features = {name: columns[name] if schema.dtypes[name] == "string" else _to_numbers(columns[name], schema.dtypes[name])
                    for name in selected}
        example = features if label is None else (
            features, _label(columns[label], label_table, label_vocabulary, path, numbers, label, label_threshold))
        return (example, line_key(path, numbers)) if keys else example

    dataset = dataset.map(plain(parse), num_parallel_calls=num_parallel_calls, deterministic=True)
    if keep_blank:  # a batch of blank lines only
        dataset = dataset.filter(plain(lambda *example: tf.size(tf.nest.flatten(example)[0]) > 0))
    # Multi-worker strategies shard by batch: sharding by file fails when there are fewer
    # files than workers, and one census file is the common case.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _cell_texts(values, dtype, default, na_values, strip):
    """A feature column's cells, stripped (numbers always), a missing value (one of ``na_values``) replaced by the
    column's default: "" (or ``default``) for strings, "0" (or ``default``) for numbers."""
    if strip or dtype != "string":
        values = tf.strings.strip(values)
    missing = tf.zeros_like(values, tf.bool)
    for na in na_values:
        missing |= tf.equal(values, na)
    if dtype == "string":
        return tf.where(missing, "" if default is None else str(default), values)
    return tf.where(missing, "0" if default is None else repr(default), values)


def _to_numbers(values, dtype):
    if dtype.startswith("int"):
        # Accept "39.0" in integer columns; reject nothing a float parse accepts.
        return tf.cast(tf.strings.to_number(values, tf.float64), dtype)
    return tf.strings.to_number(values, out_type=dtype)


def _label_table(vocabulary, aliases):
    if vocabulary is None:
        return None
    vocabulary = [str(v) for v in vocabulary]
    keys, ids = list(vocabulary), list(range(len(vocabulary)))
    for alias, target in (aliases or {}).items():
        if str(target) not in vocabulary:
            raise DataError(f"label_aliases maps {alias!r} to {target!r}, which is not in label_vocabulary {vocabulary}.")
        keys.append(str(alias))
        ids.append(vocabulary.index(str(target)))
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, np.array(ids, np.int32)), default_value=-1)


def _label(values, table, vocabulary, path, numbers, label, threshold=None):
    """Labels from their (stripped) cells: ids in the vocabulary (a value outside it stops with its line), numbers
    (checked before), or 0/1 by a threshold."""
    if threshold is not None:  # a numeric column made binary: class 1 from the threshold on
        return tf.cast(_to_numbers(values, "float32") >= threshold, tf.int32)
    if table is None:
        return _to_numbers(values, "float32")
    ids = table.lookup(values)

    def outside():  # the line named only when there is one (a batch of blank lines has no label)
        with tf.control_dependencies([located(path, numbers, ids < 0, lambda i: tf.strings.join(
                [f"label {label!r}: value '", values[i], f"' is not in label_vocabulary {[str(v) for v in vocabulary]}"]))]):
            return tf.constant(False)

    with tf.control_dependencies([tf.cond(tf.reduce_all(ids >= 0), lambda: True, outside)]):
        return tf.identity(ids)
