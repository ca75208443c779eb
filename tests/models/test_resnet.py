"""ResNet and its residual blocks: the paper's parameter counts, shortcuts, versions, data formats and errors."""

import keras
import numpy as np
import pytest

from tfkit.errors import TfkitError
from tfkit.layers import ResidualBlock
from tfkit.models import ResNet


def trainable_parameters(model):
    model.build()
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


# He et al. 2016, Table 6: CIFAR-10 ResNets (version 1, option A shortcuts).
@pytest.mark.parametrize("depth, millions", [(20, "0.27"), (32, "0.46"), (44, "0.66"), (56, "0.85"), (110, "1.7")])
def test_parameter_counts_match_the_paper(depth, millions):
    count = trainable_parameters(ResNet(depth=depth, version=1))
    digits = len(millions.split(".")[1])
    assert f"{count / 1e6:.{digits}f}" == millions


def test_depth_counts_weighted_layers():
    for depth, bottleneck in ((20, False), (56, True)):
        model = ResNet(depth=depth, bottleneck=bottleneck)
        model.build()
        kernels = [w for w in model.trainable_weights if len(w.shape) in (2, 4) and "projection" not in w.path]
        assert len(kernels) == depth
    with pytest.raises(TfkitError, match=r"depth must be 6n \+ 2 .* Received: depth=21"):
        ResNet(depth=21)
    with pytest.raises(TfkitError, match=r"depth must be 9n \+ 2 .* bottleneck"):
        ResNet(depth=22, bottleneck=True)
    with pytest.raises(TfkitError, match="image_shape must be"):
        ResNet(image_shape=[32, 32])


def test_identity_shortcut_is_subsampled_and_zero_padded():
    block = ResidualBlock(32, strides=2, version=1)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 16)).astype("float32")
    block(x)
    for convolution in block.convolutions:  # residual branch silenced: the output is relu(shortcut)
        convolution.kernel.assign(np.zeros(convolution.kernel.shape))
    expected = np.maximum(np.pad(x[:, ::2, ::2, :], [[0, 0], [0, 0], [0, 0], [8, 8]]), 0)
    np.testing.assert_allclose(block(x).numpy(), expected, atol=1e-6)
    assert len(block.trainable_weights) == 2 + 2 * 2  # two kernels, two BN (gamma, beta): no shortcut weights

    projected = ResidualBlock(32, strides=2, shortcut="projection")
    projected(x)
    assert projected.projection is not None and projected.projection.kernel.shape == (1, 1, 16, 32)
    with pytest.raises(TfkitError, match="shortcut must be one of"):
        ResidualBlock(16, shortcut="zero")


@pytest.mark.parametrize("version, bottleneck", [(1, False), (2, False), (1, True), (2, True)])
def test_blocks_and_networks_of_every_kind_train(version, bottleneck):
    block = ResidualBlock(8, strides=2, version=version, bottleneck=bottleneck)
    assert block(np.zeros((1, 8, 8, 4), "float32")).shape == (1, 4, 4, 32 if bottleneck else 8)
    keras.utils.set_random_seed(0)
    model = ResNet(depth=11 if bottleneck else 8, version=version, bottleneck=bottleneck, num_classes=3, image_shape=[8, 8, 3])
    model.compile(optimizer={"name": "sgd", "learning_rate": 0.01, "momentum": 0.9})
    images = np.random.default_rng(1).integers(0, 256, (12, 8, 8, 3), dtype="uint8")
    labels = np.arange(12) % 3
    history = model.fit(images, labels, batch_size=4, epochs=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_channels_first_computes_what_channels_last_does():
    images = np.random.default_rng(2).integers(0, 256, (2, 8, 8, 3), dtype="uint8")
    last = ResNet(depth=8, version=2, image_shape=[8, 8, 3], shortcut="projection")
    first = ResNet(depth=8, version=2, image_shape=[8, 8, 3], shortcut="projection", data_format="channels_first")
    last.build(), first.build()
    first.set_weights(last.get_weights())  # kernels are HWIO in both formats
    np.testing.assert_allclose(first(images).numpy(), last(images).numpy(), atol=1e-4)


def test_weight_decay_adds_half_the_squared_kernel_norms():
    model = ResNet(depth=8, weight_decay=1e-3, image_shape=[8, 8, 3], num_classes=2)
    model(np.zeros((1, 8, 8, 3), "uint8"))
    kernels = [w for w in model.trainable_weights if len(w.shape) in (2, 4)]
    expected = 1e-3 / 2 * sum(float(np.sum(np.square(w.numpy()))) for w in kernels)
    assert float(keras.ops.sum(model.losses)) == pytest.approx(expected, rel=1e-4)


def test_images_are_standardized_per_image_inside_the_model():
    model = ResNet(depth=8, image_shape=[4, 4, 1], num_classes=2)
    images = np.arange(32, dtype="uint8").reshape(2, 4, 4, 1) * 7
    standardized = model.images({"image": images}).numpy()
    np.testing.assert_allclose(standardized.mean(axis=(1, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(standardized.std(axis=(1, 2, 3)), 1.0, atol=1e-3)
    np.testing.assert_allclose(ResNet(depth=8, standardize="rescale").images(images).numpy(), images / 255.0, atol=1e-6)
