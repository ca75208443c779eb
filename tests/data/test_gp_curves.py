"""GP curves: the tutorials' semantics (counts, context ⊂ targets, test grid), kernels, seeds and errors."""

import math
import re

import numpy as np
import pytest

from tfkit.data import GPCurves
from tfkit.data.gp_curves import covariance
from tfkit.errors import TfkitError


def batches(source, count):
    return [(({k: v.numpy() for k, v in f.items()}), y.numpy()) for f, y in source.dataset().take(count)]


def test_training_batches_draw_counts_in_range_and_targets_extend_the_context():
    seen_context, seen_target = set(), set()
    for features, target_y in batches(GPCurves(batch_size=3, max_num_context=8, x_size=2, y_size=3, seed=5), 200):
        num_context, num_points = features["context_x"].shape[1], features["target_x"].shape[1]
        seen_context.add(num_context)
        seen_target.add(num_points - num_context)
        assert features["context_x"].shape == (3, num_context, 2) and features["context_y"].shape == (3, num_context, 3)
        assert target_y.shape == (3, num_points, 3)
        # The context points are the first targets, with the same values.
        np.testing.assert_array_equal(features["target_x"][:, :num_context], features["context_x"])
        np.testing.assert_array_equal(target_y[:, :num_context], features["context_y"])
        assert features["target_x"].min() >= -2.0 and features["target_x"].max() < 2.0
    # Uniform in [3, 8) context points and [2, 8) new targets: every value turns up in 200 batches.
    assert seen_context == set(range(3, 8))
    assert seen_target == set(range(2, 8))


def test_training_targets_without_the_context_are_the_same_curves_new_points_only():
    kept = batches(GPCurves(batch_size=3, max_num_context=8, seed=5), 30)
    new_only = batches(GPCurves(batch_size=3, max_num_context=8, seed=5, context_in_targets=False), 30)
    for (features, target_y), (new_features, new_target_y) in zip(kept, new_only):
        num_context = features["context_x"].shape[1]
        for key in ("context_x", "context_y"):
            np.testing.assert_array_equal(new_features[key], features[key])
        np.testing.assert_array_equal(new_features["target_x"], features["target_x"][:, num_context:])
        np.testing.assert_array_equal(new_target_y, target_y[:, num_context:])
        assert new_target_y.shape[1] >= 2  # at least two new points a batch
    testing = GPCurves(batch_size=2, testing=True, seed=3, context_in_targets=False)
    features, target_y = batches(testing, 1)[0]
    assert features["target_x"].shape == (2, 400, 1) and GPCurves(**testing.get_config()).get_config() == testing.get_config()


def test_testing_batches_use_400_evenly_spaced_targets_and_draw_the_context_from_them():
    for features, target_y in batches(GPCurves(batch_size=2, max_num_context=10, testing=True, seed=3), 20):
        target_x = features["target_x"]
        assert target_x.shape == (2, 400, 1) and target_y.shape == (2, 400, 1)
        np.testing.assert_allclose(target_x[0, :, 0], np.arange(-2.0, 2.0, 0.01), atol=1e-6)
        num_context = features["context_x"].shape[1]
        assert 3 <= num_context < 10
        positions = np.round((features["context_x"][0, :, 0] + 2.0) * 100).astype(int)
        assert len(set(positions)) == num_context  # distinct target points
        np.testing.assert_array_equal(features["context_y"], target_y[:, positions])


def test_a_seed_fixes_every_batch_and_batches_differ():
    first = batches(GPCurves(batch_size=2, seed=11), 3)
    again = batches(GPCurves(batch_size=2, seed=11), 3)
    other = batches(GPCurves(batch_size=2, seed=12), 1)
    for (f1, y1), (f2, y2) in zip(first, again):
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_array_equal(f1["context_x"], f2["context_x"])
    assert not np.array_equal(first[0][1][:, :3], first[1][1][:, :3])
    assert not np.array_equal(first[0][1][:, :3], other[0][1][:, :3])
    test = GPCurves(batch_size=2, testing=True, num_batches=4, seed=1).dataset()
    assert int(test.cardinality()) == 4 and len(list(test)) == 4


def numpy_kernel(x1, x2, kernel, length, signal, period=1.0):
    difference = x1[:, None, :] - x2[None, :, :]
    if kernel == "squared_exponential":
        return signal**2 * np.exp(-0.5 * np.sum((difference / length) ** 2, -1))
    if kernel == "matern52":
        r = math.sqrt(5) * np.sqrt(np.sum((difference / length) ** 2, -1))
        return signal**2 * (1 + r + r**2 / 3) * np.exp(-r)
    return signal**2 * np.exp(-2 * np.sum(np.sin(np.pi * np.abs(difference) / period) ** 2 / length**2, -1))


@pytest.mark.parametrize("kernel", ["squared_exponential", "matern52", "periodic"])
def test_kernels_match_their_closed_forms(kernel):
    rng = np.random.default_rng(0)
    x1, x2 = rng.uniform(-2, 2, (1, 5, 2)), rng.uniform(-2, 2, (1, 4, 2))
    length, signal = np.array([0.7, 0.3]), 1.3
    got = covariance(x1, x2, length.reshape(1, 1, 2), np.full([1, 1], signal), kernel, period=1.5).numpy()[0, 0]
    np.testing.assert_allclose(got, numpy_kernel(x1[0], x2[0], kernel, length, signal, 1.5), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kernel", ["squared_exponential", "matern52", "periodic"])
def test_curves_have_the_kernels_covariance(kernel):
    # 4,000 test curves share their x grid: the sample covariance of y at a few grid points is the kernel's.
    source = GPCurves(batch_size=500, testing=True, l1_scale=0.5, sigma_scale=1.5, kernel=kernel, period=1.0, seed=2)
    values = np.concatenate([y[:, ::80, 0] for _, y in batches(source, 8)])  # x = -2, -1.2, -0.4, 0.4, 1.2
    grid = np.arange(-2.0, 2.0, 0.01)[::80].reshape(-1, 1)
    expected = numpy_kernel(grid, grid, kernel, np.array([0.5]), 1.5) + 0.02**2 * np.eye(len(grid))
    np.testing.assert_allclose(np.cov(values.T), expected, atol=0.15)


def test_random_kernel_parameters_give_each_curve_its_own_scale():
    fixed = batches(GPCurves(batch_size=200, testing=True, sigma_scale=2.0, seed=4), 1)[0][1]
    random = batches(GPCurves(batch_size=200, testing=True, sigma_scale=2.0, random_kernel_parameters=True, seed=4), 1)[0][1]
    # Fixed: every curve's spread is about 2; random: signal scales in U(0.1, 2), so the spreads scatter widely.
    fixed_spread, random_spread = fixed.std(axis=1)[:, 0], random.std(axis=1)[:, 0]
    assert np.median(random_spread) < 0.8 * np.median(fixed_spread)
    assert random_spread.min() < 0.3 < 1.5 < random_spread.max()


def test_targets_outside_the_context_range_ask_for_extrapolation():
    training = batches(GPCurves(batch_size=4, context_range=[-2, 0], target_range=[1, 3], seed=6), 20)
    for features, _ in training:
        num_context = features["context_x"].shape[1]
        assert -2.0 <= features["context_x"].min() and features["context_x"].max() < 0.0
        new_targets = features["target_x"][:, num_context:]
        assert 1.0 <= new_targets.min() and new_targets.max() < 3.0
    features, target_y = batches(GPCurves(batch_size=3, testing=True, target_range=[-4, 4], max_num_context=30,
                                          seed=7), 1)[0]
    np.testing.assert_allclose(features["target_x"][0, :, 0], np.arange(-4.0, 4.0, 0.02), atol=1e-5)
    # The context is drawn among the targets inside [-2, 2), with the targets' values there.
    assert -2.0 <= features["context_x"].min() and features["context_x"].max() < 2.0
    index = np.round((features["context_x"][0, :, 0] + 4.0) / 0.02).astype(int)
    np.testing.assert_array_equal(target_y[0, index], features["context_y"][0])


def test_a_length_scale_range_gives_each_curve_its_own_length_scale():
    def roughness(y):  # log mean squared step between neighbouring grid points: larger for shorter length scales
        return np.log(np.mean(np.square(np.diff(y[:, :, 0], axis=1)), axis=1))

    fixed = roughness(batches(GPCurves(batch_size=200, testing=True, l1_scale=0.4, seed=4), 1)[0][1])
    varying = roughness(batches(GPCurves(batch_size=200, testing=True, l1_scale=[0.1, 1.0], seed=4), 1)[0][1])
    # A fixed length scale gives every curve about the same roughness; a range spreads it (std of its log 0.18-0.22
    # against 0.58-0.65 over three seeds; the observation noise sets a floor under the smoothest curves').
    assert np.std(varying) > 2 * np.std(fixed)
    assert GPCurves(l1_scale=[0.1, 1.0]).get_config()["l1_scale"] == [0.1, 1.0]


@pytest.mark.parametrize("arguments, message", [
    ({"l1_scale": [0.5, 0.2]}, "l1_scale must be [low, high] with low < high"),
    ({"l1_scale": [0.0, 0.2]}, "l1_scale must be a range of positive numbers"),
    ({"l1_scale": [0.2, 0.5], "random_kernel_parameters": True}, "either a [low, high] range or random_kernel_parameters"),
    ({"target_range": [3]}, "target_range must be [low, high]"),
    ({"testing": True, "target_range": [3, 4]}, "target_range [3.0, 4.0] must overlap context_range [-2.0, 2.0]"),
    ({"max_num_context": 3}, "max_num_context must be an integer >= 4. Received: max_num_context=3"),
    ({"kernel": "rbf"}, "Unknown kernel 'rbf'. Expected one of: squared_exponential, matern52, periodic"),
    ({"l1_scale": 0}, "l1_scale must be a number > 0"),
    ({"l1_scale": 0.05, "random_kernel_parameters": True}, "l1_scale must be a number > 0.1"),
    ({"testing": True, "x_size": 2}, "x_size must be 1"),
    ({"num_batches": 0}, "num_batches must be a positive integer or None"),
    ({"context_in_targets": "no"}, "context_in_targets must be true or false. Received: context_in_targets='no'"),
])
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(TfkitError, match=re.escape(message)):
        GPCurves(**arguments)
