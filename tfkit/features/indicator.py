"""IndicatorColumn: the one-hot (or multi-hot) vector of a sparse column."""

import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features.base import DenseColumn, SparseColumn, deserialize, register, serialize
from tfkit.features.categorical import IdentityColumn

# A dense indicator of a huge cross is the mistake the linear layer exists to avoid.
MAX_INDICATOR_BUCKETS = 100_000


@register("indicator")
class IndicatorColumn(DenseColumn):
    """One float per id of a sparse column: 1 where present (counts for repeated values).

    Example:

    >>> from tfkit.features import CategoricalColumn, IndicatorColumn
    >>> genre = CategoricalColumn("genre", vocabulary=["Drama", "Comedy"], delimiter="|", num_oov_buckets=0)
    >>> hot = IndicatorColumn(genre)
    >>> ids = genre.transform({"genre": ["Drama|Comedy", "Comedy"]}, [], genre.make_layers())
    >>> hot.transform({}, [ids], None).numpy().tolist()
    [[1.0, 1.0], [0.0, 1.0]]

    A small-integer feature (a 0/1 flag, a count of rooms) needs no column of
    its own: ``num_buckets`` alone one-hot encodes the raw integers
    ``0 .. num_buckets - 1`` of the feature ``name`` (or ``key``):

    >>> rooms = IndicatorColumn(name="rooms", num_buckets=4)
    >>> ids = rooms.categorical.transform({"rooms": [[3], [0]]}, [], None)
    >>> rooms.transform({}, [ids], None).numpy().tolist()
    [[0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]]
    """

    def __init__(self, categorical=None, name=None, num_buckets=None, key=None):
        if (categorical is None) == (num_buckets is None):
            raise TfkitError(f"IndicatorColumn {name or ''!r}: give categorical (a sparse column), or num_buckets to "
                             "one-hot a small-integer feature. Received both or neither.")
        if categorical is None:
            if name is None:
                raise TfkitError("IndicatorColumn: with num_buckets, name (the integer feature) is required.")
            categorical = IdentityColumn(f"{name}_ids", num_buckets, key=key or name)
        categorical = deserialize(categorical)
        if not isinstance(categorical, SparseColumn):
            raise TfkitError(f"IndicatorColumn needs a sparse column. Received: categorical={categorical!r}")
        super().__init__(name or f"{categorical.name}_indicator")
        self.categorical = categorical

    @property
    def parents(self):
        return [self.categorical]

    @property
    def output_dim(self):
        num_buckets = self.categorical.num_buckets
        if num_buckets > MAX_INDICATOR_BUCKETS:
            raise TfkitError(
                f"IndicatorColumn {self.name!r}: {num_buckets} buckets would make a dense vector that wide. "
                f"Use an EmbeddingColumn, or put {self.categorical.name!r} in the linear (wide) part."
            )
        return num_buckets

    def transform(self, features, parents, layers):
        (ids,) = parents
        if ids.ids.shape[-1] == 1:
            one_hot = tf.one_hot(ids.ids[:, 0], self.output_dim, dtype=tf.float32)
            return one_hot if ids.weights is None else one_hot * ids.weights
        one_hot = tf.one_hot(ids.ids, self.output_dim, dtype=tf.float32)
        if ids.weights is not None:
            one_hot = one_hot * ids.weights[..., None]
        return tf.reduce_sum(one_hot, axis=1)

    def get_config(self):
        return {"categorical": serialize(self.categorical), "name": self.name}
