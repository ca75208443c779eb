"""Transform once: fit and evaluate on a tfkit reader's dataset read column values computed in its pipeline."""

import numpy as np
import tensorflow as tf

import keras
from tests.conftest import CENSUS_CONFIG
from tfkit import config as config_lib
from tfkit.data import read_csv
from tfkit.layers.transform import ColumnValues

CONFIG = config_lib.load(CENSUS_CONFIG)


def _census_model(hidden_units=(16, 8)):
    columns = config_lib.build_columns(CONFIG["features"])
    model_section = {k: v for k, v in CONFIG["model"].items() if k not in ("first_layer_size", "num_layers", "scale_factor")}
    return config_lib.build_model({**model_section, "hidden_units": list(hidden_units)}, columns, CONFIG["data"])


def _reader(model, path, **kwargs):
    data, specs = CONFIG["data"], model.input_specs()
    return read_csv(path, 64, label=data["label"], label_vocabulary=data["label_vocabulary"],
                    label_aliases=data["label_aliases"], column_names=data["column_names"], select_columns=sorted(specs),
                    column_dtypes={k: s.dtype for k, s in specs.items()}, na_values=data["na_values"], **kwargs)


def test_training_on_values_computed_ahead_equals_training_on_raw_features(census_slice, tmp_path):
    train_path, test_path = census_slice
    keras.utils.set_random_seed(3)
    ahead, raw = _census_model(), _census_model()
    ahead.adapt(_reader(ahead, train_path))
    raw.adapt(_reader(raw, train_path))
    for model in (ahead, raw):
        model.compile(steps_per_execution=4)
        model.build()
    raw.set_weights(ahead.get_weights())

    train, test = _reader(ahead, train_path, shuffle=True, seed=11), _reader(ahead, test_path)
    # The same batches, in the same shuffled order, as raw features (an identity map is not a reader's dataset).
    as_raw = lambda dataset: dataset.map(lambda features, labels: (features, labels))  # noqa: E731
    fitted = ahead.fit(train, validation_data=test, epochs=3, verbose=0).history
    fitted_raw = raw.fit(as_raw(train), validation_data=as_raw(test), epochs=3, verbose=0).history
    np.testing.assert_allclose(fitted["loss"], fitted_raw["loss"], rtol=1e-5)
    np.testing.assert_allclose(fitted["val_loss"], fitted_raw["val_loss"], rtol=1e-5)
    assert fitted["loss"][-1] < fitted["loss"][0]
    for a, b in zip(ahead.get_weights(), raw.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ahead.evaluate(test, verbose=0), raw.evaluate(as_raw(test), verbose=0), rtol=1e-5)

    # What the steps read (after the fits: a pass now would move their shuffling on by one): ids and normalised
    # numbers; one-hot indicators are made in the step from the ids.
    values, labels = next(iter(ahead._transformed_ahead(train)))
    assert isinstance(values, ColumnValues) and values.features == {}
    assert "education_x_occupation" in values.values and "education_indicator" not in values.values
    # Ids kept in the narrowest dtype of their column's buckets: 10,000 in two bytes, a few categories in one.
    assert values.values["education_x_occupation"].ids.dtype == tf.int16
    assert values.values["workclass"].ids.dtype == tf.uint8
    assert values.values["age_x_education_x_occupation"].ids.dtype == tf.int32

    # The export still takes raw features and gives what predict gives.
    first = _reader(ahead, test_path).take(1)
    features, _ = next(iter(first))
    serving = tf.saved_model.load(ahead.export(str(tmp_path / "export"))).signatures["serving_default"]
    exported = serving(**{k: features[k] for k in ahead.serving_input_signature()})
    np.testing.assert_allclose(exported["logistic"].numpy(), ahead.predict(first, verbose=0)["logistic"], rtol=1e-5, atol=1e-6)


def test_each_dataset_is_transformed_ahead_once_per_model(census_slice):
    train_path, _ = census_slice
    model = _census_model()
    model.adapt(_reader(model, train_path))
    model.compile()
    train = _reader(model, train_path)
    assert model._transformed_ahead(train) is model._transformed_ahead(train)
    not_a_readers = train.take(2)
    assert model._transformed_ahead(not_a_readers) is not_a_readers


def test_values_of_one_width_are_kept_ahead_and_the_others_left_to_the_step():
    from tfkit.features import CategoricalColumn, CrossedColumn, TextColumn
    from tfkit.layers.transform import ColumnTransform

    genres = CategoricalColumn("genres", vocabulary=["drama", "comedy"], delimiter="|")
    year = CategoricalColumn("year", vocabulary=["1999", "2000"])
    padded = TextColumn("review", vocabulary=["good"], sequence_length=4)
    per_batch = TextColumn("title", vocabulary=["good"])
    transform = ColumnTransform([CrossedColumn([genres, year], num_buckets=10), CrossedColumn([year, year], num_buckets=10,
                                                                                               name="year_x_year"),
                                 padded, per_batch])
    layers = transform.make_layers()
    raw = {"genres": tf.constant(["drama|comedy", "drama"]), "year": tf.constant(["1999", "2000"]),
           "review": tf.constant(["good good", "bad"]), "title": tf.constant(["good", "good and bad"])}
    ahead = transform.ahead(raw, layers)
    assert sorted(ahead.values) == ["review", "year", "year_x_year"]
    assert sorted(ahead.features) == ["genres", "title"]  # read again in the step, padded to each batch's longest
    for name, value in transform(raw, layers).items():
        again = transform(ahead, layers)[name]
        np.testing.assert_array_equal(again.ids.numpy(), value.ids.numpy())
