import collections
import csv
import gzip
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow's oneDNN CPU kernels, on by default only on CPUs with AVX-512: without them a CPU has no NCHW
# convolution, which the channels_first ResNet tests need. Set here, every process a test starts has them too.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import pytest
from hypothesis import HealthCheck, settings

# Property tests are derandomized, so CI sees the same examples every run;
# `HYPOTHESIS_PROFILE=thorough python -m pytest tests/test_config_properties.py` searches 400 fresh ones per test.
settings.register_profile("tfkit", max_examples=40, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.register_profile("thorough", parent=settings.get_profile("tfkit"), max_examples=400, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "tfkit"))

# Scripts that tests run in fresh processes (they configure devices at import).
collect_ignore = [
    "distribute/mirrored_equivalence.py",
    "distribute/resnet_mirrored_equivalence.py",
    "distribute/parameter_server_in_process.py",
    "distribute/parameter_server_conformance.py",
]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CENSUS_TRAIN = os.path.join(ROOT, "data", "census", "adult.data.csv.gz")
CENSUS_TEST = os.path.join(ROOT, "data", "census", "adult.test.csv.gz")
CENSUS_CONFIG = os.path.join(ROOT, "configs", "census.yaml")


def census_lines(path, rows):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [next(f) for _ in range(rows + 1)]


@pytest.fixture(scope="session")
def census_slice(tmp_path_factory):
    """The first rows of the real census files, as plain CSVs: (train, test)."""
    folder = tmp_path_factory.mktemp("census")
    paths = []
    for name, source, rows in (("train.csv", CENSUS_TRAIN, 2000), ("test.csv", CENSUS_TEST, 500)):
        path = folder / name
        path.write_text("".join(census_lines(source, rows)))
        paths.append(str(path))
    return tuple(paths)


def majority_rate(path):
    """What always predicting the most common income scores on a census CSV: the floor a trained model must clear."""
    with open(path, newline="", encoding="utf-8") as f:
        incomes = collections.Counter(row["income"].strip().rstrip(".") for row in csv.DictReader(f))
    return max(incomes.values()) / sum(incomes.values())


def run_python(code, *args, env=None, timeout=300):
    """Runs Python code in a fresh process (for device setup or an import-free check)."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
    )


# Every Python warning is an error in the tfkit commands the tests run (and in the processes they start), but
# one: Keras converting tensors to numpy arrays (keras/src/backend/tensorflow/core.py) warns under numpy 2.
STRICT_WARNINGS = "error,ignore::DeprecationWarning:keras.src.backend.tensorflow.core"


def run_tfkit(*args, timeout=600):
    """Runs ``tfkit ARGS`` as a user would; fails the test if it warns (a Python warning or TensorFlow's log)."""
    result = subprocess.run(
        [sys.executable, "-m", "tfkit.cli", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": STRICT_WARNINGS},
    )
    assert "WARNING:tensorflow" not in result.stderr and "Warning:" not in result.stderr, result.stderr[-3000:]
    return result
