"""Tests of the scikit-learn compatible LassoRegressor and OMPRegressor."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.linear_model import Lasso, OrthogonalMatchingPursuit  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from sparserec.estimators import LassoRegressor, OMPRegressor  # noqa: E402


def _data(n=60, p=30, targets=3, seed=0, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    W = np.zeros((p, targets))
    W[:4] = rng.standard_normal((4, targets))
    Y = X @ W + noise * rng.standard_normal((n, targets)) + 2.0
    return X, Y


@parametrize_with_checks([LassoRegressor(), OMPRegressor(), OMPRegressor(tol=1.0),
                          LassoRegressor(fit_intercept=False, positive=True)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_lasso_matches_sklearn(fit_intercept):
    X, Y = _data()
    ours = LassoRegressor(alpha=0.05, fit_intercept=fit_intercept, tol=1e-12, max_iter=100000).fit(X, Y)
    ref = Lasso(alpha=0.05, fit_intercept=fit_intercept, tol=1e-12, max_iter=100000).fit(X, Y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-8)
    # multi-target y is one batched solve
    assert ours.result_.x.shape == (3, 30) and ours.n_iter_.shape == (3,)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), atol=1e-7)


def test_lasso_single_target_and_positive():
    X, Y = _data(targets=1)
    y = Y[:, 0]
    ours = LassoRegressor(alpha=0.1, positive=True, tol=1e-12, max_iter=100000).fit(X, y)
    ref = Lasso(alpha=0.1, positive=True, tol=1e-12, max_iter=100000).fit(X, y)
    assert ours.coef_.shape == (30,) and isinstance(ours.intercept_, float)
    assert isinstance(ours.n_iter_, int)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-8)
    assert ours.score(X, y) == pytest.approx(ref.score(X, y), abs=1e-8)


@pytest.mark.parametrize("kw", [{"n_nonzero_coefs": 4}, {"tol": 0.5}, {}])
def test_omp_matches_sklearn(kw):
    X, Y = _data()
    ours = OMPRegressor(**kw).fit(X, Y)
    ref = OrthogonalMatchingPursuit(**kw).fit(X, Y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-10)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-10)
    np.testing.assert_array_equal(ours.n_iter_, ref.n_iter_)
    assert ours.result_.x.shape == (3, 30)


def test_omp_no_intercept_single_target():
    X, Y = _data(targets=1)
    ours = OMPRegressor(n_nonzero_coefs=3, fit_intercept=False).fit(X, Y[:, 0] - 2.0)
    ref = OrthogonalMatchingPursuit(n_nonzero_coefs=3, fit_intercept=False).fit(X, Y[:, 0] - 2.0)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-10)
    assert ours.intercept_ == 0.0 and ours.n_iter_ == 3


def test_bad_hyperparameters():
    X, Y = _data()
    for est in (LassoRegressor(alpha=-1.0), LassoRegressor(max_iter=0), OMPRegressor(n_nonzero_coefs=0),
                OMPRegressor(n_nonzero_coefs=31), OMPRegressor(tol=-1.0)):
        with pytest.raises(ValueError):
            est.fit(X, Y)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError):
        OMPRegressor().fit(Xn, Y)


def test_import_is_lazy():
    code = ("import sys, sparserec, sparserec.estimators; "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_lasso_default_is_the_exact_homotopy_with_sklearn_gap_rule():
    X, Y = _data(n=40, p=120, targets=4, seed=3)
    ours = LassoRegressor(alpha=0.02).fit(X, Y)  # nearly saturated: ~40 non-zeros for 40 samples
    ref = Lasso(alpha=0.02, max_iter=100000).fit(X, Y)
    assert ours.result_.extras["homotopy_steps"] > 0
    n = X.shape[0]
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)

    def obj(W):
        R = Yc - Xc @ W.T
        return 0.5 / n * np.sum(R * R, axis=0) + 0.02 * np.abs(W).sum(1)

    # at least as low as scikit-learn's objective at its own (same) gap tolerance
    assert np.all(obj(ours.coef_) <= obj(ref.coef_) * (1 + 1e-6))
    assert LassoRegressor(alpha=0.02, n_jobs=2).fit(X, Y).coef_ == pytest.approx(ours.coef_, abs=1e-9)
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError):
            LassoRegressor(n_jobs=bad).fit(X, Y)
