"""sparserec: sparse recovery for science and signal processing, on numpy and torch.

Probabilistic and convex solvers (sparse Bayesian learning and its Kronecker variants,
Turbo-VBI, robust unmixing, locally private sparse regression, robust PCA and its deep-unfolded
versions) share one batched linear-operator abstraction (:mod:`sparserec.operators`) that runs on
numpy and on torch (CPU and CUDA).

Subpackages and the result types are imported lazily: ``import sparserec`` loads nothing heavy
(not even numpy) until an attribute is used.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

_RESULT_NAMES = ("ConvergenceWarning", "SolverResult", "Status")

_SUBPACKAGES = (
    "applications",
    "cuda_ext",
    "datasets",
    "estimators",
    "io",
    "operators",
    "pipelines",
    "prox",
    "solvers",
)

__all__ = ["ConvergenceWarning", "SolverResult", "Status", "__version__", *_SUBPACKAGES]


def __getattr__(name: str) -> Any:
    if name in _RESULT_NAMES:
        return getattr(importlib.import_module(f"{__name__}.solvers.result"), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'sparserec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
