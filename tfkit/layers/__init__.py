"""Keras layers that consume feature columns."""

from tfkit.layers.dense_features import DenseFeatures
from tfkit.layers.dnn import DNN
from tfkit.layers.linear import Linear

__all__ = ["DNN", "DenseFeatures", "Linear"]
