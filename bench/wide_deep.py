"""Training throughput of tfkit's WideDeep against a hand-written plain Keras 3 equivalent.

Both models take the same raw census features (strings and numbers) from the
same cached tf.data pipeline, with the same batch size, the same optimizer
(Adam: plain Keras has no per-part optimizers) and the same architecture:
the columns of configs/census.yaml, with vocabularies and statistics from
tfkit's adapt reused by the Keras model. Epochs alternate between the two
models in ABBA order (whichever runs second after a switch was measured to
gain ~10%, so each model goes first half of the time). Each round gives one
paired ratio (tfkit's two epochs over Keras' two); the median of those ratios
is the figure, printed with its range, since a shared 2-core machine drifts
by more than the difference being measured.

Usage: python bench/wide_deep.py [--rounds 4] [--batch-size 256]
Prints examples/second for each and the ratio tfkit_time / keras_time
(<= 1.05 means tfkit is no slower).
"""

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from paired import abba_rounds, timed_epoch  # noqa: E402
from tfkit import config as config_lib  # noqa: E402
from tfkit import features as F  # noqa: E402
from tfkit.data import read_csv  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def census_model_and_data(batch_size):
    config = config_lib.load(os.path.join(ROOT, "configs", "census.yaml"))
    columns = config_lib.build_columns(config["features"])
    model = config_lib.build_model(config["model"], columns, config["data"])
    specs = model.input_specs()
    data = config["data"]
    dataset = read_csv(
        data["train"], batch_size, label=data["label"], label_vocabulary=data["label_vocabulary"],
        column_names=data["column_names"], select_columns=sorted(specs),
        column_dtypes={k: s.dtype for k, s in specs.items()}, na_values=data["na_values"],
    ).cache()
    model.adapt(dataset)
    return model, dataset


def plain_keras_equivalent(model):
    """The same network written with Keras layers only: lookups, crosses, embeddings, Dense."""
    specs = model.input_specs()
    inputs = {k: keras.Input(shape=(), dtype=s.dtype, name=k) for k, s in specs.items()}

    def ids(column):
        if isinstance(column, F.CategoricalColumn):
            lookup = keras.layers.StringLookup(vocabulary=column.vocabulary, num_oov_indices=column.num_oov_buckets)
            return lookup(inputs[column.key]), column.num_buckets
        if isinstance(column, F.BucketizedColumn):
            x = keras.layers.Reshape((1,))(keras.ops.cast(inputs[column.source.key], "float32"))
            return keras.layers.Reshape(())(keras.layers.Discretization(bin_boundaries=column.boundaries)(x)), column.num_buckets
        if isinstance(column, F.CrossedColumn):
            # HashedCrossing takes exactly two inputs: a three-way cross chains two of them.
            crossed = ids(column.columns[0])[0]
            for parent in column.columns[1:]:
                crossed = keras.layers.HashedCrossing(num_bins=column.num_buckets)((crossed, ids(parent)[0]))
            return crossed, column.num_buckets
        raise TypeError(column)

    def numeric(column):
        x = keras.layers.Reshape((1,))(keras.ops.cast(inputs[column.key], "float32"))
        return keras.layers.Normalization(mean=column.mean, variance=column.variance)(x)

    wide_terms = []
    for column in model.wide_columns:
        index, size = ids(column)
        wide_terms.append(keras.layers.Embedding(size, 1, embeddings_initializer="zeros")(index))
    wide = keras.layers.Add()(wide_terms)
    deep_inputs = []
    for column in model.deep_columns:
        if isinstance(column, F.NumericColumn):
            deep_inputs.append(numeric(column))
        elif isinstance(column, F.IndicatorColumn):
            index, size = ids(column.categorical)
            deep_inputs.append(keras.layers.CategoryEncoding(size, output_mode="one_hot")(index))
        else:
            index, size = ids(column.categorical)
            deep_inputs.append(keras.layers.Embedding(size, column.dimension)(index))
    x = keras.layers.Concatenate()(deep_inputs)
    for units in model.hidden_units:
        x = keras.layers.Dense(units, activation="relu")(x)
    logits = keras.layers.Add()([keras.layers.Dense(1)(x), wide])
    plain = keras.Model(inputs, logits)
    plain.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[keras.metrics.BinaryAccuracy(threshold=0.0), keras.metrics.AUC(from_logits=True)])
    return plain


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="ABBA rounds: each model trains 2 epochs a round")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    tfkit_model, dataset = census_model_and_data(args.batch_size)
    tfkit_model.compile(optimizer="adam")
    plain = plain_keras_equivalent(tfkit_model)
    examples = sum(int(tf.shape(y)[0]) for _, y in dataset)
    models = {"tfkit": tfkit_model, "keras": plain}
    for model in models.values():  # warm-up: tracing and the cache fill
        timed_epoch(model, dataset)
    print(f"trainable parameters: tfkit {tfkit_model.count_params():,}  keras {plain.count_params():,}")
    times, ratios = abba_rounds(models, dataset, args.rounds)
    for name, values in times.items():
        seconds = statistics.median(values)
        print(f"{name:>6}: {examples / seconds:10,.0f} examples/s  (median epoch {seconds:.3f}s of {len(values)})")
    print(
        f"ratio tfkit/keras epoch time: {statistics.median(ratios):.3f} median of {len(ratios)} paired rounds "
        f"(range {min(ratios):.3f}-{max(ratios):.3f}; batch {args.batch_size}, {examples:,} examples)"
    )


if __name__ == "__main__":
    main()
