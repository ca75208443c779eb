"""Parse once: cache a reader's parsed examples, then shuffle and batch them for every pass.

Readers parse text in large fixed batches (``PARSE_BATCH`` rows at a time,
vectorised), which is where reading costs. :func:`cached` keeps that parsed
stream — in memory, in files under a path prefix, or not at all — and
:func:`batches` turns it into the batches a pass needs:

* in memory, a training pass is a fresh permutation of every example (not a
  buffer's worth), drawn from the seed and the pass number, so each epoch has
  its own order and a run with a seed repeats itself; batches are gathered
  from the cached arrays, so a pass costs a copy of the data and nothing per
  example;
* otherwise (a file cache, or none) examples are shuffled through a buffer of
  ``shuffle_buffer_size``, as streaming readers do;
* evaluation passes keep the files' order.

``cache: auto`` (the default) keeps the stream in memory when it fits
comfortably, decided from the data's size before reading it (see
:func:`resolve`), and reads it again each pass otherwise.

A memory cache belongs to one dataset object and the datasets made from it
(:class:`tfkit.data.DataSource` makes each source once per run), so the
datasets of one source that read it raw share one parse. On a
parameter-server cluster each worker builds and caches its own stream.

Transform once: a model trained on the batches of :func:`batches` asks
:func:`with_transform` for the same batches with its feature columns'
transforms (string lookups, hashes, crosses) applied in the pipeline. In
memory they are applied once, batch by batch in parallel to the uncached
stream, and only their results are kept (ids and numbers: about a tenth of
the parsed strings' bytes), so no epoch repeats them; otherwise they run in
the pipeline each pass, in parallel with the training step. A file cache
keeps the parsed examples only: a transform changes with the model, a file
outlives it.
"""

import os
import struct
import weakref

import tensorflow as tf

from tfkit.errors import DataError

PARSE_BATCH = 4096
MODES = ("auto", "memory", "none")
# Parsed examples take up to this many times their text's bytes (tf.string cells are 32-byte structs).
_PARSED_BYTES_PER_TEXT_BYTE = 4
# auto keeps data in memory up to this share of the memory available when the run starts.
_AUTO_SHARE = 0.25
# A batch size larger than any data set: rebatch joins every example into one element.
_EVERYTHING = 2**62


def text_bytes(files):
    """The bytes of text in ``files``: their size, uncompressed for ``.gz`` (from the gzip trailer)."""
    total = 0
    for path in files:
        if path.endswith(".gz"):
            with open(path, "rb") as f:
                f.seek(-4, os.SEEK_END)
                size = struct.unpack("<I", f.read(4))[0]  # modulo 4 GiB: enough to tell "fits" from "does not"
            total += max(size, os.path.getsize(path))
        else:
            total += os.path.getsize(path)
    return total


def available_memory():
    """Bytes of memory available now (``MemAvailable``), or None where the system does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def resolve(cache, files=None):
    """What ``cache`` means for these files: ``"memory"``, ``"none"`` or a file path prefix.

    ``auto`` is ``memory`` when the parsed data — estimated at four times the
    bytes of the files' text — takes at most a quarter of the memory
    available now, and ``none`` otherwise (or when there are no files to
    measure).

    Example:

    >>> from tfkit.data.cache import resolve
    >>> resolve("memory"), resolve("none"), resolve("/tmp/census-cache")
    ('memory', 'none', '/tmp/census-cache')
    """
    if not isinstance(cache, str) or not cache:
        raise DataError(f"cache must be auto, memory, none or a file path prefix. Received: cache={cache!r}")
    if cache != "auto":
        return cache
    memory = available_memory()
    if not files or memory is None:
        return "none"
    needed = _PARSED_BYTES_PER_TEXT_BYTE * text_bytes(files)
    return "memory" if needed <= _AUTO_SHARE * memory else "none"


def describe(cache, files):
    """One line saying how ``cache`` (a ``data.cache`` value) keeps the examples of ``files``, and why."""
    mode = resolve(cache, files)
    kept = {"memory": "kept in memory after the first pass", "none": "read from the files on every pass"}.get(
        mode, f"cached in files under {mode}")
    if cache != "auto":
        return f"data.cache is {cache}: {kept}."
    memory = available_memory()
    if not files or memory is None:
        return f"data.cache is auto: the size of the data or of the memory is unknown, so {kept}."
    needed = _PARSED_BYTES_PER_TEXT_BYTE * text_bytes(files)
    fits = "fits" if mode == "memory" else "does not fit"
    return (f"data.cache is auto: the data's parsed size (about {needed / 2**20:,.0f} MB) {fits} in a quarter of the "
            f"{memory / 2**30:.1f} GB of memory available, so it is {kept}.")


def cached(parsed, cache, batched=True):
    """``parsed`` (batches of parsed examples) kept as ``cache`` says (a resolved mode, see :func:`resolve`).

    In memory, the cache of batches is one element holding every example: a
    pass then slices or gathers its batches from it without first joining the
    pieces. ``batched=False`` caches a stream of single examples as it is
    (decoded images, which are shuffled one by one).
    """
    if cache == "none":
        return parsed
    if cache == "memory":
        return parsed.rebatch(_EVERYTHING).cache() if batched else parsed.cache()
    if not os.path.isdir(os.path.dirname(os.path.abspath(cache))):
        raise DataError(f"cache: the folder of the cache file prefix {cache!r} does not exist.")
    return parsed.cache(cache)


def plain(function):
    """``function`` for a ``tf.data`` map, traced as it is written: AutoGraph's rewrite of every function a pipeline
    calls took two thirds of a census run's adapt pass (4.4 s of 6.7 s), and none of them branch on a tensor."""
    return tf.autograph.experimental.do_not_convert(function)


# The datasets batches() made, each with how to make it again with a transform: dataset -> function(transform).
_REMAKE = weakref.WeakKeyDictionary()


def with_transform(dataset, transform):
    """``dataset``, one of :func:`batches`' (or a :func:`derived` one), with ``transform`` applied to each element.

    ``transform`` maps a batch of parsed examples (as the dataset gives them)
    to what the model reads; the result has the same order and shuffling as
    ``dataset``. Returns None for any other dataset: its elements cannot be
    transformed before they are cached.
    """
    remake = _REMAKE.get(dataset)
    return None if remake is None else remake(transform)


def derived(dataset, parent, how):
    """Marks ``dataset = how(parent)`` (a repeat, say) as made from ``parent``, so that :func:`with_transform` takes it."""
    if parent in _REMAKE:
        _REMAKE[dataset] = lambda transform: how(_REMAKE[parent](transform))
    return dataset


def batches(source, batch_size, cache, shuffle=False, shuffle_buffer_size=10_000, seed=None, drop_remainder=False,
            transform=None, stream=None):
    """Batches of ``batch_size`` examples from ``source``, a (cached) stream of parsed batches.

    Args:
        source: Dataset of batches of parsed examples, in the files' order (from :func:`cached`).
        batch_size: Examples per batch.
        cache: The resolved cache mode of ``source`` (see :func:`resolve`).
        shuffle: Shuffle the examples, in a new order every pass.
        shuffle_buffer_size: Examples in the shuffle buffer (streams not in memory).
        seed: Shuffle seed; None draws a new one each run.
        drop_remainder: Drop the last, smaller batch.
        transform: A function applied to every batch (see :func:`with_transform`): once, before the
            batches are drawn, when ``source`` is in memory.
        stream: The same examples as ``source``, not cached. With a transform in memory, the transform is
            applied to it, batch by batch in parallel, and only its results are kept (ids and numbers, never the
            parsed strings).
    """
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise DataError(f"batch_size must be a positive integer. Received: batch_size={batch_size!r}")
    in_memory = transform is not None and cache == "memory"
    if in_memory:  # transformed batch by batch, in parallel, then joined into one element (see cached)
        source = (source if stream is None else stream).map(plain(transform), num_parallel_calls=tf.data.AUTOTUNE,
                                                            deterministic=True)
        source = source.rebatch(_EVERYTHING).cache()
    if not shuffle:
        dataset = source.rebatch(batch_size, drop_remainder=drop_remainder)
    elif cache == "memory":
        dataset = _permuted(source, batch_size, seed, drop_remainder)
    else:
        dataset = source.unbatch().shuffle(shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if transform is not None and not in_memory:
        dataset = dataset.map(plain(transform), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    if transform is None:
        _REMAKE[dataset] = lambda again: batches(source, batch_size, cache, shuffle, shuffle_buffer_size, seed,
                                                 drop_remainder, again, stream)
    return dataset


def _permuted(everything, batch_size, seed, drop_remainder):
    # everything: the memory cache's one element. A pass's own seed comes from a seeded random stream
    # that draws anew for each iterator, i.e. each epoch. One gather of every example, then slices: a
    # batch-by-batch gather inside a nested dataset costs more to start each epoch than the copy.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)

    def shuffled(examples, pass_seed):
        count = tf.shape(tf.nest.flatten(examples)[0], out_type=tf.int64)[0]
        order = tf.random.experimental.stateless_shuffle(tf.range(count), seed=tf.stack([pass_seed, 0]))
        return tf.nest.map_structure(lambda column: tf.gather(column, order), examples)

    return tf.data.Dataset.zip(everything, seeds).map(plain(shuffled)).rebatch(batch_size, drop_remainder=drop_remainder)
