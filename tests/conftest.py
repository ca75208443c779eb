import gzip
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

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


def run_python(code, *args, env=None, timeout=300):
    """Runs Python code in a fresh process (for device setup or an import-free check)."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
    )


def run_tfkit(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "tfkit.cli", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
