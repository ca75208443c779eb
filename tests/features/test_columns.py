"""Every column type: transform, adapt, serialization, and the errors users hit."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfkit import features as F
from tfkit.errors import TfkitError


def ids_of(column, feature_values):
    layers = column.make_layers()
    parents = [ids_of(p, feature_values) for p in column.parents]
    return column.transform(feature_values, parents, layers)


def as_lists(ids):
    """Ids and weights as lists; weights None (every id present) reads as all ones."""
    weights = np.ones(ids.ids.shape) if ids.weights is None else ids.weights.numpy()
    return ids.ids.numpy().tolist(), weights.tolist()


def round_trip(column):
    config = F.serialize(column)
    clone = F.deserialize(config)
    assert type(clone) is type(column)
    assert clone.get_config() == column.get_config()
    assert clone == column
    return clone


def test_numeric_normalization_learned_by_adapt_matches_numpy():
    values = np.random.default_rng(0).normal(50, 10, size=1000)
    age = F.NumericColumn("age", normalize=True)
    F.adapt([age], [{"age": values[:300]}, {"age": values[300:]}])
    assert age.mean[0] == pytest.approx(values.mean())
    assert age.variance[0] == pytest.approx(values.var())
    out = age.transform({"age": values}, [], age.make_layers()).numpy().ravel()
    np.testing.assert_allclose(out, (values - values.mean()) / values.std(), rtol=1e-4, atol=1e-4)
    assert round_trip(age).mean == age.mean


def test_numeric_without_normalization_passes_values_and_checks_arguments():
    x = F.NumericColumn("x", shape=2)
    out = x.transform({"x": np.array([[1, 2], [3, 4]])}, [], x.make_layers())
    assert out.dtype == tf.float32 and out.numpy().tolist() == [[1, 2], [3, 4]]
    with pytest.raises(TfkitError, match="shape must be a positive int"):
        F.NumericColumn("x", shape=0)
    with pytest.raises(TfkitError, match="dtype must be one of"):
        F.NumericColumn("x", dtype="complex64")


def test_bucketized_explicit_and_learned_quantiles():
    explicit = F.BucketizedColumn(F.NumericColumn("age"), boundaries=[18, 65])
    assert as_lists(ids_of(explicit, {"age": np.array([10.0, 18.0, 70.0])}))[0] == [[0], [1], [2]]
    learned = F.BucketizedColumn(F.NumericColumn("v"), num_bins=4)
    assert learned.needs_adapt
    F.adapt([learned], [{"v": np.arange(1000, dtype=float)}])
    assert learned.boundaries == pytest.approx([249.75, 499.5, 749.25])
    assert learned.num_buckets == 4
    clone = round_trip(learned)
    assert clone.boundaries == learned.boundaries and not clone.needs_adapt
    with pytest.raises(TfkitError, match="strictly increasing"):
        F.BucketizedColumn(F.NumericColumn("v"), boundaries=[3, 1])


def test_bucketized_quantiles_of_a_stream_larger_than_the_reservoir():
    column = F.BucketizedColumn(F.NumericColumn("v"), num_bins=2)
    stream = np.random.default_rng(1).uniform(0, 1, size=500_000)
    F.adapt([column], [{"v": chunk} for chunk in np.split(stream, 10)])
    assert column.boundaries[0] == pytest.approx(0.5, abs=0.01)


def test_categorical_vocabulary_list_with_oov_buckets_and_missing_values():
    job = F.CategoricalColumn("job", vocabulary=["clerk", "cook"], num_oov_buckets=2)
    ids, weights = as_lists(ids_of(job, {"job": np.array(["cook", "clerk", "pilot", ""])}))
    assert ids[:2] == [[3], [2]]  # Keras' layout: OOV buckets first, then the vocabulary
    assert 0 <= ids[2][0] < 2  # an OOV bucket
    assert weights == [[1.0], [1.0], [1.0], [0.0]]  # "" is missing
    dropped = F.CategoricalColumn("job", vocabulary=["clerk", "cook"], num_oov_buckets=0)
    assert as_lists(ids_of(dropped, {"job": np.array(["pilot"])}))[1] == [[0.0]]
    assert dropped.num_buckets == 2 and job.num_buckets == 4


def test_categorical_learned_vocabulary_respects_max_tokens_and_min_frequency():
    column = F.CategoricalColumn("c", max_tokens=2, min_frequency=2)
    F.adapt([column], [{"c": np.array(["a", "b", "b", "c", "c", "c", "d"])}])
    assert column.vocabulary == ["c", "b"]
    assert round_trip(column).vocabulary == ["c", "b"]


def test_categorical_vocabulary_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("red\ngreen\nblue\n")
    color = F.CategoricalColumn("color", vocabulary_file=str(path), num_oov_buckets=0)
    assert color.num_buckets == 3
    assert as_lists(ids_of(color, {"color": np.array(["blue", "red"])}))[0] == [[2], [0]]
    with pytest.raises(TfkitError, match="cannot read vocabulary_file"):
        F.CategoricalColumn("color", vocabulary_file=str(tmp_path / "missing.txt")).num_buckets


def test_categorical_integer_vocabulary():
    code = F.CategoricalColumn("code", vocabulary=[10, 20, 30], dtype="int64", num_oov_buckets=0)
    ids, weights = as_lists(ids_of(code, {"code": np.array([30, 10, 99, -1])}))
    assert ids[:2] == [[2], [0]] and weights == [[1.0], [1.0], [0.0], [0.0]]


def test_multivalued_categorical_splits_cells():
    genre = F.CategoricalColumn("genre", vocabulary=["Drama", "Comedy", "Horror"], delimiter="|", num_oov_buckets=0)
    ids, weights = as_lists(ids_of(genre, {"genre": np.array(["Drama|Comedy", "Horror", ""])}))
    assert ids[0] == [0, 1] and weights[0] == [1.0, 1.0]
    assert ids[1][0] == 2 and weights[1] == [1.0, 0.0]
    assert weights[2] == [0.0, 0.0]


def test_identity_column_range_and_default():
    plain = F.IdentityColumn("hour", num_buckets=24)
    assert as_lists(ids_of(plain, {"hour": np.array([5, 24, -1])}))[1] == [[1.0], [0.0], [0.0]]
    defaulted = F.IdentityColumn("hour", num_buckets=24, default_value=0)
    assert as_lists(ids_of(defaulted, {"hour": np.array([5, 99])})) == ([[5], [0]], [[1.0], [1.0]])
    multi = F.IdentityColumn("tags", num_buckets=10, delimiter=" ")
    assert as_lists(ids_of(multi, {"tags": np.array(["1 7", "3"])}))[0] == [[1, 7], [3, 0]]
    with pytest.raises(TfkitError, match="num_buckets must be a positive int"):
        F.IdentityColumn("hour", num_buckets=0)


def test_hashed_column_is_stable_and_in_range():
    city = F.HashedColumn("city", num_buckets=50)
    first = as_lists(ids_of(city, {"city": np.array(["Paris", "Lima", "Paris"])}))[0]
    assert first[0] == first[2] and all(0 <= i[0] < 50 for i in first)
    assert first == as_lists(ids_of(round_trip(city), {"city": np.array(["Paris", "Lima", "Paris"])}))[0]


def test_crossed_column_with_millions_of_buckets_and_multivalued_parents():
    a = F.CategoricalColumn("a", vocabulary=["x", "y"])
    b = F.CategoricalColumn("b", vocabulary=["p", "q", "r"], delimiter="|")
    cross = F.CrossedColumn([a, b], num_buckets=10_000_000)
    ids, weights = as_lists(ids_of(cross, {"a": np.array(["x", "y", "x"]), "b": np.array(["p|q", "p", "p"])}))
    assert weights[0] == [1.0, 1.0] and weights[1] == [1.0, 0.0]
    assert ids[0][0] == ids[2][0]  # same (x, p) combination, same id
    single = F.CrossedColumn([a, F.CategoricalColumn("c", vocabulary=["u"])], num_buckets=100)
    assert ids_of(single, {"a": np.array(["x"]), "c": np.array(["u"])}).ids.shape.as_list() == [1, 1]
    assert ids[1][0] != ids[0][0]
    assert all(0 <= i < 10_000_000 for row in ids for i in row)
    clone = round_trip(cross)
    assert [c.name for c in clone.columns] == ["a", "b"]


def test_crossed_column_needs_sparse_parents():
    with pytest.raises(TfkitError, match="two or more sparse"):
        F.CrossedColumn([F.CategoricalColumn("a", vocabulary=["x"]), F.NumericColumn("n")], num_buckets=10)


def test_embedding_and_indicator_round_trip_through_keras_serialization():
    job = F.CategoricalColumn("job", vocabulary=["clerk", "cook"])
    for column in (F.EmbeddingColumn(job, 4, combiner="sqrtn", initializer="zeros"), F.IndicatorColumn(job)):
        clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(column))
        assert clone == column and clone.categorical == job


def test_shared_embeddings_need_two_columns_and_share_a_table_name():
    a, b = F.shared_embeddings([F.CategoricalColumn("a", vocabulary=["x"]), F.CategoricalColumn("b", vocabulary=["y"])], 3)
    assert a.table_name == b.table_name and a.name != b.name
    with pytest.raises(TfkitError, match="two or more"):
        F.shared_embeddings([F.CategoricalColumn("a", vocabulary=["x"])], 3)


def test_indicator_refuses_a_huge_dense_vector():
    cross = F.CrossedColumn([F.HashedColumn("a", 10), F.HashedColumn("b", 10)], num_buckets=5_000_000)
    with pytest.raises(TfkitError, match="linear"):
        F.IndicatorColumn(cross).output_dim


def test_adapt_reads_the_data_once_for_all_columns():
    reads = []

    class CountingData:
        def __iter__(self):
            reads.append(1)
            yield {"a": np.array(["x", "y"]), "n": np.array([1.0, 3.0])}

    a, n = F.CategoricalColumn("a"), F.NumericColumn("n", normalize=True)
    F.adapt([F.EmbeddingColumn(a, 2), n, F.BucketizedColumn(n, num_bins=2)], CountingData())
    assert reads == [1]
    assert a.vocabulary == ["x", "y"] and n.mean == [2.0]


def test_adapt_takes_a_tf_data_dataset_of_feature_label_pairs():
    column = F.CategoricalColumn("c")
    dataset = tf.data.Dataset.from_tensor_slices(({"c": ["b", "a", "b"]}, [0, 1, 0])).batch(2)
    F.adapt([column], dataset)
    assert column.vocabulary == ["b", "a"]


def test_unadapted_column_fails_with_a_message_saying_what_to_do():
    with pytest.raises(TfkitError, match="has not been adapted"):
        F.CategoricalColumn("job").make_layers()


def test_two_different_columns_with_one_name_are_rejected():
    with pytest.raises(TfkitError, match="Two different feature columns are named 'x'"):
        F.closure([F.NumericColumn("x"), F.CategoricalColumn("x", vocabulary=["a"])])


def test_input_specs_report_raw_dtypes_and_conflicts():
    specs = F.input_specs([F.NumericColumn("age"), F.CategoricalColumn("tags", vocabulary=["a"], delimiter="|")])
    assert specs == {"age": F.RawInput("float32", 1), "tags": F.RawInput("string", 1)}
    with pytest.raises(TfkitError, match="Make the columns agree"):
        F.input_specs([F.NumericColumn("v"), F.CategoricalColumn("w", vocabulary=["a"], key="v")])
