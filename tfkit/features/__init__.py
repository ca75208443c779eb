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


_NUMBERS = ("int32", "int64", "float32", "float64")  # narrowest first: two columns reading a key take the wider


def input_specs(columns):
    """The raw inputs ``columns`` read, ``{key: RawInput(dtype, width)}``; disagreements raise.

    Two columns may read one number feature as different numbers (a count
    as a ``NumericColumn`` and as an ``IdentityColumn``): it is taken as the
    wider dtype, which each column casts to its own. A key that a
    ``CrossedColumn`` crosses raw reads as a string unless another column
    says what it is.
    """
    specs, weak = {}, set()
    for column in closure(columns):
        for key, spec in column.input_specs().items():
            crossed_raw = getattr(column, "raw_keys", ()) and key in column.raw_keys
            if key in weak and not crossed_raw:
                specs[key], weak = spec, weak - {key}
                continue
            if key not in specs and crossed_raw:
                weak.add(key)
            if crossed_raw and key in specs:
                continue
            known = specs.setdefault(key, spec)
            if known != spec and known.dtype in _NUMBERS and spec.dtype in _NUMBERS and known.width == spec.width \
                    and known.shape == spec.shape:
                specs[key] = max(known, spec, key=lambda s: _NUMBERS.index(s.dtype))
            elif known != spec:
                raise TfkitError(
                    f"Input feature {key!r} is read as {specs[key]} by one column and as {spec} by "
                    f"{column.name!r}. Make the columns agree on its dtype and width."
                )
    return specs
