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
:func:`resolve`). Otherwise a run keeps its model's transformed values in
files of its own (``job_dir``, see :func:`spills`), and a reader outside a
run reads the files again each pass.

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
the pipeline each pass, in parallel with the training step — except in a run's
spill folder (``cache: job_dir``), where the first pass writes them to files
the passes after it read, shuffled in windows of ``shuffle_buffer_size``. A
file cache under a path prefix keeps the parsed examples only: a transform
changes with the model, a file outlives it.
"""

import os
import shutil
import struct
import uuid
import weakref

import tensorflow as tf

from tfkit.errors import DataError

PARSE_BATCH = 4096
MODES = ("auto", "memory", "none", "job_dir")
# Parsed examples take up to this many times their text's bytes (tf.string cells are 32-byte structs).
_PARSED_BYTES_PER_TEXT_BYTE = 4
# auto keeps data in memory up to this share of the memory available when the run starts.
_AUTO_SHARE = 0.25
# auto spills a model's transformed values to files when the disk has this many times the files' text bytes free.
_SPILL_DISK_PER_TEXT_BYTE = 2
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
    """What ``cache`` means for the parsed examples of these files: ``"memory"``, ``"none"`` or a file path prefix.

    ``auto`` is ``memory`` when the parsed data — estimated at four times the
    bytes of the files' text — takes at most a quarter of the memory
    available now, and ``none`` otherwise (or when there are no files to
    measure). ``job_dir`` is ``none``: what a run keeps in its job directory
    is a model's transformed values, not parsed examples (see :func:`spills`).

    Example:

    >>> from tfkit.data.cache import resolve
    >>> resolve("memory"), resolve("none"), resolve("/tmp/census-cache")
    ('memory', 'none', '/tmp/census-cache')
    """
    if not isinstance(cache, str) or not cache:
        raise DataError(f"cache must be auto, memory, none or a file path prefix. Received: cache={cache!r}")
    if cache != "auto":
        return "none" if cache == "job_dir" else cache
    memory = available_memory()
    if not files or memory is None:
        return "none"
    needed = _PARSED_BYTES_PER_TEXT_BYTE * text_bytes(files)
    return "memory" if needed <= _AUTO_SHARE * memory else "none"


def spills(cache, files, spill):
    """Whether a run with its spill folder ``spill`` (None: it has none) caches a model's transformed values of
    ``files`` in files there: always for ``cache: job_dir``; for ``auto`` when the data does not fit in memory (see
    :func:`resolve`) and the folder's disk has twice the files' text bytes free. That is an estimate: census's
    transformed values take about as many bytes as its text (95 against 117 a row), but a text column's
    ``sequence_length`` ids of short sentences can take several times their text."""
    if spill is None or cache not in ("auto", "job_dir") or not files:
        return False
    if cache == "job_dir":
        return True
    if resolve(cache, files) != "none":
        return False
    folder = spill
    while not os.path.isdir(folder):
        folder = os.path.dirname(folder) or "."
    return shutil.disk_usage(folder).free >= _SPILL_DISK_PER_TEXT_BYTE * text_bytes(files)


def describe(cache, files, spill=None):
    """One line saying how ``cache`` (a ``data.cache`` value) keeps the examples of ``files``, and why (``spill``: the
    run's spill folder, see :func:`spills`)."""
    mode = resolve(cache, files)
    kept = {"memory": "kept in memory after the first pass", "none": "read from the files on every pass"}.get(
        mode, f"cached in files under {mode}")
    if spills(cache, files, spill):
        kept = (f"read from the files in the first epoch, and the model's transformed values are cached in files "
                f"under {spill} for the epochs after it")
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
            transform=None, stream=None, spill=None):
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
            batches are drawn, when ``source`` is in memory or spilled.
        stream: The same examples as ``source``, not cached. With a transform in memory, the transform is
            applied to it, batch by batch in parallel, and only its results are kept (ids and numbers, never the
            parsed strings).
        spill: A folder (of the run's, see :func:`spills`) where, with a transform and ``source`` not in memory, the
            transformed values of the first pass are cached in files, for the passes after it. Their examples are
            shuffled in windows of ``shuffle_buffer_size``, each a new permutation every pass.
    """
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise DataError(f"batch_size must be a positive integer. Received: batch_size={batch_size!r}")
    in_memory = transform is not None and cache == "memory"
    spilled = transform is not None and spill is not None and not in_memory
    if in_memory or spilled:  # transformed batch by batch, in parallel, then kept (see cached)
        source = (source if stream is None else stream).map(plain(transform), num_parallel_calls=tf.data.AUTOTUNE,
                                                            deterministic=True)
        source = source.rebatch(_EVERYTHING).cache() if in_memory else source.cache(_spill_file(spill))
    if not shuffle:
        dataset = source.rebatch(batch_size, drop_remainder=drop_remainder)
    elif cache == "memory":
        dataset = _permuted(source, batch_size, seed, drop_remainder)
    elif spilled:
        dataset = _permuted(source.rebatch(max(shuffle_buffer_size, batch_size)), batch_size, seed, drop_remainder)
    else:
        dataset = source.unbatch().shuffle(shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if transform is not None and not (in_memory or spilled):
        dataset = dataset.map(plain(transform), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    if transform is None:
        _REMAKE[dataset] = lambda again: batches(source, batch_size, cache, shuffle, shuffle_buffer_size, seed,
                                                 drop_remainder, again, stream, spill)
    return dataset


def _spill_file(folder):
    """A new file prefix in ``folder`` for one dataset's cache (``tf.data`` cache files)."""
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f"transformed-{uuid.uuid4().hex}")


def _permuted(windows, batch_size, seed, drop_remainder):
    # windows: the memory cache's one element, or a file cache's examples in windows of a shuffle buffer's size.
    # Each window's permutation has its seed from a seeded random stream that draws anew for each iterator, i.e.
    # each epoch. One gather of every example of a window, then slices: a batch-by-batch gather inside a nested
    # dataset costs more to start each epoch than the copy.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def shuffled(examples, window_seed):
        count = tf.shape(tf.nest.flatten(examples)[0], out_type=tf.int64)[0]
        order = tf.random.experimental.stateless_shuffle(tf.range(count), seed=tf.stack([window_seed, 0]))
        return tf.nest.map_structure(lambda column: tf.gather(column, order), examples)

    shuffled = tf.data.Dataset.zip(windows, seeds).map(plain(shuffled), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return shuffled.rebatch(batch_size, drop_remainder=drop_remainder)
