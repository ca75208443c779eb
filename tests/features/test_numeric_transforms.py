"""NumericColumn's clip, log and missing indicator: learned statistics, outputs, config round trip, the CSV path."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfkit.data import read_csv
from tfkit.errors import TfkitError
from tfkit.features import NumericColumn, adapt


def test_clip_then_log_then_normalize_with_a_missing_flag():
    gain = NumericColumn("gain", normalize=True, clip=[0, 1000], log=True, missing_indicator=True, default_value=5.0)
    adapt([gain], [{"gain": np.array([-3.0, 10.0, 5000.0, np.nan])}])
    scaled = np.log1p([0.0, 10.0, 1000.0, 5.0])  # clipped below and above; NaN is the default
    assert gain.mean == pytest.approx([scaled.mean()]) and gain.variance == pytest.approx([scaled.var()])
    assert gain.output_dim == 2
    out = gain.transform({"gain": tf.constant([np.nan, 10.0, 1e6])}, None, gain.make_layers()).numpy()
    expected = (np.log1p([5.0, 10.0, 1000.0]) - scaled.mean()) / math.sqrt(scaled.var())
    np.testing.assert_allclose(out[:, 0], expected, rtol=1e-5)
    np.testing.assert_array_equal(out[:, 1], [1.0, 0.0, 0.0])
    rebuilt = NumericColumn(**gain.get_config())
    assert rebuilt.get_config() == gain.get_config() and rebuilt.missing_default != rebuilt.missing_default  # NaN


def test_a_missing_csv_cell_reaches_the_column_as_nan(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("gain,label\n12,1\n?,0\n,1\n")
    gain = NumericColumn("gain", missing_indicator=True, default_value=-1.0)
    features, _ = next(iter(read_csv(str(path), 3, label="label", column_dtypes={"gain": "float32"},
                                     column_defaults={"gain": gain.missing_default})))
    out = gain.transform(features, None, None).numpy()
    np.testing.assert_array_equal(out, [[12.0, 0.0], [-1.0, 1.0], [-1.0, 1.0]])


@pytest.mark.parametrize("kwargs, message", [
    ({"clip": [5, 1]}, "clip must be"), ({"clip": 3}, "clip must be"), ({"clip": [0, "x"]}, "clip must be"),
    ({"missing_indicator": True, "dtype": "int64"}, "missing_indicator needs a float dtype"),
])
def test_bad_transforms_are_refused(kwargs, message):
    with pytest.raises(TfkitError, match=message):
        NumericColumn("x", **kwargs)


def test_a_small_integer_feature_is_one_hot_from_one_config_entry():
    from tfkit.config.build import build_columns
    from tfkit.errors import ConfigError
    from tfkit.features import IndicatorColumn

    columns = build_columns([{"type": "indicator", "name": "rooms", "num_buckets": 6}])
    rooms = columns["rooms"]
    # Its only parent reads the raw integers of the feature "rooms".
    assert rooms.output_dim == 6 and rooms.parents == [rooms.categorical]
    assert list(rooms.categorical.input_specs()) == ["rooms"] and rooms.categorical.num_buckets == 6
    assert IndicatorColumn.from_config(rooms.get_config()).get_config() == rooms.get_config()
    with pytest.raises(ConfigError, match="give categorical .* or num_buckets"):
        build_columns([{"type": "indicator", "name": "rooms"}])
