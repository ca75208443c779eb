"""Declarative feature columns built on Keras preprocessing layers.

A column says how to turn raw feature values into tensors. ``adapt`` learns
vocabularies, quantile boundaries and normalisation statistics in one pass;
``tfkit.layers.DenseFeatures`` and ``tfkit.layers.Linear`` consume columns.
"""

from tfkit.errors import TfkitError
from tfkit.features.adapt import adapt
from tfkit.features.base import Column, DenseColumn, Ids, RawInput, SparseColumn, closure, column_class, deserialize, kinds, serialize
from tfkit.features.bucketized import BucketizedColumn
from tfkit.features.categorical import CategoricalColumn, HashedColumn, IdentityColumn
from tfkit.features.crossed import CrossedColumn
from tfkit.features.embedding import EmbeddingColumn, shared_embeddings
from tfkit.features.indicator import IndicatorColumn
from tfkit.features.numeric import NumericColumn
from tfkit.features.numeric_embedding import NumericEmbeddingColumn, PeriodicColumn, PiecewiseLinearColumn
from tfkit.features.text import TextColumn
from tfkit.features.weighted import WeightedColumn

__all__ = [
    "BucketizedColumn",
    "CategoricalColumn",
    "Column",
    "CrossedColumn",
    "DenseColumn",
    "EmbeddingColumn",
    "HashedColumn",
    "IdentityColumn",
    "Ids",
    "IndicatorColumn",
    "NumericColumn",
    "NumericEmbeddingColumn",
    "PeriodicColumn",
    "PiecewiseLinearColumn",
    "RawInput",
    "SparseColumn",
    "TextColumn",
    "WeightedColumn",
    "adapt",
    "closure",
    "deserialize",
    "get",
    "input_specs",
    "kinds",
    "serialize",
    "shared_embeddings",
]


def get(identifier):
    """A column from an instance, or a Keras-serialized config.

    Configs that name other columns (``{"type": "crossed", "columns": [...]}``)
    are resolved by :func:`tfkit.config` (which knows the other columns); this
    accepts only self-contained ones.
    """
    if isinstance(identifier, Column):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise TfkitError(f"Cannot make a feature column from {identifier!r}.")


def input_specs(columns):
    """The raw inputs ``columns`` read, ``{key: RawInput(dtype, width)}``; disagreements raise."""
    specs = {}
    for column in closure(columns):
        for key, spec in column.input_specs().items():
            if specs.setdefault(key, spec) != spec:
                raise TfkitError(
                    f"Input feature {key!r} is read as {specs[key]} by one column and as {spec} by "
                    f"{column.name!r}. Make the columns agree on its dtype and width."
                )
    return specs
