"""Tests of SBLRegressor: scikit-learn API checks, ARD comparison, uncertainty outputs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.linear_model import ARDRegression  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from sparserec.estimators.bayes import SBLRegressor  # noqa: E402


@parametrize_with_checks([SBLRegressor()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _data(seed=0, n=80, p=40, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    w[[3, 11, 27]] = [2.0, -1.5, 1.0]
    return X, X @ w + 0.5 + noise * rng.standard_normal(n), w


def test_matches_ard_and_full_length_std():
    X, y, w = _data()
    m = SBLRegressor(update="mackay", tol=1e-8, max_iter=2000).fit(X, y)
    ard = ARDRegression(max_iter=1000, tol=1e-8).fit(X, y)
    big = lambda v: set(np.flatnonzero(np.abs(v) > 0.1))  # noqa: E731
    assert big(m.coef_) == big(ard.coef_) == {3, 11, 27}
    np.testing.assert_allclose(m.coef_, ard.coef_, atol=0.05)
    assert abs(m.intercept_ - ard.intercept_) < 0.05
    assert m.coef_std_.shape == (40,) and m.gamma_.shape == (40,)
    assert np.all(m.coef_std_[~m.support_] == 0) and np.all(m.coef_std_[m.support_] > 0)
    mu, sd = m.predict(X[:5], return_std=True)
    mu_a, sd_a = ard.predict(X[:5], return_std=True)
    np.testing.assert_allclose(mu, mu_a, atol=0.03 * np.abs(mu_a).max())
    np.testing.assert_allclose(sd, sd_a, rtol=0.2)


def test_multi_target_is_one_batch_and_scale_equivariant():
    X, y, w = _data(1)
    Y = np.stack([y, 1e4 * y, -y], axis=1)
    m = SBLRegressor().fit(X, Y)
    assert m.coef_.shape == (3, 40) and m.coef_std_.shape == (3, 40) and m.noise_var_.shape == (3,)
    assert m.result_.x.shape == (3, 40)
    np.testing.assert_allclose(m.coef_[1], 1e4 * m.coef_[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(m.coef_[2], -m.coef_[0], atol=1e-8)
    single = SBLRegressor().fit(X, y)
    np.testing.assert_allclose(m.coef_[0], single.coef_, atol=1e-8)
    mean, std = m.predict(X[:4], return_std=True)
    assert mean.shape == std.shape == (4, 3)


def test_bad_params():
    X, y, _ = _data()
    for kw in ({"update": "vb"}, {"prune": -1.0}, {"max_iter": 0}, {"noise_var": -1.0}):
        with pytest.raises(ValueError):
            SBLRegressor(**kw).fit(X, y)
