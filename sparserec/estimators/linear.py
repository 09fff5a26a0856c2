r"""Sparse linear regressors: :class:`LassoRegressor` (batched FISTA) and :class:`OMPRegressor`."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ._base import BatchedLinearRegressor

__all__ = ["LassoRegressor", "OMPRegressor"]


def _check_number(value: Any, name: str, *, low: float, strict: bool = False, integer: bool = False,
                  allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    kinds = (numbers.Integral,) if integer else (numbers.Real,)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ValueError(f"{name} must be {'an integer' if integer else 'a real number'}, got {value!r}")
    if not np.isfinite(value) or value < low or (strict and value == low):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {low}, got {value!r}")


class LassoRegressor(BatchedLinearRegressor):
    r"""Lasso (:math:`\ell_1`-penalised least squares), all targets solved as one batch.

    Minimises scikit-learn's Lasso objective, for every target at once,

    .. math:: \frac{1}{2 n_\text{samples}} \|y - X w - b\|_2^2 + \alpha \|w\|_1 .

    Parameters
    ----------
    alpha : float, default 1.0
        Weight of the :math:`\ell_1` term (scikit-learn's convention).
    fit_intercept : bool, default True
        Fit an unpenalised intercept (by centring ``X`` and ``y``).
    max_iter : int, default 5000
        Maximum iterations of the working-set FISTA that finishes any target whose exact path
        cannot complete (rare; see :func:`~sparserec.solvers.convex.lasso`).
    tol : float, default 1e-4
        scikit-learn's stopping rule: a target is done when its duality gap is at most
        ``tol * ||y||^2`` (in the :math:`\frac12\|\cdot\|^2` scaling).
    positive : bool, default False
        Constrain the coefficients to be non-negative.
    n_jobs : int, optional
        Threads for the batched homotopy (default: the BLAS thread budget; see
        :func:`~sparserec.solvers.convex.lasso`).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    n_iter_ : int or ndarray of shape (n_targets,)
        Duality-gap checks per target (1 when the exact path finished; each further check
        follows a working-set FISTA round).
    result_ : SolverResult
        Result of :func:`sparserec.solvers.convex.lasso` for the batch (``extras``:
        ``homotopy_steps``, ``inner_iterations``, ``duality_gap``).
    n_features_in_ : int

    Notes
    -----
    With :math:`n` samples the problem is solved as
    :math:`\min_w \tfrac12\|y - Xw\|^2 + \lambda\|w\|_1` with :math:`\lambda = n\alpha`
    (same minimiser) by :func:`~sparserec.solvers.convex.lasso`: an exact batched homotopy
    (LARS-Lasso) path per target, certified by the duality gap.  A multi-target ``y`` of shape
    ``(n_samples, n_targets)`` is one batched call with per-target convergence, instead of one
    coordinate-descent fit per target.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.estimators import LassoRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 20)); w = np.zeros(20); w[:3] = [1.0, -2.0, 3.0]
    >>> model = LassoRegressor(alpha=0.05).fit(X, X @ w + 1.0)
    >>> np.flatnonzero(np.abs(model.coef_) > 0.1)
    array([0, 1, 2])
    """

    def __init__(self, alpha: float = 1.0, *, fit_intercept: bool = True, max_iter: int = 5000,
                 tol: float = 1e-4, positive: bool = False, n_jobs: int | None = None) -> None:
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.positive = positive
        self.n_jobs = n_jobs

    def _check_params(self, n_samples: int, n_features: int) -> None:
        _check_number(self.alpha, "alpha", low=0.0)
        _check_number(self.max_iter, "max_iter", low=1, integer=True)
        _check_number(self.tol, "tol", low=0.0)
        if self.n_jobs is not None:
            _check_number(self.n_jobs, "n_jobs", low=1, integer=True)

    def _solve(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, Any, Any]:
        import warnings

        from ..solvers.convex.proximal_gradient import lasso
        from ..solvers.result import ConvergenceWarning

        n_samples = X.shape[0]
        with warnings.catch_warnings():
            warnings.simplefilter("default", ConvergenceWarning)
            res = lasso(X, Y, n_samples * float(self.alpha), tol=float(self.tol),
                        inner_max_iter=int(self.max_iter), positivity=bool(self.positive),
                        n_jobs=None if self.n_jobs is None else int(self.n_jobs))
        return np.asarray(res.x), res.n_iter, res


class OMPRegressor(BatchedLinearRegressor):
    r"""Orthogonal matching pursuit regressor, all targets solved as one batch.

    Parameters
    ----------
    n_nonzero_coefs : int, optional
        Number of non-zero coefficients per target.  Default (with ``tol`` None):
        ``max(int(0.1 * n_features), 1)``, as scikit-learn.
    tol : float, optional
        Maximum **squared** norm of the residual (scikit-learn's convention); overrides
        ``n_nonzero_coefs``.
    fit_intercept : bool, default True

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    n_iter_ : int or ndarray of shape (n_targets,)
        Number of selected atoms per target.
    n_nonzero_coefs_ : int or None
        The number of atoms used when ``tol`` is None.
    result_ : SolverResult
        Result of :func:`sparserec.solvers.convex.greedy.omp` (``extras['support']``).

    Notes
    -----
    Greedy selection :math:`j = \arg\max_j |x_j^T r|` on the (centred) columns followed by a
    least-squares refit, with a Cholesky factor updated for all targets at once
    (:func:`~sparserec.solvers.convex.greedy.omp`); scikit-learn loops over targets.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.estimators import OMPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 30)); w = np.zeros(30); w[[2, 7]] = [1.5, -2.0]
    >>> model = OMPRegressor(n_nonzero_coefs=2).fit(X, X @ w)
    >>> np.flatnonzero(model.coef_)
    array([2, 7])
    """

    def __init__(self, n_nonzero_coefs: int | None = None, *, tol: float | None = None,
                 fit_intercept: bool = True) -> None:
        self.n_nonzero_coefs = n_nonzero_coefs
        self.tol = tol
        self.fit_intercept = fit_intercept

    def _check_params(self, n_samples: int, n_features: int) -> None:
        _check_number(self.n_nonzero_coefs, "n_nonzero_coefs", low=1, integer=True, allow_none=True)
        _check_number(self.tol, "tol", low=0.0, allow_none=True)
        if self.tol is None and self.n_nonzero_coefs is not None and self.n_nonzero_coefs > n_features:
            raise ValueError(f"n_nonzero_coefs ({self.n_nonzero_coefs}) cannot exceed the number of "
                             f"features ({n_features})")

    def _solve(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, Any, Any]:
        import warnings

        from ..solvers.convex.greedy import omp

        n_features = X.shape[1]
        if self.tol is None:
            k = self.n_nonzero_coefs if self.n_nonzero_coefs is not None else max(int(0.1 * n_features), 1)
            self.n_nonzero_coefs_ = int(k)
            kw: dict[str, Any] = {"n_nonzero": int(k)}
        else:
            self.n_nonzero_coefs_ = None
            kw = {"tol": float(np.sqrt(self.tol))}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = omp(X, Y, **kw)
        return np.asarray(res.x), res.n_iter, res
