"""The suite itself: every test function checks something (an assertion, ``pytest.raises``, or a helper that asserts).

A test that only runs code passes whatever the code does; so does one whose
only check sits behind a condition that never holds — that one a reader must
catch, this one a parser can.
"""

import ast
import glob
import os

from tests.conftest import ROOT


def _called_name(call):
    function = call.func
    return function.attr if isinstance(function, ast.Attribute) else function.id if isinstance(function, ast.Name) else None


def _checks_directly(function):
    """Whether ``function``'s body asserts: ``assert``, ``pytest.raises``/``fail``, or any ``assert_*`` call."""
    for node in ast.walk(function):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            name = _called_name(node)
            if name is not None and (name.startswith("assert") or name in ("raises", "fail", "warns")):
                return True
    return False


def _calls(function):
    return {name for node in ast.walk(function) if isinstance(node, ast.Call) for name in [_called_name(node)] if name}


def unchecked_tests(paths):
    """``file::name`` of each test function in ``paths`` that neither asserts nor calls a helper that does.

    Helpers are the functions and methods defined in any of ``paths``, matched by name; a helper
    asserts if it asserts itself or calls a helper that does.
    """
    functions = {}  # name -> definitions (a name may be defined in several files)
    tests = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.setdefault(node.name, []).append(node)
        tests += [(path, node) for node in tree.body
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test")]
    checking = {name for name, nodes in functions.items() if any(_checks_directly(node) for node in nodes)}
    while True:  # a helper that calls a checking helper checks too
        more = {name for name, nodes in functions.items() if name not in checking
                and any(_calls(node) & checking for node in nodes)}
        if not more:
            break
        checking |= more
    return [f"{os.path.relpath(path, ROOT)}::{node.name}" for path, node in tests
            if not (_checks_directly(node) or _calls(node) & checking)]


def test_every_test_function_checks_something():
    paths = sorted(glob.glob(os.path.join(ROOT, "tests", "**", "*.py"), recursive=True))
    assert len(paths) > 40
    assert unchecked_tests(paths) == []


def test_the_check_finds_a_test_that_only_runs_code(tmp_path):
    helpers = tmp_path / "helpers.py"
    helpers.write_text("def assert_small(x):\n    assert x < 3\n\ndef checked_twice(x):\n    assert_small(x)\n\n"
                       "def only_runs(x):\n    return x + 1\n")
    tests = tmp_path / "test_example.py"
    tests.write_text("import pytest\n\n"
                     "def test_asserts():\n    assert 1\n\n"
                     "def test_raises():\n    with pytest.raises(ZeroDivisionError):\n        1 / 0\n\n"
                     "def test_through_helpers():\n    checked_twice(2)\n\n"
                     "def test_runs_only():\n    only_runs(1)\n\n"
                     "def test_checks_behind_a_condition_that_the_parser_cannot_judge(model):\n"
                     "    if model.built:\n        assert model.weights\n")
    found = unchecked_tests([str(helpers), str(tests)])
    assert [name.rsplit("::", 1)[1] for name in found] == ["test_runs_only"]
