"""EmbeddingColumn: dense learned vectors for a sparse column, and shared embeddings."""

import math

import keras

from tfkit.errors import TfkitError
from tfkit.features.base import DenseColumn, SparseColumn, deserialize, register, serialize

COMBINERS = ("sum", "mean", "sqrtn")


def check_combiner(owner, combiner):
    if combiner not in COMBINERS:
        raise TfkitError(f"{owner}: combiner must be one of {COMBINERS}. Received: combiner={combiner!r}")


@register("embedding")
class EmbeddingColumn(DenseColumn):
    """A trainable ``dimension``-wide vector per id of a sparse column.

    Multi-valued cells combine their vectors with ``combiner`` (``"sum"``,
    ``"mean"`` or ``"sqrtn"``). Columns with the same ``shared_name`` use one
    table (see :func:`shared_embeddings`); the consuming layer owns the table.

    Args:
        categorical: The sparse column to embed.
        dimension: Width of each vector.
        combiner: How the vectors of a multi-valued cell are combined.
        initializer: Keras initializer for the table. Defaults to a truncated
            normal with standard deviation ``1 / sqrt(dimension)``.
        shared_name: Name of a table shared with other embedding columns.
        trainable: Whether the table is trained.
        max_norm: Vectors whose L2 norm is larger are scaled down to it when looked up.
        name: Column name. Defaults to ``"<categorical>_embedding"``.

    Example:

    >>> from tfkit.features import CategoricalColumn, EmbeddingColumn
    >>> job = EmbeddingColumn(CategoricalColumn("job", vocabulary=["clerk", "engineer"]), dimension=8)
    >>> job.name, job.output_dim, job.table_shape
    ('job_embedding', 8, (3, 8))
    """

    def __init__(
        self,
        categorical,
        dimension,
        combiner="mean",
        initializer=None,
        shared_name=None,
        trainable=True,
        name=None,
        max_norm=None,
    ):
        categorical = deserialize(categorical)
        if not isinstance(categorical, SparseColumn):
            raise TfkitError(f"EmbeddingColumn needs a sparse column to embed. Received: categorical={categorical!r}")
        super().__init__(name or f"{categorical.name}_embedding")
        if not isinstance(dimension, int) or isinstance(dimension, bool) or dimension < 1:
            raise TfkitError(f"EmbeddingColumn {self.name!r}: dimension must be a positive int. Received: dimension={dimension!r}")
        check_combiner(f"EmbeddingColumn {self.name!r}", combiner)
        self.categorical = categorical
        self.dimension = dimension
        self.combiner = combiner
        self.initializer = initializer
        self.shared_name = shared_name
        self.trainable = bool(trainable)
        if max_norm is not None and (not isinstance(max_norm, (int, float)) or isinstance(max_norm, bool) or max_norm <= 0):
            raise TfkitError(f"EmbeddingColumn {self.name!r}: max_norm must be a positive number or None. "
                             f"Received: max_norm={max_norm!r}")
        self.max_norm = None if max_norm is None else float(max_norm)

    @property
    def parents(self):
        return [self.categorical]

    @property
    def output_dim(self):
        return self.dimension

    @property
    def table_name(self):
        return self.shared_name or self.name

    @property
    def table_shape(self):
        return (self.categorical.num_buckets, self.dimension)

    def table_initializer(self):
        if self.initializer is None:
            return keras.initializers.TruncatedNormal(stddev=1.0 / math.sqrt(self.dimension))
        return keras.initializers.get(self.initializer)

    def get_config(self):
        return {
            "categorical": serialize(self.categorical),
            "dimension": self.dimension,
            "combiner": self.combiner,
            "initializer": self.initializer,
            "shared_name": self.shared_name,
            "trainable": self.trainable,
            "name": self.name,
            "max_norm": self.max_norm,
        }


def shared_embeddings(categoricals, dimension, combiner="mean", initializer=None, shared_name=None, trainable=True,
                      max_norm=None):
    """Embedding columns for several sparse columns that look up one shared table.

    The columns must have the same ``num_buckets`` (e.g. the same vocabulary).

    Example:

    >>> from tfkit.features import CategoricalColumn, shared_embeddings
    >>> words = ["a", "b", "c"]
    >>> query, title = shared_embeddings(
    ...     [CategoricalColumn("query", vocabulary=words), CategoricalColumn("title", vocabulary=words)], 4)
    >>> query.table_name == title.table_name == "query_title_shared_embedding"
    True
    """
    categoricals = list(categoricals)
    if len(categoricals) < 2:
        raise TfkitError("shared_embeddings needs two or more sparse columns.")
    shared_name = shared_name or "_".join(c.name for c in categoricals) + "_shared_embedding"
    return [
        EmbeddingColumn(c, dimension, combiner, initializer, shared_name=shared_name, trainable=trainable, max_norm=max_norm)
        for c in categoricals
    ]
