"""Numeric embeddings: piecewise-linear encodings (quantile and tree bins) and periodic embeddings."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfkit.config.build import build_columns
from tfkit.errors import ConfigError, TfkitError
from tfkit.features import NumericColumn, PeriodicColumn, PiecewiseLinearColumn, adapt
from tfkit.features.tree_bins import tree_edges
from tfkit.layers import DenseFeatures, Linear


def ple_reference(x, edges):
    """The paper's encoding, one value at a time."""
    out = []
    for t in range(1, len(edges)):
        left, right = edges[t - 1], edges[t]
        fraction = (x - left) / (right - left)
        if t > 1:
            fraction = max(fraction, 0.0)
        if t < len(edges) - 1:
            fraction = min(fraction, 1.0)
        out.append(fraction)
    return out


def test_piecewise_linear_encoding_matches_the_definition_with_padding_and_extrapolation():
    # gain is 0 for most rows: its coinciding quantiles merge into fewer bins than asked.
    rng = np.random.default_rng(0)
    hours = rng.uniform(10, 60, 1000)
    gain = np.where(rng.random(1000) < 0.8, 0.0, rng.exponential(5000, 1000))
    column = PiecewiseLinearColumn([NumericColumn("hours"), NumericColumn("gain")], num_bins=8)
    adapt([column], [{"hours": hours[:500], "gain": gain[:500]}, {"hours": hours[500:], "gain": gain[500:]}])
    assert len(column.edges[0]) == 9 and 2 < len(column.edges[1]) < 9
    np.testing.assert_allclose(column.edges[0], np.quantile(hours, np.linspace(0, 1, 9)))
    assert column.output_dim == 16

    x = {"hours": np.array([5.0, 30.0, 70.0]), "gain": np.array([0.0, 1500.0, 1e6])}  # 5 and 70: outside the edges
    out = column.transform(x, [], None).numpy().reshape(3, 2, 8)
    for row in range(3):
        for source, key in enumerate(("hours", "gain")):
            expected = ple_reference(x[key][row], column.edges[source])
            np.testing.assert_allclose(out[row, source, :len(expected)], expected, rtol=1e-5, atol=1e-6)
            assert not out[row, source, len(expected):].any()  # the padding
    assert out[0, 0, 0] < 0 and out[2, 0, 7] > 1


def test_tree_bins_follow_the_target_and_respect_the_leaf_size():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 100, 5000)
    y = ((x > 20) & (x < 35) | (x > 80)).astype(float)[:, None]  # changes at 20, 35 and 80
    edges = tree_edges(x, y, num_bins=4)
    assert len(edges) == 5 and edges[0] == x.min() and edges[-1] == x.max()
    np.testing.assert_allclose(edges[1:-1], [20, 35, 80], atol=0.2)
    # At most num_bins bins; no bin narrower than min_samples_leaf values.
    coarse = tree_edges(x, y, num_bins=2, min_samples_leaf=2000)
    counts = np.histogram(x, coarse)[0]
    assert len(coarse) == 3 and counts.min() >= 2000
    # Nothing to learn from a constant target: one bin.
    assert tree_edges(x, np.zeros((5000, 1)), num_bins=8) == [x.min(), x.max()]


def test_tree_bins_learn_from_class_labels_during_adapt_and_need_them():
    rng = np.random.default_rng(2)
    age = rng.uniform(18, 90, 4000)
    classes = np.digitize(age, [30, 60])  # three classes
    column = PiecewiseLinearColumn(NumericColumn("age"), num_bins=3, bins="tree", min_samples_leaf=50)
    assert column.adapt_needs_labels
    adapt([column], [({"age": age}, classes)])
    np.testing.assert_allclose(column.edges[0][1:-1], [30, 60], atol=0.5)
    with pytest.raises(TfkitError, match="tree bins are learned from the labels"):
        adapt([PiecewiseLinearColumn(NumericColumn("age"), bins="tree")], [{"age": age}])


def test_periodic_embedding_is_cos_and_sin_of_trained_frequencies_then_linear_and_relu():
    plr = PeriodicColumn([NumericColumn("age"), NumericColumn("gain", log=True, missing_indicator=True)],
                         num_frequencies=5, sigma=0.3, dimension=4)
    age, gain = np.array([20.0, 40.0, 60.0]), np.array([0.0, 99.0, np.nan])
    adapt([plr], [{"age": age, "gain": gain}])
    logs = np.log1p([0.0, 99.0, 0.0])  # missing: the default, 0
    assert plr.mean == pytest.approx([40.0, logs.mean()]) and plr.variance == pytest.approx([age.var(), logs.var()])
    assert plr.output_dim == 2 * 4 + 1

    layer = DenseFeatures([plr])
    out = layer({"age": age, "gain": gain}).numpy()
    embedder = layer.embedders[plr.name]
    assert embedder.frequencies.shape == (2, 5) and embedder.kernel.shape == (2, 10, 4)
    c, w, b = (v.numpy() for v in (embedder.frequencies, embedder.kernel, embedder.bias))
    z = (np.stack([age, logs], 1) - plr.mean) / np.sqrt(plr.variance)
    angles = 2 * math.pi * z[:, :, None] * c
    expected = np.maximum(np.einsum("bfi,fio->bfo", np.concatenate([np.cos(angles), np.sin(angles)], -1), w) + b, 0)
    np.testing.assert_allclose(out[:, :8], expected.reshape(3, 8), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(out[:, 8], [0.0, 0.0, 1.0])  # gain's missing flag


def test_frequencies_start_at_the_given_scale_and_are_trained():
    plr = PeriodicColumn(NumericColumn("x"), num_frequencies=2000, sigma=0.05, dimension=1, mean=[0.0], variance=[1.0])
    layer = DenseFeatures([plr])
    layer.build()
    frequencies = layer.embedders[plr.name].frequencies
    assert float(np.std(frequencies.numpy())) == pytest.approx(0.05, rel=0.1)
    assert frequencies in layer.trainable_weights


def test_columns_round_trip_with_their_learned_state():
    ple = PiecewiseLinearColumn([NumericColumn("a"), NumericColumn("b", clip=[0, 10])], num_bins=4, bins="tree",
                                dimension=3, activation="relu", edges=[[0, 1, 2], [0, 5, 7, 10]])
    plr = PeriodicColumn(NumericColumn("a"), mean=[1.0], variance=[4.0])
    for column in (ple, plr):
        assert type(column).from_config(column.get_config()) == column
        assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(column)) == column
        assert not column.needs_adapt


def test_embedders_are_saved_in_a_keras_file(tmp_path):
    ple = PiecewiseLinearColumn(NumericColumn("a"), dimension=3, edges=[[0.0, 1.0, 5.0]])
    model = keras.Sequential([DenseFeatures([ple])])
    x = {"a": np.array([0.5, 3.0, 9.0])}
    before = model(x).numpy()
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "m.keras")(x).numpy(), before, rtol=1e-6)


def test_config_entries_embed_many_sources_with_one_set_of_settings():
    columns = build_columns([
        {"type": "numeric", "name": "age"}, {"type": "numeric", "name": "hours"},
        {"type": "piecewise_linear", "name": "numbers", "sources": ["age", "hours"], "num_bins": 16, "dimension": 8},
        {"type": "periodic", "name": "age_plr", "sources": "age", "sigma": 0.5},
    ])
    assert [s.name for s in columns["numbers"].sources] == ["age", "hours"] and columns["numbers"].output_dim == 16
    assert columns["age_plr"].sources == [columns["age"]] and columns["age_plr"].output_dim == 24


@pytest.mark.parametrize("entry, message", [
    ({"sources": ["nope"]}, r"features\[1\] \('e'\)\.sources: column 'nope' is not defined"),
    ({"sources": ["job"]}, "sources must be NumericColumns of shape 1"),
    ({"sources": ["age", "age"]}, "a source is listed twice"),
    ({"sources": ["age"], "bins": "trees"}, r"bins must be one of \('quantile', 'tree'\)"),
    ({"sources": ["age"], "num_bins": 0}, "num_bins must be a positive int"),
    ({"sources": ["age"], "edges": [[3, 1]]}, "edges must be one strictly increasing list"),
    ({"sources": ["age"], "dimension": 0}, "dimension must be a positive int"),
    ({"sources": ["age"], "sigma": 1}, r"features\[1\] \('e'\)\.sigma: unknown key for PiecewiseLinearColumn"),
])
def test_bad_entries_name_the_key(entry, message):
    with pytest.raises(ConfigError, match=message):
        build_columns([{"type": "numeric", "name": "age"}, {"type": "piecewise_linear", "name": "e", **entry},
                       {"type": "categorical", "name": "job", "vocabulary": ["a"]}])


def test_bad_periodic_settings_are_refused():
    for kwargs, message in [({"sigma": 0}, "sigma must be a positive number"), ({"dimension": None}, "dimension must be"),
                            ({"num_frequencies": 0}, "num_frequencies must be"), ({"mean": [1.0]}, "give mean and variance")]:
        with pytest.raises(TfkitError, match=message):
            PeriodicColumn(NumericColumn("x"), **kwargs)


def test_the_linear_part_takes_a_raw_encoding_but_not_one_with_weights():
    edges = [[0.0, 1.0, 2.0]]
    linear = Linear([PiecewiseLinearColumn(NumericColumn("a"), num_bins=2, edges=edges)])
    assert linear({"a": tf.constant([0.5, 1.5])}).shape == (2, 1)
    with pytest.raises(TfkitError, match="has some: put it in the deep part"):
        Linear([PiecewiseLinearColumn(NumericColumn("a"), dimension=2, edges=edges)])


def test_an_export_serves_raw_values_including_missing_ones(tmp_path):
    from tfkit.models import WideDeep

    gain = NumericColumn("gain", log=True, missing_indicator=True, default_value=0.0)
    model = WideDeep(deep_columns=[PiecewiseLinearColumn(gain, num_bins=4, dimension=3, activation="relu"),
                                   PeriodicColumn(NumericColumn("age"), num_frequencies=4, dimension=2)], hidden_units=[4])
    data = {"gain": np.array([0.0, 10.0, np.nan, 500.0, 3.0, np.nan]), "age": np.array([20.0, 30.0, 40.0, 50.0, 60.0, 70.0])}
    model.adapt([data])
    model.compile()
    model.fit(data, np.array([0, 1, 0, 1, 1, 0]), epochs=1, verbose=0)
    serving = tf.saved_model.load(model.export(str(tmp_path / "export"))).signatures["serving_default"]
    served = serving(gain=tf.constant(data["gain"], tf.float32), age=tf.constant(data["age"], tf.float32))["logits"].numpy()
    np.testing.assert_allclose(served, model.predict(data, verbose=0)["logits"], atol=1e-5)
    # A missing value is not its default: the flag tells them apart.
    assert served[2] != served[0]
