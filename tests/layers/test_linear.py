"""Linear: the weighted sum by hand, combiners, and sparse gradients of huge crosses."""

import numpy as np
import pytest
import tensorflow as tf

from tfkit import features as F
from tfkit.layers import Linear


def test_logits_are_the_weighted_sum_of_each_columns_rows():
    job = F.CategoricalColumn("job", vocabulary=["clerk", "cook"], num_oov_buckets=1)
    tags = F.CategoricalColumn("tags", vocabulary=["a", "b", "c"], delimiter="|", num_oov_buckets=0)
    hours = F.NumericColumn("hours")
    layer = Linear([job, tags, hours], units=1, sparse_combiner="mean")
    layer.build()
    layer.sparse_weights.assign(np.arange(1, 7, dtype="float32")[:, None])  # job: oov 1, clerk 2, cook 3; tags: a 4, b 5, c 6
    layer.dense_kernel.assign([[0.5]])
    layer.bias.assign([10.0])
    out = layer({"job": np.array(["cook", "pilot", ""]), "tags": np.array(["a|c", "b", ""]), "hours": np.array([2.0, 0.0, 4.0])})
    expected = [10 + 3 + (4 + 6) / 2 + 1.0, 10 + 1 + 5, 10 + 0 + 0 + 2.0]  # "" is missing: no row, no weight
    np.testing.assert_allclose(out.numpy().ravel(), expected)
    np.testing.assert_allclose(layer.weights_of("tags").numpy().ravel(), [4, 5, 6])
    np.testing.assert_allclose(layer.weights_of("hours").numpy().ravel(), [0.5])


@pytest.mark.parametrize("combiner, expected", [("sum", 3.0 + 4.0), ("mean", 3.5), ("sqrtn", 7.0 / np.sqrt(2.0))])
def test_sparse_combiners(combiner, expected):
    tags = F.CategoricalColumn("tags", vocabulary=["a", "b"], delimiter="|", num_oov_buckets=0)
    layer = Linear([tags], sparse_combiner=combiner)
    layer.build()
    layer.sparse_weights.assign([[3.0], [4.0]])
    assert layer({"tags": np.array(["a|b"])}).numpy()[0, 0] == pytest.approx(expected)


def test_a_cross_of_millions_of_buckets_gets_a_sparse_gradient():
    a, b = F.HashedColumn("a", 1000), F.HashedColumn("b", 1000)
    layer = Linear([a, b, F.CrossedColumn([a, b], num_buckets=20_000_000)])
    batch = {"a": np.array(["x", "y", "z"]), "b": np.array(["p", "q", "r"])}
    layer(batch)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(batch))
    gradient = tape.gradient(loss, layer.sparse_weights)
    assert isinstance(gradient, tf.IndexedSlices)  # never a dense [20M, 1] gradient
    assert gradient.values.shape[0] == 9  # three columns, three examples
    assert layer.sparse_weights.shape == (20_002_000, 1)
