r"""scikit-learn estimator for sparse linear regression under local differential privacy."""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as e:  # pragma: no cover - depends on environment
    raise ImportError("sparserec.estimators needs scikit-learn: pip install 'sparserec[sklearn]'") from e

from ..solvers.privacy import PrivacyRecord, ldp_iht, nldp_slr

__all__ = ["LocalDPSparseRegression"]


class LocalDPSparseRegression(RegressorMixin, BaseEstimator):
    r"""Sparse linear regression where every sample (user) is protected by local DP.

    Each row of ``X`` (with its ``y``) is one user, who randomises their own data before the
    estimator sees it; the fitted model is :math:`(\varepsilon,\delta)`-LDP for every user.

    Parameters
    ----------
    epsilon : float, default 1.0
        Per-user privacy budget :math:`\varepsilon > 0`.
    delta : float, default 1e-5
        Per-user :math:`\delta \in (0, 1)` (unused by ``mechanism="laplace"``).
    k : int, optional
        Sparsity of the estimate.  Required for ``algorithm="iht"``; for ``"nldp"`` it selects
        top-:math:`k` sparsification (default: soft thresholding).
    algorithm : {"nldp", "iht"}, default "nldp"
        ``"nldp"``: non-interactive closed-form estimator (:func:`~sparserec.solvers.privacy.nldp_slr`);
        ``"iht"``: sequentially interactive LDP-IHT (:func:`~sparserec.solvers.privacy.ldp_iht`).
    tau_x, tau_y : float, default 1.0
        Shrinkage (clipping) levels of the features and the response, applied before the noise.
    calibration : {"auto", "classical", "analytic"}, default "auto"
    split : float, default 0.5
        ``"nldp"`` only: fraction of the budget spent on the covariance release.
    mechanism : {"gaussian", "laplace"}, default "gaussian"
    sparsification : {"soft", "topk", "hard", "none"}, optional
        ``"nldp"`` only: the solver's ``sparsify`` option (renamed here because scikit-learn
        reserves ``sparsify`` for a method of linear models).
    threshold : float, optional
        ``"nldp"`` only: threshold of ``"hard"``/``"soft"``.
    eig_floor : float, optional
        ``"nldp"`` only: eigenvalue floor (default :math:`0.5\,\mathrm{tr}(\bar S)/d`).
    n_rounds : int, default 10
        ``"iht"`` only: number of rounds :math:`T`.
    step : float, default 0.5
        ``"iht"`` only.
    radius : float, default 1.0
        ``"iht"`` only: :math:`\ell_1` radius of the iterates.
    simulate : {"per_user", "aggregate"}, default "per_user"
        How the users' noise is drawn (both exact in distribution).
    random_state : int, numpy.random.Generator or None
        Seed of the privacy noise (and of the IHT partition).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
        Always 0.0 (centre the data beforehand; a private intercept would need its own budget).
    result_ : SolverResult
    privacy_ : PrivacyRecord
        Total (epsilon, delta) per user, releases per user, noise scales and sensitivities.
    n_features_in_ : int

    Notes
    -----
    The error of both algorithms scales as :math:`1/(\sqrt n\,\varepsilon)`:
    :math:`\tilde O(d\sqrt k/(\sqrt n\varepsilon))` for ``"nldp"`` (:math:`\sqrt{dk}` with
    ``public_X``), :math:`\tilde O(k\sqrt d/(\sqrt n\varepsilon))` for ``"iht"``.  The methods need
    very many users (:math:`n \gtrsim d^4` for ``"nldp"``); below that the estimate is
    dominated by noise.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.choice([-1.0, 1.0], size=(100000, 5))
    >>> y = X @ np.array([0.6, -0.4, 0, 0, 0]) + 0.1 * rng.standard_normal(100000)
    >>> est = LocalDPSparseRegression(epsilon=8.0, k=2, tau_y=2.0, random_state=0).fit(X, y)
    >>> np.flatnonzero(est.coef_).tolist(), est.privacy_.epsilon
    ([0, 1], 8.0)
    """

    def __init__(self, epsilon: float = 1.0, delta: float = 1e-5, k: int | None = None, *,
                 algorithm: str = "nldp", tau_x: float = 1.0, tau_y: float = 1.0,
                 calibration: str = "auto", split: float = 0.5, mechanism: str = "gaussian",
                 sparsification: str | None = None, threshold: float | None = None,
                 eig_floor: float | None = None, n_rounds: int = 10, step: float = 0.5,
                 radius: float = 1.0, simulate: str = "per_user", random_state: Any = None) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.k = k
        self.algorithm = algorithm
        self.tau_x = tau_x
        self.tau_y = tau_y
        self.calibration = calibration
        self.split = split
        self.mechanism = mechanism
        self.sparsification = sparsification
        self.threshold = threshold
        self.eig_floor = eig_floor
        self.n_rounds = n_rounds
        self.step = step
        self.radius = radius
        self.simulate = simulate
        self.random_state = random_state

    def fit(self, X: Any, y: Any, public_X: Any = None) -> LocalDPSparseRegression:
        """Fit on users' data (each row of ``X`` is one user, queried once).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        public_X : array-like of shape (n_public, n_features), optional
            Public unlabelled features (``algorithm="nldp"`` only).

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        rs = self.random_state
        if isinstance(rs, np.random.RandomState):
            raise TypeError("random_state must be an int, a numpy.random.Generator or None")
        if self.algorithm == "nldp":
            if public_X is not None:
                public_X = np.asarray(public_X, dtype=np.float64)
            res = nldp_slr(X, y, self.epsilon, self.delta, k=self.k, tau_x=self.tau_x, tau_y=self.tau_y,
                           calibration=self.calibration, split=self.split, mechanism=self.mechanism,
                           sparsify=self.sparsification, threshold=self.threshold, eig_floor=self.eig_floor,
                           public_X=public_X, simulate=self.simulate, rng=rs)
        elif self.algorithm == "iht":
            if public_X is not None:
                raise ValueError("public_X is only used by algorithm='nldp'")
            if self.k is None:
                raise ValueError("algorithm='iht' needs the sparsity k")
            res = ldp_iht(X, y, self.epsilon, self.delta, k=self.k, tau_x=self.tau_x, tau_y=self.tau_y,
                          n_rounds=self.n_rounds, step=self.step, radius=self.radius,
                          calibration=self.calibration, mechanism=self.mechanism,
                          simulate=self.simulate, rng=rs)
        else:
            raise ValueError(f"algorithm must be 'nldp' or 'iht', got {self.algorithm!r}")
        self.result_ = res
        self.coef_ = np.asarray(res.x, dtype=np.float64)
        self.intercept_ = 0.0
        self.privacy_ = PrivacyRecord.from_dict(res.extras["privacy"])
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predict ``X @ coef_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_
