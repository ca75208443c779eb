"""The column protocol shared by every feature column.

A column is a small declarative spec: its constructor arguments are its
config, and state learned from data (vocabularies, bucket boundaries,
normalisation statistics) is stored back into those same arguments by
``adapt``. A column creates no weights; the layer that consumes it
(``DenseFeatures`` or ``Linear``) owns the Keras preprocessing layers and the
tables built from it.

Columns come in two kinds:

* ``SparseColumn``: produces category ids, as :class:`Ids` (a padded
  ``[batch, n]`` int64 id matrix with ``[batch, n]`` float weights; weight 0
  marks padding or a missing value, and ``weights=None`` says every id is
  present). ``num_buckets`` is the id range.
* ``DenseColumn``: produces a float32 ``[batch, output_dim]`` tensor.
"""

from typing import NamedTuple

import keras

from tfkit.errors import TfkitError

_REGISTRY = {}


def register(kind):
    """Registers a column class under a config ``type`` name and for Keras serialization."""

    def decorator(cls):
        cls.kind = kind
        _REGISTRY[kind] = cls
        return keras.saving.register_keras_serializable(package="tfkit")(cls)

    return decorator


def kinds():
    return sorted(_REGISTRY)


def column_class(kind):
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise TfkitError(
            f"Unknown feature column type {kind!r}. Expected one of: {', '.join(kinds())}."
        ) from None


class RawInput(NamedTuple):
    """A raw input feature: its dtype name and its number of values per example.

    ``shape`` gives multi-dimensional inputs (an image's ``(height, width,
    channels)``); ``width`` is then their product.
    """

    dtype: str
    width: int = 1
    shape: tuple = None

    @property
    def example_shape(self):
        """The shape of one example's value: ``()`` for a scalar, ``(width,)`` for a vector."""
        if self.shape is not None:
            return tuple(self.shape)
        return () if self.width == 1 else (self.width,)


class Ids(NamedTuple):
    """Category ids of a sparse column: ``ids`` [batch, n] int64 and ``weights`` [batch, n] float32 or None (all 1)."""

    ids: object
    weights: object


class Column:
    """Base class of all feature columns."""

    kind = None

    def __init__(self, name):
        if not isinstance(name, str) or not name:
            raise TfkitError(
                f"A {type(self).__name__} needs a non-empty string name. Received: name={name!r}"
            )
        self.name = name

    @property
    def parents(self):
        """Columns this column is computed from."""
        return []

    def input_specs(self):
        """Raw input features this column reads: ``{key: RawInput}`` (own inputs only)."""
        return {}

    # -- adapt protocol: one pass over the data fills in learned state --------
    @property
    def needs_adapt(self):
        """True while state the column learns from data is still missing."""
        return False

    def adapt_accumulator(self):
        raise NotImplementedError

    #: True when adapt_update takes the batch's labels too: ``adapt_update(accumulator, features, labels)``.
    adapt_needs_labels = False

    def adapt_update(self, accumulator, features):
        """Updates ``accumulator`` from a batch of raw features (numpy arrays)."""
        raise NotImplementedError

    def adapt_summary(self, features):
        """A batch of raw features (tensors) reduced in TensorFlow to what the accumulator needs, or None.

        ``adapt`` computes it inside the input pipeline, in parallel with reading, and hands its numpy value to
        :meth:`adapt_merge` in place of the batch (values and their counts, say, instead of every cell). Columns
        returning None (the default) get the raw batch through :meth:`adapt_update`.
        """
        return None

    def adapt_merge(self, accumulator, summary):
        """Updates ``accumulator`` from one :meth:`adapt_summary` (numpy arrays)."""
        raise NotImplementedError

    def adapt_finish(self, accumulator):
        """Stores what was learned into the column's own arguments."""
        raise NotImplementedError

    # -- transform: raw features -> tensors ----------------------------------
    def make_layers(self):
        """Keras preprocessing layers the consumer creates and tracks for this column."""
        return None

    def transform(self, features, parents, layers):
        """Computes the column's value from raw ``features`` and its parents' values."""
        raise NotImplementedError

    #: True when the column's value is about as small as its raw input (ids, a few numbers), so that a
    #: training input pipeline computes it once and keeps it (see :meth:`tfkit.layers.transform.ColumnTransform.ahead`).
    #: Wider values (one-hot indicators, bin encodings) are computed again in each step from what is kept.
    kept_ahead = False

    def check_ready(self):
        if self.needs_adapt:
            raise TfkitError(
                f"{type(self).__name__} {self.name!r} learns its state from data and has not "
                f"been adapted. Call model.adapt(dataset) (or tfkit.features.adapt(columns, "
                f"dataset)) before building the model, or give the state explicitly."
            )

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, self.name))


class DenseColumn(Column):
    """A column whose value is a float32 ``[batch, output_dim]`` tensor."""

    @property
    def output_dim(self):
        raise NotImplementedError

    @property
    def has_weights(self):
        """Whether the column's output comes through trainable weights of its own (:meth:`make_embedder`'s layer)."""
        return False

    def make_embedder(self):
        """A Keras layer with trainable weights, owned by the consuming layer, that maps this column's value to its output; or None."""
        return None


class SparseColumn(Column):
    """A column whose value is category :class:`Ids` in ``[0, num_buckets)``.

    Subclasses provide ``num_buckets``: an attribute when it is a constructor
    argument (hashed, identity, crossed), a property when it is derived
    (from a vocabulary or boundaries).
    """

    num_buckets = None

    @property
    def kept_ahead(self):
        # Ids of one width for every batch: a multi-valued cell (a delimiter) pads each batch to its longest.
        return getattr(self, "delimiter", None) is None and all(p.kept_ahead for p in self.parents)


def check_num_buckets(owner, num_buckets):
    if not isinstance(num_buckets, int) or isinstance(num_buckets, bool) or num_buckets < 1:
        raise TfkitError(f"{owner}: num_buckets must be a positive int. Received: num_buckets={num_buckets!r}")


def serialize(column):
    return keras.saving.serialize_keras_object(column)


def deserialize(config):
    if isinstance(config, Column):
        return config
    return keras.saving.deserialize_keras_object(config)


def closure(columns):
    """Every column ``columns`` depend on, parents before children, one per name.

    Raises if two different columns share a name, since values are keyed by name.
    """
    ordered, seen = [], {}

    def visit(column):
        if not isinstance(column, Column):
            raise TfkitError(f"Expected a feature column, received {column!r}.")
        known = seen.get(column.name)
        if known is not None:
            if known is not column and known != column:
                raise TfkitError(
                    f"Two different feature columns are named {column.name!r}: "
                    f"{known!r} and {column!r}. Give each column its own name."
                )
            return
        seen[column.name] = column
        for parent in column.parents:
            visit(parent)
        ordered.append(column)

    for column in columns:
        visit(column)
    return ordered
