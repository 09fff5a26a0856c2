"""Cheap checks of the documentation sources (the full build is ``make -C docs html``)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _api_modules() -> list[str]:
    text = (DOCS / "api.rst").read_text()
    block = text.split(".. autosummary::", 1)[1]
    return [ln.strip() for ln in block.splitlines()
            if re.fullmatch(r"\s{3}[A-Za-z_][\w.]*", ln)]


def test_api_lists_modules():
    mods = _api_modules()
    assert "sparserec.operators" in mods and "sparserec.solvers.result" in mods


@pytest.mark.parametrize("name", _api_modules())
def test_api_modules_import_and_define_all(name):
    mod = importlib.import_module(name)
    assert isinstance(getattr(mod, "__all__", None), (list, tuple)), f"{name} needs __all__"


def test_index_globs_narrative_pages():
    index = (DOCS / "index.rst").read_text()
    assert ":glob:" in index and "\n   *\n" in index
    for page in ("install", "design", "api", "performance"):
        assert (DOCS / f"{page}.rst").exists()


def test_conf_settings():
    conf = (DOCS / "conf.py").read_text()
    assert "sphinx.ext.intersphinx" not in conf
    assert "numpydoc_show_class_members = False" in conf
    assert 'os.environ.setdefault("SPARSEREC_FAST", "1")' in conf
