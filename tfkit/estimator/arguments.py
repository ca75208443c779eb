"""The canned estimators' shared arguments: ``model_dir`` with ``config``, ``weight_column``, ``loss_reduction``,
``warm_start_from``."""

import logging
import os
import tempfile

import keras
import tensorflow as tf

from tfkit.estimator.run_config import RunConfig
from tfkit.jobs.checkpoints import latest_checkpoint, weights_checkpoint

log = logging.getLogger("tfkit.estimator")


def config_with_model_dir(config, model_dir):
    config = config if config is not None else RunConfig()
    if not isinstance(config, RunConfig):
        raise ValueError(f"config must be an instance of `RunConfig`, but provided {config}.")
    if model_dir is not None and config.model_dir is not None and \
            os.path.abspath(model_dir) != os.path.abspath(config.model_dir):
        raise ValueError(f"`model_dir` are set both in constructor and `RunConfig`, but with different values. In "
                         f"constructor: '{model_dir}', in `RunConfig`: '{config.model_dir}' ")
    model_dir = model_dir or config.model_dir
    if model_dir is None:
        model_dir = tempfile.mkdtemp()
        log.warning("Using temporary folder as model directory: %s", model_dir)
    return config.replace(model_dir=os.fspath(model_dir))


def weight_key(weight_column):
    if weight_column is None or isinstance(weight_column, str):
        return weight_column
    key = getattr(weight_column, "key", None)
    if key is None or getattr(weight_column, "shape", 1) != 1:
        raise ValueError(f"Weight column must be a string or a numeric_column of one value. Given: {weight_column}")
    return key


_REDUCTIONS = {"sum_over_batch_size": "sum_over_batch_size", "weighted_sum_over_batch_size": "sum_over_batch_size",
               "sum": "sum", "weighted_sum": "sum"}


def reduction(loss_reduction):
    name = str(getattr(loss_reduction, "value", loss_reduction)).lower()
    if name not in _REDUCTIONS:
        raise ValueError(f"Invalid loss_reduction: {loss_reduction}. tfkit's estimators take 'sum_over_batch_size' "
                         "(the default) or 'sum'.")
    return _REDUCTIONS[name]


def loss(kind, reduction):
    if kind == "binary":
        return keras.losses.BinaryCrossentropy(from_logits=True, reduction=reduction)
    if kind == "multiclass":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)
    return keras.losses.MeanSquaredError(reduction=reduction)


def warm_start(model, warm_start_from):
    """Initializes the weights that ``warm_start_from`` (a model_dir, a checkpoint, or ``WarmStartSettings``) holds;
    a checkpoint holding none of them (one a TensorFlow 1 estimator wrote: other names) is refused."""
    source = os.fspath(getattr(warm_start_from, "ckpt_to_initialize_from", warm_start_from))
    path = (latest_checkpoint(source) or tf.train.latest_checkpoint(source)) if os.path.isdir(source) else source
    if path is None:
        raise ValueError(f"warm_start_from {source!r} holds no checkpoint.")
    names = {name for name, _ in tf.train.list_variables(path)}
    if not any(name.startswith("weights/") for name in names):  # a tfkit checkpoint tracks the weights by path there
        raise ValueError(f"warm_start_from {source!r}: its checkpoint {path} holds none of this model's weights (a "
                         "tfkit.estimator's model_dir of the same columns warm-starts; a tf.estimator checkpoint names "
                         "its variables otherwise).")
    tf.train.Checkpoint(weights=weights_checkpoint(model)).read(path).expect_partial()
