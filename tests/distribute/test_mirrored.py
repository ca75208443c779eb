"""MirroredStrategy over 2 logical CPU devices reaches the weights of a single-device run."""

import json
import os

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
