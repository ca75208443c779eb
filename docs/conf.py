"""Sphinx configuration for tfkit's documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
import tfkit  # noqa: E402  (light: its submodules load on first use)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

project = "tfkit"
author = "the tfkit authors"
copyright = "2026, the tfkit authors"
release = version = tfkit.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.doctest", "sphinx.ext.viewcode",
              "sphinx_copybutton"]
exclude_patterns = ["_build"]
# Furo: a wide content column (code examples fit without scrolling at 1280 pixels), the page's sections in a sidebar
# (the API reference is navigable by module), light and dark. docs/check_layout.py looks at it in Chromium.
html_theme = "furo"
html_title = f"tfkit {release}"
html_static_path = ["_static"]
html_css_files = ["tfkit.css"]
# The copy button copies the code without the prompts and the output of doctest and shell examples.
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False
autodoc_typehints = "none"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# Docstring examples run under pytest --doctest-modules; here only the pages' doctest directives.
doctest_test_doctest_blocks = ""
# An example whose tfkit call warns fails (the README and the docs promise none). One TensorFlow message is
# the harness's own: every page's examples run in this one process, and TensorFlow counts the train functions of
# all the models they fit as traces of one function (its key is the function's code) and warns of "retracing"
# after a few; a page run on its own prints no such line.
doctest_global_setup = """
import logging
import warnings
warnings.filterwarnings("error", module=r"tfkit(\\.|$)")
import tensorflow as _tf
if not any(getattr(f, "tfkit_docs", False) for f in _tf.get_logger().filters):
    _retraces = logging.Filter()
    _retraces.filter = lambda record: "triggered tf.function retracing" not in record.getMessage()
    _retraces.tfkit_docs = True
    _tf.get_logger().addFilter(_retraces)
"""


def constructor_signature(app, what, name, obj, options, signature, return_annotation):
    """A Keras class's constructor arguments as its signature: Keras layers define ``__new__(cls, *args, **kwargs)``,
    which autodoc would show instead."""
    import inspect

    if what != "class" or signature not in (None, "(*args, **kwargs)") or "__init__" not in vars(obj):
        return None
    parameters = list(inspect.signature(obj.__init__).parameters.values())[1:]  # without self
    return str(inspect.Signature(parameters)), return_annotation


def setup(app):
    """``.. config-reference:: SECTION`` renders the config schema's keys as a table (tfkit.config.schema.reference_table);
    classes show their constructors' arguments."""
    app.connect("autodoc-process-signature", constructor_signature)
    from docutils import nodes
    from docutils.parsers.rst import Directive
    from docutils.statemachine import StringList

    class ConfigReference(Directive):
        required_arguments = 1  # config | tuning | tuning.params

        def run(self):
            from tfkit import config
            from tfkit.config.schema import reference_table
            from tfkit.tune import spec

            schema, path = {"config": (config.SCHEMA, ""), "tuning": (spec.TUNING_SCHEMA, "tuning"),
                            "tuning.params": (spec.PARAM_SCHEMA, "tuning.params[]")}[self.arguments[0]]
            container = nodes.container()
            self.state.nested_parse(StringList(reference_table(schema, path)), self.content_offset, container)
            return container.children

    app.add_directive("config-reference", ConfigReference)
