"""What ``evaluate`` reports, under the estimator heads' names (``canned/metric_keys.py``), from Keras metrics.

Binary: ``accuracy``, ``accuracy_baseline``, ``auc``, ``auc_precision_recall``,
``average_loss``, ``label/mean``, ``prediction/mean``, ``precision``,
``recall``; multi-class: ``accuracy``, ``average_loss``; regression:
``average_loss``, ``label/mean``, ``prediction/mean``. Each head: ``loss``,
the mean over batches of the training loss (reduced as ``loss_reduction``
says). All of them weighted by the ``weight_column``, as the heads weigh them.
"""

import keras
import tensorflow as tf


def per_example_loss(kind, labels, logits):
    """The head's unreduced loss, ``[batch]``: sigmoid or softmax cross-entropy, or the squared error summed over outputs."""
    if kind == "binary":
        return tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits), axis=-1)
    if kind == "multiclass":
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels[:, 0], logits=logits)
    return tf.reduce_sum(tf.square(labels - logits), axis=-1)


def reduce_loss(losses, weights, reduction):
    """A batch's loss: the weighted sum, divided by the batch size for ``"sum_over_batch_size"``."""
    weighted = losses if weights is None else losses * weights[:, 0]
    total = tf.reduce_sum(weighted)
    return total if reduction == "sum" else total / tf.cast(tf.size(losses), total.dtype)


class EvalMetrics:
    """The metrics of one ``evaluate``: :meth:`update` with each batch, then :meth:`result`."""

    def __init__(self, kind, reduction):
        self.kind, self.reduction = kind, reduction
        self.metrics = {"average_loss": keras.metrics.Mean(), "loss": keras.metrics.Mean()}
        if kind == "binary":
            self.metrics.update({
                "accuracy": keras.metrics.Accuracy(), "auc": keras.metrics.AUC(name="auc"),
                "auc_precision_recall": keras.metrics.AUC(curve="PR", name="auc_pr"),
                "precision": keras.metrics.Precision(), "recall": keras.metrics.Recall(),
            })
        if kind == "multiclass":
            self.metrics["accuracy"] = keras.metrics.Accuracy()
        if kind in ("binary", "regression"):
            self.metrics.update({"label/mean": keras.metrics.Mean(), "prediction/mean": keras.metrics.Mean()})

    def update(self, labels, logits, predictions, weights):
        losses = per_example_loss(self.kind, labels, logits)
        example_weights = None if weights is None else weights[:, 0]
        self.metrics["average_loss"].update_state(losses, example_weights)
        self.metrics["loss"].update_state(reduce_loss(losses, weights, self.reduction))
        if self.kind in ("binary", "multiclass"):
            self.metrics["accuracy"].update_state(tf.cast(labels, tf.int64), predictions["class_ids"], weights)
        if self.kind == "binary":
            logistic = predictions["logistic"]
            for name in ("auc", "auc_precision_recall"):
                self.metrics[name].update_state(labels, logistic, weights)
            for name in ("precision", "recall"):
                self.metrics[name].update_state(labels, tf.cast(predictions["class_ids"], tf.float32), weights)
            self.metrics["label/mean"].update_state(labels, weights)
            self.metrics["prediction/mean"].update_state(logistic, weights)
        if self.kind == "regression":
            broadcast = None if weights is None else tf.broadcast_to(weights, tf.shape(labels))
            self.metrics["label/mean"].update_state(labels, broadcast)
            self.metrics["prediction/mean"].update_state(predictions["predictions"], broadcast)

    def result(self):
        results = {name: float(metric.result()) for name, metric in self.metrics.items()}
        if self.kind == "binary":
            results["accuracy_baseline"] = max(results["label/mean"], 1.0 - results["label/mean"])
        return dict(sorted(results.items()))
