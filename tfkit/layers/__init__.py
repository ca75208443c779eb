"""Keras layers: those that consume feature columns, and the building blocks of the canned models."""

from tfkit.layers.dense_features import DenseFeatures
from tfkit.layers.dnn import DNN
from tfkit.layers.linear import Linear
from tfkit.layers.residual import ResidualBlock

__all__ = ["DNN", "DenseFeatures", "Linear", "ResidualBlock"]
