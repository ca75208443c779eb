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
from tfkit.data.lines import expand_files, held_out, line_key, numbered_lines
from tfkit.errors import DataError

DTYPES = ("string", "int64", "int32", "float32", "float64")
_MARK = "TFKIT_DATA_ERROR"
_NUMBER = r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*|\s*[+-]?(inf|nan|Inf|NaN)\s*"
_INFER_ROWS = 1000


def explain(error):
    """The :class:`DataError` a pipeline assertion carries inside a TensorFlow error, or None."""
    match = re.search(_MARK + r"\{(.*?)\}" + _MARK, str(error), re.S)
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


def _located(filenames, line_numbers, bad, message):
    """An assertion that fails on the first ``bad`` row, naming its file and line."""
    index = tf.argmax(tf.cast(bad, tf.int32))
    text = tf.strings.join(
        [_MARK, "{", filenames[index], ", line ", tf.strings.as_string(line_numbers[index]), ": ", message(index), "}", _MARK]
    )
    return tf.debugging.Assert(tf.logical_not(tf.reduce_any(bad)), [text], summarize=1)


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
):
    """The rows of CSV files, parsed in batches of ``PARSE_BATCH`` in the files' order (see :func:`read_csv`).

    With ``keys``, each batch comes as ``(examples, keys)``: the rows' holdout
    keys (:func:`line_key`) beside them, to split the parsed rows later
    (:func:`split`) instead of reading the files again for each part.
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

    dataset = tf.data.Dataset.from_tensor_slices(files).interleave(
        lambda path: numbered_lines(path, 2 if header else 1, encoding),
        cycle_length=min(len(files), 4),
        **({"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": True} if len(files) > 1 else {}),
    )
    if holdout is not None:
        dataset = held_out(dataset, holdout)

    # Cells that must be numbers: a missing value stands in for one in a feature, not in a label.
    numbers_in = {name: name != label for name in names if name in selected and schema.dtypes[name] != "string"}
    if label is not None and (label_vocabulary is None or label_threshold is not None):
        numbers_in[label] = False
    well_formed = _well_formed_line(names, numbers_in, schema.na_values, field_delim)

    used = [name for name in names if name in selected or name == label]

    def parse_lines(paths, numbers, lines, checked):
        if checked:
            counts = _field_counts(lines, field_delim, len(names))
            check = _located(
                paths, numbers, counts != len(names),
                lambda i: tf.strings.join([f"expected {len(names)} fields, found ", tf.strings.as_string(counts[i])]),
            )
            with tf.control_dependencies([check]):
                fields = tf.io.decode_csv(lines, record_defaults=[""] * len(names), field_delim=field_delim)
            # One pass over the lines says whether any cell can hold bytes that are not UTF-8 (RE2 matches valid
            # UTF-8 only; a transcode of every cell costs six times the whole parse).
            readable = tf.reduce_all(tf.strings.regex_full_match(lines, "(?s).*"))
            fields = [tf.cond(readable, lambda: field, lambda: _check_utf8(name, field, paths, numbers))
                      if schema.dtypes[name] == "string" and name in selected else field for name, field in zip(names, fields)]
            columns = dict(zip(names, fields))
        else:  # the columns read only
            columns = dict(zip(used, tf.io.decode_csv(lines, record_defaults=[""] * len(used), field_delim=field_delim,
                                                      select_cols=[names.index(name) for name in used])))
        features = {name: _column(name, columns[name], schema.dtypes[name], defaults.get(name), schema.na_values, strip,
                                  paths, numbers, checked) for name in selected}
        if label is None:
            return features
        return features, _label(columns[label], label_table, label_vocabulary, strip, paths, numbers, label, label_threshold, checked)

    def parse(paths, numbers, lines):
        # One regular expression over each line says whether every check would pass (field count, UTF-8, numbers);
        # the checks that find and name a bad cell run only for a batch where it fails.
        fine = tf.reduce_all(tf.strings.regex_full_match(lines, well_formed))
        example = tf.cond(fine, lambda: parse_lines(paths, numbers, lines, checked=False),
                          lambda: parse_lines(paths, numbers, lines, checked=True))
        return (example, line_key(paths, numbers)) if keys else example

    dataset = dataset.map(plain(parse), num_parallel_calls=num_parallel_calls, deterministic=True)
    # Multi-worker strategies shard by batch: sharding by file fails when there are fewer
    # files than workers, and one census file is the common case.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _well_formed_line(names, numbers_in, na_values, field_delim):
    """A regular expression (RE2: valid UTF-8 only) matching the lines the checks of a parse would all pass: the
    right number of fields, none quoted (a quoted field may hold the delimiter), a number in each column of
    ``numbers_in`` (``{name: whether a missing value may stand in for it}``). A line it does not match may still be
    fine: it is then checked cell by cell."""
    delimiter = re.escape(field_delim)
    text = f'[^{delimiter}"]*'
    number = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|nan|Inf|NaN)"
    # Missing values as the parse compares them (stripped cells); others just take the checked way.
    missing = [re.escape(na) for na in na_values if na and na.strip() == na and field_delim not in na and '"' not in na]

    def cell(name):
        if name not in numbers_in:
            return text
        if not numbers_in[name]:
            return rf"\s*(?:{number})\s*"
        return rf"\s*(?:{'|'.join([number, *missing])}){'?' if '' in na_values else ''}\s*"

    return delimiter.join(f"(?:{cell(name)})" for name in names)


def _column(name, values, dtype, default, na_values, strip, paths, numbers, checked=True):
    if strip or dtype != "string":
        values = tf.strings.strip(values)
    missing = tf.zeros_like(values, tf.bool)
    for na in na_values:
        missing |= tf.equal(values, na)
    if dtype == "string":
        return tf.where(missing, "" if default is None else str(default), values)
    fill = "0" if default is None else repr(default)
    return _numbers(tf.where(missing, fill, values), dtype, f"column {name!r}", paths, numbers, checked)


def _field_counts(lines, field_delim, expected):
    """The fields of each line: its delimiters outside double quotes, plus one.

    Counted by splitting at every delimiter (one pass, no regular expression), then, only when a line seems to have
    the wrong count, again with its quoted text removed (a quoted field may hold the delimiter).
    """
    counts = tf.strings.split(lines, field_delim).row_lengths()

    def outside_quotes():
        unquoted = tf.strings.regex_replace(lines, r'"[^"]*"', "")
        delimiter = re.escape(field_delim)
        removed = tf.strings.length(unquoted) - tf.strings.length(tf.strings.regex_replace(unquoted, delimiter, ""))
        return tf.cast(removed, tf.int64) + 1

    return tf.cond(tf.reduce_all(tf.equal(counts, expected)), lambda: counts, outside_quotes)


def _check_utf8(name, values, paths, numbers):
    """Stops at the first cell of a string column that is not valid UTF-8, naming its file and line (read in another
    encoding, the lines were transcoded to UTF-8 before)."""
    readable = tf.strings.unicode_transcode(values, "UTF-8", "UTF-8", errors="replace")
    check = _located(paths, numbers, tf.not_equal(readable, values), lambda i: tf.strings.join(
        [f"column {name!r}: value '", readable[i], "' is not valid UTF-8; set data.encoding to the file's encoding "
         "(e.g. latin-1)"]))
    with tf.control_dependencies([check]):
        return tf.identity(values)


def _numbers(values, dtype, what, paths, numbers, checked=True):
    """Parses numbers, stopping at the first cell that is not one with its file and line (when ``checked``: the
    cells are known to be numbers otherwise)."""
    check = []
    if checked:
        bad = tf.logical_not(tf.strings.regex_full_match(values, _NUMBER))
        check = [_located(paths, numbers, bad, lambda i: tf.strings.join([f"{what}: value '", values[i], "' is not a number"]))]
    with tf.control_dependencies(check):
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


def _label(values, table, vocabulary, strip, paths, numbers, label, threshold=None, checked=True):
    if strip:
        values = tf.strings.strip(values)
    if threshold is not None:  # a numeric column made binary: class 1 from the threshold on
        return tf.cast(_numbers(values, "float32", f"label {label!r}", paths, numbers, checked) >= threshold, tf.int32)
    if table is None:
        return _numbers(values, "float32", f"label {label!r}", paths, numbers, checked)
    ids = table.lookup(values)
    check = _located(
        paths, numbers, ids < 0,
        lambda i: tf.strings.join([f"label {label!r}: value '", values[i], f"' is not in label_vocabulary {[str(v) for v in vocabulary]}"]),
    )
    with tf.control_dependencies([check]):
        return tf.identity(ids)
