"""word2vec's training examples in tf.data: lines of a corpus, and pairs or contexts of a batch of word ids."""

from typing import NamedTuple

import tensorflow as tf

from tfkit.data.cache import resolve
from tfkit.errors import TfkitError


class TextFiles(NamedTuple):
    """A corpus of text files in ``encoding``, read as UTF-8 lines (a plain path or list of paths is UTF-8).

    Unlike a dataset of lines, files can be shared out: each worker of a
    parameter-server cluster reads its own files or lines, transcoding them itself.

    Example:

    >>> import os, tempfile
    >>> from tfkit.data import TextFiles
    >>> from tfkit.data.skip_grams import corpus_lines
    >>> path = os.path.join(tempfile.mkdtemp(), "corpus.txt")
    >>> with open(path, "wb") as f:
    ...     _ = f.write("un café".encode("latin-1"))
    >>> corpus = TextFiles(path, encoding="latin-1")
    >>> [line.decode("utf-8") for line in corpus_lines(corpus).as_numpy_iterator()]
    ['un café']
    """

    files: object  # a path, glob, or list of them
    encoding: str = "utf-8"


def text_files(corpus):
    """``corpus`` as :class:`TextFiles` if it names files (a path, paths, or TextFiles), else None."""
    if isinstance(corpus, TextFiles):
        return corpus
    if isinstance(corpus, str) or (isinstance(corpus, (list, tuple)) and bool(corpus) and all(
            isinstance(p, str) and ("/" in p or p.endswith((".txt", ".gz"))) for p in corpus)):
        return TextFiles(corpus)
    return None


def corpus_lines(corpus):
    """A ``tf.data`` dataset of the corpus' lines: from a dataset of strings, a list of sentences, or file(s)."""
    if isinstance(corpus, tf.data.Dataset):
        return corpus
    files = text_files(corpus)
    if files is not None:
        from tfkit.data.lines import file_lines

        return file_lines(files.files, files.encoding)
    sentences = [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in corpus]
    if not sentences:
        raise TfkitError("Word2Vec: the corpus is empty.")
    return tf.data.Dataset.from_tensor_slices(sentences)


def corpus_part(corpus, index, count):
    """The part of ``corpus`` that worker ``index`` of ``count`` reads, so that together they read it once.

    Whole files when there are at least as many files as workers (every
    ``count``-th file), else every ``count``-th line (of a list of sentences,
    of the files' lines or of a dataset of lines).
    """
    if isinstance(corpus, tf.data.Dataset):
        return corpus.shard(count, index)
    files = text_files(corpus)
    if files is not None:
        from tfkit.data.lines import expand_files

        paths = expand_files(files.files)
        if len(paths) >= count:
            return TextFiles(paths[index::count], files.encoding)
        return corpus_lines(TextFiles(paths, files.encoding)).shard(count, index)
    return list(corpus)[index::count]


def part_lines(corpus, count):
    """The number of lines in each of the ``count`` parts :func:`corpus_part` makes, each file read through once."""
    files = text_files(corpus)
    if files is None:
        total = len(corpus)
    else:
        from tfkit.data.lines import expand_files, text_lines

        files = expand_files(files.files)  # counted as they are: transcoding keeps the lines
        lines = [int(text_lines(path).reduce(tf.constant(0, tf.int64), lambda n, _: n + 1)) for path in files]
        if len(files) >= count:
            return [sum(lines[index::count]) for index in range(count)]
        total = sum(lines)
    return [len(range(index, total, count)) for index in range(count)]


def line_count(corpus):
    """The lines of a corpus: of a list, of its files (read through once) or of a finite dataset of lines."""
    if not isinstance(corpus, tf.data.Dataset):
        return part_lines(corpus, 1)[0]
    count = int(corpus.cardinality())
    if count == tf.data.INFINITE_CARDINALITY:
        raise TfkitError("Word2Vec: the corpus dataset is endless, so an epoch would never end; pass a finite one "
                         "(dataset.take(lines), say).")
    return count if count >= 0 else int(corpus.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


def chunked(ids, length):
    """A ragged batch of word ids with every row cut into pieces of at most ``length`` words (empty rows dropped)."""
    starts = tf.ragged.range(tf.zeros_like(ids.row_lengths()), ids.row_lengths(), length) + ids.row_starts()[:, None]
    total = tf.size(ids.flat_values, tf.int64)
    return tf.RaggedTensor.from_row_splits(ids.flat_values, tf.concat([starts.flat_values, [total]], 0))


def corpus_cache(corpus, cache="auto"):
    """Where a corpus' parsed lines are kept (see :func:`tfkit.data.cache.resolve`).

    ``auto``: a list of sentences is in memory already, so its ids are too;
    files by their size; a dataset of lines is read again each pass.
    """
    if cache != "auto":
        return resolve(cache)
    if isinstance(corpus, tf.data.Dataset):
        return "none"
    files = text_files(corpus)
    if files is None:
        return "memory"
    from tfkit.data.lines import expand_files

    return resolve(cache, expand_files(files.files))


def examples(ids, keep, window, seed=None):
    """Training examples of a ragged batch of word ids: every word with the words of its window.

    Returns ``{"inputs": [words, 2 * window]`` context ids (-1 where the window
    is shorter), ``"targets": [words]``, ``"words"``: the corpus words the
    batch covers}`` for the words with at least one context word. Skip-gram
    takes a pair per context word; CBOW their mean.
    """
    words = tf.size(ids.flat_values, tf.int64)
    flat, row = ids.flat_values, ids.value_rowids()
    if keep is not None:
        kept = tf.random.uniform(tf.shape(flat), seed=seed) < tf.gather(keep, flat)
        flat, row = flat[kept], row[kept]
    count = tf.size(flat, tf.int64)
    reach = tf.random.uniform(tf.shape(flat), 1, window + 1, dtype=tf.int64, seed=seed)  # word2vec's shrunk window
    offsets = tf.constant([d for d in range(-window, window + 1) if d], tf.int64)
    positions = tf.range(count)[:, None] + offsets[None, :]
    inside = (positions >= 0) & (positions < count) & (tf.abs(offsets)[None, :] <= reach[:, None])
    positions = tf.clip_by_value(positions, 0, tf.maximum(count - 1, 0))
    inside &= tf.gather(row, positions) == row[:, None]  # windows stop at line ends
    context = tf.gather(flat, positions)
    has_context = tf.reduce_any(inside, axis=1)
    return {"inputs": tf.where(inside, context, -1)[has_context], "targets": flat[has_context], "words": words}


def mixed(ids, keep, window, seed=None):
    """The examples of several steps' word ids (``[steps, lines, words]``), dealt at random into as many steps.

    Each step then trains on words from all of these steps' lines rather than
    from a few consecutive lines, so a word that bursts in one article or
    topic reaches Adagrad spread over several steps (see
    :class:`~tfkit.models.Word2Vec`'s ``mix_steps``). Returns the
    :func:`examples` dict with a leading ``steps`` dimension (ragged), the
    corpus words shared out between the steps so that they add up.
    """
    steps = ids.nrows()
    batch = examples(ids.merge_dims(0, 1), keep, window, seed)
    count = tf.shape(batch["targets"], out_type=tf.int64)[0]
    order = tf.random.shuffle(tf.range(count), seed=seed)
    shares = tf.range(steps + 1)
    ends, words = shares * count // steps, shares * batch["words"] // steps
    return {"inputs": tf.RaggedTensor.from_row_splits(tf.gather(batch["inputs"], order), ends),
            "targets": tf.RaggedTensor.from_row_splits(tf.gather(batch["targets"], order), ends),
            "words": words[1:] - words[:-1]}
