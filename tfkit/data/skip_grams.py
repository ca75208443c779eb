"""word2vec's training examples in tf.data: lines of a corpus, and pairs or contexts of a batch of word ids."""

import tensorflow as tf

from tfkit.errors import TfkitError


def corpus_lines(corpus):
    """A ``tf.data`` dataset of the corpus' lines: from a dataset of strings, a list of sentences, or file(s)."""
    if isinstance(corpus, tf.data.Dataset):
        return corpus
    if isinstance(corpus, str) or (isinstance(corpus, (list, tuple)) and corpus and all(
            isinstance(p, str) and ("/" in p or p.endswith((".txt", ".gz"))) for p in corpus)):
        from tfkit.data.csv import file_lines

        return file_lines(corpus)
    sentences = [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in corpus]
    if not sentences:
        raise TfkitError("Word2Vec: the corpus is empty.")
    return tf.data.Dataset.from_tensor_slices(sentences)


def examples(ids, keep, window, mode, seed=None):
    """Training examples of a ragged batch of word ids: skip-gram pairs, or CBOW contexts and their word."""
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
    if mode == "skip_gram":
        pairs = tf.where(inside)
        return {"inputs": tf.gather(flat, pairs[:, 0]), "targets": tf.gather_nd(context, pairs), "words": words}
    has_context = tf.reduce_any(inside, axis=1)
    return {"inputs": tf.where(inside, context, -1)[has_context], "targets": flat[has_context], "words": words}
