"""Lines of text files as tf.data batches: read, numbered, blank ones dropped and split into a deterministic holdout,
a batch of lines at a time (see :func:`numbered_lines`)."""

import functools
import glob
import os
import zlib

import tensorflow as tf

from tfkit.data import cache as cache_lib
from tfkit.data.cache import plain
from tfkit.data.cells import MARK
from tfkit.errors import DataError


# A blank line: nothing but the whitespace tf.strings.strip removes.
_BLANK = r"[ \t\n\v\f\r]*"
# Bytes of text Python reads at a time for in-process readers (see numbered_lines).
CHUNK_BYTES = 1 << 20


def expand_files(file_pattern):
    """Sorted files matching a path, glob, or list of them; raises if one matches nothing."""
    patterns = [file_pattern] if isinstance(file_pattern, (str, os.PathLike)) else list(file_pattern)
    files = []
    for pattern in patterns:
        matched = sorted(glob.glob(os.fspath(pattern)))
        if not matched:
            raise DataError(f"No data file matches {os.fspath(pattern)!r}.")
        files.extend(matched)
    return files


def text_lines(path):
    """The lines of a text file (a string tensor), gunzipped when its name ends in ``.gz``."""
    return tf.data.TextLineDataset(path, compression_type=tf.where(tf.strings.regex_full_match(path, r".*\.gz"), "GZIP", ""))


def _is_utf8(encoding):
    return encoding.lower().replace("_", "-") in ("utf-8", "utf8")


def to_utf8(text, encoding):
    """String tensor ``text`` transcoded from ``encoding`` to UTF-8 (unchanged when it already is UTF-8)."""
    return text if _is_utf8(encoding) else tf.strings.unicode_transcode(text, encoding, "UTF-8", errors="replace")


def file_lines(files, encoding="utf-8"):
    """Every line of ``files`` (a path, glob or list, see :func:`expand_files`), in UTF-8."""
    lines = tf.data.Dataset.from_tensor_slices(expand_files(files)).flat_map(plain(text_lines))
    return lines if _is_utf8(encoding) else lines.map(lambda line: to_utf8(line, encoding))


def numbered_lines(path, first=1, encoding="utf-8", in_process=False, keep_blank=False):
    """The lines of a file from line ``first`` on, in UTF-8, in batches of ``(path, numbers, lines)``: the file's path
    (one string: a batch's lines come from one file) and each line's number beside each line. Blank lines are left
    out, unless ``keep_blank``: a reader whose check of each line fails a blank one can drop them only in a batch
    that fails it (see :func:`drop_blank`), and save a look at every line.

    Every step after reading is a batch's: a tf.data ``map`` or ``filter`` of each line costs about 30 µs, thirty
    times what parsing the line does. Reading is the pipeline's one sequential stage. ``TextLineDataset`` makes a
    tensor of every line (5.1 s for census ×100's 3.3 million lines); with ``in_process``, Python reads the file a
    chunk of whole lines at a time (zlib releases the GIL) and TensorFlow splits each chunk in one op (1.4 s). Such
    a dataset calls back into this process, so it cannot run on another machine (a parameter-server worker): there,
    leave ``in_process`` off. Both give the same lines, numbered alike.
    """
    if in_process:
        chunks = tf.data.Dataset.from_generator(_chunks, args=(path,), output_signature=tf.TensorSpec([], tf.string))
        # Each chunk split on its own; the first line's number counted after, in order.
        lines = chunks.map(plain(lambda chunk: tf.strings.split(chunk, "\n")), num_parallel_calls=tf.data.AUTOTUNE,
                           deterministic=True).scan(tf.constant(1, tf.int64), plain(
            lambda number, batch: (number + tf.size(batch, out_type=tf.int64), (number, batch))))
    else:
        lines = text_lines(path).batch(cache_lib.PARSE_BATCH).enumerate().map(
            plain(lambda index, batch: (1 + index * cache_lib.PARSE_BATCH, batch)))

    def numbered(number, batch):
        numbers = number + tf.range(tf.size(batch, out_type=tf.int64))
        batch = to_utf8(batch, encoding)
        kept = numbers >= first
        if not keep_blank:
            kept &= tf.logical_not(is_blank(batch))
        batch, numbers = tf.cond(tf.reduce_all(kept), lambda: (batch, numbers),  # a copy of every line, when needed
                                 lambda: (tf.boolean_mask(batch, kept), tf.boolean_mask(numbers, kept)))
        return path, numbers, batch

    return nonempty(lines.map(plain(numbered), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))


def is_blank(lines):
    """Whether each line is blank: nothing but the whitespace ``tf.strings.strip`` removes (half a strip's time)."""
    return tf.strings.regex_full_match(lines, _BLANK)


def drop_blank(numbers, lines):
    """``(numbers, lines)`` without the blank lines."""
    kept = tf.logical_not(is_blank(lines))
    return tf.boolean_mask(numbers, kept), tf.boolean_mask(lines, kept)


def _chunks(path):
    """A file's text in chunks of whole lines, without the newline that ends each chunk's last line. Carriage
    returns are dropped, as ``TextLineDataset`` drops them."""
    path = os.fsdecode(path)
    rest = b""
    for block in _text_blocks(path):
        chunk = rest + block
        end = chunk.rfind(b"\n")
        if end < 0:  # a line longer than a block: read on
            rest = chunk
            continue
        chunk, rest = chunk[:end], chunk[end + 1:]
        yield chunk.replace(b"\r", b"") if b"\r" in chunk else chunk
    if rest:
        yield rest.replace(b"\r", b"")


def _text_blocks(path):
    """The bytes of a file's text, about ``CHUNK_BYTES`` at a time, gunzipped (every member) when its name ends in
    ``.gz``. One zlib call a block, which releases the GIL while it inflates: the reading thread then takes the GIL
    once a block, not once every 8 KB (``gzip.open``), each time waiting for the threads that hold it."""
    try:
        with open(path, "rb") as f:
            if not path.endswith(".gz"):
                while block := f.read(CHUNK_BYTES):
                    yield block
                return
            inflate, pending, in_member = zlib.decompressobj(wbits=31), b"", False
            while pending or (pending := f.read(max(CHUNK_BYTES // 4, 1))):
                if not in_member:  # gzip's zero padding between or after members
                    pending = pending.lstrip(b"\0")
                    if not pending:
                        continue
                in_member = True
                yield inflate.decompress(pending, CHUNK_BYTES)
                pending = inflate.unconsumed_tail
                if inflate.eof:  # the end of a gzip member: another may follow
                    pending, inflate, in_member = inflate.unused_data + pending, zlib.decompressobj(wbits=31), False
            if in_member:
                raise EOFError("the compressed stream ends before its end marker")
    except (OSError, EOFError, zlib.error) as error:
        # As a ValueError with tfkit's data-error marks, TensorFlow's error names the file (see tfkit.data.explain).
        raise ValueError(f"{MARK}{{{path}: cannot read it ({error}); the file is truncated or corrupt}}{MARK}") from None


def in_part(keep, path, numbers, *lines):
    """The lines of a batch of :func:`numbered_lines` (and anything beside them) that ``keep`` (a
    :func:`holdout_predicate`) keeps."""
    kept = keep(line_key(path, numbers))
    return (path, *(tf.boolean_mask(column, kept) for column in (numbers, *lines)))


def line_key(path, numbers):
    """The holdout keys of a file's lines: the file's name and each line's number, so the split survives moving the
    files."""
    return tf.strings.join([tf.strings.regex_replace(path, r".*/", ""), tf.strings.as_string(numbers)], ":")


def holdout_predicate(part, fraction):
    """A predicate of an example's string key: True if the example is in ``part`` of a deterministic split.

    ``part`` is ``"validation"`` (about ``fraction`` of the keys, chosen by
    hash) or ``"train"`` (the others). ``fraction`` may also be a range
    ``(low, high)`` of the hash's unit interval: fold ``i`` of ``k`` is
    ``(i / k, (i + 1) / k)``. The same key always lands in the same part,
    however the data is read.
    """
    low, high = (0.0, fraction) if isinstance(fraction, (int, float)) else tuple(fraction)
    if part not in ("train", "validation") or not 0.0 <= low < high <= 1.0 or (low, high) == (0.0, 1.0):
        raise DataError(f"holdout must be ('train' | 'validation', fraction in (0, 1) or a range (low, high) in it). "
                        f"Received: {(part, fraction)!r}")
    low, high = int(round(low * 10_000)), int(round(high * 10_000))

    def keep(key):
        bucket = tf.strings.to_hash_bucket_fast(key, 10_000)
        in_validation = (bucket >= low) & (bucket < high)
        return in_validation if part == "validation" else tf.logical_not(in_validation)

    return keep


def split(source, holdout=None):
    """The examples of ``source`` (batches of ``(examples, keys)``) in ``holdout``'s part, or all of them."""
    if holdout is None:
        return source.map(plain(lambda examples, keys: examples))
    keep = holdout_predicate(*holdout)
    return source.map(plain(lambda examples, keys: tf.nest.map_structure(lambda column: tf.boolean_mask(column, keep(keys)), examples)))


def nonempty(batches):
    """The batches of ``(path, numbers, ...)`` that hold a line: a file of blank lines, or a batch all held out,
    leaves none for the checks that name a line."""
    return batches.filter(plain(lambda path, numbers, *rest: tf.size(numbers) > 0))


def held_out(batches, holdout):
    """The lines of :func:`numbered_lines` batches in ``holdout``'s part (see :func:`holdout_predicate`)."""
    kept = batches.map(plain(functools.partial(in_part, holdout_predicate(*holdout))), num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=True)
    return nonempty(kept)
