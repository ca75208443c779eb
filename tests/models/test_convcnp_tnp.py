"""ConvCNP and TNP-D: shapes, positive σ, masks, the TNP's attention pattern, and the ConvCNP's translation equivariance."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfkit.data import GPCurves
from tfkit.errors import TfkitError
from tfkit.layers import ContextAttentionBlock, SetConvDecoder, SetConvEncoder, UNet
from tfkit.layers.set_conv import uniform_grid
from tfkit.models import ConvCNP, TransformerNeuralProcess

SMALL = {
    "convcnp": lambda: ConvCNP(y_size=2, points_per_unit=16, unet_channels=[4, 8, 8]),
    "tnp": lambda: TransformerNeuralProcess(y_size=2, model_size=16, num_layers=2, num_heads=2, feedforward_size=16,
                                            embedding_sizes=[16], predictor_sizes=[16]),
}


def curves(batch=3, num_context=5, num_target=11, y_size=2, seed=0):
    rng = np.random.default_rng(seed)
    target_x = rng.uniform(-2, 2, (batch, num_target, 1)).astype("float32")
    target_y = np.sin(target_x * np.arange(1, y_size + 1)).astype("float32")
    return {"context_x": target_x[:, :num_context], "context_y": target_y[:, :num_context], "target_x": target_x}, target_y


@pytest.mark.parametrize("name", sorted(SMALL))
def test_predictions_have_the_targets_shape_and_positive_stddev(name):
    model = SMALL[name]()
    model.compile()
    features, target_y = curves()
    outputs = model(features).numpy()
    assert outputs.shape == (3, 11, 1, 4)
    assert np.all(outputs[..., 2:] >= 0.01)  # σ = min_stddev + softplus
    predictions = model.predict(features["context_x"], features["context_y"], features["target_x"], verbose=0)
    assert predictions["mean"].shape == predictions["stddev"].shape == (3, 11, 2)
    # One step of fit on these curves lowers their NLL.
    before = model.evaluate(features, target_y, verbose=0, return_dict=True)["nll"]
    model.fit(features, target_y, epochs=5, verbose=0)
    assert model.evaluate(features, target_y, verbose=0, return_dict=True)["nll"] < before


@pytest.mark.parametrize("name", sorted(SMALL))
def test_a_masked_context_point_changes_nothing(name):
    model = SMALL[name]()
    features, _ = curves()
    plain = model(features).numpy()
    # Two junk points (y = 7), one far outside every other point, that the mask removes.
    junk_x = np.array([[[0.3], [9.0]]] * 3, dtype="float32")
    padded = {
        "context_x": np.concatenate([features["context_x"], junk_x], axis=1),
        "context_y": np.concatenate([features["context_y"], np.full([3, 2, 2], 7.0, dtype="float32")], axis=1),
        "target_x": features["target_x"],
        "context_mask": np.array([[1] * 5 + [0, 0]] * 3, dtype="float32"),
    }
    np.testing.assert_allclose(model(padded).numpy(), plain, rtol=1e-4, atol=1e-5)
    unmasked = {k: v for k, v in padded.items() if k != "context_mask"}
    assert not np.allclose(model(unmasked).numpy(), plain, atol=1e-3)


def test_the_convcnp_is_translation_equivariant():
    keras.utils.set_random_seed(2)
    model = ConvCNP(points_per_unit=16, unet_channels=[8, 8, 16])
    model.compile(optimizer=keras.optimizers.Adam(3e-3))  # a few steps that move the weights far
    model.fit(GPCurves(batch_size=16, seed=4).dataset(), steps_per_epoch=30, verbose=0)  # weights that do something
    features, _ = next(iter(GPCurves(batch_size=4, testing=True, num_batches=1, seed=5).dataset()))
    features = {k: v.numpy() for k, v in features.items()}
    outputs = model(features).numpy()
    # A shift by whole grid steps (1/16) changes nothing: what is on the grid is the same.
    for shift in (0.0625, 0.5, -3.0, 17.5625):
        shifted = {**features, "context_x": features["context_x"] + shift, "target_x": features["target_x"] + shift}
        np.testing.assert_allclose(model(shifted).numpy(), outputs, rtol=1e-3, atol=2e-4)
    # Any other shift is close (the grid only samples the function) but not exact; shifting the targets alone
    # (the context fixed) does change the predictions: the model is not blind to x.
    nearby = {**features, "context_x": features["context_x"] + 0.3, "target_x": features["target_x"] + 0.3}
    assert np.max(np.abs(model(nearby).numpy() - outputs)) < 0.2
    moved = {**features, "target_x": features["target_x"] + 0.5}
    assert np.max(np.abs(model(moved).numpy() - outputs)) > 0.1


def test_the_tnps_targets_attend_to_the_context_only():
    model = SMALL["tnp"]()
    features, _ = curves(num_context=4, num_target=9)
    outputs = model(features).numpy()
    # Each target is predicted from the context alone: removing the other targets changes nothing.
    for i in (0, 5, 8):
        alone = model({**features, "target_x": features["target_x"][:, i:i + 1]}).numpy()
        np.testing.assert_allclose(alone[:, 0], outputs[:, i], rtol=1e-4, atol=1e-5)
    # The context is a set: its order does not matter.
    order = [2, 0, 3, 1]
    shuffled = {**features, "context_x": features["context_x"][:, order], "context_y": features["context_y"][:, order]}
    np.testing.assert_allclose(model(shuffled).numpy(), outputs, rtol=1e-4, atol=1e-5)


def test_set_conv_layers_and_the_grid():
    # The grid covers every point with the margin, starts on a grid step, and its length divides into the factor.
    grid = uniform_grid([np.array([[[-0.33], [0.9]]], "float32")], points_per_unit=10, multiple=4).numpy()
    assert grid[0] <= -0.43 and grid[-1] >= 1.0 and len(grid) % 4 == 0
    np.testing.assert_allclose(grid[0] * 10, round(grid[0] * 10), atol=1e-4)
    np.testing.assert_allclose(np.diff(grid), 0.1, atol=1e-6)
    # The encoder's density channel is the kernel sum; its y channels the kernel-weighted mean of y.
    encoder = SetConvEncoder(channels=2, points_per_unit=10)
    x, y = np.array([[[0.0], [0.2]]], "float32"), np.array([[[1.0], [3.0]]], "float32")
    encoded = encoder(x, y, tf.constant([0.1], tf.float32)).numpy()
    weight = np.exp(-0.5 * 0.1**2 / 0.2**2)  # length scale 2 / points_per_unit
    np.testing.assert_allclose(encoded[0, 0], [2 * weight, 2.0], rtol=1e-5)
    decoded = SetConvDecoder(channels=1, points_per_unit=10)(np.ones([1, 1, 1], "float32"), tf.constant([0.1]), x)
    np.testing.assert_allclose(decoded.numpy()[0, :, 0], [weight, weight], rtol=1e-5)
    # The U-Net keeps the grid's length and gives twice the input's channels.
    assert UNet([4, 8], kernel_size=3)(np.zeros([2, 16, 3], "float32")).shape == (2, 16, 6)
    assert UNet([4, 8, 8]).downsampling == 8


@pytest.mark.parametrize("cls, kwargs, message", [
    (ConvCNP, {"x_size": 2}, "x_size must be 1"),
    (ConvCNP, {"points_per_unit": 0}, "points_per_unit must be a positive number"),
    (ConvCNP, {"unet_channels": []}, "channels must be a non-empty list"),
    (ConvCNP, {"min_stddev": -1}, "min_stddev must be a number >= 0"),
    (TransformerNeuralProcess, {"model_size": 30, "num_heads": 4}, "model_size (30) must divide into num_heads=4"),
    (TransformerNeuralProcess, {"num_layers": 0}, "num_layers must be a positive integer"),
    (TransformerNeuralProcess, {"embedding_sizes": []}, "embedding_sizes must be a non-empty list"),
    (ContextAttentionBlock, {"dropout": 1.5}, "dropout must be in [0, 1)"),
])
def test_bad_arguments_are_named(cls, kwargs, message):
    with pytest.raises(TfkitError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        cls(**kwargs)
