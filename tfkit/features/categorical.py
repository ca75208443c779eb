"""Sparse columns over raw values: vocabulary, identity and hashed.

Each of them accepts a ``delimiter`` for multi-valued cells (``"Drama|Comedy"``):
the cell is split and every value becomes one id; consumers combine them
(``sum``/``mean``/``sqrtn``). An empty string, or -1 for integers, is a missing
value and contributes nothing.
"""

import collections

import keras
import numpy as np
import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features.base import Ids, RawInput, SparseColumn, check_num_buckets, register

_CATEGORY_DTYPES = ("string", "int64")


def raw_values(features, key, dtype, delimiter):
    """Raw values as a ``[batch, n]`` tensor, padded (and with missing cells) as "" or -1.

    A ``[batch, n]`` input is several values a row already (as ``tf.io.parse_example`` reads a list of them).
    """
    values = tf.convert_to_tensor(features[key])
    if delimiter is None:
        values = values if values.shape.rank == 2 else tf.reshape(values, [-1, 1])
        return tf.cast(values, tf.int64) if dtype == "int64" else values
    values = tf.strings.split(tf.reshape(values, [-1]), sep=delimiter).to_tensor(default_value="")
    if dtype == "int64":
        return tf.strings.to_number(tf.where(tf.equal(values, ""), "-1", values), out_type=tf.int64)
    return values


def count_values(counter, features, key, dtype, delimiter):
    """Counts the raw values of a numpy batch's feature ``key`` into ``counter`` (a ``collections.Counter``), as they
    come: bytes, str or numbers, missing ones too; :func:`counted_values` reads them back.

    Counted in C (``Counter.update`` of the cells, ``np.unique`` of numbers): a Python step per cell made the adapt
    pass twenty times slower than reading the data.
    """
    if key not in features:
        raise TfkitError(f"Input feature {key!r} is missing.")
    cells = np.ravel(features[key])
    if delimiter is not None:
        cells = _split(cells, delimiter)
    if cells.dtype.kind in "iu":
        values, counts = np.unique(cells, return_counts=True)
        merge_counts(counter, {"values": values, "counts": counts})
    else:
        counter.update(cells.tolist() if cells.dtype.kind != "O" else cells)


def unique_counts(values):
    """``{"values", "counts"}``: the distinct values of a 1-D tensor and how often each occurs."""
    values, _, counts = tf.unique_with_counts(values, out_idx=tf.int64)
    return {"values": values, "counts": counts}


def merge_counts(counter, summary):
    """Adds a :func:`unique_counts` summary (numpy arrays) to ``counter``."""
    counter.update(dict(zip(summary["values"].tolist(), summary["counts"].tolist())))


def _split(cells, delimiter):
    """Every value of multi-valued cells: joined, then split, in one step each."""
    if cells.dtype.kind == "S" or (cells.dtype.kind == "O" and all(isinstance(cell, bytes) for cell in cells)):
        separator = delimiter.encode("utf-8")
        return np.array(separator.join(cells.tolist()).split(separator) if len(cells) else [], dtype=object)
    return np.array(delimiter.join(str(cell) for cell in cells.tolist()).split(delimiter) if len(cells) else [], dtype=object)


def counted_values(counter, dtype):
    """``{value: count}`` of a :func:`count_values` counter: values as ``str`` (or ``int`` for int64), missing ones
    ("" or a negative id) left out."""
    counts = collections.Counter()
    for value, count in counter.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        if dtype == "int64":
            if value == "":
                continue
            value = int(value)
            if value < 0:
                continue
        else:
            value = str(value)
            if value == "":
                continue
        counts[value] += count
    return counts


def _ids(ids, valid):
    """Ids where ``valid``, 0 (with weight 0) elsewhere, so that every id can be gathered."""
    return Ids(tf.where(valid, tf.cast(ids, tf.int64), tf.zeros_like(ids, tf.int64)), tf.cast(valid, tf.float32))


def _missing_marker(dtype):
    return -1 if dtype == "int64" else ""


def _check_dtype(cls, name, dtype):
    if dtype not in _CATEGORY_DTYPES:
        raise TfkitError(f"{cls} {name!r}: dtype must be one of {_CATEGORY_DTYPES}. Received: dtype={dtype!r}")


@register("categorical")
class CategoricalColumn(SparseColumn):
    """Categories from a vocabulary: given as a list, read from a file, or learned by ``adapt``.

    Ids follow Keras' ``StringLookup`` layout: out-of-vocabulary values hash
    into the first ``num_oov_buckets`` ids, then the vocabulary follows in
    order; with ``num_oov_buckets=0`` they are dropped and the vocabulary
    starts at id 0.

    Args:
        name: Column name, also the raw feature key unless ``key`` is given.
        vocabulary: List of values. Learned by ``adapt`` when neither this nor
            ``vocabulary_file`` is given (most frequent first).
        vocabulary_file: Text file with one value per line.
        max_tokens: When learning, keep at most this many values.
        min_frequency: When learning, keep values seen at least this often.
        num_oov_buckets: Ids for values outside the vocabulary.
        oov_last: Put the out-of-vocabulary ids after the vocabulary's
            (``tf.feature_column``'s layout: the vocabulary is ids
            ``0..n-1``, then the OOV buckets) instead of before them.
        default_value: With ``num_oov_buckets=0``, the id out-of-vocabulary
            values get; None drops them.
        dtype: ``"string"`` or ``"int64"``.
        delimiter: Split each cell on this string (multi-valued column).
        key: Raw feature to read. Defaults to ``name``.

    Example:

    >>> import numpy as np
    >>> from tfkit.features import CategoricalColumn, adapt
    >>> genre = CategoricalColumn("genre", delimiter="|", num_oov_buckets=0)
    >>> adapt([genre], [{"genre": np.array(["Drama|Comedy", "Drama", "Horror"])}])
    >>> genre.vocabulary, genre.num_buckets
    (['Drama', 'Comedy', 'Horror'], 3)
    """

    def __init__(
        self,
        name,
        vocabulary=None,
        vocabulary_file=None,
        max_tokens=None,
        min_frequency=1,
        num_oov_buckets=1,
        dtype="string",
        delimiter=None,
        key=None,
        oov_last=False,
        default_value=None,
    ):
        super().__init__(name)
        _check_dtype("CategoricalColumn", name, dtype)
        if vocabulary is not None and vocabulary_file is not None:
            raise TfkitError(f"CategoricalColumn {name!r}: give vocabulary or vocabulary_file, not both.")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise TfkitError(f"CategoricalColumn {name!r}: max_tokens must be a positive int. Received: max_tokens={max_tokens!r}")
        if not isinstance(min_frequency, int) or min_frequency < 1:
            raise TfkitError(
                f"CategoricalColumn {name!r}: min_frequency must be a positive int. Received: min_frequency={min_frequency!r}"
            )
        if not isinstance(num_oov_buckets, int) or num_oov_buckets < 0:
            raise TfkitError(
                f"CategoricalColumn {name!r}: num_oov_buckets must be an int >= 0. Received: num_oov_buckets={num_oov_buckets!r}"
            )
        self.dtype = dtype
        self.key = key or name
        self.vocabulary = None if vocabulary is None else self._check_vocabulary(list(vocabulary), "vocabulary")
        self.vocabulary_file = vocabulary_file
        self.max_tokens = max_tokens
        self.min_frequency = min_frequency
        self.num_oov_buckets = num_oov_buckets
        self.delimiter = delimiter
        self.oov_last = bool(oov_last)
        if default_value is not None and (num_oov_buckets or not isinstance(default_value, int) or default_value < 0):
            raise TfkitError(f"CategoricalColumn {name!r}: default_value is the id of out-of-vocabulary values when "
                             f"num_oov_buckets is 0: an int >= 0, or None to drop them. Received: default_value="
                             f"{default_value!r} with num_oov_buckets={num_oov_buckets!r}")
        self.default_value = default_value
        self._file_vocabulary = None

    def _check_vocabulary(self, vocabulary, source):
        kind = int if self.dtype == "int64" else str
        try:
            vocabulary = [kind(v) for v in vocabulary]
        except (TypeError, ValueError):
            raise TfkitError(f"CategoricalColumn {self.name!r}: {source} values must all be {self.dtype}.") from None
        duplicates = [v for v, n in collections.Counter(vocabulary).items() if n > 1]
        if duplicates:
            raise TfkitError(f"CategoricalColumn {self.name!r}: {source} repeats {duplicates[:5]}.")
        if "" in vocabulary or (kind is int and any(v < 0 for v in vocabulary)):
            raise TfkitError(f"CategoricalColumn {self.name!r}: {source} holds a missing-value marker ('' or a negative id).")
        if not vocabulary:
            raise TfkitError(f"CategoricalColumn {self.name!r}: {source} is empty.")
        return vocabulary

    def resolved_vocabulary(self):
        """The vocabulary list, reading ``vocabulary_file`` on first use."""
        if self.vocabulary is not None:
            return self.vocabulary
        if self.vocabulary_file is None:
            self.check_ready()
        if self._file_vocabulary is None:
            try:
                with open(self.vocabulary_file, encoding="utf-8") as f:
                    lines = [line.strip() for line in f if line.strip()]
            except OSError as error:
                raise TfkitError(
                    f"CategoricalColumn {self.name!r}: cannot read vocabulary_file {self.vocabulary_file!r}: {error.strerror}."
                ) from None
            self._file_vocabulary = self._check_vocabulary(lines, f"vocabulary_file {self.vocabulary_file!r}")
        return self._file_vocabulary

    @property
    def num_buckets(self):
        return len(self.resolved_vocabulary()) + self.num_oov_buckets

    def input_specs(self):
        return {self.key: RawInput("string" if self.delimiter is not None else self.dtype)}

    @property
    def needs_adapt(self):
        return self.vocabulary is None and self.vocabulary_file is None

    def adapt_accumulator(self):
        return collections.Counter()

    def adapt_update(self, accumulator, features):
        count_values(accumulator, features, self.key, self.dtype, self.delimiter)

    def adapt_summary(self, features):
        if self.key not in features:
            raise TfkitError(f"Input feature {self.key!r} is missing.")
        return unique_counts(tf.reshape(raw_values(features, self.key, self.dtype, self.delimiter), [-1]))

    def adapt_merge(self, accumulator, summary):
        merge_counts(accumulator, summary)

    def adapt_finish(self, accumulator):
        # Most frequent first; ties in value order so that the result is deterministic.
        ranked = sorted(
            ((value, count) for value, count in counted_values(accumulator, self.dtype).items() if count >= self.min_frequency),
            key=lambda item: (-item[1], item[0]),
        )
        if self.max_tokens is not None:
            ranked = ranked[: self.max_tokens]
        if not ranked:
            raise TfkitError(f"CategoricalColumn {self.name!r}: adapt found no value seen {self.min_frequency}+ times.")
        self.vocabulary = [value for value, _ in ranked]

    def make_layers(self):
        lookup = keras.layers.IntegerLookup if self.dtype == "int64" else keras.layers.StringLookup
        # Keras needs one OOV index even when OOV values are dropped (transform shifts it away).
        return lookup(
            vocabulary=self.resolved_vocabulary(), num_oov_indices=max(1, self.num_oov_buckets), name=f"{self.name}_lookup"
        )

    def transform(self, features, parents, layers):
        values = raw_values(features, self.key, self.dtype, self.delimiter)
        # A missing value lands in an OOV bucket with weight 0: fewer ops than masking it out.
        present = tf.not_equal(values, _missing_marker(self.dtype))
        index = layers(values)
        if self.num_oov_buckets:
            if self.oov_last:  # Keras' ids are [OOV buckets, vocabulary]; tf.feature_column's [vocabulary, OOV buckets]
                size = len(self.resolved_vocabulary())
                index = tf.where(index >= self.num_oov_buckets, index - self.num_oov_buckets, index + size)
            return Ids(index, tf.cast(present, tf.float32))
        if self.default_value is not None:
            return _ids(tf.where(index > 0, index - 1, self.default_value), present)
        return _ids(index - 1, present & (index > 0))

    def get_config(self):
        return {
            "name": self.name,
            "vocabulary": self.vocabulary,
            "vocabulary_file": self.vocabulary_file,
            "max_tokens": self.max_tokens,
            "min_frequency": self.min_frequency,
            "num_oov_buckets": self.num_oov_buckets,
            "dtype": self.dtype,
            "delimiter": self.delimiter,
            "key": self.key,
            "oov_last": self.oov_last,
            "default_value": self.default_value,
        }


@register("identity")
class IdentityColumn(SparseColumn):
    """Integer features that already are ids in ``[0, num_buckets)``.

    Values outside the range map to ``default_value``, or are dropped when it is None.

    Example:

    >>> import numpy as np
    >>> from tfkit.features import IdentityColumn
    >>> hour = IdentityColumn("hour", num_buckets=24)
    >>> ids = hour.transform({"hour": np.array([3, 30])}, [], None)
    >>> ids.ids.numpy().ravel().tolist(), ids.weights.numpy().ravel().tolist()
    ([3, 0], [1.0, 0.0])
    """

    def __init__(self, name, num_buckets, default_value=None, delimiter=None, key=None):
        super().__init__(name)
        check_num_buckets(f"IdentityColumn {name!r}", num_buckets)
        if default_value is not None and not 0 <= default_value < num_buckets:
            raise TfkitError(
                f"IdentityColumn {name!r}: default_value must be in [0, {num_buckets}). Received: default_value={default_value!r}"
            )
        self.num_buckets = num_buckets
        self.default_value = default_value
        self.delimiter = delimiter
        self.key = key or name

    def input_specs(self):
        return {self.key: RawInput("string" if self.delimiter is not None else "int64")}

    def transform(self, features, parents, layers):
        values = raw_values(features, self.key, "int64", self.delimiter)
        present = values >= 0
        in_range = values < self.num_buckets
        if self.default_value is None:
            return _ids(values, present & in_range)
        return _ids(tf.where(in_range, values, self.default_value), present)

    def get_config(self):
        return {
            "name": self.name,
            "num_buckets": self.num_buckets,
            "default_value": self.default_value,
            "delimiter": self.delimiter,
            "key": self.key,
        }


@register("hashed")
class HashedColumn(SparseColumn):
    """Categories hashed into ``num_buckets`` ids (Keras ``Hashing``, FarmHash fingerprint).

    Example:

    >>> import numpy as np
    >>> from tfkit.features import HashedColumn
    >>> city = HashedColumn("city", num_buckets=100)
    >>> paris, lima, paris_again = city.transform(
    ...     {"city": np.array(["Paris", "Lima", "Paris"])}, [], city.make_layers()).ids.numpy().ravel()
    >>> bool(paris == paris_again), bool(0 <= lima < 100)
    (True, True)
    """

    def __init__(self, name, num_buckets, dtype="string", delimiter=None, key=None):
        super().__init__(name)
        check_num_buckets(f"HashedColumn {name!r}", num_buckets)
        _check_dtype("HashedColumn", name, dtype)
        self.num_buckets = num_buckets
        self.dtype = dtype
        self.delimiter = delimiter
        self.key = key or name

    def input_specs(self):
        return {self.key: RawInput("string" if self.delimiter is not None else self.dtype)}

    def make_layers(self):
        return keras.layers.Hashing(num_bins=self.num_buckets, name=f"{self.name}_hashing")

    def transform(self, features, parents, layers):
        values = raw_values(features, self.key, self.dtype, self.delimiter)
        return Ids(tf.cast(layers(values), tf.int64), tf.cast(tf.not_equal(values, _missing_marker(self.dtype)), tf.float32))

    def get_config(self):
        return {
            "name": self.name,
            "num_buckets": self.num_buckets,
            "dtype": self.dtype,
            "delimiter": self.delimiter,
            "key": self.key,
        }
