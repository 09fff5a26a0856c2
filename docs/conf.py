"""Sphinx configuration of the sparserec documentation (``make -C docs html``).

Builds offline: no intersphinx, no remote images.  The example gallery (``../examples``) is run
by sphinx-gallery in fast mode (``SPARSEREC_FAST=1``) and rendered into ``auto_examples/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

# examples run in fast mode, headless, inside the build
os.environ.setdefault("SPARSEREC_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import sparserec  # noqa: E402

project = "sparserec"
author = "sparserec developers"
copyright = "sparserec developers"
release = sparserec.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
try:  # Markdown pages (docs/benchmarks.md) when MyST is installed; otherwise performance.rst
    import myst_parser  # noqa: F401

    extensions.append("myst_parser")
    source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
except ImportError:
    source_suffix = {".rst": "restructuredtext"}

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints",
                    "auto_examples/*.md", "benchmarks.md", "sg_execution_times.rst"]
root_doc = "index"
default_role = "py:obj"
nitpicky = False

# --- autodoc / autosummary / numpydoc
autosummary_generate = True
autosummary_imported_members = True   # subpackages re-export their classes
autosummary_ignore_module_all = False  # ... but only what __all__ lists
autodoc_default_options = {"members": True, "inherited-members": False, "show-inheritance": True}
autodoc_typehints = "none"            # numpydoc sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()
numpydoc_xref_param_type = False

# --- sphinx-gallery
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "reset_modules": ("matplotlib",),
    "only_warn_on_example_error": True,
    "plot_gallery": "True",
    "capture_repr": ("_repr_html_",),
    "image_scrapers": ("matplotlib",),
    "show_memory": False,
    "show_signature": False,
}

# --- HTML
html_theme = "alabaster"
html_static_path = ["_static"]
html_title = f"sparserec {release}"
html_theme_options = {"description": "Sparse recovery on numpy and torch", "fixed_sidebar": True}


def _skip_metadata_routing(app, what, name, obj, skip, options):  # noqa: ARG001
    """Leave out scikit-learn's generated ``set_{fit,predict,score,...}_request`` methods: their
    docstrings point into scikit-learn's own glossary, which this build cannot resolve offline."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_routing)
