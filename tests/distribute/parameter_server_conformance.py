"""Every model of the conformance suite (tests/test_conformance.py MODELS) on a parameter-server cluster.

One in-process cluster (2 workers, 2 ps, shards from 1 KiB so that every
table is sharded); for each model: build under the strategy, fit, evaluate,
predict, and compare predict with a single-device copy of the same weights.
Run in a fresh process. Prints one JSON line: {model name: report}.
"""

import json

import numpy as np
import tensorflow as tf

from tests.test_conformance import LABELS, MODELS, head_of, inputs_of
from tfkit import distribute

resolver, servers = distribute.cluster.local_cluster(num_workers=2, num_ps=2)
strategy = distribute.get("parameter_server", cluster_resolver=resolver, min_shard_bytes=1024)
reports = {}
for name, make in sorted(MODELS.items()):
    with strategy.scope():
        model = make()
        model.compile(steps_per_execution=2)
    data = tf.data.Dataset.from_tensor_slices((inputs_of(name), LABELS[head_of(model)])).batch(3)
    history = model.fit(data, epochs=2, verbose=0)
    copy = distribute.single_device_copy(model)
    features = data.map(lambda x, y: x)
    predicted, expected = model.predict(features), copy.predict(features, verbose=0)
    reports[name] = {
        "losses": history.history["loss"],
        "global_step": int(distribute.parameter_server.trainer(model).global_step.numpy()),
        "evaluate": model.evaluate(data, return_dict=True),
        "predict_keys": sorted(predicted) == sorted(expected),
        "predict_difference": max(float(np.max(np.abs(np.asarray(predicted[k], float) - np.asarray(expected[k], float))))
                                  for k in predicted if np.asarray(predicted[k]).dtype.kind in "fiu"),
        "sharded": sorted(w.path for w in model.weights if isinstance(w.value, tf.__internal__.distribute.ShardedVariable)),
    }
print(json.dumps(reports))
