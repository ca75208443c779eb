"""Training throughput of tfkit's TextCNN against a plain Keras 3 text CNN of the same network.

Both are Kim's CNN-rand on the bundled MR sentences: raw strings in, lower-cased
and split on whitespace inside the model (tfkit's TextColumn; Keras'
TextVectorization with the same vocabulary), 300-wide word vectors, convolutions
of 3, 4 and 5 words with 100 maps, max-over-time pooling, dropout 0.5, a
max-norm softmax layer, Adam, batch 50. Epochs alternate in ABBA order (see
bench/paired.py); each round gives one paired ratio, tfkit's time over Keras'.

Usage: python bench/text_cnn.py [--rounds 3] [--steps 100]
"""

import argparse
import gzip
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from paired import abba_rounds, timed_epoch  # noqa: E402
from tfkit.features import TextColumn, adapt  # noqa: E402
from tfkit.models import TextCNN  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILTER_SIZES, NUM_FILTERS, DIMENSION = (3, 4, 5), 100, 300


def mr_sentences():
    sentences, labels = [], []
    for label, name in enumerate(("neg", "pos")):
        with gzip.open(os.path.join(ROOT, "data", "mr", f"rt-polarity.{name}.gz"), "rt", encoding="latin-1") as f:
            lines = [line.strip() for line in f if line.strip()]
        sentences += lines
        labels += [label] * len(lines)
    return np.array(sentences, dtype=object), np.array(labels)


def plain_keras_text_cnn(vocabulary):
    """Kim's CNN in Keras' functional API, stock layers only."""
    sentences = keras.Input(shape=(), dtype="string", name="sentence")
    ids = keras.layers.TextVectorization(vocabulary=vocabulary, standardize="lower", split="whitespace")(sentences)
    vectors = keras.layers.Embedding(len(vocabulary) + 2, DIMENSION,
                                     embeddings_initializer=keras.initializers.RandomUniform(-0.25, 0.25))(ids)
    vectors = keras.layers.ZeroPadding1D(max(FILTER_SIZES) - 1)(vectors)
    pooled = [keras.layers.GlobalMaxPooling1D()(keras.layers.Conv1D(NUM_FILTERS, size, activation="relu")(vectors))
              for size in FILTER_SIZES]
    features = keras.layers.Dropout(0.5)(keras.layers.Concatenate()(pooled))
    logits = keras.layers.Dense(2, kernel_constraint=keras.constraints.MaxNorm(3.0, axis=0))(features)
    return keras.Model({"sentence": sentences}, logits)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="ABBA rounds: each model trains 2 epochs a round")
    parser.add_argument("--steps", type=int, default=100, help="batches of 50 per epoch")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    sentences, labels = mr_sentences()
    column = TextColumn("sentence", standardize="lower")
    adapt([column], [{"sentence": sentences}])
    order = np.random.default_rng(0).permutation(len(labels))[: args.steps * 50]
    dataset = tf.data.Dataset.from_tensor_slices(({"sentence": sentences[order].astype(str)}, labels[order])).batch(50)
    dataset = dataset.cache().prefetch(2)

    tfkit_model = TextCNN(column, embedding_dimension=DIMENSION, filter_sizes=FILTER_SIZES, num_filters=NUM_FILTERS)
    tfkit_model.compile(optimizer=keras.optimizers.Adam(0.001))
    plain = plain_keras_text_cnn(column.vocabulary)
    plain.compile(optimizer=keras.optimizers.Adam(0.001),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    models = {"tfkit": tfkit_model, "keras": plain}
    for model in models.values():  # warm-up: tracing
        timed_epoch(model, dataset)
    counts = {name: model.count_params() for name, model in models.items()}
    print(f"devices: {', '.join(d.name for d in tf.config.list_logical_devices('GPU')) or 'CPU'}; "
          f"{args.steps} batches of 50 an epoch; parameters tfkit {counts['tfkit']:,}  keras {counts['keras']:,}")
    times, ratios = abba_rounds(models, dataset, args.rounds)
    sentences_per_epoch = args.steps * 50
    for name, values in times.items():
        print(f"  {name:>6}: {sentences_per_epoch / statistics.median(values):8,.0f} sentences/s  "
              f"(median epoch {statistics.median(values):.2f}s of {len(values)})")
    print(f"  ratio tfkit/keras epoch time: {statistics.median(ratios):.3f} median of {len(ratios)} paired rounds "
          f"(range {min(ratios):.3f}-{max(ratios):.3f}); {min(times['tfkit']) / min(times['keras']):.3f} of the best epochs")


if __name__ == "__main__":
    main()
