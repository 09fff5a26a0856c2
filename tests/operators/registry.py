"""Operator conformance registry: collects ``CASES`` from every ``tests/operators/cases_*.py``.

Adding an operator to the conformance suite only needs a ``Case`` in a ``cases_*.py`` module of
this folder (see ``_case.py``); this module finds the modules by glob and imports them, so no
list has to be edited.  A cases module that fails to import is recorded in ``IMPORT_ERRORS`` (and
``test_conformance.py`` fails on it) instead of silently dropping its operators.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from pathlib import Path

try:
    from ._case import Case
except ImportError:  # imported as a top-level module
    from _case import Case  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent

__all__ = ["CASES", "IMPORT_ERRORS", "Case", "case_modules", "load_cases"]


def case_modules() -> list[Path]:
    """The ``cases_*.py`` files of this folder, sorted by name."""
    return sorted(HERE.glob("cases_*.py"))


def _import(path: Path):
    if __package__:
        return importlib.import_module(f"{__package__}.{path.stem}")
    name = f"_sparserec_op_cases_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def load_cases() -> tuple[list[Case], dict[str, str]]:
    """Import every cases module; return ``(cases, import_errors)``.

    Raises
    ------
    ValueError
        Two cases share a name, or a module's ``CASES`` holds something that is not a case.
    """
    cases: list[Case] = []
    errors: dict[str, str] = {}
    seen: dict[str, str] = {}
    for path in case_modules():
        try:
            mod = _import(path)
        except Exception:  # reported by the conformance test, not swallowed
            errors[path.name] = traceback.format_exc()
            continue
        mod_cases = getattr(mod, "CASES", None)
        if mod_cases is None:
            errors[path.name] = f"{path.name} defines no CASES list"
            continue
        for c in mod_cases:
            if not (hasattr(c, "name") and hasattr(c, "factory")):
                raise ValueError(f"{path.name}: CASES entry {c!r} is not a Case")
            if c.name in seen:
                raise ValueError(f"duplicate conformance case name {c.name!r} in {path.name} "
                                 f"and {seen[c.name]}")
            seen[c.name] = path.name
            cases.append(c)
    return cases, errors


CASES, IMPORT_ERRORS = load_cases()
