"""ResNet on one device and mirrored over 2 logical CPUs: same start, same global batches; prints the differences.

Trains a small ResNet on the bundled digits (no augmentation, no shuffling)
with momentum SGD and weight decay: on one device, mirrored with
synchronized batch norm (tfkit's default), and mirrored without it. Run in a
fresh process: logical devices must be configured before TensorFlow
initialises its devices.
"""

import json

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfkit import data, distribute  # noqa: E402
from tfkit.models import ResNet  # noqa: E402

digits = data.read_numpy("data/digits/train.npz")
subset = data.ImageSet(digits.images[:256], digits.labels[:256])


class BatchLosses(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))


def train(strategy, initial_weights=None, synchronized=True, steps=24):
    keras.utils.set_random_seed(3)
    with strategy.scope():
        model = ResNet(depth=14, num_classes=10, image_shape=[32, 32, 1], batch_norm_momentum=0.9,
                       synchronized_batch_norm=synchronized)
        model.compile(optimizer={"name": "sgd", "learning_rate": 0.02, "momentum": 0.9})
        model.build()
    if initial_weights is not None:
        model.set_weights(initial_weights)
    start = [w.copy() for w in model.get_weights()]
    losses = BatchLosses()
    batches = data.image_dataset(subset, 32)  # 8 batches of 32
    model.fit(batches.take(steps) if steps < 8 else batches, epochs=max(1, steps // 8), verbose=0, callbacks=[losses])
    moving = [w.numpy() for w in model.weights if "moving" in w.path]
    return start, model.get_weights(), moving, losses.losses


def difference(a, b):
    """The largest difference between two lists of arrays, relative to each array's largest value."""
    return max(float(np.max(np.abs(x - y)) / max(1e-6, np.max(np.abs(x)))) for x, y in zip(a, b))


mirrored = distribute.get("mirrored")
start, weights, moving, losses = train(distribute.get("default"), steps=1)
report = {"replicas": mirrored.num_replicas_in_sync}
for name, synchronized in (("synchronized", True), ("unsynchronized", False)):
    _, other_weights, other_moving, other_losses = train(mirrored, start, synchronized, steps=1)
    report[name] = {"first_step_loss_difference": abs(losses[0] - other_losses[0]),
                    "first_step_weight_difference": difference(weights, other_weights),
                    "first_step_moving_statistic_difference": difference(moving, other_moving)}
_, weights, moving, losses = train(distribute.get("default"), start)
_, other_weights, other_moving, other_losses = train(mirrored, start)
report["synchronized"].update(
    steps=len(losses),
    max_weight_change=difference(weights, start),
    max_loss_difference=max(abs(a - b) for a, b in zip(losses, other_losses)),
    single_losses=losses,
    mirrored_losses=other_losses,
)
print(json.dumps(report))
