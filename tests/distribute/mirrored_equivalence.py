"""Trains census wide & deep on one device and mirrored over 2 logical CPUs; prints the largest differences.

Run in a fresh process: logical devices must be configured before TensorFlow
initialises its devices. Usage: python mirrored_equivalence.py TRAIN_CSV
"""

import json
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfkit import config as config_lib  # noqa: E402
from tfkit import distribute  # noqa: E402
from tfkit.data import read_csv  # noqa: E402

CONFIG = config_lib.load(sys.argv[2] if len(sys.argv) > 2 else "configs/census.yaml")


def dataset(model):
    specs = model.input_specs()
    return read_csv(
        sys.argv[1], 64, label="income", label_vocabulary=["<=50K", ">50K"], column_names=CONFIG["data"]["column_names"][:-1] + ["income"],
        select_columns=sorted(specs), column_dtypes={k: s.dtype for k, s in specs.items()}, na_values=["?"],
    )


def train(strategy, initial_weights=None):
    keras.utils.set_random_seed(7)
    with strategy.scope():
        columns = config_lib.build_columns(CONFIG["features"])
        model = config_lib.build_model(CONFIG["model"], columns, CONFIG["data"])
        model.adapt(dataset(model))
        model.compile(optimizer=CONFIG["train"]["optimizer"])
        model.build()
    if initial_weights is not None:
        model.set_weights(initial_weights)
    start = [w.copy() for w in model.get_weights()]
    history = model.fit(dataset(model), epochs=2, verbose=0, shuffle=False)
    return start, model.get_weights(), history.history["loss"]


single_start, single, single_loss = train(distribute.get("default"))
mirrored_strategy = distribute.get("mirrored")
_, mirrored, mirrored_loss = train(mirrored_strategy, single_start)
moved = max(float(np.max(np.abs(a - b))) for a, b in zip(single, single_start))
print(json.dumps({
    "replicas": mirrored_strategy.num_replicas_in_sync,
    "max_weight_difference": max(float(np.max(np.abs(a - b))) for a, b in zip(single, mirrored)),
    "max_weight_change": moved,
    "single_loss": single_loss,
    "mirrored_loss": mirrored_loss,
}))
