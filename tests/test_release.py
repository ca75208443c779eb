"""tfkit as users install it: one version everywhere, the sdist and wheel built and checked, and the wheel installed
(not editable) in a fresh virtual environment and run from a directory outside the checkout."""

import glob
import importlib.metadata
import json
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

import tfkit
from tests.conftest import ROOT, run_python, run_tfkit
from tfkit.io.versions import DISTRIBUTION

TINY_CONFIG = """\
job_dir: job
data:
  train: shop.csv
  test: shop.csv
  label: bought
  label_vocabulary: ["no", "yes"]
  batch_size: 16
features:
  - {type: numeric, name: price, normalize: true}
  - {type: categorical, name: colour}
  - {type: indicator, name: colour_indicator, categorical: colour}
model:
  name: wide_deep
  wide_columns: [colour]
  deep_columns: [price, colour_indicator]
  hidden_units: [4]
  head: binary
train:
  epochs: 2
  verbose: 0
"""


PRINT_VERSION = "import tfkit.cli as c\ntry: c.main(['--version'])\nexcept SystemExit: pass"  # `tfkit --version`, in process


def write_tiny_job(folder):
    """A config and a CSV a user could have written: cheap things are bought, and red ones more than blue."""
    rows = ["price,colour,bought"]
    for i in range(96):
        price, colour = 5 + (i * 7) % 40, ("red", "blue", "green")[i % 3]
        rows.append(f"{price},{colour},{'yes' if price < 20 or (colour == 'red' and price < 30) else 'no'}")
    (folder / "shop.csv").write_text("\n".join(rows) + "\n")
    (folder / "shop.yaml").write_text(TINY_CONFIG)
    (folder / "rows.json").write_text('{"price": 8, "colour": "red"}\n{"price": 44, "colour": "blue"}\n')


def test_the_version_is_written_once_and_agrees_everywhere():
    assert importlib.metadata.version(DISTRIBUTION) == tfkit.__version__, (
        f"the installed metadata says {importlib.metadata.version(DISTRIBUTION)}, tfkit.__version__ "
        f"{tfkit.__version__}: reinstall (pip install -e .)")
    result = run_tfkit("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"tfkit {tfkit.__version__} (distribution {DISTRIBUTION} {tfkit.__version__}; "
                                    f"TensorFlow "), result.stdout
    # The docs' release and the package metadata are read from tfkit.__version__, not written again.
    docs = run_python("import runpy; print(runpy.run_path('docs/conf.py')['release'])")
    assert docs.stdout.strip() == tfkit.__version__, docs.stderr
    pyproject = open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8").read()
    assert 'dynamic = ["version"]' in pyproject and 'version = { attr = "tfkit.__version__" }' in pyproject


def test_version_answers_without_importing_tensorflow():
    result = run_python(PRINT_VERSION + "\nimport sys; print('tensorflow' in sys.modules)")
    assert result.returncode == 0 and result.stdout.strip().endswith("False"), result.stdout + result.stderr


def test_version_warns_when_the_unrelated_tfkit_distribution_is_installed_too(tmp_path):
    # What pip leaves for the PyPI project named tfkit: its metadata, found by importlib.metadata on the path.
    info = tmp_path / "tfkit-0.8.20.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tfkit\nVersion: 0.8.20\n")
    result = run_python(PRINT_VERSION,
                        env={"PYTHONPATH": str(tmp_path)})
    assert result.stdout.startswith(f"tfkit {tfkit.__version__} (distribution {DISTRIBUTION} "), result.stdout + result.stderr
    assert ("warning: the unrelated distribution 'tfkit' 0.8.20 is installed too and ships a package of the same name; "
            "run `pip uninstall tfkit tfkit-estimator` and then `pip install tfkit-estimator`.") in result.stdout
    assert "warning" not in run_python(PRINT_VERSION).stdout


def run(command, cwd, env=None):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})})
    assert result.returncode == 0, f"{' '.join(map(str, command))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.mark.slow
def test_the_built_wheel_installs_and_trains_outside_the_checkout(tmp_path):
    dist = tmp_path / "dist"
    # The sdist, then the wheel built from it (python -m build's default): the sdist builds the wheel users get.
    run([sys.executable, "-m", "build", "--outdir", str(dist), ROOT], cwd=tmp_path)
    (wheel,), (sdist,) = glob.glob(str(dist / "*.whl")), glob.glob(str(dist / "*.tar.gz"))
    run([sys.executable, "-m", "twine", "check", "--strict", wheel, sdist], cwd=tmp_path)
    assert os.path.basename(wheel).startswith(f"tfkit_estimator-{tfkit.__version__}-py3-none-any")

    # The wheel holds the package and its metadata, nothing else.
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"tfkit", f"tfkit_estimator-{tfkit.__version__}.dist-info"}
    assert "tfkit/cli/__init__.py" in names and "tfkit/layers/set_conv.py" in names
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    package = {name for name in in_sdist if name.startswith("tfkit/") and name.endswith(".py")}
    assert package == {name for name in names if name.endswith(".py")}, "the sdist and the wheel hold other modules"

    # A fresh virtual environment; TensorFlow and the other dependencies come from this interpreter's site-packages
    # (--system-site-packages) so the test does not download them again, but tfkit must come from the wheel.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], cwd=tmp_path)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", wheel], cwd=tmp_path)

    user = tmp_path / "user"  # outside the checkout: nothing of it is importable from here
    user.mkdir()
    write_tiny_job(user)
    where = run([str(venv / "bin" / "python"), "-c", "import tfkit; print(tfkit.__file__)"], cwd=user)
    assert where.stdout.strip().startswith(str(venv)), f"tfkit was imported from {where.stdout.strip()}, not the wheel"
    tfkit_command = str(venv / "bin" / "tfkit")
    version = run([tfkit_command, "--version"], cwd=user)
    assert version.stdout.startswith(f"tfkit {tfkit.__version__} (distribution {DISTRIBUTION} {tfkit.__version__};")
    run([tfkit_command, "config", "check", "shop.yaml"], cwd=user)
    run([tfkit_command, "train", "shop.yaml"], cwd=user)
    metrics = json.loads((user / "job" / "metrics.json").read_text())
    assert metrics["versions"]["tfkit"] == tfkit.__version__ and metrics["test"]["accuracy"] > 0
    predicted = run([tfkit_command, "predict", "job/export", "--json-instances", "rows.json"], cwd=user)
    predictions = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert len(predictions) == 2
    for prediction in predictions:
        assert prediction["classes"][0] in ("no", "yes") and sum(prediction["probabilities"]) == pytest.approx(1, abs=1e-5)
    with open(user / metrics["export"] / "assets.extra" / "tfkit.json", encoding="utf-8") as f:
        assert json.load(f)["tfkit"] == tfkit.__version__
