"""Solver registry: names -> callables ``solver(A, y, **params) -> SolverResult``, resolved lazily.

Entries are import paths (``"package.module:function"``), imported only when a pipeline needs
them, so a solver whose module does not exist yet gives a clear error instead of breaking the
import of :mod:`sparserec.pipelines`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["SolverNotAvailableError", "UnknownSolverError", "available_solvers", "register_solver",
           "resolve_solver"]


class UnknownSolverError(ValueError):
    """The solver name is neither registered nor an import path."""


class SolverNotAvailableError(ImportError):
    """The solver is registered but its module/function cannot be imported here."""


#: name -> candidate import paths (first importable wins)
_REGISTRY: dict[str, tuple[str, ...]] = {
    "lsqr": ("sparserec.solvers.linear:lsqr",),
    "cg": ("sparserec.solvers.linear:cg",),
    "sbl": ("sparserec.solvers.bayes:sbl", "sparserec.solvers.bayes.sbl:sbl"),
    "fista": ("sparserec.solvers.convex:fista", "sparserec.solvers.convex.proximal_gradient:fista"),
    "ista": ("sparserec.solvers.convex:ista", "sparserec.solvers.convex.proximal_gradient:ista"),
    "omp": ("sparserec.solvers.convex:omp", "sparserec.solvers.convex.greedy:omp"),
    "fcls": ("sparserec.solvers.unmixing:fcls", "sparserec.solvers.unmixing.fcls:fcls"),
    "nnls": ("sparserec.pipelines._nnls:nnls",),
}


def register_solver(name: str, target: str | Callable[..., Any], *, replace: bool = False) -> None:
    """Register a solver under ``name``.

    Parameters
    ----------
    name : str
    target : str or callable
        ``"package.module:function"`` (imported lazily) or the callable itself; it is called as
        ``target(A, y, **params)`` and returns a :class:`~sparserec.solvers.result.SolverResult`.
    replace : bool
        Allow replacing an existing entry.
    """
    if name in _REGISTRY and not replace:
        raise ValueError(f"solver {name!r} is already registered; pass replace=True")
    if callable(target):
        _CALLABLES[name] = target
        _REGISTRY[name] = (f"<callable {getattr(target, '__qualname__', target)!r}>",)
    else:
        _CALLABLES.pop(name, None)
        _REGISTRY[name] = (str(target),)


_CALLABLES: dict[str, Callable[..., Any]] = {}


def available_solvers() -> dict[str, bool]:
    """Registered names and whether each can be imported in this installation."""
    out = {}
    for name in sorted(_REGISTRY):
        try:
            resolve_solver(name)
            out[name] = True
        except SolverNotAvailableError:
            out[name] = False
    return out


def _import(path: str) -> Callable[..., Any]:
    mod, _, attr = path.partition(":")
    m = importlib.import_module(mod)
    obj = m
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{path} is not callable")
    return obj


def resolve_solver(name: str) -> Callable[..., Any]:
    """The callable registered under ``name`` (or named by an import path ``"mod:func"``).

    Raises
    ------
    UnknownSolverError
        ``name`` is not registered and is not an import path.
    SolverNotAvailableError
        The solver is known but cannot be imported (its module is not written/installed yet).
    """
    if name in _CALLABLES:
        return _CALLABLES[name]
    if name in _REGISTRY:
        candidates = _REGISTRY[name]
    elif ":" in name:
        candidates = (name,)
    else:
        raise UnknownSolverError(
            f"unknown solver {name!r}; registered solvers: {', '.join(sorted(_REGISTRY))} "
            "(or give an import path 'package.module:function')")
    errors = []
    for path in candidates:
        try:
            return _import(path)
        except (ImportError, AttributeError, TypeError) as e:
            errors.append(f"{path}: {type(e).__name__}: {e}")
    raise SolverNotAvailableError(
        f"solver {name!r} is not available in this installation yet; tried " + "; ".join(errors))
