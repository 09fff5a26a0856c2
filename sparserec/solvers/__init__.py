"""Solvers returning :class:`~sparserec.solvers.result.SolverResult`.

Subpackages: :mod:`~sparserec.solvers.convex` (ISTA/FISTA, ADMM, OMP, PCP, CVXPY references),
:mod:`~sparserec.solvers.bayes` (SBL, M-SBL, Kronecker SBL, Turbo-VBI),
:mod:`~sparserec.solvers.unmixing`, :mod:`~sparserec.solvers.privacy` and
:mod:`~sparserec.solvers.unfolding` (torch modules).  The batched Krylov solvers :func:`cg` and
:func:`lsqr` live here.  Everything is imported lazily on first attribute access.
"""

from __future__ import annotations

import importlib
from typing import Any

from .result import ConvergenceMonitor, ConvergenceWarning, SolverResult, SolverState, Status

_LAZY = {"cg": ".linear", "lsqr": ".linear"}
_SUBPACKAGES = ("bayes", "convex", "linear", "privacy", "unfolding", "unmixing")

__all__ = [
    "ConvergenceMonitor",
    "ConvergenceWarning",
    "SolverResult",
    "SolverState",
    "Status",
    "cg",
    "lsqr",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'sparserec.solvers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__ + list(_SUBPACKAGES))
