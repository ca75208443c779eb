"""Embeddings of numeric features (Gorishniy et al. 2022): piecewise-linear encodings and periodic embeddings.

A plain MLP sees a numeric feature as one number, and struggles to learn the
sharp, irregular functions of it that trees find easily (a capital gain just
over a threshold). Mapping each number to a vector first closes most of that
gap:

* :class:`PiecewiseLinearColumn` (PLE): bins learned by ``adapt`` (quantiles,
  or a decision tree on the labels), each value encoded as how far it has
  filled each bin; optionally followed by a per-feature linear layer.
* :class:`PeriodicColumn` (PLR): ``sin`` and ``cos`` of trainable frequencies
  times the standardized value, then a per-feature linear layer and a ReLU.

One column embeds one or many numeric sources with the same settings; each
source still has its own bins, frequencies and weights. The consuming layer
(``DenseFeatures``) owns the weights, made by :meth:`make_embedder`.
"""

import math

import numpy as np
import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features.base import DenseColumn, deserialize, register, serialize
from tfkit.features.numeric import NumericColumn, moments_accumulator, moments_finish, moments_update
from tfkit.features.sampling import reservoir_accumulator, reservoir_update
from tfkit.features.tree_bins import tree_edges

BINNINGS = ("quantile", "tree")


class NumericEmbeddingColumn(DenseColumn):
    """What both embeddings share: numeric sources of shape 1, their missing flags, the per-feature linear layer."""

    suffix = None

    def __init__(self, sources, dimension, activation, name):
        sources = [deserialize(s) for s in (sources if isinstance(sources, (list, tuple)) else [sources])]
        label = type(self).__name__
        if not sources or not all(isinstance(s, NumericColumn) and s.shape == 1 for s in sources):
            raise TfkitError(f"{label} {name or ''!r}: sources must be NumericColumns of shape 1. Received: sources={sources!r}")
        if len({s.name for s in sources}) != len(sources):
            raise TfkitError(f"{label} {name or ''!r}: a source is listed twice: {[s.name for s in sources]}.")
        super().__init__(name or "_".join(s.name for s in sources) + f"_{self.suffix}")
        if dimension is not None and (not isinstance(dimension, int) or isinstance(dimension, bool) or dimension < 1):
            raise TfkitError(f"{label} {self.name!r}: dimension must be a positive int (or null). Received: dimension={dimension!r}")
        self.sources = sources
        self.dimension = dimension
        self.activation = activation

    @property
    def num_flags(self):
        return sum(s.missing_indicator for s in self.sources)

    @property
    def output_dim(self):
        return len(self.sources) * self.dimension + self.num_flags

    def input_specs(self):
        specs = {}
        for source in self.sources:
            specs.update(source.input_specs())
        return specs

    def scaled_numpy(self, features):
        """``[batch, sources]`` float64: each source's value, missing ones given its default, clipped and log-scaled."""
        return np.concatenate([s.scaled(s.read_numpy(features), np) for s in self.sources], axis=1)

    def scaled(self, features):
        return tf.concat([s.scaled(s.read(features), tf) for s in self.sources], axis=1)

    def with_flags(self, values, features):
        """``values`` followed by a 0/1 "was missing" value for each source that asks for one."""
        flags = [tf.cast(tf.math.is_nan(tf.reshape(tf.cast(features[s.key], tf.float32), [-1, 1])), tf.float32)
                 for s in self.sources if s.missing_indicator]
        return tf.concat([values, *flags], axis=1) if flags else values

    def get_config(self):
        return {"sources": [serialize(s) for s in self.sources], "dimension": self.dimension,
                "activation": self.activation, "name": self.name}


@register("piecewise_linear")
class PiecewiseLinearColumn(NumericEmbeddingColumn):
    """Piecewise-linear encoding (PLE) of numeric features, on bins learned by ``adapt``.

    With bin edges ``b0 < b1 < ... < bT``, a value ``x`` becomes ``T`` numbers:
    1 for each bin entirely below ``x``, 0 for each bin above it, and the
    filled fraction ``(x - b[t-1]) / (b[t] - b[t-1])`` of the bin holding it
    (below ``b0`` or above ``bT`` the first or last number goes on growing).
    A linear model over it is a piecewise-linear function of ``x``.

    Args:
        sources: A ``NumericColumn`` of shape 1, or a list of them: each gets
            its own bins (and weights), with these settings.
        num_bins: Bins per source. Quantile edges that coincide (a value
            that fills several bins) are merged, so a source may get fewer.
        bins: ``"quantile"`` (edges at quantiles of the values) or
            ``"tree"`` (the thresholds of a decision tree that predicts the
            label from the value alone: bins follow where the target changes,
            so ``adapt`` needs ``(features, labels)`` batches).
        min_samples_leaf: With tree bins, the fewest values a bin holds.
        dimension: If given, each source's encoding goes through its own
            linear layer to ``dimension`` outputs (the paper's PLE + linear);
            if null, the encoding itself is the output (``num_bins`` values per
            source, zero-padded where a source has fewer bins).
        activation: Activation after that linear layer (``"relu"``, or null).
        edges: Learned (or given) bin edges: one increasing list per source.
        name: Column name. Defaults to the sources' names + ``"_ple"``.

    Missing values are encoded as their source's default; a source with
    ``missing_indicator`` adds its 0/1 flag after the encodings.

    Example:

    >>> import numpy as np
    >>> from tfkit.features import NumericColumn, PiecewiseLinearColumn, adapt
    >>> hours = PiecewiseLinearColumn(NumericColumn("hours"), num_bins=3)
    >>> adapt([hours], [{"hours": np.arange(0.0, 61.0)}])
    >>> hours.edges
    [[0.0, 20.0, 40.0, 60.0]]
    >>> hours.transform({"hours": np.array([10.0, 45.0])}, [], None).numpy().tolist()
    [[0.5, 0.0, 0.0], [1.0, 1.0, 0.25]]
    """

    suffix = "ple"

    def __init__(self, sources, num_bins=32, bins="quantile", min_samples_leaf=32, dimension=None, activation=None,
                 edges=None, name=None):
        super().__init__(sources, dimension, activation, name)
        if not isinstance(num_bins, int) or isinstance(num_bins, bool) or num_bins < 1:
            raise TfkitError(f"PiecewiseLinearColumn {self.name!r}: num_bins must be a positive int. Received: num_bins={num_bins!r}")
        if bins not in BINNINGS:
            raise TfkitError(f"PiecewiseLinearColumn {self.name!r}: bins must be one of {BINNINGS}. Received: bins={bins!r}")
        if not isinstance(min_samples_leaf, int) or isinstance(min_samples_leaf, bool) or min_samples_leaf < 1:
            raise TfkitError(f"PiecewiseLinearColumn {self.name!r}: min_samples_leaf must be a positive int. "
                             f"Received: min_samples_leaf={min_samples_leaf!r}")
        if edges is not None:
            edges = [[float(e) for e in row] for row in edges]
            if len(edges) != len(self.sources) or not all(
                    2 <= len(row) <= num_bins + 1 and all(math.isfinite(e) for e in row)
                    and all(a < b for a, b in zip(row, row[1:])) for row in edges):
                raise TfkitError(
                    f"PiecewiseLinearColumn {self.name!r}: edges must be one strictly increasing list of 2 to "
                    f"num_bins + 1 = {num_bins + 1} finite numbers per source ({len(self.sources)}). Received: edges={edges!r}")
        self.num_bins = num_bins
        self.bins = bins
        self.min_samples_leaf = min_samples_leaf
        self.edges = edges

    @property
    def output_dim(self):
        return len(self.sources) * (self.dimension or self.num_bins) + self.num_flags

    @property
    def needs_adapt(self):
        return self.edges is None

    @property
    def adapt_needs_labels(self):
        return self.bins == "tree"

    def adapt_accumulator(self):
        return reservoir_accumulator()

    def adapt_update(self, accumulator, features, labels=None):
        if self.bins == "tree":
            if labels is None:
                raise TfkitError(f"PiecewiseLinearColumn {self.name!r}: tree bins are learned from the labels, and adapt "
                                 f"received batches without them. Pass (features, labels) batches.")
            labels = np.asarray(labels)
            accumulator["classes"] = np.issubdtype(labels.dtype, np.integer)
            rows = np.concatenate([self.scaled_numpy(features), labels.reshape(len(labels), -1).astype(np.float64)], axis=1)
        else:
            rows = self.scaled_numpy(features)
        reservoir_update(accumulator, rows)

    def adapt_finish(self, accumulator):
        sample = accumulator["sample"]
        if sample is None or not len(sample):
            raise TfkitError(f"PiecewiseLinearColumn {self.name!r}: adapt saw no values.")
        count = len(self.sources)
        if self.bins == "tree":
            target = sample[:, count:]
            if accumulator["classes"]:  # class ids: one 0/1 column per class, so that variance is Gini impurity
                target = (target[:, :1] == np.unique(target[:, 0])).astype(np.float64)
            self.edges = [tree_edges(sample[:, i], target, self.num_bins, self.min_samples_leaf) for i in range(count)]
        else:
            self.edges = [_quantile_edges(sample[:, i], self.num_bins) for i in range(count)]

    def _tables(self):
        """Per source and bin: left edge, width, lower and upper clip, and 1 for a real bin (0 for padding)."""
        shape = (len(self.sources), self.num_bins)
        left, width = np.zeros(shape), np.ones(shape)
        low, high, real = np.zeros(shape), np.ones(shape), np.zeros(shape)
        for i, row in enumerate(self.edges):
            bins = len(row) - 1
            left[i, :bins], width[i, :bins], real[i, :bins] = row[:-1], np.diff(row), 1.0
            low[i, 0], high[i, bins - 1] = -np.inf, np.inf  # the outer bins extrapolate
        return [tf.constant(t, tf.float32) for t in (left, width, low, high, real)]

    def transform(self, features, parents, layers):
        self.check_ready()
        left, width, low, high, real = self._tables()
        fraction = (self.scaled(features)[:, :, None] - left) / width
        encoded = tf.clip_by_value(fraction, low, high) * real
        return self.with_flags(tf.reshape(encoded, [-1, len(self.sources) * self.num_bins]), features)

    @property
    def has_weights(self):
        return self.dimension is not None

    def make_embedder(self):
        if self.dimension is None:
            return None
        from tfkit.layers.numeric_embedding import NumericEmbedding

        return NumericEmbedding(len(self.sources), self.num_bins, self.dimension, self.activation,
                                num_flags=self.num_flags, name=f"{self.name}_embedder")

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "bins": self.bins,
                "min_samples_leaf": self.min_samples_leaf, "edges": self.edges}


@register("periodic")
class PeriodicColumn(NumericEmbeddingColumn):
    """Periodic embeddings of numeric features: the paper's PLR.

    Each source is standardized (mean and variance learned by ``adapt``), then
    ``v = 2 pi c x`` for ``num_frequencies`` trainable frequencies ``c`` (drawn
    from ``N(0, sigma^2)``), then ``concat(cos v, sin v)``, a per-source linear
    layer to ``dimension`` outputs, and ``activation``.

    Args:
        sources: A ``NumericColumn`` of shape 1, or a list of them: each gets
            its own frequencies and weights, with these settings.
        num_frequencies: Frequencies per source.
        sigma: Standard deviation of the initial frequencies: the most
            important setting. Small values (0.01 - 0.1) give smooth functions
            of the value, large ones (1 - 10) sharp ones.
        dimension: Outputs per source.
        activation: Activation after the linear layer (``"relu"``: PLR).
        mean: Learned (or given) means, one per source.
        variance: Learned (or given) variances, one per source.
        name: Column name. Defaults to the sources' names + ``"_periodic"``.

    Example:

    >>> import numpy as np
    >>> from tfkit.features import NumericColumn, PeriodicColumn, adapt
    >>> from tfkit.layers import DenseFeatures
    >>> plr = PeriodicColumn([NumericColumn("age"), NumericColumn("hours")], num_frequencies=8, dimension=4)
    >>> adapt([plr], [{"age": np.array([20.0, 40.0]), "hours": np.array([30.0, 50.0])}])
    >>> plr.mean, plr.output_dim
    ([30.0, 40.0], 8)
    >>> DenseFeatures([plr])({"age": np.array([25.0]), "hours": np.array([45.0])}).shape
    TensorShape([1, 8])
    """

    suffix = "periodic"

    def __init__(self, sources, num_frequencies=48, sigma=0.1, dimension=24, activation="relu", mean=None,
                 variance=None, name=None):
        super().__init__(sources, dimension, activation, name)
        if dimension is None:
            raise TfkitError(f"PeriodicColumn {self.name!r}: dimension must be a positive int. Received: dimension=None")
        if not isinstance(num_frequencies, int) or isinstance(num_frequencies, bool) or num_frequencies < 1:
            raise TfkitError(f"PeriodicColumn {self.name!r}: num_frequencies must be a positive int. "
                             f"Received: num_frequencies={num_frequencies!r}")
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0:
            raise TfkitError(f"PeriodicColumn {self.name!r}: sigma must be a positive number. Received: sigma={sigma!r}")
        if (mean is None) != (variance is None) or mean is not None and not (
                len(mean) == len(variance) == len(self.sources) and all(math.isfinite(v) for v in [*mean, *variance])):
            raise TfkitError(f"PeriodicColumn {self.name!r}: give mean and variance (one finite number per source, "
                             f"{len(self.sources)}), or neither. Received: mean={mean!r}, variance={variance!r}")
        self.num_frequencies = num_frequencies
        self.sigma = float(sigma)
        self.mean = None if mean is None else [float(v) for v in mean]
        self.variance = None if variance is None else [float(v) for v in variance]

    @property
    def needs_adapt(self):
        return self.mean is None

    def adapt_accumulator(self):
        return moments_accumulator(len(self.sources))

    def adapt_update(self, accumulator, features):
        moments_update(accumulator, self.scaled_numpy(features))

    def adapt_finish(self, accumulator):
        self.mean, self.variance = moments_finish(accumulator, f"PeriodicColumn {self.name!r}")

    def transform(self, features, parents, layers):
        self.check_ready()
        std = tf.sqrt(tf.maximum(tf.constant(self.variance, tf.float32), 1e-12))
        return self.with_flags((self.scaled(features) - tf.constant(self.mean, tf.float32)) / std, features)

    @property
    def has_weights(self):
        return True

    def make_embedder(self):
        from tfkit.layers.numeric_embedding import NumericEmbedding

        return NumericEmbedding(len(self.sources), 1, self.dimension, self.activation, num_frequencies=self.num_frequencies,
                                sigma=self.sigma, num_flags=self.num_flags, name=f"{self.name}_embedder")

    def get_config(self):
        return {**super().get_config(), "num_frequencies": self.num_frequencies, "sigma": self.sigma,
                "mean": self.mean, "variance": self.variance}


def _quantile_edges(values, num_bins):
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, num_bins + 1)))
    if len(edges) < 2:  # a constant feature: one bin around its value
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    return [float(e) for e in edges]
