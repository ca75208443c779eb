"""The Sphinx docs build without a warning and their examples run."""

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


def test_docs_examples_run(tmp_path):
    result = sphinx("doctest", tmp_path / "doctest")
    report = (tmp_path / "doctest" / "output.txt").read_text()
    assert result.returncode == 0, report[-3000:]
    assert "0 failures in tests" in report and " tests\n" in report
