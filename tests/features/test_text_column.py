"""TextColumn: vocabulary by adapt, the id layout, padding and truncation, encoding in tf.data, as a sparse column."""

import numpy as np
import pytest
import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features import EmbeddingColumn, TextColumn, adapt
from tfkit.layers import DenseFeatures

REVIEWS = np.array(["A fine, fine film.", "A dull film", "Fine!"], dtype=object)


def test_adapt_counts_standardised_words_with_min_frequency_and_max_tokens():
    column = TextColumn("review", min_frequency=2)
    adapt([column], [{"review": REVIEWS}])
    assert column.vocabulary == ["fine", "a", "film"]  # 3, 2, 2 uses; "dull" once
    capped = TextColumn("review", max_tokens=1, standardize="lower")
    adapt([capped], [{"review": REVIEWS}])
    assert capped.vocabulary == ["a"]  # "fine," "fine." "fine!" are three words without stripping
    assert TextColumn.from_config(column.get_config()).get_config() == column.get_config()


def test_ids_padding_truncation_and_weights():
    column = TextColumn("review", vocabulary=["fine", "a", "film"], sequence_length=3)
    ids = column.transform({"review": np.array(["a FINE film, a fine film", "zebra", ""], dtype=object)}, [], column.make_layers())
    assert ids.ids.numpy().tolist() == [[3, 2, 4], [1, 0, 0], [0, 0, 0]]  # 0 pads, 1 is out of vocabulary
    assert ids.weights.numpy().tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    ragged = TextColumn("review", vocabulary=["fine"])
    assert ragged.transform({"review": np.array(["fine fine fine", "fine"])}, [], ragged.make_layers()).ids.shape == (2, 3)
    assert column.num_buckets == 5


def test_encode_in_tf_data_matches_the_model_side_transform():
    column = TextColumn("review", vocabulary=["fine", "a", "film"], sequence_length=4, standardize="kim")
    dataset = tf.data.Dataset.from_tensor_slices(REVIEWS.astype(str)).batch(2).map(column.encode)
    encoded = np.concatenate([batch.numpy() for batch in dataset])
    inside = column.transform({"review": REVIEWS}, [], column.make_layers()).ids.numpy()
    np.testing.assert_array_equal(encoded, inside)
    # Ids given to the transform are taken as they are.
    np.testing.assert_array_equal(column.transform({"review": tf.constant(encoded)}, [], None).ids.numpy(), encoded)


def test_bag_of_words_through_an_embedding_column():
    column = TextColumn("review", vocabulary=["fine", "a", "film"])
    layer = DenseFeatures([EmbeddingColumn(column, 4, combiner="mean")])
    layer.build()
    table = layer.tables[layer.columns[0].table_name].numpy()
    out = layer({"review": np.array(["fine film", "fine"], dtype=object)}).numpy()
    np.testing.assert_allclose(out[0], (table[2] + table[4]) / 2, rtol=1e-6)
    np.testing.assert_allclose(out[1], table[2], rtol=1e-6)


def test_bad_arguments_are_named():
    with pytest.raises(TfkitError, match="standardize must be one of"):
        TextColumn("review", standardize="stem")
    with pytest.raises(TfkitError, match="sequence_length must be a positive int"):
        TextColumn("review", sequence_length=0)
    with pytest.raises(TfkitError, match="hold no spaces; received 'two words'"):
        TextColumn("review", vocabulary=["two words"])
    with pytest.raises(TfkitError, match="has not been adapted"):
        _ = TextColumn("review").num_buckets
