"""The census income wide & deep program, written as tf.estimator programs were (TensorFlow's census tutorial:
its columns, an input_fn over the CSV, DNNLinearCombinedClassifier, train_and_evaluate with a FinalExporter).

It differs from a TensorFlow 2.15 program only in two prefixes: ``tf.estimator.`` is ``tfkit.estimator.`` and
``tf.feature_column.`` is ``tfkit.feature_column.``. Run it from the repository's root:

    python examples/census_estimator.py --model-dir /tmp/census_estimator

It trains on data/census/adult.data.csv.gz, evaluates on adult.test.csv.gz and exports to
MODEL_DIR/export/census/<timestamp>/ (serialized tf.Examples in, as TensorFlow Serving's clients send them).
On a TF_CONFIG cluster each task runs the same command.
"""

import argparse
import json
import os

import tensorflow as tf

import tfkit

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "census")

_CSV_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
                "relationship", "race", "gender", "capital_gain", "capital_loss", "hours_per_week", "native_country",
                "income_bracket"]
_CSV_COLUMN_DEFAULTS = [[0.0], [""], [0.0], [""], [0.0], [""], [""], [""], [""], [""], [0.0], [0.0], [0.0], [""], [""]]
_NUM_EXAMPLES = {"train": 32561, "validation": 16281}
_HASH_BUCKET_SIZE = 1000


def build_model_columns():
    """The tutorial's wide and deep feature columns."""
    age = tfkit.feature_column.numeric_column("age")
    education_num = tfkit.feature_column.numeric_column("education_num")
    capital_gain = tfkit.feature_column.numeric_column("capital_gain")
    capital_loss = tfkit.feature_column.numeric_column("capital_loss")
    hours_per_week = tfkit.feature_column.numeric_column("hours_per_week")

    education = tfkit.feature_column.categorical_column_with_vocabulary_list("education", [
        "Bachelors", "HS-grad", "11th", "Masters", "9th", "Some-college", "Assoc-acdm", "Assoc-voc", "7th-8th",
        "Doctorate", "Prof-school", "5th-6th", "10th", "1st-4th", "Preschool", "12th"])
    marital_status = tfkit.feature_column.categorical_column_with_vocabulary_list("marital_status", [
        "Married-civ-spouse", "Divorced", "Married-spouse-absent", "Never-married", "Separated", "Married-AF-spouse",
        "Widowed"])
    relationship = tfkit.feature_column.categorical_column_with_vocabulary_list("relationship", [
        "Husband", "Not-in-family", "Wife", "Own-child", "Unmarried", "Other-relative"])
    workclass = tfkit.feature_column.categorical_column_with_vocabulary_list("workclass", [
        "Self-emp-not-inc", "Private", "State-gov", "Federal-gov", "Local-gov", "?", "Self-emp-inc", "Without-pay",
        "Never-worked"])
    occupation = tfkit.feature_column.categorical_column_with_hash_bucket("occupation", hash_bucket_size=_HASH_BUCKET_SIZE)
    age_buckets = tfkit.feature_column.bucketized_column(age, boundaries=[18, 25, 30, 35, 40, 45, 50, 55, 60, 65])

    base_columns = [education, marital_status, relationship, workclass, occupation, age_buckets]
    crossed_columns = [
        tfkit.feature_column.crossed_column(["education", "occupation"], hash_bucket_size=_HASH_BUCKET_SIZE),
        tfkit.feature_column.crossed_column([age_buckets, "education", "occupation"], hash_bucket_size=_HASH_BUCKET_SIZE),
    ]
    wide_columns = base_columns + crossed_columns
    deep_columns = [
        age, education_num, capital_gain, capital_loss, hours_per_week,
        tfkit.feature_column.indicator_column(workclass),
        tfkit.feature_column.indicator_column(education),
        tfkit.feature_column.indicator_column(marital_status),
        tfkit.feature_column.indicator_column(relationship),
        tfkit.feature_column.embedding_column(occupation, dimension=8),
    ]
    return wide_columns, deep_columns


def input_fn(data_file, num_epochs, shuffle, batch_size):
    """Batches of (features, labels) from a census CSV (gzipped, with a header; adult.test's labels end in ".")."""

    def parse_csv(lines):
        lines = tf.boolean_mask(lines, tf.strings.length(lines) > 0)  # the files end in a blank line
        columns = tf.io.decode_csv(lines, record_defaults=_CSV_COLUMN_DEFAULTS)
        features = {name: tf.strings.strip(value) if value.dtype == tf.string else value
                    for name, value in zip(_CSV_COLUMNS, columns)}
        labels = tf.strings.regex_replace(features.pop("income_bracket"), r"\.$", "")
        return features, tf.equal(labels, ">50K")

    dataset = tf.data.TextLineDataset(data_file, compression_type="GZIP").skip(1)
    if shuffle:
        dataset = dataset.shuffle(buffer_size=_NUM_EXAMPLES["train"], seed=0)
    dataset = dataset.repeat(num_epochs)
    return dataset.batch(batch_size).map(parse_csv, num_parallel_calls=tf.data.AUTOTUNE)


def build_estimator(model_dir, hidden_units, config):
    wide_columns, deep_columns = build_model_columns()
    return tfkit.estimator.DNNLinearCombinedClassifier(
        model_dir=model_dir,
        linear_feature_columns=wide_columns,
        linear_optimizer=tf.keras.optimizers.Ftrl(learning_rate=0.2),
        dnn_feature_columns=deep_columns,
        dnn_hidden_units=hidden_units,
        dnn_optimizer=tf.keras.optimizers.Adagrad(learning_rate=0.02),
        config=config)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default="/tmp/census_model")
    parser.add_argument("--train-data", default=os.path.join(DATA, "adult.data.csv.gz"))
    parser.add_argument("--test-data", default=os.path.join(DATA, "adult.test.csv.gz"))
    parser.add_argument("--train-epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--hidden-units", default="100,75,50,25")
    parser.add_argument("--metrics-file", help="write the final evaluation here as JSON")
    args = parser.parse_args(argv)

    config = tfkit.estimator.RunConfig(save_checkpoints_steps=500, tf_random_seed=0)
    hidden_units = [int(units) for units in args.hidden_units.split(",")]
    model = build_estimator(args.model_dir, hidden_units, config)

    # The batches of train_epochs passes: a rerun finds them trained, and only evaluates and exports again.
    train_spec = tfkit.estimator.TrainSpec(
        input_fn=lambda: input_fn(args.train_data, args.train_epochs, True, args.batch_size),
        max_steps=-(-_NUM_EXAMPLES["train"] * args.train_epochs // args.batch_size))
    feature_spec = tfkit.feature_column.make_parse_example_spec(sum(build_model_columns(), []))
    exporter = tfkit.estimator.FinalExporter(
        "census", tfkit.estimator.export.build_parsing_serving_input_receiver_fn(feature_spec))
    eval_spec = tfkit.estimator.EvalSpec(input_fn=lambda: input_fn(args.test_data, 1, False, args.batch_size),
                                         steps=None, exporters=[exporter], throttle_secs=60)
    metrics, exports = tfkit.estimator.train_and_evaluate(model, train_spec, eval_spec)
    if metrics is not None:
        print("Results at step %d:" % metrics["global_step"])
        for key in sorted(metrics):
            print("  %s: %s" % (key, metrics[key]))
        for path in exports:
            if path:
                print("Exported to %s" % path.decode())
        if args.metrics_file:
            with open(args.metrics_file, "w") as f:
                json.dump({**{k: float(v) for k, v in metrics.items()},
                           "exports": [path.decode() for path in exports if path]}, f)


if __name__ == "__main__":
    main()
