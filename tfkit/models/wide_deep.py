"""WideDeep: a linear model and a deep network trained jointly (Cheng et al. 2016).

The successor of ``tf.estimator.DNNLinearCombinedClassifier/Regressor``:
``wide_columns`` feed a sparse linear model, ``deep_columns`` a DNN, and their
logits are summed. Without ``deep_columns`` it is the old ``LinearClassifier``;
without ``wide_columns``, the ``DNNClassifier``.
"""

import math

import keras

from tfkit.errors import TfkitError
from tfkit.features import deserialize, serialize
from tfkit.layers import DNN, Linear
from tfkit.layers.transform import ColumnTransform
from tfkit.models.base import Model
from tfkit.optimizers import Adagrad, Ftrl, MultiOptimizer


def hidden_units_from_shorthand(first_layer_size, num_layers, scale_factor):
    """Layer widths of the old census trainer: ``first_layer_size * scale_factor**i``, at least 2.

    Example:

    >>> from tfkit.models.wide_deep import hidden_units_from_shorthand
    >>> hidden_units_from_shorthand(100, 4, 0.7)
    [100, 70, 48, 34]
    """
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (first_layer_size, scale_factor))
    if not (numbers and isinstance(num_layers, int) and num_layers >= 1 and first_layer_size >= 1 and 0 < scale_factor <= 1):
        raise TfkitError(
            "The layer-size shorthand needs first_layer_size >= 1, num_layers >= 1 and 0 < scale_factor <= 1. "
            f"Received: first_layer_size={first_layer_size!r}, num_layers={num_layers!r}, scale_factor={scale_factor!r}"
        )
    return [max(2, int(first_layer_size * scale_factor**i)) for i in range(num_layers)]


@keras.saving.register_keras_serializable(package="tfkit")
class WideDeep(Model):
    """Wide (linear) and deep (DNN) parts over feature columns, summed into one head.

    Args:
        wide_columns: Columns of the linear part: sparse columns (categorical,
            bucketized, hashed, crossed) and numeric ones.
        deep_columns: Columns of the DNN part: numeric, embedding, indicator.
        hidden_units: Widths of the DNN's hidden layers.
        activation: Hidden-layer activation.
        dropout: Dropout rate in the DNN.
        batch_norm: Batch normalisation in the DNN.
        sparse_combiner: How the linear part combines multi-valued cells.
        head: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        num_classes: Classes of a multiclass head (or outputs of a regression).
        label_vocabulary: Label strings, in class-id order.

    The default optimizer is the classic one: FTRL for the wide part (learning
    rate ``min(0.2, 1/sqrt(len(wide_columns)))``) and Adagrad (0.05) for the deep
    part; pass ``optimizer={"wide": ..., "deep": ...}`` to ``compile`` for others.

    Example:

    >>> import numpy as np
    >>> from tfkit.features import CategoricalColumn, EmbeddingColumn, NumericColumn
    >>> from tfkit.models import WideDeep
    >>> job = CategoricalColumn("job", vocabulary=["clerk", "cook"])
    >>> model = WideDeep(wide_columns=[job], deep_columns=[NumericColumn("hours"), EmbeddingColumn(job, 2)],
    ...                  hidden_units=[4], label_vocabulary=["no", "yes"])
    >>> model.compile()
    >>> x = {"job": np.array(["cook", "clerk"]), "hours": np.array([40.0, 20.0])}
    >>> history = model.fit(x, np.array([1, 0]), epochs=2, verbose=0)
    >>> sorted(model.predict(x, verbose=0))
    ['class_ids', 'classes', 'logistic', 'logits', 'probabilities']
    """

    def __init__(
        self,
        wide_columns=(),
        deep_columns=(),
        hidden_units=(100, 70, 48, 34),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        sparse_combiner="sum",
        head="binary",
        num_classes=None,
        label_vocabulary=None,
        name="wide_deep",
        **kwargs,
    ):
        super().__init__(head=head, num_classes=num_classes, label_vocabulary=label_vocabulary, name=name, **kwargs)
        self.wide_columns = [deserialize(c) for c in wide_columns]
        self.deep_columns = [deserialize(c) for c in deep_columns]
        if not self.wide_columns and not self.deep_columns:
            raise TfkitError("WideDeep needs wide_columns, deep_columns, or both.")
        self.hidden_units = list(hidden_units)
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.sparse_combiner = sparse_combiner
        units = self.head.units
        self.wide = Linear(self.wide_columns, units=units, sparse_combiner=sparse_combiner, name="wide") if self.wide_columns else None
        self.deep = (
            DNN(self.deep_columns, self.hidden_units, units, activation, dropout, batch_norm, name="deep")
            if self.deep_columns
            else None
        )
        # One transform for both parts: a column they share is looked up once per step.
        self._transform = ColumnTransform(self.wide_columns + self.deep_columns)
        for part in (self.wide, self.deep and self.deep.features):
            if part is not None:
                part.values_from_owner = True

    def feature_columns(self):
        return self.wide_columns + self.deep_columns

    def column_transform(self):
        return self._transform

    def build(self, input_shape=None):
        if self.built:  # e.g. deserialized with its build config, then built again by a caller
            return
        self.preprocessing = self._transform.make_layers()
        super().build(input_shape)

    def call(self, features, training=False):
        values = self._transform(features, self.preprocessing)
        if self.wide is None:
            return self.deep.combine(values, training=training)
        logits = self.wide.combine(values)
        if self.deep is not None:
            logits = logits + self.deep.combine(values, training=training)
        return logits

    def default_optimizer(self):
        parts = {}
        if self.wide is not None:
            parts["wide"] = Ftrl(learning_rate=min(0.2, 1.0 / math.sqrt(len(self.wide_columns))), name="wide")
        if self.deep is not None:
            parts["deep"] = Adagrad(learning_rate=0.05, name="deep")
        return MultiOptimizer(parts)

    def get_config(self):
        config = super().get_config()
        config.update(
            wide_columns=[serialize(c) for c in self.wide_columns],
            deep_columns=[serialize(c) for c in self.deep_columns],
            hidden_units=self.hidden_units,
            activation=self.activation,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
            sparse_combiner=self.sparse_combiner,
        )
        return config
