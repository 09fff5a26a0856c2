r"""Sparse Bayesian learning regressor (scikit-learn compatible): :class:`SBLRegressor`."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ._base import BatchedLinearRegressor

try:
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as e:  # pragma: no cover - depends on environment
    raise ImportError("sparserec.estimators needs scikit-learn: pip install 'sparserec[sklearn]'") from e

__all__ = ["SBLRegressor"]


class SBLRegressor(BatchedLinearRegressor):
    r"""Sparse Bayesian learning (relevance vector / ARD) regression, batched over targets.

    A faster drop-in for :class:`sklearn.linear_model.ARDRegression` built on
    :func:`sparserec.solvers.bayes.sbl`: the posterior is computed in measurement space
    (an ``n_samples x n_samples`` Cholesky) or on the surviving features only, the posterior
    variances are computed directly, and every target of a multi-target ``y`` is fitted in one
    batched solve.

    Parameters
    ----------
    update : {"auto", "em", "mackay"}, default "auto"
        Hyper-parameter update (see :func:`~sparserec.solvers.bayes.sbl`: ``"auto"`` is MacKay's
        update with a cost safeguard and re-admission of wrongly pruned columns; EM is monotone
        in the evidence but slow; plain MacKay is fastest but unguarded).
    noise_var : float or None, default None
        Known noise variance; ``None`` learns it (EM).
    prune : float, default 1e-3
        Features with :math:`\gamma_j < \mathrm{prune}\cdot\max\gamma` are removed (relative to
        the largest prior variance, so independent of the scale of ``X`` and ``y``).
    max_iter : int, default 300
    tol : float, default 1e-4
        Relative change of :math:`\gamma` at which a target stops.
    fit_intercept : bool, default True

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Posterior mean of the weights.
    coef_std_ : ndarray, same shape as ``coef_``
        Posterior standard deviations, **full length** (0 for pruned features, whose prior
        variance is 0), unlike ARD's ``sigma_`` which shrinks to the kept features.
    gamma_ : ndarray, same shape as ``coef_``
        Prior variances :math:`\gamma_j` (ARD's ``1 / lambda_``; 0 when pruned).
    noise_var_ : float or ndarray of shape (n_targets,)
        Noise variance (ARD's ``1 / alpha_``).
    support_ : ndarray of bool, same shape as ``coef_``
    intercept_, n_iter_, result_, n_features_in_
        As in :class:`~sparserec.estimators.BatchedLinearRegressor`.

    Notes
    -----
    Model :math:`y = X w + b + \epsilon`, :math:`w_j \sim \mathcal N(0, \gamma_j)`,
    :math:`\epsilon \sim \mathcal N(0, \sigma^2)`; :math:`\gamma` and :math:`\sigma^2`
    maximise the evidence (type-II maximum likelihood).  The initial :math:`\gamma` is
    :math:`\|y\|^2/\|X\|_F^2` per target, which makes the fit equivariant to rescaling ``y``.
    ``predict(X, return_std=True)`` returns :math:`\sqrt{\sigma^2 + x^T \Sigma_S x}` with the
    exact posterior covariance :math:`\Sigma_S` on the support (no intercept uncertainty, as
    in ARD).

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.estimators.bayes import SBLRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 30)); w = np.zeros(30); w[[1, 5, 20]] = [1.0, -2.0, 1.5]
    >>> model = SBLRegressor().fit(X, X @ w + 0.01 * rng.standard_normal(60))
    >>> np.flatnonzero(model.support_).tolist()
    [1, 5, 20]
    >>> mean, std = model.predict(X[:2], return_std=True)
    >>> std.shape
    (2,)
    """

    def __init__(self, *, update: str = "auto", noise_var: float | None = None, prune: float = 1e-3,
                 max_iter: int = 300, tol: float = 1e-4, fit_intercept: bool = True) -> None:
        self.update = update
        self.noise_var = noise_var
        self.prune = prune
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept

    def _check_params(self, n_samples: int, n_features: int) -> None:
        if self.update not in ("auto", "em", "mackay"):
            raise ValueError(f"update must be 'auto', 'em' or 'mackay', got {self.update!r}")
        for name, low in (("prune", 0.0), ("tol", 0.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v) or v < low:
                raise ValueError(f"{name} must be a non-negative real number, got {v!r}")
        if self.prune >= 1:
            raise ValueError(f"prune must be < 1, got {self.prune!r}")
        if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, numbers.Integral) \
                or self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if self.noise_var is not None and (not isinstance(self.noise_var, numbers.Real)
                                           or not self.noise_var > 0):
            raise ValueError(f"noise_var must be None or a positive number, got {self.noise_var!r}")

    def _solve(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, Any, Any]:
        import warnings

        from ..solvers.bayes import sbl
        from ..solvers.result import ConvergenceWarning

        fro = float(np.sum(X.astype(np.float64) ** 2))
        yy = np.sum(Y.astype(np.float64) ** 2, axis=-1)
        g0 = np.where((yy > 0) & (fro > 0), yy / max(fro, np.finfo(float).tiny), 1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("default", ConvergenceWarning)
            res = sbl(X, Y, noise_var=self.noise_var, update=self.update, max_iter=self.max_iter,
                      tol=self.tol, prune=self.prune, gamma0=g0[:, None])
        self._X_fit = X
        return res.x, res.n_iter, res

    def fit(self, X: Any, y: Any) -> SBLRegressor:
        """Fit the model (all targets at once).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)

        Returns
        -------
        self
        """
        super().fit(X, y)
        ex = self.result_.extras
        shape = np.shape(self.coef_)
        dt = self.coef_.dtype
        self.gamma_ = np.asarray(ex["gamma"], dtype=dt).reshape(shape)
        self.coef_std_ = np.sqrt(np.asarray(ex["posterior_var"], dtype=dt)).reshape(shape)
        self.support_ = np.asarray(ex["support"]).reshape(shape)
        nv = np.asarray(ex["noise_var"], dtype=dt)
        self.noise_var_ = float(nv.reshape(-1)[0]) if len(shape) == 1 else nv.reshape(-1)
        # exact posterior covariance on the (small) support, for predictive variances
        Xf = self._X_fit.astype(np.float64)
        del self._X_fit
        sup = self.support_.reshape(-1, shape[-1])
        gam = self.gamma_.reshape(-1, shape[-1]).astype(np.float64)
        nvs = np.asarray(nv, dtype=np.float64).reshape(-1)
        self._cov = []
        for t in range(sup.shape[0]):
            k = np.flatnonzero(sup[t])
            if k.size == 0:
                self._cov.append((k, np.zeros((0, 0))))
                continue
            s = np.sqrt(gam[t, k])
            Xk = Xf[:, k] * s
            S = np.eye(k.size) + Xk.T @ Xk / nvs[t]
            self._cov.append((k, s[:, None] * np.linalg.inv(S) * s[None, :]))
        return self

    def predict(self, X: Any, return_std: bool = False) -> Any:
        """Predict, optionally with the predictive standard deviation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default False

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_targets)
        y_std : ndarray, same shape as ``y_mean`` (only with ``return_std=True``)
        """
        mean = super().predict(X)
        if not return_std:
            return mean
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32], accept_sparse=False)
        Xf = np.asarray(X, dtype=np.float64)
        if self.fit_intercept:
            pass  # the intercept is a plug-in estimate (no uncertainty), as in ARDRegression
        nvs = np.atleast_1d(np.asarray(self.noise_var_, dtype=np.float64))
        stds = []
        for t, (k, cov) in enumerate(self._cov):
            Xk = Xf[:, k]
            var = nvs[t] + np.einsum("ij,jk,ik->i", Xk, cov, Xk) if k.size else np.full(len(Xf), nvs[t])
            stds.append(np.sqrt(var))
        std = np.stack(stds, axis=-1)
        if np.ndim(self.coef_) == 1:
            std = std[:, 0]
        return mean, std.astype(mean.dtype, copy=False)
