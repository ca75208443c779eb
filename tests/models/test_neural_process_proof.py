"""The neural-process proofs: tfkit's CNP is the tutorial's CNP, and the ANP beats it, both next to the exact GP.

The tutorial's CNP is the plain TensorFlow port in bench/neural_process.py.
"""

import importlib.util
import os

import keras
import numpy as np
import pytest

from tests.conftest import ROOT
from tfkit.data import GPCurves
from tfkit.models import AttentiveNeuralProcess, ConditionalNeuralProcess, GaussianProcess


def tutorial_port():
    spec = importlib.util.spec_from_file_location("bench_neural_process", os.path.join(ROOT, "bench", "neural_process.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TutorialCNP


def test_from_the_same_weights_tfkits_cnp_trains_as_the_tutorials():
    port = tutorial_port()(seed=3)
    model = ConditionalNeuralProcess()
    model.compile(optimizer=keras.optimizers.Adam(1e-4))
    model.build()
    start = [v.numpy() for v in port.variables_in_order()]
    model.set_weights(start)
    test = GPCurves(batch_size=32, testing=True, num_batches=2, seed=8).dataset()
    np.testing.assert_allclose(model.evaluate(test, verbose=0, return_dict=True)["nll"], port.nll(test), rtol=1e-5)
    train = GPCurves(batch_size=64, seed=2).dataset().take(200).cache()
    port.fit(train, 200)
    model.fit(train, epochs=1, verbose=0)
    tfkit_nll, port_nll = model.evaluate(test, verbose=0, return_dict=True)["nll"], port.nll(test)
    assert abs(tfkit_nll - port_nll) < 2e-3, (tfkit_nll, port_nll)
    # The same updates, up to float rounding (which Adam amplifies where gradients are near zero).
    theirs = np.concatenate([v.numpy().ravel() for v in port.variables_in_order()]) - np.concatenate(
        [w.ravel() for w in start])
    ours = np.concatenate([w.ravel() for w in model.get_weights()]) - np.concatenate([w.ravel() for w in start])
    assert np.linalg.norm(ours - theirs) < 0.05 * np.linalg.norm(theirs)  # 2% measured


@pytest.mark.slow
def test_the_anp_beats_the_cnp_and_the_exact_gp_beats_both():
    test = GPCurves(batch_size=64, testing=True, num_batches=4, seed=12345).dataset()
    results = {}
    for name, model in (("cnp", ConditionalNeuralProcess()), ("anp", AttentiveNeuralProcess())):
        keras.utils.set_random_seed(0)
        model.compile()
        model.fit(GPCurves(batch_size=64, seed=1).dataset(), steps_per_epoch=1000, verbose=0)
        results[name] = model.evaluate(test, verbose=0, return_dict=True)["nll"]
    gp = GaussianProcess(l1_scale=0.4, sigma_scale=1.0)
    gp.compile()
    results["gp"] = gp.evaluate(test, verbose=0, return_dict=True)["nll"]
    assert results["gp"] < results["anp"] < results["cnp"] - 0.05, results
