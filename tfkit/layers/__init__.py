"""Keras layers: those that consume feature columns, and the building blocks of the canned models."""

from tfkit.layers.dense_features import DenseFeatures
from tfkit.layers.dnn import DNN
from tfkit.layers.linear import Linear
from tfkit.layers.neural_process import DeterministicEncoder, GaussianDecoder, LatentEncoder
from tfkit.layers.numeric_embedding import NumericEmbedding
from tfkit.layers.residual import ResidualBlock
from tfkit.layers.set_conv import SetConvDecoder, SetConvEncoder, UNet
from tfkit.layers.transformer import ContextAttentionBlock

__all__ = ["ContextAttentionBlock", "DNN", "DenseFeatures", "DeterministicEncoder", "GaussianDecoder", "LatentEncoder", "Linear", "NumericEmbedding",
           "ResidualBlock", "SetConvDecoder", "SetConvEncoder", "UNet"]
