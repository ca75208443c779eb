"""The classic census wide & deep as a plain Keras 3 script: what tfkit's census run is compared with.

python bench/plain_census.py EPOCHS EXPORT_DIR

The tf.estimator tutorial's model written the way the Keras guides teach:
preprocessing layers adapted on the training file, applied in ``tf.data``
and cached; a wide part (one weight per category, bucket and hashed cross)
trained by FTRL and a deep part (normalised numbers, one-hot and embedded
categories, 100-70-48-34 units) by Adagrad, in a ``train_step`` of its own
(Keras 3 has no per-part optimizer); batch 256, one tenth of train held out
and evaluated every epoch, the test file evaluated at the end, and a
SavedModel taking raw features exported. Prints one JSON line.
"""

import json
import sys
import time

import keras
import numpy as np
import tensorflow as tf

started = time.perf_counter()
EPOCHS, EXPORT_DIR = int(sys.argv[1]), sys.argv[2]
TRAIN, TEST = "data/census/adult.data.csv.gz", "data/census/adult.test.csv.gz"
NAMES = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation", "relationship",
         "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country", "income_bracket"]
NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
CATEGORICAL = ["workclass", "education", "marital_status", "occupation", "relationship", "race", "sex", "native_country"]
DEFAULTS = [0.0 if name in NUMERIC or name == "fnlwgt" else "" for name in NAMES]
BUCKETS = {"age": [18, 25, 30, 35, 40, 45, 50, 55, 60, 65], "capital_gain": [1, 3000, 5000, 7000, 10000, 20000],
           "capital_loss": [1, 1500, 1800, 2000, 2500]}
CROSSES = [(["education", "occupation"], 10_000), (["age_buckets", "education", "occupation"], 100_000),
           (["native_country", "occupation"], 10_000)]


def rows(path):
    lines = tf.data.TextLineDataset(path, compression_type="GZIP").skip(1).filter(lambda line: tf.strings.length(line) > 0)

    def to_features(line):
        values = tf.io.decode_csv(tf.strings.regex_replace(line, r"\?", ""), DEFAULTS)
        features = {name: tf.strings.strip(v) if isinstance(d, str) else v for name, v, d in zip(NAMES, values, DEFAULTS)}
        label = tf.cast(tf.strings.regex_full_match(features.pop("income_bracket"), r">50K\.?"), tf.float32)
        return {name: features[name] for name in NUMERIC + CATEGORICAL}, label

    return lines.map(to_features, num_parallel_calls=tf.data.AUTOTUNE)


everything = rows(TRAIN).enumerate()
train_rows = everything.filter(lambda i, row: i % 10 != 0).map(lambda i, row: row)
validation_rows = everything.filter(lambda i, row: i % 10 == 0).map(lambda i, row: row)

# Preprocessing layers, adapted on the training rows.
lookups = {name: keras.layers.StringLookup() for name in CATEGORICAL}
normalizers = {name: keras.layers.Normalization(axis=None) for name in NUMERIC}
sample = [features for features, _ in train_rows.batch(4096).as_numpy_iterator()]
for name, layer in {**lookups, **normalizers}.items():
    layer.adapt(np.concatenate([features[name] for features in sample]))
buckets = {name: keras.layers.Discretization(bin_boundaries=b) for name, b in BUCKETS.items()}
crosses = [keras.layers.HashedCrossing(num_bins=n) for _, n in CROSSES]


def preprocess(features):
    ids = {name: layer(features[name]) for name, layer in lookups.items()}
    ids.update({f"{name}_buckets": layer(features[name]) for name, layer in buckets.items()})
    for (parts, _), layer in zip(CROSSES, crosses):
        ids["x".join(parts)] = layer(tuple(ids[p] if p.endswith("_buckets") else features[p] for p in parts))
    numbers = tf.stack([normalizers[name](features[name]) for name in NUMERIC], axis=-1)
    return {"numbers": numbers, **{name: tf.cast(value, tf.int64) for name, value in ids.items()}}


def batches(dataset, training):
    dataset = dataset.batch(256).map(lambda f, label: (preprocess(f), label), num_parallel_calls=tf.data.AUTOTUNE).cache()
    if training:
        dataset = dataset.unbatch().shuffle(10_000, seed=42).batch(256)
    return dataset.prefetch(tf.data.AUTOTUNE)


sizes = {name: layer.vocabulary_size() for name, layer in lookups.items()}
sizes.update({f"{name}_buckets": len(b) + 1 for name, b in BUCKETS.items()})
sizes.update({"x".join(parts): n for parts, n in CROSSES})


class WideDeep(keras.Model):
    def __init__(self):
        super().__init__()
        self.wide = {name: keras.layers.Embedding(size, 1, embeddings_initializer="zeros", name=f"wide_{name}")
                     for name, size in sizes.items()}
        self.embeddings = {name: keras.layers.Embedding(sizes[name], 8, name=f"deep_{name}")
                           for name in ("occupation", "native_country")}
        self.one_hot = {name: keras.layers.CategoryEncoding(sizes[name], output_mode="one_hot")
                        for name in ("workclass", "education", "marital_status", "relationship")}
        self.hidden = [keras.layers.Dense(units, activation="relu") for units in (100, 70, 48, 34)]
        self.out = keras.layers.Dense(1)
        self.wide_optimizer = keras.optimizers.Ftrl(learning_rate=0.05)
        self.deep_optimizer = keras.optimizers.Adagrad(learning_rate=0.1)

    def call(self, inputs, training=False):
        wide = tf.add_n([layer(inputs[name])[:, 0] for name, layer in self.wide.items()])[:, None]
        deep = tf.concat([inputs["numbers"]] + [layer(inputs[name]) for name, layer in self.embeddings.items()]
                         + [layer(inputs[name]) for name, layer in self.one_hot.items()], axis=-1)
        for layer in self.hidden:
            deep = layer(deep)
        return wide + self.out(deep)

    def train_step(self, data):
        features, label = data
        with tf.GradientTape() as tape:
            logits = self(features, training=True)
            loss = self.compute_loss(features, label[:, None], logits)
        wide = [v for layer in self.wide.values() for v in layer.trainable_variables]
        wide_ids = {id(v) for v in wide}
        deep = [v for v in self.trainable_variables if id(v) not in wide_ids]
        grads = tape.gradient(loss, wide + deep)
        self.wide_optimizer.apply(grads[:len(wide)], wide)
        self.deep_optimizer.apply(grads[len(wide):], deep)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(label[:, None], logits)
        return {m.name: m.result() for m in self.metrics}


model = WideDeep()
model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True),
              metrics=[keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0), keras.metrics.AUC(from_logits=True)])
train, validation = batches(train_rows, True), batches(validation_rows, False)
model.fit(train, validation_data=validation, epochs=EPOCHS, verbose=0)
test = model.evaluate(batches(rows(TEST), False), verbose=0, return_dict=True)

# A SavedModel taking raw features.
raw = {name: tf.TensorSpec([None], tf.float32 if name in NUMERIC else tf.string, name=name) for name in NUMERIC + CATEGORICAL}
archive = keras.export.ExportArchive()
archive.track(model)
for layer in [*lookups.values(), *normalizers.values(), *buckets.values(), *crosses]:
    archive.track(layer)
archive.add_endpoint("serve", lambda features: tf.sigmoid(model(preprocess(features))), input_signature=[raw])
archive.write_out(EXPORT_DIR, verbose=False)
print(json.dumps({"seconds": time.perf_counter() - started, "test_accuracy": test["accuracy"], "test_auc": test["auc"]}))
