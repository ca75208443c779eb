"""BucketizedColumn: a numeric feature cut into ranges, one id per range."""

import keras
import numpy as np
import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features.base import Ids, SparseColumn, deserialize, register, serialize
from tfkit.features.numeric import NumericColumn
from tfkit.features.sampling import reservoir_accumulator, reservoir_update


@register("bucketized")
class BucketizedColumn(SparseColumn):
    """Ranges of a numeric column: explicit ``boundaries`` or ``num_bins`` quantiles learned by ``adapt``.

    Boundaries ``[b0, b1, ...]`` give ids 0 for ``x < b0``, 1 for ``b0 <= x < b1``,
    and so on: ``len(boundaries) + 1`` buckets. Learned quantiles that coincide
    (a value that fills several bins) are merged, so there may be fewer buckets
    than ``num_bins``.

    Args:
        source: The ``NumericColumn`` (shape 1) whose raw values are cut.
        boundaries: Sorted bucket boundaries.
        num_bins: Number of quantile bins to learn when no boundaries are given.
        name: Column name. Defaults to ``"<source>_bucketized"``.

    Example:

    >>> from tfkit.features import BucketizedColumn, NumericColumn
    >>> age = BucketizedColumn(NumericColumn("age"), boundaries=[18, 25, 65])
    >>> age.num_buckets
    4
    >>> age.transform({"age": [17.0, 30.0, 70.0]}, [], age.make_layers()).ids.numpy().ravel().tolist()
    [0, 2, 3]
    """

    def __init__(self, source, boundaries=None, num_bins=None, name=None):
        source = deserialize(source)
        if not isinstance(source, NumericColumn) or source.shape != 1:
            raise TfkitError(f"BucketizedColumn needs a NumericColumn of shape 1 as source. Received: source={source!r}")
        super().__init__(name or f"{source.name}_bucketized")
        if boundaries is None and num_bins is None:
            raise TfkitError(f"BucketizedColumn {self.name!r}: give boundaries or num_bins.")
        if num_bins is not None and (not isinstance(num_bins, int) or num_bins < 2):
            raise TfkitError(f"BucketizedColumn {self.name!r}: num_bins must be an int >= 2. Received: num_bins={num_bins!r}")
        if boundaries is not None:
            boundaries = [float(b) for b in boundaries]
            if not boundaries or any(a >= b for a, b in zip(boundaries, boundaries[1:])):
                raise TfkitError(
                    f"BucketizedColumn {self.name!r}: boundaries must be a non-empty, strictly increasing list. "
                    f"Received: boundaries={boundaries!r}"
                )
        self.source = source
        self.boundaries = boundaries
        self.num_bins = num_bins

    @property
    def num_buckets(self):
        self.check_ready()
        return len(self.boundaries) + 1

    def input_specs(self):
        return self.source.input_specs()

    @property
    def needs_adapt(self):
        return self.boundaries is None

    def adapt_accumulator(self):
        return reservoir_accumulator()

    def adapt_update(self, accumulator, features):
        reservoir_update(accumulator, self.source.read_numpy(features).ravel())

    def adapt_finish(self, accumulator):
        sample = accumulator["sample"]
        if sample is None or not len(sample):
            raise TfkitError(f"BucketizedColumn {self.name!r}: adapt saw no values.")
        quantiles = np.quantile(sample, np.linspace(0, 1, self.num_bins + 1)[1:-1])
        boundaries = np.unique(quantiles)
        if not len(boundaries):
            boundaries = np.array([sample[0]])
        self.boundaries = [float(b) for b in boundaries]

    def make_layers(self):
        self.check_ready()
        return keras.layers.Discretization(bin_boundaries=self.boundaries, name=f"{self.name}_discretization")

    def transform(self, features, parents, layers):
        # Every number falls in a bucket: no weights needed.
        return Ids(tf.cast(layers(self.source.read(features)), tf.int64), None)

    def get_config(self):
        return {
            "source": serialize(self.source),
            "boundaries": self.boundaries,
            "num_bins": self.num_bins,
            "name": self.name,
        }
