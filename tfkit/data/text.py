"""Sentences with labels, one example per line, as tf.data batches of raw strings.

Two layouts: one file per class (``rt-polarity.pos`` / ``rt-polarity.neg``,
``class_files={"positive": ..., "negative": ...}``), or files whose lines
start with the label (``label<TAB>sentence``, or ``label sentence`` when a
line has no tab). CSV files with a text column are read by
:func:`~tfkit.data.read_csv`. Text is transcoded to UTF-8 from ``encoding``;
blank lines are skipped; a label outside ``label_vocabulary`` stops the
pipeline with the file and line (see :func:`tfkit.data.explain`).
"""

import tensorflow as tf

from tfkit.data import cache as cache_lib
from tfkit.data.cache import plain
from tfkit.data.cells import located
from tfkit.data.csv import _label_table
from tfkit.data.lines import expand_files, held_out, line_key, numbered_lines
from tfkit.errors import DataError
from tfkit.features.text import standardize_kim


def read_text(
    file_pattern=None,
    batch_size=32,
    class_files=None,
    label_vocabulary=None,
    text_key="sentence",
    encoding="utf-8",
    standardize=None,
    shuffle=False,
    shuffle_buffer_size=10_000,
    seed=None,
    holdout=None,
    drop_remainder=False,
    cache="auto",
):
    """Reads labelled sentences into batches of ``({text_key: string}, int32 label)``.

    Each line is read and parsed once, then cached as ``cache`` says (see
    :mod:`tfkit.data.cache`).

    Args:
        file_pattern: Files (path, glob or list) whose lines are
            ``label<TAB>sentence`` (or ``label sentence``).
        batch_size: Sentences per batch.
        class_files: Instead of ``file_pattern``: ``{label: files}``, every
            line of a file being one sentence of its label.
        label_vocabulary: Labels in class-id order. Default: the keys of
            ``class_files`` in their order; required with ``file_pattern``.
        text_key: Feature name of the sentences.
        encoding: Encoding of the files (``utf-8``, ``latin-1``, ...); the
            sentences come out as UTF-8.
        standardize: None, or ``"kim"`` for :func:`standardize_kim`.
        shuffle: Shuffle sentences, in a new order every pass.
        shuffle_buffer_size: Sentences in the shuffle buffer (when not cached in memory).
        seed: Shuffle seed.
        holdout: ``("train" | "validation", fraction)``: a deterministic
            split by file name and line number.
        drop_remainder: Drop the last, smaller batch.
        cache: ``auto``, ``memory``, ``none`` or a file path prefix.

    Example:

    >>> import os, tempfile
    >>> from tfkit.data import read_text
    >>> folder = tempfile.mkdtemp()
    >>> _ = open(os.path.join(folder, "pos.txt"), "w").write("a gorgeous film\\n\\nfun !\\n")
    >>> _ = open(os.path.join(folder, "neg.txt"), "w").write("a dull mess\\n")
    >>> features, labels = next(iter(read_text(batch_size=8, class_files={
    ...     "negative": os.path.join(folder, "neg.txt"), "positive": os.path.join(folder, "pos.txt")})))
    >>> [s.decode() for s in features["sentence"].numpy()], labels.numpy().tolist()
    (['a dull mess', 'a gorgeous film', 'fun !'], [0, 1, 1])
    """
    source = text_examples(file_pattern, class_files, label_vocabulary, text_key, encoding, standardize, holdout)
    cache = cache_lib.resolve(cache, text_files(file_pattern, class_files))
    return cache_lib.batches(cache_lib.cached(source, cache), batch_size, cache, shuffle, shuffle_buffer_size, seed,
                             drop_remainder, stream=source)


def text_examples(file_pattern=None, class_files=None, label_vocabulary=None, text_key="sentence", encoding="utf-8",
                  standardize=None, holdout=None, keys=False, in_process=False):
    """The labelled sentences of :func:`read_text`, parsed in batches, in the files' order.

    With ``keys``, batches of ``(examples, keys)``, as :func:`tfkit.data.csv.csv_examples` gives;
    ``in_process`` as there.
    """
    if (file_pattern is None) == (class_files is None):
        raise DataError("read_text needs file_pattern (lines 'label<TAB>sentence') or class_files ({label: files}), not both.")
    if standardize not in (None, "kim"):
        raise DataError(f"standardize must be None or 'kim'. Received: standardize={standardize!r}")
    if class_files is not None:
        labels = list(class_files)
        vocabulary = [str(v) for v in (label_vocabulary or labels)]
        unknown = [label for label in labels if str(label) not in vocabulary]
        if unknown:
            raise DataError(f"class_files names label {unknown[0]!r}, which is not in label_vocabulary {vocabulary}.")
        parts = [(expand_files(files), vocabulary.index(str(label))) for label, files in class_files.items()]
        files = [path for paths, _ in parts for path in paths]
        ids = [label_id for paths, label_id in parts for _ in paths]
        table = None
    else:
        if label_vocabulary is None:
            raise DataError("read_text with labelled lines needs label_vocabulary (the labels in class-id order).")
        vocabulary = [str(v) for v in label_vocabulary]
        files = expand_files(file_pattern)
        ids = [-1] * len(files)
        table = _label_table(vocabulary, None)

    def lines(path, label_id):
        return numbered_lines(path, encoding=encoding, in_process=in_process).map(
            plain(lambda path, numbers, text: (path, numbers, text, tf.fill(tf.shape(text), label_id))))

    dataset = tf.data.Dataset.from_tensor_slices((files, ids)).flat_map(plain(lines))
    if holdout is not None:
        dataset = held_out(dataset, holdout)

    def parse(path, numbers, text, label_ids):
        if table is not None:
            split = tf.strings.regex_replace(text, r"^\s*(\S+?)(\t|\s)", "\\1\t")
            pieces = tf.strings.split(split, "\t", maxsplit=1).to_tensor("", shape=[None, 2])
            label, text = pieces[:, 0], pieces[:, 1]
            label_ids = table.lookup(label)
            check = located(path, numbers, label_ids < 0, lambda i: tf.strings.join(
                ["label '", label[i], f"' is not in label_vocabulary {vocabulary}"]))
            with tf.control_dependencies([check]):
                label_ids = tf.identity(label_ids)
        text = tf.strings.strip(text)
        if standardize == "kim":
            text = standardize_kim(text)
        example = ({text_key: text}, tf.cast(label_ids, tf.int32))
        return (example, line_key(path, numbers)) if keys else example

    return dataset.map(plain(parse), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def text_files(file_pattern=None, class_files=None):
    """Every file that :func:`read_text` reads for ``file_pattern`` or ``class_files``."""
    if class_files is None:
        return expand_files(file_pattern)
    return [path for files in class_files.values() for path in expand_files(files)]
