"""``tf.feature_column`` on tfkit's columns: a program's ``tf.feature_column.`` becomes ``tfkit.feature_column.``.

Each function takes the arguments of TensorFlow's (``tensorflow/python/feature_column/feature_column_v2.py``,
TensorFlow 2.15), with their defaults and their errors (``ValueError``/``TypeError``, worded as
TensorFlow words them), and returns the :mod:`tfkit.features` column that does the same: the same
names, the same ids (vocabulary ids first, then the out-of-vocabulary buckets; hash and cross ids
from the same ops), the same parse specs. Use the columns with :mod:`tfkit.estimator`, or with
tfkit's models and layers directly.

Example:

>>> import tfkit
>>> age = tfkit.feature_column.numeric_column("age")
>>> education = tfkit.feature_column.categorical_column_with_vocabulary_list("education", ["Bachelors", "Masters"])
>>> age_buckets = tfkit.feature_column.bucketized_column(age, boundaries=[18, 25, 30, 35, 40, 45, 50, 55, 60, 65])
>>> crossed = tfkit.feature_column.crossed_column([age_buckets, "education"], hash_bucket_size=1000)
>>> crossed.name, age_buckets.num_buckets
('age_bucketized_X_education', 11)
>>> sorted(tfkit.feature_column.make_parse_example_spec([crossed, tfkit.feature_column.indicator_column(education)]))
['age', 'education']
"""

import collections
import math
import numbers

import tensorflow as tf

from tfkit import features as _features

__all__ = [
    "bucketized_column",
    "categorical_column_with_hash_bucket",
    "categorical_column_with_identity",
    "categorical_column_with_vocabulary_file",
    "categorical_column_with_vocabulary_list",
    "crossed_column",
    "embedding_column",
    "indicator_column",
    "make_parse_example_spec",
    "numeric_column",
    "shared_embeddings",
    "weighted_categorical_column",
]

_CATEGORICAL = (_features.CategoricalColumn, _features.HashedColumn, _features.IdentityColumn, _features.BucketizedColumn,
                _features.CrossedColumn, _features.WeightedColumn)


def _check_key(key):
    if not isinstance(key, str):
        raise ValueError(f"key must be a string. Got: type {type(key)}. Given key: {key}")


def _check_shape(shape, key):
    shape = (shape,) if isinstance(shape, numbers.Integral) else shape
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be an int or an iterable of ints. shape: {shape}, key: {key}") from None
    for dimension in shape:
        if not isinstance(dimension, numbers.Integral):
            raise TypeError(f"shape dimensions must be integer. shape: {shape}, key: {key}")
        if dimension < 1:
            raise ValueError(f"shape dimensions must be greater than 0. shape: {shape}, key: {key}")
    return shape


def _dtype(dtype):
    return tf.dtypes.as_dtype(dtype)


def numeric_column(key, shape=(1,), default_value=None, dtype=tf.float32, normalizer_fn=None):
    """A real-valued feature (``tf.feature_column.numeric_column``): :class:`tfkit.features.NumericColumn`.

    ``default_value`` stands in for a missing value (TensorFlow's parsing
    needs one; tfkit's columns take 0 without it). ``normalizer_fn`` is applied
    to the values in the model, as TensorFlow applies it.

    Example:

    >>> import tfkit
    >>> column = tfkit.feature_column.numeric_column("price", shape=(2,), normalizer_fn=lambda x: x / 100)
    >>> column.name, column.shape, column.dtype
    ('price', 2, 'float32')
    """
    _check_key(key)
    shape = _check_shape(shape, key)
    dtype = _dtype(dtype)
    if not (dtype.is_floating or dtype.is_integer):
        raise ValueError(f"dtype must be convertible to float. dtype: {dtype!r}, key: {key}")
    if normalizer_fn is not None and not callable(normalizer_fn):
        raise TypeError(f"normalizer_fn must be a callable. Given: {normalizer_fn}")
    width = math.prod(shape)
    default = 0.0
    if default_value is not None:
        flat = tf.nest.flatten(default_value)
        if not all(isinstance(v, numbers.Real) for v in flat) or len(flat) not in (1, width):
            raise ValueError(f"The shape of default_value must be equal to given shape. default_value: {default_value}, "
                             f"shape: {shape}, key: {key}")
        if len(set(flat)) > 1:
            raise ValueError(f"numeric_column {key!r}: tfkit takes one default_value for every value of a feature. "
                             f"Received: {default_value}")
        default = float(flat[0])
    kind = "float64" if dtype == tf.float64 else "int32" if dtype in (tf.int8, tf.int16, tf.int32, tf.uint8) else \
        "int64" if dtype.is_integer else "float32"
    column = _features.NumericColumn(key, shape=width, dtype=kind, default_value=default, normalizer_fn=normalizer_fn)
    column.example_shape, column.example_default, column.example_dtype = shape, default_value, dtype
    return column


def bucketized_column(source_column, boundaries):
    """``source_column``'s values as bucket ids (``tf.feature_column.bucketized_column``): id ``i`` for values in
    ``[boundaries[i-1], boundaries[i])``, 0 below the first boundary, ``len(boundaries)`` from the last.

    Example:

    >>> import tfkit
    >>> ages = tfkit.feature_column.bucketized_column(tfkit.feature_column.numeric_column("age"), [18, 65])
    >>> ages.name, ages.num_buckets
    ('age_bucketized', 3)
    """
    if not isinstance(source_column, _features.NumericColumn):
        raise ValueError(f"source_column must be a column generated with numeric_column(). Given: {source_column}")
    if source_column.shape != 1:
        raise ValueError(f"source_column must be one-dimensional column. Given: {source_column}")
    if not boundaries:
        raise ValueError("boundaries must not be empty.")
    if not isinstance(boundaries, (list, tuple)):
        raise ValueError("boundaries must be a sorted list.")
    if any(a >= b for a, b in zip(boundaries, boundaries[1:])):
        raise ValueError("boundaries must be a sorted list.")
    return _features.BucketizedColumn(source_column, boundaries=list(boundaries))


def _category_dtype(dtype, key):
    dtype = _dtype(dtype)
    if dtype == tf.string:
        return "string"
    if dtype.is_integer:
        return "int64"
    raise ValueError(f"dtype must be string or integer. dtype: {dtype!r}, column_name: {key}")


def categorical_column_with_vocabulary_list(key, vocabulary_list, dtype=None, default_value=-1, num_oov_buckets=0):
    """Ids from an in-memory vocabulary (``tf.feature_column.categorical_column_with_vocabulary_list``).

    Values of ``vocabulary_list`` get ids ``0..n-1`` in its order; other values
    are hashed into ``num_oov_buckets`` ids after them, or get ``default_value``
    (-1: dropped, as TensorFlow's columns drop the id -1).

    Example:

    >>> import tfkit
    >>> color = tfkit.feature_column.categorical_column_with_vocabulary_list("color", ["red", "green"], num_oov_buckets=2)
    >>> ids = color.transform({"color": tf.constant(["green", "red"])}, [], color.make_layers()).ids
    >>> ids.numpy().ravel().tolist(), color.num_buckets
    ([1, 0], 4)
    """
    _check_key(key)
    if vocabulary_list is None or len(vocabulary_list) < 1:
        raise ValueError(f"vocabulary_list {vocabulary_list} must be non-empty, column_name: {key}")
    if len(set(vocabulary_list)) != len(vocabulary_list):
        raise ValueError(f"Duplicate keys in vocabulary_list {vocabulary_list}, column_name: {key}")
    strings = all(isinstance(v, (str, bytes)) for v in vocabulary_list)
    if not strings and not all(isinstance(v, numbers.Integral) for v in vocabulary_list):
        raise ValueError(f"Invalid vocabulary dtype in vocabulary_list {vocabulary_list}, column_name: {key}: "
                         "values must all be strings or all integers.")
    kind = "string" if strings else "int64"
    if dtype is not None and _category_dtype(dtype, key) != kind:
        raise ValueError(f"dtype {dtype!r} is not compatible with vocabulary_list {vocabulary_list}, column_name: {key}")
    vocabulary = [v.decode() if isinstance(v, bytes) else v for v in vocabulary_list]
    return _vocabulary_column(key, kind, default_value, num_oov_buckets, vocabulary=vocabulary)


def categorical_column_with_vocabulary_file(key, vocabulary_file, vocabulary_size=None, dtype=tf.string, default_value=None,
                                            num_oov_buckets=0, file_format=None):
    """Ids from a vocabulary file, one value a line (``tf.feature_column.categorical_column_with_vocabulary_file``);
    ``vocabulary_size`` reads only the file's first lines."""
    _check_key(key)
    if not vocabulary_file:
        raise ValueError(f"Missing vocabulary_file in {key}.")
    if file_format not in (None, "text"):
        raise ValueError(f"categorical_column_with_vocabulary_file {key!r}: file_format {file_format!r} is not read by "
                         "tfkit; give a text file, one value a line.")
    kind = _category_dtype(dtype, key)
    try:
        with tf.io.gfile.GFile(vocabulary_file) as f:
            lines = [line.rstrip("\r\n") for line in f]
    except tf.errors.NotFoundError:
        raise ValueError(f"vocabulary_file {vocabulary_file} does not exist, column_name: {key}") from None
    if vocabulary_size is None:
        vocabulary_size = len(lines)
    if vocabulary_size < 1:
        raise ValueError(f"Invalid vocabulary_size in {key}.")
    if vocabulary_size > len(lines):
        raise ValueError(f"vocabulary_size {vocabulary_size} is larger than the {len(lines)} lines of {vocabulary_file}, "
                         f"column_name: {key}")
    vocabulary = [int(v) for v in lines[:vocabulary_size]] if kind == "int64" else lines[:vocabulary_size]
    column = _vocabulary_column(key, kind, -1 if default_value is None else default_value, num_oov_buckets,
                                vocabulary=vocabulary)
    column.vocabulary_file_name = vocabulary_file
    return column


def _vocabulary_column(key, kind, default_value, num_oov_buckets, vocabulary):
    if num_oov_buckets is None or num_oov_buckets < 0:
        raise ValueError(f"Invalid num_oov_buckets {num_oov_buckets} in {key}.")
    if num_oov_buckets and default_value not in (-1, None):
        raise ValueError(f"Can't specify both num_oov_buckets and default_value in {key}.")
    if default_value not in (-1, None) and not 0 <= default_value < len(vocabulary):
        raise ValueError(f"default_value {default_value} not in range [0, {len(vocabulary)}), column_name {key}")
    return _features.CategoricalColumn(key, vocabulary=vocabulary, num_oov_buckets=num_oov_buckets, dtype=kind,
                                       oov_last=True, default_value=None if default_value in (-1, None) else default_value)


def categorical_column_with_hash_bucket(key, hash_bucket_size, dtype=tf.string):
    """Ids ``to_hash_bucket_fast(value, hash_bucket_size)`` (integers hashed as their decimal strings), as TensorFlow's."""
    _check_key(key)
    if hash_bucket_size is None:
        raise ValueError(f"hash_bucket_size must be set. key: {key}")
    if hash_bucket_size < 1:
        raise ValueError(f"hash_bucket_size must be at least 1. hash_bucket_size: {hash_bucket_size}, key: {key}")
    return _features.HashedColumn(key, num_buckets=int(hash_bucket_size), dtype=_category_dtype(dtype, key))


def categorical_column_with_identity(key, num_buckets, default_value=None):
    """Integer values that are ids in ``[0, num_buckets)``; others get ``default_value``, or are dropped."""
    _check_key(key)
    if num_buckets < 1:
        raise ValueError(f"num_buckets {num_buckets} < 1, column_name {key}")
    if default_value is not None and not 0 <= default_value < num_buckets:
        raise ValueError(f"default_value {default_value} not in range [0, {num_buckets}), column_name {key}")
    return _features.IdentityColumn(key, num_buckets=int(num_buckets), default_value=default_value)


def weighted_categorical_column(categorical_column, weight_feature_key, dtype=tf.float32):
    """``categorical_column``'s ids weighted by the values of ``weight_feature_key`` (one per id)."""
    dtype = _dtype(dtype)
    if not dtype.is_floating:
        raise ValueError(f"dtype {dtype!r} is not convertible to float.")
    _check_categorical(categorical_column, "weighted_categorical_column")
    return _features.WeightedColumn(categorical_column, weight_feature_key, dtype=dtype.name)


def crossed_column(keys, hash_bucket_size, hash_key=None):
    """The hashed cross of raw string features (by key) and categorical columns (``tf.feature_column.crossed_column``).

    Raw features are crossed by value, columns by id, and nested crosses by
    their own keys, all in one ``tf.sparse.cross_hashed``: the ids TensorFlow's
    column gives. Its name joins the keys' names, sorted, with ``_X_``.
    """
    if not hash_bucket_size or hash_bucket_size < 1:
        raise ValueError(f"hash_bucket_size must be > 1. hash_bucket_size: {hash_bucket_size}")
    if not keys or isinstance(keys, str) or len(keys) < 2:
        raise ValueError(f"keys must be a list with length > 1. Given: {keys}")
    leaves = []
    for key in keys:
        if isinstance(key, _features.HashedColumn):
            raise ValueError("categorical_column_with_hash_bucket is not supported for crossing. Hashing before crossing "
                             "will increase probability of collision. Instead, use the feature name as a string. "
                             f"Given: {key}")
        if isinstance(key, _features.CrossedColumn):
            leaves.extend(key.columns)  # TensorFlow crosses a nested cross's own keys
        elif isinstance(key, str) or isinstance(key, _CATEGORICAL):
            leaves.append(key)
        else:
            raise ValueError("Unsupported key type. All keys must be either string, or categorical column except "
                             f"HashedCategoricalColumn. Given: {key}")
    names = sorted(leaf if isinstance(leaf, str) else leaf.name for leaf in leaves)
    return _features.CrossedColumn(leaves, num_buckets=int(hash_bucket_size), name="_X_".join(names), hash_key=hash_key)


def indicator_column(categorical_column):
    """A multi-hot (counts, or weights) vector of ``categorical_column``'s ids, for a DNN."""
    _check_categorical(categorical_column, "indicator_column")
    return _features.IndicatorColumn(categorical_column)


def _check_categorical(column, function):
    if not isinstance(column, _CATEGORICAL):
        raise ValueError(f"{function} requires a categorical column (categorical_column_with_*, bucketized_column, "
                         f"crossed_column or weighted_categorical_column). Given: {column}")


def _check_embedding(dimension, combiner, initializer, ckpt_to_load_from, tensor_name_in_ckpt, name):
    if dimension is None or dimension < 1:
        raise ValueError(f"Invalid dimension {dimension}.")
    if (ckpt_to_load_from is None) != (tensor_name_in_ckpt is None):
        raise ValueError("Must specify both `ckpt_to_load_from` and `tensor_name_in_ckpt` or none of them.")
    if ckpt_to_load_from is not None:
        raise ValueError(f"Embedding of {name}: ckpt_to_load_from is not supported by tfkit; give the estimator "
                         "warm_start_from, or the column an initializer.")
    if initializer is not None and not callable(initializer):
        raise ValueError(f"initializer must be callable if specified. Embedding of column_name: {name}")
    if combiner not in ("mean", "sqrtn", "sum"):
        raise ValueError(f"combiner must be one of 'mean', 'sqrtn' or 'sum'. Given: {combiner}, column_name: {name}")


def embedding_column(categorical_column, dimension, combiner="mean", initializer=None, ckpt_to_load_from=None,
                     tensor_name_in_ckpt=None, max_norm=None, trainable=True, use_safe_embedding_lookup=True):
    """A trainable ``dimension``-wide vector per id of ``categorical_column``, combined over an example's ids.

    The default initializer is TensorFlow's: a truncated normal of standard
    deviation ``1/sqrt(dimension)``. An example with no id gets zeros (the
    safe lookup TensorFlow's ``use_safe_embedding_lookup`` makes).
    """
    _check_categorical(categorical_column, "embedding_column")
    _check_embedding(dimension, combiner, initializer, ckpt_to_load_from, tensor_name_in_ckpt, categorical_column.name)
    return _features.EmbeddingColumn(categorical_column, int(dimension), combiner=combiner, initializer=initializer,
                                     trainable=trainable, max_norm=max_norm)


def shared_embeddings(categorical_columns, dimension, combiner="mean", initializer=None, shared_embedding_collection_name=None,
                      ckpt_to_load_from=None, tensor_name_in_ckpt=None, max_norm=None, trainable=True,
                      use_safe_embedding_lookup=True):
    """Embedding columns of ``categorical_columns`` looking up one table (same ``num_buckets``), in their order."""
    columns = list(categorical_columns)
    for column in columns:
        _check_categorical(column, "shared_embeddings")
    _check_embedding(dimension, combiner, initializer, ckpt_to_load_from, tensor_name_in_ckpt, columns[0].name if columns else "")
    for column in columns[1:]:
        if column.num_buckets != columns[0].num_buckets:
            raise ValueError("To use shared_embedding_column, all categorical_columns must have the same number of "
                             f"buckets. Given column: {columns[0]} with buckets: {columns[0].num_buckets} does not match "
                             f"column: {column} with buckets: {column.num_buckets}")
    name = shared_embedding_collection_name or "_".join(sorted(c.name for c in columns)) + "_shared_embedding"
    return _features.shared_embeddings(columns, int(dimension), combiner=combiner, initializer=initializer,
                                       shared_name=name, trainable=trainable, max_norm=max_norm)


def make_parse_example_spec(feature_columns):
    """``{key: FixedLenFeature or VarLenFeature}`` that ``tf.io.parse_example`` reads the columns' raw features with.

    Numeric columns read a ``FixedLenFeature`` of their shape (with their
    ``default_value``), categorical ones a ``VarLenFeature`` (any number of values).

    Example:

    >>> import tfkit
    >>> spec = tfkit.feature_column.make_parse_example_spec([
    ...     tfkit.feature_column.numeric_column("age", default_value=0.0),
    ...     tfkit.feature_column.categorical_column_with_hash_bucket("city", 100)])
    >>> spec["age"], spec["city"]
    (FixedLenFeature(shape=(1,), dtype=tf.float32, default_value=(0.0,)), VarLenFeature(dtype=tf.string))
    """
    spec = collections.OrderedDict()
    for column in feature_columns:
        if not isinstance(column, _features.Column):
            raise ValueError(f"All feature_columns must be FeatureColumn instances. Given: {column}")
        for leaf in _features.closure([column]):
            for key, value in _parse_spec(leaf).items():
                if key in spec and spec[key] != value:
                    raise ValueError(f"feature_columns contain different parse_spec for key {key}. Given {value} and {spec[key]}")
                spec[key] = value
    return dict(spec)


def _parse_spec(column):
    if isinstance(column, _features.NumericColumn):
        shape = getattr(column, "example_shape", (column.shape,))
        default = getattr(column, "example_default", column.default_value)
        dtype = getattr(column, "example_dtype", _dtype(column.dtype))
        if default is not None:
            default = tuple(dtype.as_numpy_dtype(v).item() for v in tf.nest.flatten(default)) * \
                (math.prod(shape) if len(tf.nest.flatten(default)) == 1 else 1)
        return {column.key: tf.io.FixedLenFeature(shape, dtype, default)}
    if isinstance(column, (_features.CategoricalColumn, _features.HashedColumn)):
        return {column.key: tf.io.VarLenFeature(tf.string if column.dtype == "string" else tf.int64)}
    if isinstance(column, _features.IdentityColumn):
        return {column.key: tf.io.VarLenFeature(tf.int64)}
    if isinstance(column, _features.WeightedColumn):
        return {column.weight_key: tf.io.VarLenFeature(_dtype(column.dtype))}
    if isinstance(column, _features.BucketizedColumn):
        return _parse_spec(column.source)
    if isinstance(column, _features.CrossedColumn):
        return {key: tf.io.VarLenFeature(tf.string) for key in column.columns if isinstance(key, str)}
    return {key: _var_len(raw) for key, raw in column.input_specs().items()}


def _var_len(raw):
    return tf.io.VarLenFeature(tf.string if raw.dtype == "string" else _dtype(raw.dtype))
