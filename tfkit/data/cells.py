"""Checks of CSV cells that stop a pipeline at the first bad one, naming its file, line and column: the field count,
UTF-8, numbers; and the one regular expression that tells a batch that needs none of them (see
:func:`well_formed_line`). The error travels inside TensorFlow's assertion message, between two ``MARK``s, and
:func:`tfkit.data.csv.explain` takes it out."""

import re

import tensorflow as tf

MARK = "TFKIT_DATA_ERROR"
_NUMBER = r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*|\s*[+-]?(inf|nan|Inf|NaN)\s*"


def located(path, line_numbers, bad, message):
    """An assertion that fails on the first ``bad`` row of a batch of lines of the file ``path``, naming the file and
    the row's line."""
    index = tf.argmax(tf.cast(bad, tf.int32))
    text = tf.strings.join(
        [MARK, "{", path, ", line ", tf.strings.as_string(line_numbers[index]), ": ", message(index), "}", MARK]
    )
    return tf.debugging.Assert(tf.logical_not(tf.reduce_any(bad)), [text], summarize=1)


def well_formed_line(names, numbers_in, na_values, field_delim):
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


def field_counts(lines, field_delim, expected):
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


def check_utf8(columns, path, numbers):
    """Stops at the first cell of ``columns`` (string columns by name) that is not valid UTF-8, naming its file, line
    and column (read in another encoding, the lines were transcoded to UTF-8 before); True otherwise."""
    values = tf.stack(list(columns.values()), axis=1)
    readable = tf.strings.unicode_transcode(values, "UTF-8", "UTF-8", errors="replace")
    return _located_cell(path, numbers, tf.not_equal(readable, values), lambda i, j: tf.strings.join(
        [tf.gather([f"column {name!r}" for name in columns], j), ": value '", readable[i, j],
         "' is not valid UTF-8; set data.encoding to the file's encoding (e.g. latin-1)"]))


def check_numbers(columns, path, numbers):
    """Stops at the first cell of ``columns`` (``{what: cells}``) that is not a number, naming its file, line and
    column; True otherwise."""
    values = tf.stack(list(columns.values()), axis=1)
    return _located_cell(path, numbers, tf.logical_not(tf.strings.regex_full_match(values, _NUMBER)), lambda i, j: tf.strings.join(
        [tf.gather(list(columns), j), ": value '", values[i, j], "' is not a number"]))


def _located_cell(path, numbers, bad, message):
    """:func:`located` for ``bad`` cells (``[lines, columns]``): one check whatever the number of columns (each
    check is a conditional to trace); ``message(i, j)`` names cell ``j`` of line ``i``. True once checked."""
    check = located(path, numbers, tf.reduce_any(bad, axis=1),
                     lambda i: message(i, tf.argmax(tf.cast(bad[i], tf.int32))))
    with tf.control_dependencies([check]):
        return tf.constant(True)
