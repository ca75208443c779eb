"""tfkit.feature_column against tf.feature_column's documented behaviour (TensorFlow 2.15's feature_column_v2.py):
names, ids (TensorFlow's own hashing and crossing ops as the oracle), parse specs and errors."""

import numpy as np
import pytest
import tensorflow as tf

from tfkit import feature_column as fc
from tfkit.layers import DenseFeatures, Linear
from tfkit.layers.transform import ColumnTransform


def ids_of(column, features):
    """``(ids, present)`` per example of a sparse column, as lists (absent ids left out)."""
    transform = ColumnTransform([column])
    value = transform(features, transform.make_layers())[column.name]
    ids = value.ids.numpy().tolist()
    weights = np.ones_like(value.ids.numpy(), float).tolist() if value.weights is None else value.weights.numpy().tolist()
    return [[i for i, w in zip(row, wrow) if w != 0] for row, wrow in zip(ids, weights)]


def test_hash_bucket_ids_are_tensorflows_for_strings_and_integers():
    words = tf.constant(["Paris", "Lima", "", "x" * 40])
    column = fc.categorical_column_with_hash_bucket("city", 1000)
    expected = tf.strings.to_hash_bucket_fast(words, 1000).numpy().tolist()
    assert ids_of(column, {"city": words}) == [[expected[0]], [expected[1]], [], [expected[3]]]  # "" is missing
    numbers = tf.constant([3, 17, 123456789], tf.int64)
    column = fc.categorical_column_with_hash_bucket("zip", 50, dtype=tf.int64)
    expected = tf.strings.to_hash_bucket_fast(tf.strings.as_string(numbers), 50).numpy().tolist()
    assert ids_of(column, {"zip": numbers}) == [[i] for i in expected]


def test_vocabulary_list_ids_come_first_then_the_oov_buckets_hashed_as_tensorflow_does():
    values = tf.constant(["green", "red", "purple", "mauve"])
    column = fc.categorical_column_with_vocabulary_list("color", ["red", "green", "blue"], num_oov_buckets=4)
    assert column.name == "color" and column.num_buckets == 7
    oov = (3 + tf.strings.to_hash_bucket_fast(values[2:], 4)).numpy().tolist()
    assert ids_of(column, {"color": values}) == [[1], [0], [oov[0]], [oov[1]]]
    # Without OOV buckets: default_value -1 drops the value, another default_value is its id.
    dropped = fc.categorical_column_with_vocabulary_list("color", ["red", "green", "blue"])
    assert ids_of(dropped, {"color": values}) == [[1], [0], [], []] and dropped.num_buckets == 3
    default = fc.categorical_column_with_vocabulary_list("color", ["red", "green", "blue"], default_value=2)
    assert ids_of(default, {"color": values}) == [[1], [0], [2], [2]]
    numbers = fc.categorical_column_with_vocabulary_list("rooms", [4, 2, 8])
    assert ids_of(numbers, {"rooms": tf.constant([8, 4, 5], tf.int64)}) == [[2], [0], []]


def test_vocabulary_file_reads_its_lines_and_vocabulary_size_keeps_the_first(tmp_path):
    path = tmp_path / "vocabulary.txt"
    path.write_text("red\ngreen\nblue\n")
    column = fc.categorical_column_with_vocabulary_file("color", str(path), num_oov_buckets=1)
    assert column.num_buckets == 4 and ids_of(column, {"color": tf.constant(["blue", "red"])}) == [[2], [0]]
    first_two = fc.categorical_column_with_vocabulary_file("color", str(path), vocabulary_size=2)
    assert first_two.num_buckets == 2 and ids_of(first_two, {"color": tf.constant(["blue", "green"])}) == [[], [1]]
    with pytest.raises(ValueError, match="does not exist"):
        fc.categorical_column_with_vocabulary_file("color", str(tmp_path / "missing.txt"))


def test_identity_ids_and_default_value():
    values = {"hour": tf.constant([3, 30, -1], tf.int64)}
    assert ids_of(fc.categorical_column_with_identity("hour", 24), values) == [[3], [], []]
    assert ids_of(fc.categorical_column_with_identity("hour", 24, default_value=0), values) == [[3], [0], []]


def test_bucketized_ids_follow_the_boundaries_with_a_value_on_one_in_the_upper_bucket():
    age = fc.numeric_column("age")
    buckets = fc.bucketized_column(age, [18, 25, 65])
    values = tf.constant([[10.0], [18.0], [24.9], [25.0], [80.0]])
    expected = tf.raw_ops.Bucketize(input=values, boundaries=[18.0, 25.0, 65.0]).numpy().ravel().tolist()
    assert buckets.name == "age_bucketized" and buckets.num_buckets == 4
    assert ids_of(buckets, {"age": values}) == [[i] for i in expected] == [[0], [1], [1], [2], [3]]


def test_crossed_ids_are_tensorflows_cross_hashed_of_raw_values_and_of_column_ids():
    education = tf.constant(["Bachelors", "Masters", "HS-grad"])
    occupation = tf.constant(["Sales", "Exec", "Sales"])
    features = {"education": education, "occupation": occupation, "age": tf.constant([30.0, 50.0, 20.0])}
    raw = fc.crossed_column(["occupation", "education"], hash_bucket_size=1000)
    assert raw.name == "education_X_occupation"  # sorted, as TensorFlow names it
    expected = tf.sparse.cross_hashed([occupation[:, None], education[:, None]], num_buckets=1000).values.numpy()
    assert ids_of(raw, features) == [[i] for i in expected]
    # A categorical column is crossed by its ids; a nested cross by its own keys, in one hash.
    age = fc.bucketized_column(fc.numeric_column("age"), [25, 40])
    vocabulary = fc.categorical_column_with_vocabulary_list("education", ["HS-grad", "Bachelors", "Masters"])
    nested = fc.crossed_column([fc.crossed_column([age, vocabulary], 10_000), "occupation"], hash_bucket_size=777,
                               hash_key=42)
    age_ids = tf.constant([[1], [2], [0]], tf.int64)
    education_ids = tf.constant([[1], [2], [0]], tf.int64)
    expected = tf.sparse.cross_hashed([age_ids, education_ids, occupation[:, None]], num_buckets=777, hash_key=42)
    assert nested.name == "age_bucketized_X_education_X_occupation"
    assert ids_of(nested, features) == [[i] for i in expected.values.numpy()]


def test_multivalued_features_as_parse_example_reads_them():
    spec = fc.make_parse_example_spec([fc.categorical_column_with_vocabulary_list("genres", ["drama", "comedy"])])
    examples = [tf.train.Example(features=tf.train.Features(feature={
        "genres": tf.train.Feature(bytes_list=tf.train.BytesList(value=values))})).SerializeToString()
        for values in ([b"comedy", b"drama"], [b"drama"], [])]
    parsed = tf.io.parse_example(examples, spec)["genres"]
    column = fc.categorical_column_with_vocabulary_list("genres", ["drama", "comedy"])
    assert ids_of(column, {"genres": tf.sparse.to_dense(parsed, default_value="")}) == [[1, 0], [0], []]


def test_weighted_ids_weigh_the_linear_models_rows():
    words = fc.categorical_column_with_vocabulary_list("words", ["good", "bad", "fine"])
    weighted = fc.weighted_categorical_column(words, "counts")
    linear = Linear([weighted])
    features = {"words": tf.constant([["good", "bad"], ["fine", ""]]), "counts": tf.constant([[2.0, 1.0], [3.0, 0.0]])}
    linear(features)
    rows = linear.weights_of(weighted.name)
    rows.assign(tf.constant([[1.0], [10.0], [100.0]]))
    bias = linear.bias.numpy()[0]
    np.testing.assert_allclose(linear(features).numpy().ravel(), [2 * 1 + 1 * 10 + bias, 3 * 100 + bias])
    assert fc.make_parse_example_spec([weighted]) == {"words": tf.io.VarLenFeature(tf.string),
                                                      "counts": tf.io.VarLenFeature(tf.float32)}


def test_embedding_mean_combiner_max_norm_and_shared_tables():
    words = fc.categorical_column_with_vocabulary_list("words", ["a", "b", "c"])
    embedded = fc.embedding_column(words, 2, combiner="mean", initializer=tf.constant_initializer(3.0), max_norm=1.0)
    layer = DenseFeatures([embedded])
    out = layer({"words": tf.constant([["a", "b"], ["c", ""], ["", ""]])}).numpy()
    # Each row (3, 3) clipped to norm 1, then averaged over the example's ids; an example without ids gives zeros.
    np.testing.assert_allclose(out, [[2 ** -0.5] * 2, [2 ** -0.5] * 2, [0.0, 0.0]], rtol=1e-6)
    query = fc.categorical_column_with_vocabulary_list("query", ["a", "b", "c"])
    title = fc.categorical_column_with_vocabulary_list("title", ["a", "b", "c"])
    shared = fc.shared_embeddings([title, query], 4)
    assert [c.table_name for c in shared] == ["query_title_shared_embedding"] * 2
    layer = DenseFeatures(shared)
    layer({"query": tf.constant(["a"]), "title": tf.constant(["b"])})
    assert len(layer.trainable_weights) == 1 and layer.trainable_weights[0].shape == (3, 4)
    # TensorFlow's default initializer: a truncated normal of standard deviation 1/sqrt(dimension).
    wide = DenseFeatures([fc.embedding_column(fc.categorical_column_with_identity("id", 20_000), 16)])
    wide({"id": tf.constant([1], tf.int64)})
    assert abs(np.std(wide.trainable_weights[0].numpy()) - 0.25 * 0.88) < 0.01  # truncation at 2 sd shrinks it 12%


def test_indicator_counts_and_numeric_normalizer_fn():
    words = fc.categorical_column_with_vocabulary_list("words", ["a", "b", "c"])
    price = fc.numeric_column("price", shape=(2,), normalizer_fn=lambda x: x / 100.0)
    out = DenseFeatures([fc.indicator_column(words), price])(
        {"words": tf.constant([["a", "a"], ["c", ""]]), "price": tf.constant([[100.0, 250.0], [50.0, 0.0]])})
    np.testing.assert_allclose(out.numpy(), [[2, 0, 0, 1.0, 2.5], [0, 0, 1, 0.5, 0.0]])


def test_parse_specs_are_tensorflows():
    age = fc.numeric_column("age", default_value=0.0)
    pixels = fc.numeric_column("pixels", shape=(2, 3), dtype=tf.int64)
    columns = [age, pixels, fc.bucketized_column(age, [10]), fc.categorical_column_with_hash_bucket("zip", 10, tf.int64),
               fc.indicator_column(fc.categorical_column_with_identity("hour", 24)),
               fc.crossed_column(["city", fc.categorical_column_with_vocabulary_list("job", ["a"])], 10)]
    assert fc.make_parse_example_spec(columns) == {
        "age": tf.io.FixedLenFeature((1,), tf.float32, (0.0,)), "pixels": tf.io.FixedLenFeature((2, 3), tf.int64),
        "zip": tf.io.VarLenFeature(tf.int64), "hour": tf.io.VarLenFeature(tf.int64),
        "city": tf.io.VarLenFeature(tf.string), "job": tf.io.VarLenFeature(tf.string)}
    with pytest.raises(ValueError, match="All feature_columns must be FeatureColumn instances"):
        fc.make_parse_example_spec(["age"])


@pytest.mark.parametrize("make, error, words", [
    (lambda: fc.numeric_column(3), ValueError, "key must be a string"),
    (lambda: fc.numeric_column("a", shape=(0,)), ValueError, "shape dimensions must be greater than 0"),
    (lambda: fc.numeric_column("a", dtype=tf.string), ValueError, "dtype must be convertible to float"),
    (lambda: fc.numeric_column("a", normalizer_fn=3), TypeError, "normalizer_fn must be a callable"),
    (lambda: fc.numeric_column("a", shape=(2,), default_value=[1.0, 2.0, 3.0]), ValueError, "default_value"),
    (lambda: fc.bucketized_column("age", [1]), ValueError, "source_column must be a column generated with numeric_column()"),
    (lambda: fc.bucketized_column(fc.numeric_column("a", shape=2), [1]), ValueError, "must be one-dimensional column"),
    (lambda: fc.bucketized_column(fc.numeric_column("a"), []), ValueError, "boundaries must not be empty"),
    (lambda: fc.bucketized_column(fc.numeric_column("a"), [3, 1]), ValueError, "boundaries must be a sorted list"),
    (lambda: fc.categorical_column_with_hash_bucket("a", 0), ValueError, "hash_bucket_size must be at least 1"),
    (lambda: fc.categorical_column_with_hash_bucket("a", 5, tf.float32), ValueError, "dtype must be string or integer"),
    (lambda: fc.categorical_column_with_vocabulary_list("a", []), ValueError, "must be non-empty"),
    (lambda: fc.categorical_column_with_vocabulary_list("a", ["x", "x"]), ValueError, "Duplicate keys in vocabulary_list"),
    (lambda: fc.categorical_column_with_vocabulary_list("a", ["x"], dtype=tf.int64), ValueError, "is not compatible"),
    (lambda: fc.categorical_column_with_vocabulary_list("a", ["x"], default_value=0, num_oov_buckets=2), ValueError,
     "Can't specify both num_oov_buckets and default_value"),
    (lambda: fc.categorical_column_with_vocabulary_list("a", ["x"], num_oov_buckets=-1), ValueError, "Invalid num_oov_buckets"),
    (lambda: fc.categorical_column_with_vocabulary_file("a", ""), ValueError, "Missing vocabulary_file"),
    (lambda: fc.categorical_column_with_identity("a", 0), ValueError, "num_buckets 0 < 1"),
    (lambda: fc.categorical_column_with_identity("a", 4, default_value=4), ValueError, "default_value 4 not in range [0, 4)"),
    (lambda: fc.crossed_column(["a"], 10), ValueError, "keys must be a list with length > 1"),
    (lambda: fc.crossed_column(["a", "b"], 0), ValueError, "hash_bucket_size must be > 1"),
    (lambda: fc.crossed_column(["a", fc.categorical_column_with_hash_bucket("b", 5)], 10), ValueError,
     "categorical_column_with_hash_bucket is not supported for crossing"),
    (lambda: fc.crossed_column(["a", fc.numeric_column("b")], 10), ValueError, "Unsupported key type"),
    (lambda: fc.embedding_column(fc.categorical_column_with_identity("a", 3), 0), ValueError, "Invalid dimension 0"),
    (lambda: fc.embedding_column(fc.categorical_column_with_identity("a", 3), 2, ckpt_to_load_from="x"), ValueError,
     "Must specify both `ckpt_to_load_from` and `tensor_name_in_ckpt`"),
    (lambda: fc.embedding_column(fc.categorical_column_with_identity("a", 3), 2, initializer=3), ValueError,
     "initializer must be callable"),
    (lambda: fc.embedding_column(fc.numeric_column("a"), 2), ValueError, "requires a categorical column"),
    (lambda: fc.shared_embeddings([fc.categorical_column_with_identity("a", 3), fc.categorical_column_with_identity("b", 4)], 2),
     ValueError, "all categorical_columns must have the same number of buckets"),
    (lambda: fc.weighted_categorical_column(fc.categorical_column_with_identity("a", 3), "w", tf.string), ValueError,
     "is not convertible to float"),
])
def test_bad_arguments_raise_tensorflows_errors(make, error, words):
    with pytest.raises(error) as raised:
        make()
    assert words in str(raised.value)


def test_a_cross_of_raw_numbers_and_two_columns_reading_one_number_feature():
    age = fc.numeric_column("age")
    hour = fc.categorical_column_with_identity("hour", 24)
    crossed = fc.crossed_column(["age", "sex"], 100)  # the linear tutorial's cross of a raw number and a string
    from tfkit.features import NumericColumn, input_specs

    columns = [age, crossed, NumericColumn("hour_value", key="hour"), hour]  # "hour" read as a number and as ids

    specs = input_specs(columns)
    assert specs["age"].dtype == "float32" and specs["sex"].dtype == "string" and specs["hour"].dtype == "float32"
    features = {"age": tf.constant([22.0, 38.7]), "sex": tf.constant(["male", "female"]), "hour": tf.constant([3.0, 23.0])}
    expected = tf.sparse.cross_hashed([tf.constant([[22], [38]], tf.int64), features["sex"][:, None]], num_buckets=100)
    assert ids_of(crossed, features) == [[i] for i in expected.values.numpy()]  # numbers crossed as int64, as TF does
    assert ids_of(hour, features) == [[3], [23]]
