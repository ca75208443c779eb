"""``tf.estimator``'s helpers that say how to parse and warm-start: ``classifier_parse_example_spec``,
``regressor_parse_example_spec`` and ``WarmStartSettings``."""

import collections

import tensorflow as tf

from tfkit import feature_column


def classifier_parse_example_spec(feature_columns, label_key, label_dtype=tf.int64, label_default=None,
                                  weight_column=None):
    """The ``tf.io.parse_example`` spec of the columns' features, a classifier's label and its weight column.

    Example:

    >>> import tfkit
    >>> spec = tfkit.estimator.classifier_parse_example_spec([tfkit.feature_column.numeric_column("age")], "label")
    >>> spec["label"]
    FixedLenFeature(shape=(1,), dtype=tf.int64, default_value=None)
    """
    return _with_label(feature_columns, label_key, tf.io.FixedLenFeature((1,), label_dtype, label_default), weight_column)


def regressor_parse_example_spec(feature_columns, label_key, label_dtype=tf.float32, label_default=None,
                                 label_dimension=1, weight_column=None):
    """The ``tf.io.parse_example`` spec of the columns' features, a regressor's label and its weight column."""
    return _with_label(feature_columns, label_key,
                       tf.io.FixedLenFeature((label_dimension,), label_dtype, label_default), weight_column)


def _with_label(feature_columns, label_key, label_spec, weight_column):
    spec = feature_column.make_parse_example_spec(feature_columns)
    if label_key in spec:
        raise ValueError(f"label should not be used as feature. label_key: {label_key}, features: {list(spec)}")
    spec[label_key] = label_spec
    if weight_column is not None:
        key = weight_column if isinstance(weight_column, str) else weight_column.key
        if key in spec:
            raise ValueError(f"weight_column should not be used as feature. weight_column: {key}")
        spec[key] = tf.io.FixedLenFeature((1,), tf.float32) if isinstance(weight_column, str) else \
            feature_column.make_parse_example_spec([weight_column])[key]
    return spec


class WarmStartSettings(collections.namedtuple("WarmStartSettings", [
        "ckpt_to_initialize_from", "vars_to_warm_start", "var_name_to_vocab_info", "var_name_to_prev_var_name"])):
    """Where ``warm_start_from`` starts the weights from (``tf.estimator.WarmStartSettings``): tfkit starts every weight
    the checkpoint holds (of a tfkit estimator's model_dir); the other fields are taken as the estimator's defaults
    only."""

    def __new__(cls, ckpt_to_initialize_from, vars_to_warm_start=".*", var_name_to_vocab_info=None,
                var_name_to_prev_var_name=None):
        if not ckpt_to_initialize_from:
            raise ValueError("`ckpt_to_initialize_from` MUST be set in WarmStartSettings")
        if vars_to_warm_start not in (".*", None) or var_name_to_vocab_info or var_name_to_prev_var_name:
            raise ValueError("WarmStartSettings: tfkit warm-starts every weight of a tfkit checkpoint; "
                             "vars_to_warm_start, var_name_to_vocab_info and var_name_to_prev_var_name are not supported.")
        return super().__new__(cls, ckpt_to_initialize_from, vars_to_warm_start, var_name_to_vocab_info,
                               var_name_to_prev_var_name)
