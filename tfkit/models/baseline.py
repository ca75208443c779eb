"""Baseline: a model that reads no feature, its logits one learned bias (``tf.estimator.BaselineClassifier``'s).

A classifier's bias learns the classes' log-odds (their priors), a regressor's
the labels' mean: the score any model of the same head must beat.
"""

import keras
import tensorflow as tf

from tfkit.models.base import Model


@keras.saving.register_keras_serializable(package="tfkit")
class Baseline(Model):
    """Logits that are one bias per output, the same for every example; features only give the batch size.

    Args:
        head: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        num_classes: Classes of a multiclass head (or outputs of a regression).
        label_vocabulary: Label strings, in class-id order.

    Example:

    >>> import keras, numpy as np
    >>> from tfkit.models import Baseline
    >>> model = Baseline()
    >>> model.compile(optimizer=keras.optimizers.SGD(learning_rate=2.0))
    >>> history = model.fit({"x": np.zeros(8)}, np.array([1, 1, 1, 0] * 2), epochs=100, verbose=0)
    >>> round(float(model.predict({"x": np.zeros(1)}, verbose=0)["logistic"][0, 0]), 2)  # 3 of 4 labels are 1
    0.75
    """

    def __init__(self, head="binary", num_classes=None, label_vocabulary=None, name="baseline", **kwargs):
        super().__init__(head=head, num_classes=num_classes, label_vocabulary=label_vocabulary, name=name, **kwargs)

    def feature_columns(self):
        return []

    def build(self, input_shape=None):
        if self.built:
            return
        self.bias = self.add_weight(name="bias", shape=(self.head.units,), initializer="zeros")
        self.built = True

    def call(self, features, training=False):
        first = next(iter(features.values()))
        rows = first.dense_shape[0] if isinstance(first, tf.SparseTensor) else tf.shape(first, out_type=tf.int64)[0]
        return tf.tile(self.bias[None, :], tf.stack([rows, 1]))
