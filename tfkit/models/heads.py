"""Heads: what the logits mean (loss, metrics, and the prediction dict served by exports)."""

import math

import keras
import tensorflow as tf

from tfkit.errors import TfkitError

HEADS = ("binary", "multiclass", "regression", "gaussian")


class Head:
    """Turns logits into a loss, metrics and a dict of predictions."""

    units = 1

    def loss(self):
        raise NotImplementedError

    def metrics(self):
        raise NotImplementedError

    def predictions(self, logits):
        raise NotImplementedError

    # TensorFlow Serving's API for the head's example_outputs: "classify", "regress" or None (none).
    example_method = None

    def example_outputs(self, predictions):
        """The outputs of TensorFlow Serving's classify or regress API from ``predictions`` (see ``example_method``).

        Classify: ``classes``, every label for each example, and their
        ``scores``; regress: ``outputs``, one float per example; as estimators
        exported them for serialized tf.Examples.
        """
        raise NotImplementedError


class _ClassHead(Head):
    def __init__(self, num_classes, label_vocabulary):
        self.num_classes = num_classes
        self.label_vocabulary = label_vocabulary

    def _classes(self, class_ids):
        if self.label_vocabulary is None:
            return tf.strings.as_string(class_ids)
        return tf.gather(tf.constant(self.label_vocabulary), class_ids)

    example_method = "classify"

    def example_outputs(self, predictions):
        labels = self.label_vocabulary or [str(i) for i in range(self.num_classes)]
        scores = tf.cast(predictions["probabilities"], tf.float32)
        return {"classes": tf.tile(tf.constant(labels)[None], [tf.shape(scores)[0], 1]), "scores": scores}


class BinaryHead(_ClassHead):
    """Binary classification from one logit: sigmoid cross-entropy, accuracy and AUC."""

    def loss(self):
        return keras.losses.BinaryCrossentropy(from_logits=True)

    def metrics(self):
        return [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0), keras.metrics.AUC(name="auc", from_logits=True)]

    def predictions(self, logits):
        logistic = tf.sigmoid(logits)
        class_ids = tf.cast(logits > 0.0, tf.int64)
        return {
            "logits": logits,
            "logistic": logistic,
            "probabilities": tf.concat([1.0 - logistic, logistic], axis=-1),
            "class_ids": class_ids,
            "classes": self._classes(class_ids),
        }


class MultiClassHead(_ClassHead):
    """Multi-class classification: softmax cross-entropy and accuracy."""

    def __init__(self, num_classes, label_vocabulary):
        super().__init__(num_classes, label_vocabulary)
        self.units = num_classes

    def loss(self):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def metrics(self):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def predictions(self, logits):
        class_ids = tf.argmax(logits, axis=-1, output_type=tf.int64)[:, None]
        return {
            "logits": logits,
            "probabilities": tf.nn.softmax(logits),
            "class_ids": class_ids,
            "classes": self._classes(class_ids),
        }


class RegressionHead(Head):
    """Regression: mean squared error, with RMSE and MAE as metrics."""

    def __init__(self, label_dimension=1):
        self.units = label_dimension

    def loss(self):
        return keras.losses.MeanSquaredError()

    def metrics(self):
        return [keras.metrics.RootMeanSquaredError(name="rmse"), keras.metrics.MeanAbsoluteError(name="mae")]

    def predictions(self, logits):
        return {"predictions": logits}

    @property
    def example_method(self):
        return "regress" if self.units == 1 else None

    def example_outputs(self, predictions):
        return {"outputs": tf.cast(predictions["predictions"], tf.float32)}


class GaussianHead(Head):
    """Predictive distributions of y at target points: Gaussians, or an equal mixture of them.

    The model's output is ``[batch, targets, samples, 2 * y_size]``: for each
    sample (one for a deterministic model, several latent draws for a latent
    one) a mean and a standard deviation per y dimension. The loss and the
    ``nll`` metric are the negative log-likelihood per target point of the
    mixture over samples; predictions are the mixture's ``mean`` and
    ``stddev`` (its moments). The mixture is equal, unless the output has
    one more channel (``2 * y_size + 1``): each sample's log-weight, which
    :func:`mixture_parts` normalises over the samples.
    """

    def __init__(self, y_size=1):
        self.units = 2 * y_size

    def loss(self):
        return GaussianNegativeLogLikelihood()

    def metrics(self):
        return [keras.metrics.MeanMetricWrapper(negative_log_likelihood, name="nll")]

    def predictions(self, outputs):
        means, stddevs, log_weights = mixture_parts(outputs)
        weights = tf.exp(log_weights)[..., None]  # [batch, targets, samples, 1]
        mean = tf.reduce_sum(weights * means, axis=2)
        second_moment = tf.reduce_sum(weights * (tf.square(stddevs) + tf.square(means)), axis=2)
        return {"mean": mean, "stddev": tf.sqrt(tf.maximum(second_moment - tf.square(mean), 1e-12))}


@keras.saving.register_keras_serializable(package="tfkit")
class GaussianNegativeLogLikelihood(keras.losses.Loss):
    """The loss of :class:`GaussianHead`: :func:`negative_log_likelihood` per curve."""

    def __init__(self, name="nll", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return negative_log_likelihood(y_true, y_pred)


@keras.saving.register_keras_serializable(package="tfkit")
def negative_log_likelihood(y_true, outputs):
    """Per curve, the mean over target points of -log p(y), p the mixture over samples. ``[batch]``."""
    means, stddevs, log_weights = mixture_parts(outputs)
    y_true = tf.cast(y_true, means.dtype)[:, :, None, :]
    log_density = -0.5 * tf.square((y_true - means) / stddevs) - tf.math.log(stddevs) - 0.5 * math.log(2 * math.pi)
    per_sample = tf.reduce_sum(log_density, axis=-1)  # [batch, targets, samples]
    return -tf.reduce_mean(tf.reduce_logsumexp(per_sample + log_weights, axis=-1), axis=-1)


def mixture_parts(outputs):
    """Means and standard deviations ``[batch, targets, samples, y_size]`` and normalised log-weights
    ``[batch, targets, samples]`` of a :class:`GaussianHead` output (equal weights without a weight channel)."""
    if outputs.shape[-1] % 2:
        outputs, log_weights = outputs[..., :-1], outputs[..., -1]
        log_weights = log_weights - tf.reduce_logsumexp(log_weights, axis=-1, keepdims=True)
    else:
        log_weights = -tf.math.log(tf.cast(tf.shape(outputs)[2], outputs.dtype)) * tf.ones_like(outputs[..., 0])
    means, stddevs = tf.split(outputs, 2, axis=-1)
    return means, stddevs, log_weights


def get(head, num_classes=None, label_vocabulary=None):
    """Makes the head named ``head`` ("binary", "multiclass" or "regression")."""
    if label_vocabulary is not None:
        label_vocabulary = [str(v) for v in label_vocabulary]
        if len(set(label_vocabulary)) != len(label_vocabulary):
            raise TfkitError(f"label_vocabulary repeats a value: {label_vocabulary!r}")
    if head == "binary":
        if label_vocabulary is not None and len(label_vocabulary) != 2:
            raise TfkitError(f"A binary head needs 2 labels in label_vocabulary. Received: {label_vocabulary!r}")
        return BinaryHead(2, label_vocabulary)
    if head == "multiclass":
        if num_classes is None and label_vocabulary is not None:
            num_classes = len(label_vocabulary)
        if not isinstance(num_classes, int) or num_classes < 2:
            raise TfkitError(f"A multiclass head needs num_classes >= 2 (or a label_vocabulary). Received: num_classes={num_classes!r}")
        if label_vocabulary is not None and len(label_vocabulary) != num_classes:
            raise TfkitError(f"label_vocabulary has {len(label_vocabulary)} labels but num_classes={num_classes}: "
                             "leave num_classes out (it is taken from the labels), or make them agree.")
        return MultiClassHead(num_classes, label_vocabulary)
    if head == "regression":
        return RegressionHead(num_classes or 1)
    if head == "gaussian":
        return GaussianHead(num_classes or 1)
    raise TfkitError(f"Unknown head {head!r}. Expected one of: {', '.join(HEADS)}.")
