r"""Shared machinery of the scikit-learn estimators built on sparserec solvers.

:class:`BatchedLinearRegressor` validates the data, centres it for the intercept, solves every
target of a multi-target ``y`` as **one batch** (one solver call; the solver sees ``y`` of shape
``(n_targets, n_samples)``) and provides ``predict``/``score``.  A subclass implements only
:meth:`BatchedLinearRegressor._solve`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as e:  # pragma: no cover - depends on environment
    raise ImportError("sparserec.estimators needs scikit-learn: pip install 'sparserec[sklearn]'") from e

__all__ = ["BatchedLinearRegressor"]


class BatchedLinearRegressor(MultiOutputMixin, RegressorMixin, BaseEstimator):
    r"""Base class: linear model :math:`\hat y = X w + b` fitted by a batched sparserec solver.

    Subclasses define their hyper-parameters in ``__init__`` (stored unchanged, as scikit-learn
    requires), must have a ``fit_intercept`` parameter, and implement
    ``_solve(X, Y) -> (coef, n_iter, result)`` where ``X`` is ``(n_samples, n_features)``
    (centred when ``fit_intercept``), ``Y`` is ``(n_targets, n_samples)`` and ``coef`` is
    ``(n_targets, n_features)``.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    n_iter_ : int or ndarray of shape (n_targets,)
    result_ : SolverResult
        The solver's full result for the batch of targets.
    n_features_in_ : int
    feature_names_in_ : ndarray of str (when ``X`` has feature names)

    Notes
    -----
    With ``fit_intercept=True`` the columns of ``X`` and ``y`` are centred, the solver fits the
    centred problem and :math:`b = \bar y - \bar x^T w`, as scikit-learn's linear models do.
    """

    fit_intercept: bool

    # ------------------------------------------------------------------ hooks
    def _solve(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, Any, Any]:  # pragma: no cover
        raise NotImplementedError

    def _check_params(self, n_samples: int, n_features: int) -> None:
        """Validate hyper-parameters at fit time (override; raise ValueError)."""

    # ------------------------------------------------------------------ fit / predict
    def fit(self, X: Any, y: Any) -> BatchedLinearRegressor:
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            All targets are solved at once, as one batch.

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             dtype=[np.float64, np.float32], accept_sparse=False)
        y = np.asarray(y, dtype=X.dtype)
        n_samples, n_features = X.shape
        self._check_params(n_samples, n_features)
        single = y.ndim == 1
        Y = y[:, None] if single else y
        if self.fit_intercept:
            x_off = X.mean(axis=0)
            y_off = Y.mean(axis=0)
            Xc = X - x_off
            Yc = Y - y_off
        else:
            x_off = np.zeros(n_features, dtype=X.dtype)
            y_off = np.zeros(Y.shape[1], dtype=X.dtype)
            Xc, Yc = X, Y
        coef, n_iter, result = self._solve(np.ascontiguousarray(Xc), np.ascontiguousarray(Yc.T))
        coef = np.asarray(coef, dtype=X.dtype).reshape(Y.shape[1], n_features)
        intercept = y_off - coef @ x_off
        n_iter = np.asarray(n_iter).reshape(-1)
        if single:
            self.coef_ = coef[0]
            self.intercept_ = float(intercept[0]) if self.fit_intercept else 0.0
            self.n_iter_ = int(n_iter[0])
        else:
            self.coef_ = coef
            self.intercept_ = intercept if self.fit_intercept else np.zeros(Y.shape[1], dtype=X.dtype)
            self.n_iter_ = n_iter.astype(np.int64)
        self.result_ = result
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predict with the fitted linear model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32], accept_sparse=False)
        return X @ self.coef_.T + self.intercept_
