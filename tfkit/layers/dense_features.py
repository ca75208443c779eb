"""DenseFeatures: raw features in, one dense tensor out."""

import keras
import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features import DenseColumn, EmbeddingColumn, deserialize, input_specs, serialize
from tfkit.layers.lookup import combine_lookup, creating_tables
from tfkit.layers.transform import ColumnConsumer, ColumnTransform


@keras.saving.register_keras_serializable(package="tfkit")
class DenseFeatures(ColumnConsumer, keras.layers.Layer):
    """Concatenates dense columns (numeric, embedding, indicator) into one float tensor.

    Takes a dict of raw features (strings, integers, floats) and returns
    ``[batch, output_dim]``. Embedding tables are this layer's weights; columns
    that share a table (``shared_name``) look up the same weight. So are the
    weights of numeric embeddings (``PeriodicColumn``, ``PiecewiseLinearColumn``
    with a ``dimension``).

    Args:
        columns: Dense feature columns, in output order.

    Example:

    >>> import numpy as np
    >>> from tfkit.features import CategoricalColumn, EmbeddingColumn, NumericColumn
    >>> from tfkit.layers import DenseFeatures
    >>> job = CategoricalColumn("job", vocabulary=["clerk", "cook"])
    >>> layer = DenseFeatures([NumericColumn("hours"), EmbeddingColumn(job, dimension=3)])
    >>> layer({"hours": np.array([40.0, 20.0]), "job": np.array(["cook", "pilot"])}).shape
    TensorShape([2, 4])
    """

    def __init__(self, columns, **kwargs):
        super().__init__(**kwargs)
        self.columns = [deserialize(c) for c in columns]
        if not self.columns:
            raise TfkitError("DenseFeatures needs at least one column.")
        for column in self.columns:
            if not isinstance(column, DenseColumn):
                raise TfkitError(
                    f"DenseFeatures takes dense columns (numeric, embedding, indicator). Column {column.name!r} "
                    f"is {type(column).__name__}: wrap it in an EmbeddingColumn or IndicatorColumn."
                )
        self._transform = ColumnTransform(self.columns)

    @property
    def output_dim(self):
        return sum(c.output_dim for c in self.columns)

    def input_specs(self):
        return input_specs(self.columns)

    def build(self, input_shape=None):
        self.build_preprocessing()
        embedders = {}
        for column in self.columns:
            embedder = column.make_embedder()
            if embedder is not None:
                embedder.build((None, None))
                embedders[column.name] = embedder
        self.embedders = embedders
        self.tables = {}
        for column in self.columns:
            if not isinstance(column, EmbeddingColumn):
                continue
            column.categorical.check_ready()
            table = self.tables.get(column.table_name)
            if table is not None:
                if tuple(table.shape) != column.table_shape:
                    raise TfkitError(
                        f"Embedding columns sharing table {column.table_name!r} disagree on its shape: "
                        f"{tuple(table.shape)} vs {column.table_shape} for {column.name!r}."
                    )
                continue
            with creating_tables():
                self.tables[column.table_name] = self.add_weight(
                    name=column.table_name,
                    shape=column.table_shape,
                    initializer=column.table_initializer(),
                    trainable=column.trainable,
                )
        self.built = True

    def combine(self, values):
        """The dense tensor from column values already computed (``{column name: value}``)."""
        outputs = []
        for column in self.columns:
            if isinstance(column, EmbeddingColumn):
                table = self.tables[column.table_name].value
                outputs.append(combine_lookup(table, values[column.categorical.name], column.combiner,
                                              column.max_norm))
            elif column.name in self.embedders:
                outputs.append(self.embedders[column.name](values[column.name]))
            else:
                outputs.append(values[column.name])
        return tf.concat(outputs, axis=1) if len(outputs) > 1 else outputs[0]

    def compute_output_shape(self, input_shape):
        return (None, self.output_dim)

    def get_config(self):
        config = super().get_config()
        config["columns"] = [serialize(c) for c in self.columns]
        return config
