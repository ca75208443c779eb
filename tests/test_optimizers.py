"""Optimizer lookup from config values, and MultiOptimizer's routing of variables to parts."""

import keras
import numpy as np
import pytest

from tfkit import optimizers
from tfkit.errors import TfkitError


def test_names_and_dicts_make_configured_optimizers():
    adam = optimizers.get({"name": "adam", "learning_rate": 0.01})
    assert type(adam) is keras.optimizers.Adam and float(adam.learning_rate) == pytest.approx(0.01)
    parts = optimizers.get({"wide": {"name": "ftrl", "learning_rate": 0.05}, "deep": "adagrad"})
    assert [(o.name, type(o).__name__) for o in parts.optimizers] == [("wide", "Ftrl"), ("deep", "Adagrad")]


@pytest.mark.parametrize(
    "identifier, message",
    [
        ("adamz", "unknown optimizer 'adamz'"),
        ({"name": "adam", "learnig_rate": 1}, "Optimizer 'adam': Argument(s) not recognized"),
        ({"wide": "ftrl", "deep": "nope"}, "deep: unknown optimizer 'nope'"),
        ([], "Cannot make an optimizer"),
    ],
)
def test_bad_optimizers_are_named(identifier, message):
    with pytest.raises(TfkitError) as info:
        optimizers.get(identifier)
    assert message in str(info.value)


def test_each_part_updates_only_its_own_variables():
    wide = keras.layers.Dense(1, name="wide", kernel_initializer="ones")
    deep = keras.layers.Dense(1, name="deep", kernel_initializer="ones")
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Add()([wide(inputs), deep(inputs)]))
    optimizer = optimizers.get({"wide": {"name": "sgd", "learning_rate": 1.0}, "deep": {"name": "sgd", "learning_rate": 0.0}})
    grads = [np.ones(v.shape, "float32") for v in model.trainable_variables]
    optimizer.apply(grads, model.trainable_variables)
    assert np.all(wide.kernel.numpy() == 0.0)  # 1 - 1.0 * 1
    assert np.all(deep.kernel.numpy() == 1.0)  # learning rate 0: untouched
    assert int(optimizer.iterations.numpy()) == 1
    stray = keras.Variable(np.zeros(1), name="stray")
    with pytest.raises(TfkitError, match="belongs to no part"):
        optimizer.part_of(stray)
