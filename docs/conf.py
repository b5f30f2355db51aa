"""Sphinx configuration: numpydoc API reference, Markdown pages (MyST), example gallery."""

import sklearn_tsft

project = "sklearn-tsft"
author = "sklearn-tsft developers"
release = version = sklearn_tsft.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py.md5",
                    "auto_examples/*.zip"]
myst_heading_anchors = 3
html_theme = "alabaster"

templates_path = ["_templates"]
autosummary_generate = True
numpydoc_show_class_members = False
# Types in docstrings are prose ("int or None"), not cross-reference targets.
numpydoc_xref_param_type = False

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    "ignore_pattern": r"_common\.py|quickstart\.py",
    # Examples train models: CI builds the pages without running them (a
    # test runs each on the tiny backbone); run them with --quick to see
    # their figures.
    "plot_gallery": "False",
}
