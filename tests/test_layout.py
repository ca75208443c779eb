"""Architecture rules that code review would otherwise have to catch."""

import ast
import os

from tests.conftest import ROOT, run_python

PACKAGE = os.path.join(ROOT, "tfkit")


def imports_of(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "tf":
            if node.attr == "distribute":
                names.add("tf.distribute")
    return names


def python_files(folder):
    for base, _, files in os.walk(os.path.join(PACKAGE, folder)):
        yield from (os.path.join(base, f) for f in files if f.endswith(".py"))


def test_features_layers_and_models_never_touch_distribution_or_the_cli():
    offences = []
    for folder in ("features", "layers", "models"):
        for path in python_files(folder):
            for name in imports_of(path):
                if name.startswith(("tfkit.distribute", "tfkit.cli", "tfkit.jobs", "tf.distribute")):
                    offences.append(f"{os.path.relpath(path, ROOT)} uses {name}")
    # The sanctioned exceptions, all in the base model: its workarounds of Keras' distributed
    # trainer (keras-team/keras#20585) and the hand-off of fit to the parameter-server loop,
    # which Keras 3 lacks.
    allowed = {
        "tfkit/models/base.py uses tf.distribute",
        "tfkit/models/base.py uses tfkit.distribute",
        "tfkit/models/base.py uses tfkit.distribute.parameter_server",
    }
    assert sorted(set(offences) - allowed) == []


def test_features_and_layers_never_import_models_or_training():
    for folder in ("features", "layers"):
        for path in python_files(folder):
            bad = [n for n in imports_of(path) if n.startswith(("tfkit.models", "tfkit.jobs", "tfkit.config"))]
            assert bad == [], f"{os.path.relpath(path, ROOT)} imports {bad}"


# The layers of tfkit, lowest first: a package imports its own layer and those below, never one above. Columns and
# their layers are one level (a column makes its lookup layers, DenseFeatures reads columns); config sits beside the
# job layer, which runs what a config describes; tf.feature_column's functions make columns, and the estimators run
# jobs from Python as configs run them from the CLI; the CLI only parses arguments and calls the layers below.
LAYERS = [
    {"errors", "io"},
    {"features", "layers", "optimizers", "feature_column"},
    {"data", "distribute"},
    {"models", "export"},
    {"config", "serve"},
    {"jobs"},
    {"estimator", "tune"},
    {"cli"},
]
# The one sanctioned exception: the tuning section of a config is checked by its own schema, which lives with tuning.
UPWARD_ALLOWED = {("tfkit/config/validation.py", "tfkit.tune")}


def test_each_layer_imports_only_its_own_and_those_below():
    rank = {package: index for index, layer in enumerate(LAYERS) for package in layer}
    entries = {name.removesuffix(".py") for name in os.listdir(PACKAGE) if not name.startswith(("_", "."))}
    assert entries - {"__pycache__"} == set(rank), "a package or module at the top of tfkit/ is in no layer"
    offences = []
    for path in python_files(""):
        relative = os.path.relpath(path, ROOT)
        own = os.path.relpath(path, PACKAGE).split(os.sep)[0].removesuffix(".py")
        if own == "__init__.py" or own not in rank:
            continue
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] == "tfkit" and len(parts) > 1 and parts[1] in rank and rank[parts[1]] > rank[own]:
                if (relative, f"tfkit.{parts[1]}") not in UPWARD_ALLOWED:
                    offences.append(f"{relative} ({own}) imports {name} ({parts[1]}, a layer above)")
    assert sorted(set(offences)) == []


def test_the_top_of_the_package_holds_only_what_users_import_and_the_packages():
    modules = sorted(name for name in os.listdir(PACKAGE) if name.endswith(".py"))
    assert modules == ["__init__.py", "errors.py", "export.py"]


def test_modules_stay_small():
    for path in python_files(""):
        lines = sum(1 for _ in open(path, encoding="utf-8"))
        assert lines < 420, f"{os.path.relpath(path, ROOT)} has {lines} lines: split it"


def test_another_keras_backend_fails_at_import_with_the_fix():
    result = run_python("import tfkit", env={"KERAS_BACKEND": "jax"})
    assert result.returncode != 0
    assert "ImportError: tfkit needs Keras 3 with the TensorFlow backend" in result.stderr
    assert "backend='jax'" in result.stderr and "KERAS_BACKEND=tensorflow" in result.stderr


def test_keras_json_backend_setting_is_read_too(tmp_path):
    (tmp_path / "keras.json").write_text('{"backend": "torch"}')
    result = run_python("import tfkit", env={"KERAS_HOME": str(tmp_path), "KERAS_BACKEND": ""})
    assert result.returncode != 0 and "backend='torch'" in result.stderr
