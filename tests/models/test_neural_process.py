"""Neural processes and the exact GP: shapes, σ bounds, masks, the ELBO, the NLL head, and the GP's closed form."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfkit.data import GPCurves
from tfkit.errors import TfkitError
from tfkit.layers import DeterministicEncoder, GaussianDecoder, LatentEncoder
from tfkit.models import AttentiveNeuralProcess, ConditionalNeuralProcess, GaussianProcess, NeuralProcess
from tfkit.models.heads import GaussianHead, negative_log_likelihood

SMALL = {
    "cnp": lambda: ConditionalNeuralProcess(x_size=2, y_size=3, encoder_sizes=[16, 16], decoder_sizes=[16]),
    "np": lambda: NeuralProcess(x_size=2, y_size=3, latent_encoder_sizes=[16], num_latents=8,
                                deterministic_encoder_sizes=[16], decoder_sizes=[16], num_samples=5),
    "anp": lambda: AttentiveNeuralProcess(x_size=2, y_size=3, latent_encoder_sizes=[16], num_latents=8,
                                          deterministic_encoder_sizes=[16], decoder_sizes=[16], attention_sizes=[16],
                                          num_heads=4, num_samples=5),
    "gp": lambda: GaussianProcess(x_size=2, y_size=3, kernel="matern52", l1_scale=0.7),
}


def curves(batch=4, num_context=6, num_target=9, x_size=2, y_size=3, seed=0):
    rng = np.random.default_rng(seed)
    target_x = rng.uniform(-2, 2, (batch, num_target, x_size)).astype("float32")
    target_y = np.sin(target_x.sum(-1, keepdims=True) * np.arange(1, y_size + 1)).astype("float32")
    return {"context_x": target_x[:, :num_context], "context_y": target_y[:, :num_context], "target_x": target_x}, target_y


@pytest.mark.parametrize("name", sorted(SMALL))
def test_predictions_have_the_targets_shape_and_bounded_stddev(name):
    model = SMALL[name]()
    model.compile()
    features, _ = curves()
    outputs = model(features)
    samples = 5 if name in ("np", "anp") else 1
    assert outputs.shape == (4, 9, samples, 6)
    predictions = model.predict(features, verbose=0)
    assert predictions["mean"].shape == predictions["stddev"].shape == (4, 9, 3)
    if name != "gp":
        assert np.all(outputs.numpy()[..., 3:] >= 0.1)  # σ = 0.1 + 0.9·softplus
    # predict(context_x, context_y, target_x) is the same call.
    positional = model.predict(features["context_x"], features["context_y"], features["target_x"], verbose=0)
    np.testing.assert_allclose(positional["mean"], predictions["mean"], rtol=1e-6)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_a_masked_context_point_changes_nothing(name):
    model = SMALL[name]()
    model.compile()
    features, _ = curves(num_context=5)
    plain = model(features).numpy()
    # The same contexts padded with two junk points (at target points, y = 7) that the mask removes.
    padded = {
        "context_x": np.concatenate([features["context_x"], features["target_x"][:, 6:8]], axis=1),
        "context_y": np.concatenate([features["context_y"], np.full([4, 2, 3], 7.0, dtype="float32")], axis=1),
        "target_x": features["target_x"],
        "context_mask": np.array([[1] * 5 + [0, 0]] * 4, dtype="float32"),
    }
    np.testing.assert_allclose(model(padded).numpy(), plain, rtol=1e-4, atol=1e-5)
    unmasked = {k: v for k, v in padded.items() if k != "context_mask"}
    assert not np.allclose(model(unmasked).numpy(), plain, atol=1e-3)


def test_encoder_decoder_and_latent_encoder_bounds():
    x, y = np.random.default_rng(0).normal(size=(2, 3, 4, 1)).astype("float32")
    mean, stddev = LatentEncoder([8], num_latents=3)(x, 50.0 * y)
    assert mean.shape == (3, 3) and np.all(stddev.numpy() >= 0.1) and np.all(stddev.numpy() <= 1.0)
    _, stddev = GaussianDecoder([8], y_size=2)(x, representation=np.full([3, 5], -100.0, "float32"))
    assert np.all(stddev.numpy() >= 0.1)
    # A per-curve representation is the same function as the concatenation the tutorials feed the decoder.
    decoder, representation = GaussianDecoder([8, 8], y_size=2), np.random.default_rng(1).normal(size=(3, 5)).astype("float32")
    mean, stddev = decoder(x, representation=representation)
    tiled = np.tile(representation[:, None], [1, 4, 1])
    concatenated, _ = decoder(x, target_representation=tiled)
    np.testing.assert_allclose(mean.numpy(), concatenated.numpy(), rtol=1e-5, atol=1e-6)
    assert DeterministicEncoder([8, 4])(x, y, x[:, :2]).shape == (3, 4)
    with pytest.raises(TfkitError, match="output_sizes must be a non-empty list of positive layer sizes"):
        DeterministicEncoder([])
    with pytest.raises(TfkitError, match=r"must divide into num_heads=3"):
        DeterministicEncoder([8], attention="multihead", num_heads=3)


def test_the_mean_aggregate_makes_the_cnp_blind_to_context_order():
    model = SMALL["cnp"]()
    features, _ = curves()
    order = np.random.default_rng(1).permutation(6)
    shuffled = {**features, "context_x": features["context_x"][:, order], "context_y": features["context_y"][:, order]}
    np.testing.assert_allclose(model(shuffled).numpy(), model(features).numpy(), rtol=1e-5, atol=1e-6)


def test_nll_head_is_the_gaussian_log_density_and_the_mixture_moments():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(2, 5, 1)).astype("float32")
    mean, stddev = rng.normal(size=(2, 5, 1, 1)), rng.uniform(0.2, 2.0, size=(2, 5, 1, 1))
    outputs = np.concatenate([mean, stddev], -1).astype("float32")
    expected = np.mean(0.5 * ((y[:, :, None] - mean) / stddev) ** 2 + np.log(stddev) + 0.5 * math.log(2 * math.pi), axis=(1, 2, 3))
    np.testing.assert_allclose(negative_log_likelihood(y, outputs).numpy(), expected, rtol=1e-5)
    # Two samples: the NLL of the equal mixture; the predictions are its mean and standard deviation.
    two = np.concatenate([np.concatenate([mean, mean + 1.0], 2), np.concatenate([stddev, stddev], 2)], -1).astype("float32")
    density = lambda m: np.exp(-0.5 * ((y[:, :, None] - m) / stddev) ** 2) / (stddev * math.sqrt(2 * math.pi))  # noqa: E731
    mixture = 0.5 * (density(mean) + density(mean + 1.0))
    np.testing.assert_allclose(negative_log_likelihood(y, two).numpy(), -np.log(mixture).mean(axis=(1, 2, 3)), rtol=1e-5)
    predictions = GaussianHead(1).predictions(tf.constant(two))
    np.testing.assert_allclose(predictions["mean"].numpy(), mean[:, :, 0] + 0.5, rtol=1e-5)
    np.testing.assert_allclose(predictions["stddev"].numpy(), np.sqrt(stddev[:, :, 0] ** 2 + 0.25), rtol=1e-5)


def test_latent_models_train_on_the_elbo_with_the_targets():
    keras.utils.set_random_seed(0)
    model = SMALL["np"]()
    model.compile()
    features, target_y = curves()
    # fit hands the targets to the model: the loss is the NLL plus the KL term, which is positive.
    history = model.fit(features, target_y, epochs=2, verbose=0)
    assert history.history["loss"][-1] > history.history["nll"][-1]
    # Given the targets in training, z comes from q(z | targets); without them, from q(z | context).
    seen, original = [], model.latent_encoder.call
    model.latent_encoder.call = lambda x, y, mask=None: (seen.append(x.shape[1]), original(x, y, mask))[1]
    model({**features, "target_y": target_y}, training=True)
    model(features, training=True)
    model.latent_encoder.call = original
    assert seen == [6, 9, 6]
    # Predictions use fixed noise: the same curve gives the same prediction, whatever the batch around it.
    alone = model.predict({k: v[2:3] for k, v in features.items()}, verbose=0)["mean"]
    np.testing.assert_allclose(model.predict(features, verbose=0)["mean"][2:3], alone, rtol=1e-5, atol=1e-6)


def numpy_gp(context_x, context_y, target_x, length, signal, noise):
    def kernel(a, b):
        return signal**2 * np.exp(-0.5 * np.sum(((a[:, None] - b[None]) / length) ** 2, -1))

    a = kernel(context_x, context_x) + noise**2 * np.eye(len(context_x))
    cross = kernel(target_x, context_x)
    mean = cross @ np.linalg.solve(a, context_y)
    variance = signal**2 + noise**2 - np.einsum("ij,ji->i", cross, np.linalg.solve(a, cross.T))
    return mean, np.sqrt(variance)


def test_exact_gp_matches_the_closed_form_and_is_best_on_its_own_curves():
    features, target_y = next(iter(GPCurves(batch_size=3, testing=True, l1_scale=0.4, seed=9).dataset()))
    gp = GaussianProcess(l1_scale=0.4, sigma_scale=1.0)
    gp.compile()
    predictions = gp.predict(features, verbose=0)
    for i in range(3):
        mean, stddev = numpy_gp(features["context_x"][i].numpy().astype("float64"), features["context_y"][i].numpy(),
                                features["target_x"][i].numpy(), 0.4, 1.0, 0.02)
        np.testing.assert_allclose(predictions["mean"][i], mean, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(predictions["stddev"][i, :, 0], stddev, rtol=1e-4, atol=1e-5)
    # A wrong length scale is worse on curves drawn with 0.4.
    test = GPCurves(batch_size=16, testing=True, num_batches=2, seed=3).dataset()
    right = gp.evaluate(test, verbose=0, return_dict=True)["nll"]
    wrong = GaussianProcess(l1_scale=1.5)
    wrong.compile()
    assert right < wrong.evaluate(test, verbose=0, return_dict=True)["nll"] - 0.1
    with pytest.raises(TfkitError, match="nothing to train"):
        gp.fit(test)
    assert GaussianProcess.of_curves({"l1_scale": 0.6, "kernel": "periodic", "max_num_context": 50}).l1_scale == 0.6
    assert GaussianProcess.of_curves({"random_kernel_parameters": True}) is None
    assert GaussianProcess.of_curves({"l1_scale": [0.1, 0.5]}).length_scales[0] == pytest.approx(0.1125)


def test_over_a_length_scale_range_the_gp_averages_its_posteriors_weighted_by_the_context():
    features, target_y = next(iter(GPCurves(batch_size=2, testing=True, l1_scale=[0.2, 0.8], seed=9).dataset()))
    gp = GaussianProcess(l1_scale=[0.2, 0.8], num_length_scales=3)
    gp.compile()
    nll = gp.evaluate(features, target_y, verbose=0, return_dict=True)["nll"]
    predictions = gp.predict(features, verbose=0)
    expected_nll = []
    for i in range(2):
        cx, cy = features["context_x"][i].numpy().astype("float64"), features["context_y"][i].numpy().astype("float64")
        tx, ty = features["target_x"][i].numpy().astype("float64"), target_y[i].numpy()[:, 0].astype("float64")
        log_evidence, densities, means, variances = [], [], [], []
        for length in (0.3, 0.5, 0.7):  # the midpoints of three equal parts of [0.2, 0.8]
            a = np.exp(-0.5 * ((cx - cx.T) / length) ** 2) + 0.02**2 * np.eye(len(cx))
            log_evidence.append(-0.5 * cy[:, 0] @ np.linalg.solve(a, cy[:, 0]) - 0.5 * np.linalg.slogdet(a)[1])
            mean, stddev = numpy_gp(cx, cy, tx, length, 1.0, 0.02)
            densities.append(np.exp(-0.5 * ((ty - mean[:, 0]) / stddev) ** 2) / (stddev * math.sqrt(2 * math.pi)))
            means.append(mean[:, 0])
            variances.append(stddev**2)
        weights = np.exp(np.array(log_evidence) - max(log_evidence))
        weights /= weights.sum()
        expected_nll.append(-np.mean(np.log(weights @ np.array(densities))))
        mixture_mean = weights @ np.array(means)
        np.testing.assert_allclose(predictions["mean"][i, :, 0], mixture_mean, rtol=1e-4, atol=1e-5)
        second_moment = weights @ (np.array(variances) + np.square(means))
        np.testing.assert_allclose(predictions["stddev"][i, :, 0], np.sqrt(second_moment - mixture_mean**2), rtol=1e-4, atol=5e-5)
    np.testing.assert_allclose(nll, np.mean(expected_nll), rtol=1e-4)
    # On curves whose length scale varies, the average beats the GP of any one length scale.
    test = GPCurves(batch_size=32, testing=True, l1_scale=[0.2, 0.8], num_batches=2, seed=3).dataset()
    averaged = GaussianProcess.of_curves({"l1_scale": [0.2, 0.8]})
    results = [averaged.evaluate(test, verbose=0, return_dict=True)["nll"]]
    for length in (0.3, 0.5, 0.7):
        single = GaussianProcess(l1_scale=length)
        single.compile()
        results.append(single.evaluate(test, verbose=0, return_dict=True)["nll"])
    assert results[0] < min(results[1:]), results


def test_a_cnp_learns_gp_curves():
    keras.utils.set_random_seed(1)
    model = ConditionalNeuralProcess(encoder_sizes=[64, 64], decoder_sizes=[64, 64])
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    test = GPCurves(batch_size=32, testing=True, num_batches=2, seed=5).dataset()
    before = model.evaluate(test, verbose=0, return_dict=True)["nll"]
    model.fit(GPCurves(batch_size=32, seed=1).dataset(), steps_per_epoch=300, verbose=0)
    after = model.evaluate(test, verbose=0, return_dict=True)["nll"]
    assert after < before - 0.2
    assert after < 1.3  # a Gaussian with the curves' overall spread (σ ≈ 1) scores ~1.42


@pytest.mark.parametrize("arguments, message", [
    ((ConditionalNeuralProcess, {"x_size": 0}), "x_size must be a positive integer. Received: x_size=0"),
    ((NeuralProcess, {"num_samples": 0}), "num_samples must be a positive integer"),
    ((AttentiveNeuralProcess, {"num_heads": 3}), "must divide into num_heads=3"),
    ((GaussianProcess, {"kernel": "rbf"}), "Unknown kernel 'rbf'"),
    ((GaussianProcess, {"noise_scale": 0}), "noise_scale must be a positive number"),
    ((GaussianProcess, {"l1_scale": [0.5, 0.1]}), "l1_scale must be a positive number or a range"),
])
def test_bad_arguments_are_named(arguments, message):
    cls, kwargs = arguments
    with pytest.raises(TfkitError, match=message):
        cls(**kwargs)


def test_missing_inputs_are_named():
    with pytest.raises(TfkitError, match="missing: target_x"):
        SMALL["cnp"]()({"context_x": np.zeros([1, 2, 2]), "context_y": np.zeros([1, 2, 3])})
