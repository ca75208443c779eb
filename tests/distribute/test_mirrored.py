"""MirroredStrategy over 2 logical CPU devices reaches the weights of a single-device run."""

import json
import os

import numpy as np
import pytest

from tests.conftest import ROOT, run_python


def test_two_replica_mirrored_run_matches_single_device(census_slice):
    script = os.path.join(ROOT, "tests", "distribute", "mirrored_equivalence.py")
    result = run_python(open(script).read(), census_slice[0], os.path.join(ROOT, "configs", "census.yaml"))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert report["max_weight_change"] > 1e-2  # training moved the weights...
    assert report["max_weight_difference"] < 1e-4  # ...to the same place on both strategies
    assert report["mirrored_loss"] == pytest.approx(report["single_loss"], rel=1e-4)


def test_neural_processes_train_mirrored_and_a_cnp_matches_single_device():
    script = os.path.join(ROOT, "tests", "distribute", "neural_process_mirrored.py")
    result = run_python(open(script).read())
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert report["max_weight_change"] > 1e-2
    assert report["max_weight_difference"] < 1e-4
    np.testing.assert_allclose(report["mirrored"], report["single"], rtol=1e-4)
    # The ANP's ELBO (its KL term added by the model) trains on both replicas.
    assert np.isfinite([report["anp_loss"], report["anp_nll"]]).all() and report["anp_moved"] > 1e-3
    assert report["anp_stddev_min"] >= 0.1
    for name in ("conv_cnp", "tnp"):  # trained on both replicas: their step ran, moved every model and stayed finite
        assert np.isfinite([report[name]["loss"], report[name]["nll"]]).all() and report[name]["moved"] > 1e-3, name
        assert report[name]["stddev_min"] >= 0.01, name


@pytest.mark.slow
def test_resnet_mirrored_run_follows_the_single_device_trajectory_batch_norm_included():
    script = os.path.join(ROOT, "tests", "distribute", "resnet_mirrored_equivalence.py")
    result = run_python(open(script).read())
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    synchronized, unsynchronized = report["synchronized"], report["unsynchronized"]
    assert report["replicas"] == 2
    # One step from the same weights on the same global batch: batch statistics over both replicas
    # make it the single-device step, up to float summation order...
    assert synchronized["first_step_loss_difference"] < 1e-5
    assert synchronized["first_step_moving_statistic_difference"] < 1e-4
    assert synchronized["first_step_weight_difference"] < 1e-3
    # ...while each replica's own statistics (half the batch) make another step.
    assert unsynchronized["first_step_loss_difference"] > 1e-3
    assert unsynchronized["first_step_moving_statistic_difference"] > 1e-2
    # Three epochs: the losses stay on the single-device trajectory (rounding grows, as in any two runs
    # that sum in different orders, but stays within 2% of each loss).
    single, mirrored = np.array(synchronized["single_losses"]), np.array(synchronized["mirrored_losses"])
    assert len(single) == 24 and single[-1] < 0.5 * single[0]
    np.testing.assert_allclose(mirrored, single, rtol=0.02)
