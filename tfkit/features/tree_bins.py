"""Bin edges from a decision tree that predicts a target from one feature (the paper's PLE-T bins).

The tree is grown best-first, like scikit-learn's with ``max_leaf_nodes``: the
leaf whose split lowers the squared error of the target most is split next,
until there are ``num_bins`` leaves or no split helps. With one 0/1 column per
class as the target, squared error is the Gini impurity. Its thresholds,
between the feature's minimum and maximum, are the edges.
"""

import heapq

import numpy as np


def tree_edges(values, target, num_bins, min_samples_leaf=1):
    """Increasing edges ``[min, thresholds..., max]`` of at most ``num_bins`` bins.

    Args:
        values: ``[n]`` feature values.
        target: ``[n, k]`` target (one column per class, or regression outputs).
        num_bins: Most bins (tree leaves).
        min_samples_leaf: Fewest values per bin.

    Example:

    >>> import numpy as np
    >>> from tfkit.features.tree_bins import tree_edges
    >>> x = np.arange(10.0)
    >>> tree_edges(x, (x >= 6.5)[:, None].astype(float), num_bins=4)
    [0.0, 6.5, 9.0]
    """
    order = np.argsort(values, kind="stable")
    x, y = np.asarray(values, np.float64)[order], np.asarray(target, np.float64)[order]
    # Prefix sums of y and y^2: the squared error of any run of rows in O(k).
    sums = np.concatenate([np.zeros((1, y.shape[1])), np.cumsum(y, axis=0)])
    squares = np.concatenate([np.zeros((1, y.shape[1])), np.cumsum(y**2, axis=0)])

    def error(start, stop):  # [start, stop) may be arrays of runs
        count = np.asarray(stop - start)[..., None]
        total = sums[stop] - sums[start]
        return np.sum(squares[stop] - squares[start] - total**2 / count, axis=-1)

    def best_split(start, stop):
        cuts = np.arange(start + min_samples_leaf, stop - min_samples_leaf + 1)
        cuts = cuts[x[cuts - 1] < x[np.minimum(cuts, len(x) - 1)]]  # only between distinct values
        if not len(cuts):
            return None
        gains = error(start, stop) - error(np.full_like(cuts, start), cuts) - error(cuts, np.full_like(cuts, stop))
        best = int(np.argmax(gains))
        return (gains[best], int(cuts[best])) if gains[best] > 1e-12 else None

    heap, thresholds = [], []

    def push(start, stop):
        split = best_split(start, stop)
        if split is not None:
            heapq.heappush(heap, (-split[0], start, stop, split[1]))

    push(0, len(x))
    while heap and len(thresholds) + 1 < num_bins:
        _, start, stop, cut = heapq.heappop(heap)
        thresholds.append((x[cut - 1] + x[cut]) / 2.0)
        push(start, cut)
        push(cut, stop)
    edges = sorted({float(x[0]), *map(float, thresholds), float(x[-1])})
    if len(edges) < 2:  # a constant feature: one bin around its value
        edges = [edges[0] - 0.5, edges[0] + 0.5]
    return edges
