"""Training throughput of tfkit's ResNet against a plain Keras 3 ResNet of the same network.

Both are the CIFAR ResNet v1 of He et al. 2016 (option A shortcuts, 16/32/64
filters, per-image standardisation of raw uint8 images, L2 weight decay,
momentum SGD), trained on the same cached synthetic 32×32×3 batches. The plain
one is written with Keras' functional API and stock layers only. Epochs of
``--steps`` batches alternate in ABBA order; each round gives one paired
ratio (tfkit's time over Keras'), and the median of those is the figure,
printed with its range (a shared machine drifts by more than the difference
being measured), and the ratio of each model's best epoch, the one least
disturbed (on the 2-core development machine some epochs take twice as long,
whichever model runs: CPU throttling).

Usage: python bench/resnet.py [--depths 20 56] [--rounds 3] [--steps 10] [--batch-size 128] [--mixed-precision]
Prints images/second for each and the ratio tfkit_time / keras_time (<= 1.05: tfkit is no slower).
"""

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from paired import abba_rounds, timed_epoch  # noqa: E402
from tfkit.models import ResNet  # noqa: E402

WEIGHT_DECAY = 2e-4


def plain_keras_resnet(depth, num_classes=10):
    """He et al.'s CIFAR ResNet v1 in Keras' functional API, stock layers only."""
    regularizer = keras.regularizers.L2(WEIGHT_DECAY / 2)

    def conv(x, filters, strides=1):
        return keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False,
                                   kernel_initializer="he_normal", kernel_regularizer=regularizer)(x)

    def batch_norm(x):
        return keras.layers.BatchNormalization(momentum=0.997, epsilon=1e-5)(x)

    images = keras.Input((32, 32, 3), dtype="uint8", name="image")
    x = keras.ops.cast(images, "float32")
    mean = keras.ops.mean(x, axis=(1, 2, 3), keepdims=True)
    std = keras.ops.maximum(keras.ops.std(x, axis=(1, 2, 3), keepdims=True), 1.0 / np.sqrt(32 * 32 * 3))
    x = (x - mean) / std
    x = keras.layers.ReLU()(batch_norm(conv(x, 16)))
    n = (depth - 2) // 6
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(n):
            strides = 2 if stage and not block else 1
            y = keras.layers.ReLU()(batch_norm(conv(x, filters, strides)))
            y = batch_norm(conv(y, filters))
            shortcut = x
            if strides > 1 or x.shape[-1] != filters:
                shortcut = x[:, ::strides, ::strides, :]
                extra = filters - x.shape[-1]
                shortcut = keras.ops.pad(shortcut, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])
            x = keras.layers.ReLU()(keras.layers.Add()([y, shortcut]))
    x = keras.layers.GlobalAveragePooling2D()(x)
    logits = keras.layers.Dense(num_classes, kernel_regularizer=regularizer, dtype="float32")(x)
    return keras.Model({"image": images}, logits)


def compile_model(model):
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])


def compare(depth, dataset, images, rounds):
    tfkit_model = ResNet(depth=depth, weight_decay=WEIGHT_DECAY)
    compile_model(tfkit_model)
    plain = plain_keras_resnet(depth)
    compile_model(plain)
    models = {"tfkit": tfkit_model, "keras": plain}
    for model in models.values():  # warm-up: tracing
        timed_epoch(model, dataset)
    counts = {name: sum(int(np.prod(w.shape)) for w in model.trainable_weights) for name, model in models.items()}
    print(f"ResNet-{depth}: trainable parameters tfkit {counts['tfkit']:,}  keras {counts['keras']:,}")
    times, ratios = abba_rounds(models, dataset, rounds)
    for name, values in times.items():
        print(f"  {name:>6}: {images / statistics.median(values):8,.0f} images/s  (median epoch {statistics.median(values):.2f}s of {len(values)})")
    print(f"  ratio tfkit/keras epoch time: {statistics.median(ratios):.3f} median of {len(ratios)} paired rounds "
          f"(range {min(ratios):.3f}-{max(ratios):.3f}); {min(times['tfkit']) / min(times['keras']):.3f} of the best epochs")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[20, 56])
    parser.add_argument("--rounds", type=int, default=3, help="ABBA rounds: each model trains 2 epochs a round")
    parser.add_argument("--steps", type=int, default=10, help="batches per epoch")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--mixed-precision", action="store_true", help="mixed_float16 (on a GPU)")
    args = parser.parse_args()

    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    count = args.steps * args.batch_size
    images = rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, count)
    dataset = tf.data.Dataset.from_tensor_slices(({"image": images}, labels)).batch(args.batch_size).cache().prefetch(2)
    devices = [d.name for d in tf.config.list_logical_devices("GPU")] or ["CPU"]
    print(f"devices: {', '.join(devices)}; batch {args.batch_size}; policy {keras.mixed_precision.global_policy().name}")
    for depth in args.depths:
        compare(depth, dataset, count, args.rounds)


if __name__ == "__main__":
    main()
