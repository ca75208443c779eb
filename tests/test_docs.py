"""The Sphinx docs build without a warning and their examples run."""

import os
import subprocess
import sys

from tests.conftest import ROOT


def sphinx(builder, out):
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", builder, "docs", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )


def test_docs_build_without_warnings(tmp_path):
    result = sphinx("html", tmp_path / "html")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "html" / "feature_columns.html").exists()
    # Keras-based classes show their constructors' arguments, not Keras' __new__(*args, **kwargs).
    api = "".join(path.read_text() for path in sorted((tmp_path / "html" / "api").glob("*.html")))
    assert "*args, **kwargs" not in api
    # The API reference is navigable by module: a page a part, each listed in the reference's own page.
    index = (tmp_path / "html" / "api.html").read_text()
    # The published look: Furo, a copy button on code blocks, long code lines wrapped rather than scrolled.
    assert "furo" in index and (tmp_path / "html" / "_static" / "copybutton.js").exists()
    assert "white-space: pre-wrap" in (tmp_path / "html" / "_static" / "tfkit.css").read_text()
    for page in ("feature_columns", "layers", "models", "data", "distribution", "estimators", "serving"):
        assert f'href="api/{page}.html"' in index, page
    for name, argument in (("WideDeep", "wide_columns"), ("ResNet", "depth"), ("TextCNN", "filter_sizes")):
        start = api.index(f'id="tfkit.models.{name}"')
        assert argument in api[start:start + 3000], name


def test_docs_examples_run(tmp_path):
    result = sphinx("doctest", tmp_path / "doctest")
    report = (tmp_path / "doctest" / "output.txt").read_text()
    assert result.returncode == 0, report[-3000:]
    assert "0 failures in tests" in report and " tests\n" in report
    assert "Warning" not in result.stderr and "WARNING:tensorflow" not in result.stderr, result.stderr[-3000:]


def test_the_readme_workflow_runs_without_warnings(tmp_path):
    """The README's Python example, on the bundled census data, one epoch instead of five."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    code = readme.split("## The workflow", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert "model.fit(train, epochs=5)" in code and 'model.export("export/")' in code
    code = code.replace("epochs=5", "epochs=1").replace('"export/"', repr(str(tmp_path / "export")))
    result = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Warning" not in result.stderr and "WARNING" not in result.stderr.replace(
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR", ""), result.stderr
    assert os.listdir(tmp_path / "export")


def test_the_kubernetes_example_runs_the_census_config_in_every_role():
    import yaml

    from tfkit.cli import _parser

    with open(f"{ROOT}/examples/kubernetes/census-tfjob.yaml", encoding="utf-8") as f:
        job = yaml.safe_load(f)
    assert job["kind"] == "TFJob" and job["apiVersion"] == "kubeflow.org/v1"
    replicas = job["spec"]["tfReplicaSpecs"]
    assert sorted(replicas) == ["Chief", "Evaluator", "PS", "Worker"] and replicas["Chief"]["replicas"] == 1
    for spec in replicas.values():
        container = spec["template"]["spec"]["containers"][0]
        assert container["name"] == "tensorflow"  # the container the operator gives TF_CONFIG and port 2222
        command = container["command"]
        assert command[0] == "tfkit"
        args = _parser().parse_args(command[1:])
        assert args.command == "train" and args.config.endswith("configs/census.yaml") and args.job_dir
        assert os.path.exists(os.path.join(ROOT, args.config.split("/tfkit/", 1)[1]))


def test_the_kubernetes_word2vec_example_runs_tfkit_word2vec_in_every_role():
    import yaml

    from tfkit.cli import _parser

    with open(f"{ROOT}/examples/kubernetes/word2vec-tfjob.yaml", encoding="utf-8") as f:
        job = yaml.safe_load(f)
    assert job["kind"] == "TFJob"
    replicas = job["spec"]["tfReplicaSpecs"]
    assert sorted(replicas) == ["Chief", "PS", "Worker"] and replicas["Chief"]["replicas"] == 1
    for spec in replicas.values():
        container = spec["template"]["spec"]["containers"][0]
        assert container["name"] == "tensorflow" and container["command"][0] == "tfkit"
        args = _parser().parse_args(container["command"][1:])
        assert args.command == "word2vec" and args.corpus and args.output.startswith("/data/")
