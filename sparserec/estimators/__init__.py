"""scikit-learn compatible estimators wrapping sparserec solvers.

The estimators are loaded on first access, so ``import sparserec.estimators`` imports neither
scikit-learn nor the solvers; accessing a class needs the ``sklearn`` extra
(``pip install 'sparserec[sklearn]'``).

- :class:`LassoRegressor`, :class:`OMPRegressor` (:mod:`sparserec.estimators.linear`);
- :class:`LocalDPSparseRegression` (:mod:`sparserec.estimators.privacy`);
- :class:`SBLRegressor` (:mod:`sparserec.estimators.bayes`);
- :class:`SBLRegressor` (:mod:`sparserec.estimators.bayes`);
- :class:`BatchedLinearRegressor`, the shared base (validation, intercept, multi-target batch)
  for estimators built on sparserec solvers (:mod:`sparserec.estimators._base`).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "LassoRegressor": ".linear",
    "OMPRegressor": ".linear",
    "LocalDPSparseRegression": ".privacy",
    "SBLRegressor": ".bayes",
    "BatchedLinearRegressor": "._base",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'sparserec.estimators' has no attribute {name!r}")
    return getattr(importlib.import_module(mod, __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
