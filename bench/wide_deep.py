"""Training throughput of tfkit's WideDeep against hand-written plain Keras 3 and tf_keras equivalents.

The models take the same raw census features (strings and numbers) from the
same tf.data pipeline (tfkit's CSV reader, cached in memory), with the same
batch size, the same optimizers and the same architecture: the columns of
configs/census.yaml, with vocabularies and statistics from tfkit's adapt
reused by the others. The references look up and cross their strings with
Keras preprocessing layers inside the model, each step, as a Keras model
that exports raw features does; tfkit's fit does those transforms once, in
the reader's cache (its export still takes raw features). The
classic recipe (the default) trains the wide part with FTRL and the deep part
with Adagrad; ``--recipe adam`` trains everything with Adam. The tf_keras
(Keras 2) reference, what estimator users ran, needs ``pip install tf_keras``
and is skipped with a message without it. Epochs alternate between the two
models in ABBA order (whichever runs second after a switch was measured to
gain ~10%, so each model goes first half of the time). Each round gives one
paired ratio (tfkit's two epochs over Keras' two); the median of those ratios
is the figure, printed with its range, since a shared 2-core machine drifts
by more than the difference being measured.

Usage: python bench/wide_deep.py [--rounds 6] [--batch-size 256] [--recipe classic|adam] [--epochs-per-fit 4]
                                [--steps-per-execution N]

By default every model runs the steps per execution of configs/census.yaml
(16), as ``tfkit train`` does, and each timed ``fit`` holds 4 epochs.
Prints examples/second for each and the ratio tfkit_time / reference_time
(below 1 means tfkit is faster).
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


def census_config():
    return config_lib.load(os.path.join(ROOT, "configs", "census.yaml"))


def census_model_and_data(batch_size):
    config = census_config()
    columns = config_lib.build_columns(config["features"])
    model = config_lib.build_model(config["model"], columns, config["data"])
    specs = model.input_specs()
    data = config["data"]
    dataset = read_csv(
        data["train"], batch_size, label=data["label"], label_vocabulary=data["label_vocabulary"],
        column_names=data["column_names"], select_columns=sorted(specs),
        column_dtypes={k: s.dtype for k, s in specs.items()}, na_values=data["na_values"], cache="memory",
    )
    model.adapt(dataset)
    return model, dataset


def plain_equivalent(model, K, recipe, steps_per_execution=1):
    """The same network written with the layers of ``K`` only (Keras 3, or tf_keras: Keras 2).

    Lookups, crosses, embeddings and Dense layers, trained with the recipe's
    optimizers: Adam for every weight, or the classic FTRL (0.05) on the wide
    embeddings and Adagrad (0.1) on the rest, in a ``train_step`` of its own
    (neither Keras has per-part optimizers).
    """
    cast = keras.ops.cast if K is keras else tf.cast
    specs = model.input_specs()
    inputs = {k: K.Input(shape=(), dtype=s.dtype, name=k) for k, s in specs.items()}

    def ids(column):
        if isinstance(column, F.CategoricalColumn):
            lookup = K.layers.StringLookup(vocabulary=column.vocabulary, num_oov_indices=column.num_oov_buckets)
            return lookup(inputs[column.key]), column.num_buckets
        if isinstance(column, F.BucketizedColumn):
            x = K.layers.Reshape((1,))(cast(inputs[column.source.key], "float32"))
            return K.layers.Reshape(())(K.layers.Discretization(bin_boundaries=column.boundaries)(x)), column.num_buckets
        if isinstance(column, F.CrossedColumn):
            # HashedCrossing takes exactly two inputs: a three-way cross chains two of them.
            crossed = ids(column.columns[0])[0]
            for parent in column.columns[1:]:
                crossed = K.layers.HashedCrossing(num_bins=column.num_buckets)((crossed, ids(parent)[0]))
            return crossed, column.num_buckets
        raise TypeError(column)

    def numeric(column):
        x = K.layers.Reshape((1,))(cast(inputs[column.key], "float32"))
        return K.layers.Normalization(mean=column.mean, variance=column.variance)(x)

    wide_terms = []
    for i, column in enumerate(model.wide_columns):
        index, size = ids(column)
        wide_terms.append(K.layers.Embedding(size, 1, embeddings_initializer="zeros", name=f"wide_{i}")(index))
    wide = K.layers.Add()(wide_terms)
    deep_inputs = []
    for column in model.deep_columns:
        if isinstance(column, F.NumericColumn):
            deep_inputs.append(numeric(column))
        elif isinstance(column, F.IndicatorColumn):
            index, size = ids(column.categorical)
            deep_inputs.append(K.layers.CategoryEncoding(size, output_mode="one_hot")(index))
        else:
            index, size = ids(column.categorical)
            deep_inputs.append(K.layers.Embedding(size, column.dimension)(index))
    x = K.layers.Concatenate()(deep_inputs)
    for units in model.hidden_units:
        x = K.layers.Dense(units, activation="relu")(x)
    logits = K.layers.Add()([K.layers.Dense(1)(x), wide])
    loss = K.losses.BinaryCrossentropy(from_logits=True)
    metrics = [K.metrics.BinaryAccuracy(threshold=0.0), K.metrics.AUC(from_logits=True)]
    if recipe == "adam":
        plain = K.Model(inputs, logits)
        plain.compile(optimizer=K.optimizers.Adam(), loss=loss, metrics=metrics, steps_per_execution=steps_per_execution)
        return plain

    class WideDeepRecipe(K.Model):
        def train_step(self, data):
            features, labels = data
            labels = tf.cast(labels, tf.float32)[:, None]
            with tf.GradientTape() as tape:
                logits = self(features, training=True)
                step_loss = loss(labels, logits)
            # Keras 3 names a variable after its layer in its path, tf_keras in its name.
            wide = [v for v in self.trainable_variables if "wide_" in getattr(v, "path", v.name)]
            deep = [v for v in self.trainable_variables if "wide_" not in getattr(v, "path", v.name)]
            grads = tape.gradient(step_loss, wide + deep)
            self.wide_optimizer.apply_gradients(zip(grads[:len(wide)], wide))
            self.deep_optimizer.apply_gradients(zip(grads[len(wide):], deep))
            # The metrics tfkit's head computes (accuracy, AUC), as both Keras compute compiled metrics.
            return {"loss": step_loss, **self.compute_metrics(features, labels, logits, None)}

    plain = WideDeepRecipe(inputs, logits)
    plain.wide_optimizer = K.optimizers.Ftrl(learning_rate=0.05)
    plain.deep_optimizer = K.optimizers.Adagrad(learning_rate=0.1)
    plain.compile(optimizer=K.optimizers.Adagrad(), loss=loss, metrics=metrics, steps_per_execution=steps_per_execution)
    return plain


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="ABBA rounds: each model trains 2 epochs a round")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--recipe", choices=["classic", "adam"], default="classic",
                        help="classic: FTRL on the wide part, Adagrad on the deep part; adam: Adam for all")
    parser.add_argument("--epochs-per-fit", type=int, default=4,
                        help="epochs of each timed fit call (more: less of fit's own start-up in each figure)")
    parser.add_argument("--steps-per-execution", type=int, default=None,
                        help="Keras steps per compiled execution, the same for every model (default: configs/census.yaml's)")
    args = parser.parse_args()

    if args.steps_per_execution is None:
        args.steps_per_execution = census_config()["train"]["steps_per_execution"]
    keras.utils.set_random_seed(0)
    tfkit_model, dataset = census_model_and_data(args.batch_size)
    tfkit_model.compile(optimizer="adam" if args.recipe == "adam" else
                        {"wide": {"name": "ftrl", "learning_rate": 0.05}, "deep": {"name": "adagrad", "learning_rate": 0.1}},
                        steps_per_execution=args.steps_per_execution)
    references = {"keras": plain_equivalent(tfkit_model, keras, args.recipe, args.steps_per_execution)}
    try:
        import tf_keras
    except ImportError:
        print("tf_keras (Keras 2) is not installed, so that reference is skipped: pip install tf_keras")
    else:
        references["tf_keras"] = plain_equivalent(tfkit_model, tf_keras, args.recipe, args.steps_per_execution)
    batches = [int(tf.shape(y)[0]) for _, y in dataset]
    examples = sum(batches)
    # A known length: tf_keras runs several steps per execution only over data of known size.
    counted = dataset.apply(tf.data.experimental.assert_cardinality(len(batches)))

    def epoch(model, epochs=1):
        return timed_epoch(model, counted if model is references.get("tf_keras") else dataset, epochs)

    for model in [tfkit_model, *references.values()]:  # warm-up: tracing and the cache fill
        epoch(model)
    print(f"recipe {args.recipe}; trainable parameters: tfkit {tfkit_model.count_params():,}  "
          + "  ".join(f"{name} {model.count_params():,}" for name, model in references.items()))
    for name, reference in references.items():
        times, ratios = abba_rounds({"tfkit": tfkit_model, name: reference}, dataset, args.rounds,
                                    epoch=lambda model, data: epoch(model, args.epochs_per_fit))
        for model_name, values in times.items():
            seconds = statistics.median(values) / args.epochs_per_fit
            print(f"{model_name:>8}: {examples / seconds:10,.0f} examples/s  (median epoch {seconds:.3f}s of {len(values)})")
        print(
            f"ratio tfkit/{name} epoch time: {statistics.median(ratios):.3f} median of {len(ratios)} paired rounds "
            f"(range {min(ratios):.3f}-{max(ratios):.3f}; throughput tfkit/{name} {1 / statistics.median(ratios):.2f}x; "
            f"batch {args.batch_size}, {examples:,} examples)", flush=True
        )


if __name__ == "__main__":
    main()
