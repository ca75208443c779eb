"""Census wide & deep on an in-process cluster (2 workers, 2 ps) and on one device, same budget.

Run in a fresh process (the servers live as long as it does). Prints one JSON
line of what the tests check. Usage: python parameter_server_in_process.py TRAIN TEST CONFIG SCRATCH_DIR
"""

import json
import sys

import keras
import numpy as np
import tensorflow as tf

from tfkit import config as config_lib
from tfkit import distribute
from tfkit.data import read_csv
from tfkit.jobs.checkpoints import weights_checkpoint

TRAIN, TEST, CONFIG_PATH, SCRATCH = sys.argv[1:5]
CONFIG = config_lib.load(CONFIG_PATH)
EPOCHS, BATCH = 2, 256


def dataset(model, path, training=False):
    data, specs = CONFIG["data"], model.input_specs()
    return read_csv(
        path, BATCH, label=data["label"], label_vocabulary=data["label_vocabulary"], label_aliases=data["label_aliases"],
        column_names=data["column_names"], select_columns=sorted(specs), na_values=data["na_values"],
        column_dtypes={k: s.dtype for k, s in specs.items()}, shuffle=training, seed=None if training else 1,
    )


# Columns are specs (the models own the weights and tables): adapted by the first model, shared by the others.
COLUMNS = config_lib.build_columns(CONFIG["features"])


def build(strategy, steps_per_execution=1):
    keras.utils.set_random_seed(3)
    with strategy.scope():
        model = config_lib.build_model(CONFIG["model"], COLUMNS, CONFIG["data"])
        model.adapt(dataset(model, TRAIN))  # reads the data the first time only
        model.compile(optimizer=CONFIG["train"]["optimizer"], steps_per_execution=steps_per_execution)
        model.build()
        model.optimizer.build(distribute.trainable_variables(model))
    return model


report = {}
resolver, servers = distribute.cluster.local_cluster(num_workers=2, num_ps=2)
# Small shards, so that the embedding tables are sharded too; dense kernels never are.
strategy = distribute.get("parameter_server", cluster_resolver=resolver, min_shard_bytes=1024)

# A small run with several steps per scheduled function and a remainder (7 = 3 + 3 + 1).
small = build(strategy, steps_per_execution=3)
small.fit(dataset(small, TRAIN, training=True), epochs=2, steps_per_epoch=7, verbose=0)
trainer = distribute.parameter_server.trainer(small)
report["small_global_step"] = int(trainer.global_step.numpy())
report["small_traces"] = trainer._train_function.experimental_get_tracing_count()
report["small_iterations"] = sorted({int(v.numpy()) for v in small.optimizer.variables if v.name == "iteration"})

model = build(strategy)
table = model.wide.sparse_weights
report["table_type"] = type(table.value).__name__
report["sharded"] = sorted(w.path for w in model.weights if isinstance(w.value, tf.__internal__.distribute.ShardedVariable))
report["table_shards"] = [int(v.shape[0]) for v in table.value.variables]
report["table_devices"] = sorted({v.device for v in table.value.variables})
report["slot_devices"] = sorted({v.value.device for v in model.optimizer.variables if "sparse_weights_part" in v.path})
history = model.fit(
    dataset(model, TRAIN, training=True), epochs=EPOCHS, validation_data=dataset(model, TEST), verbose=0,
    callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)],
)
report["history_keys"] = sorted(history.history)
report["steps_per_epoch"] = len([0 for _ in dataset(model, TRAIN)])
report["global_step"] = int(distribute.parameter_server.trainer(model).global_step.numpy())
report["iterations"] = sorted({int(v.numpy()) for v in model.optimizer.variables if v.name == "iteration"})
report["parameter_server"] = model.evaluate(dataset(model, TEST), return_dict=True)

# The same weights on one device: metrics and predictions must agree exactly.
copy = distribute.single_device_copy(model)
copy.compile(optimizer="adam")
report["copy_of_parameter_server"] = copy.evaluate(dataset(model, TEST), return_dict=True, verbose=0)
features = dataset(model, TEST).map(lambda x, y: x).take(4)
report["predict_difference"] = float(np.max(np.abs(model.predict(features)["logits"] - copy.predict(features, verbose=0)["logits"])))

# A checkpoint of the sharded model restores into a single-device model of the same config.
path = tf.train.Checkpoint(weights=weights_checkpoint(model)).write(f"{SCRATCH}/ckpt")
restored = build(distribute.get("default"))
tf.train.Checkpoint(weights=weights_checkpoint(restored)).read(path).expect_partial()
report["restored_difference"] = float(np.max(np.abs(restored.predict(features, verbose=0)["logits"] - copy.predict(features, verbose=0)["logits"])))

# EarlyStopping's restore_best_weights: get_weights / set_weights through sharded tables.
weights = model.get_weights()
model.set_weights([w * 0 for w in weights])
zeroed = model.predict(features)["logits"]
model.set_weights(weights)
report["set_weights"] = [float(np.max(np.abs(zeroed))), float(np.max(np.abs(model.predict(features)["logits"] - copy.predict(features, verbose=0)["logits"])))]

# Arguments the loop cannot honour are refused by name, not ignored.
with strategy.scope():
    small.compile()  # no steps_per_execution: the parameter-server default
report["default_steps_per_function"] = distribute.parameter_server.steps_per_function(small)

report["refused"] = []
for call in (lambda: model.fit({"age": np.ones(4)}, np.ones(4)), lambda: model.evaluate(dataset(model, TEST), callbacks=[])):
    try:
        call()
    except ValueError as error:
        report["refused"].append(str(error))

single = build(distribute.get("default"))
single.fit(dataset(single, TRAIN, training=True), epochs=EPOCHS, verbose=0)
report["single_device"] = single.evaluate(dataset(single, TEST), return_dict=True, verbose=0)
print(json.dumps(report))
