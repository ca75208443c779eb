"""Canned models. ``get`` turns a name, a config dict or an instance into a model."""

from tfkit.errors import TfkitError
from tfkit.models.base import Model
from tfkit.models.baseline import Baseline
from tfkit.models.convcnp import ConvCNP
from tfkit.models.gaussian_process import GaussianProcess
from tfkit.models.neural_process import AttentiveNeuralProcess, ConditionalNeuralProcess, NeuralProcess
from tfkit.models.resnet import ResNet
from tfkit.models.text_cnn import TextCNN
from tfkit.models.tnp import TransformerNeuralProcess
from tfkit.models.wide_deep import WideDeep
from tfkit.models.word2vec import Word2Vec

_MODELS = {
    "attentive_neural_process": AttentiveNeuralProcess,
    "conditional_neural_process": ConditionalNeuralProcess,
    "conv_cnp": ConvCNP,
    "gaussian_process": GaussianProcess,
    "neural_process": NeuralProcess,
    "resnet": ResNet,
    "text_cnn": TextCNN,
    "transformer_neural_process": TransformerNeuralProcess,
    "wide_deep": WideDeep,
}

__all__ = [
    "AttentiveNeuralProcess",
    "Baseline",
    "ConditionalNeuralProcess",
    "ConvCNP",
    "GaussianProcess",
    "Model",
    "NeuralProcess",
    "ResNet",
    "TextCNN",
    "TransformerNeuralProcess",
    "WideDeep",
    "Word2Vec",
    "get",
    "names",
]


def names():
    return sorted(_MODELS)


def model_class(name):
    try:
        return _MODELS[name]
    except KeyError:
        raise TfkitError(f"Unknown model {name!r}. Expected one of: {', '.join(names())}.") from None


def get(identifier, **kwargs):
    """A model from an instance, a registered name (with constructor ``kwargs``) or ``{"name": ..., **kwargs}``.

    Example:

    >>> from tfkit import models
    >>> from tfkit.features import NumericColumn
    >>> models.get({"name": "wide_deep", "wide_columns": [NumericColumn("x")]}).name
    'wide_deep'
    """
    if isinstance(identifier, Model):
        return identifier
    if isinstance(identifier, dict):
        kwargs = {**identifier, **kwargs}
        identifier = kwargs.pop("name")
    cls = model_class(identifier)
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise TfkitError(f"Model {identifier!r}: {error}.") from None
