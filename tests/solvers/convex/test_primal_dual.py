"""Condat–Vũ: starlet-ℓ1 + positivity against CVXPY, TV, batching, backends, step rule."""

from __future__ import annotations

import numpy as np
import pytest

from sparserec import prox as P
from sparserec.operators import FFTConvolve, Gradient, Identity, Matrix, Starlet
from sparserec.solvers.convex import condat_vu
from tests.conftest import HAS_TORCH, convert

cvx = pytest.importorskip("sparserec.solvers.convex.cvx")
pytest.importorskip("cvxpy")


def _deconv_problem(n=10, seed=0):
    rng = np.random.default_rng(seed)
    g = np.exp(-0.5 * (np.arange(-2, 3) / 1.0) ** 2)
    psf = np.outer(g, g)
    psf /= psf.sum()
    A = FFTConvolve(psf, (n, n), mode="same")
    x = np.zeros((n, n))
    x[rng.integers(0, n, 4), rng.integers(0, n, 4)] = rng.uniform(1, 3, 4)
    x[3:6, 3:7] += 0.5
    y = A @ x + 0.01 * rng.standard_normal((n, n))
    return A, x, y


def test_starlet_positivity_matches_cvxpy():
    A, _, y = _deconv_problem()
    W = Starlet((10, 10), n_scales=2)
    weights = np.array([0.02, 0.01, 0.0]).reshape(3, 1, 1) * np.ones((3, 10, 10))  # coarse free
    res = condat_vu(A, y, W, 1.0, weights=weights, positivity=True, tol=1e-10, max_iter=50000)
    assert res.converged.all() and res.x.min() >= 0
    ref = cvx.analysis_l1(np.asarray(A.todense()), y.reshape(-1), np.asarray(W.todense()),
                          weights.reshape(-1), positivity=True)
    f = float(res.extras["objective"])
    assert abs(f - ref.value) <= 1e-6 * ref.value
    # KKT (via the dual variable): |u| <= Lambda and x >= 0 with complementary slackness
    u = res.extras["dual"]
    assert np.all(np.abs(u) <= weights + 1e-12)
    g = A.H @ (A @ res.x - y) + W.H @ u
    assert np.all(g > -1e-5)
    assert np.all(np.abs(g[res.x > 1e-6]) < 1e-4)


def test_isotropic_tv_with_identity_equals_prox_tv():
    rng = np.random.default_rng(1)
    y = rng.standard_normal((2, 8, 8))
    lam = np.array([0.1, 0.3])
    res = condat_vu(Identity((8, 8)), y, Gradient((8, 8)), lam, penalty=P.GroupL21(axis=-3),
                    tol=1e-8, max_iter=5000)
    assert res.converged.all()
    ref = P.prox_tv(y, lam.reshape(2, 1, 1), ndim=2, n_iter=3000, tol=1e-11)
    np.testing.assert_allclose(res.x, ref, atol=1e-5)


def test_batched_per_problem_lam_equals_separate():
    A, _, y0 = _deconv_problem(seed=2)
    W = Starlet((10, 10), n_scales=2)
    Y = np.stack([y0, 0.5 * y0, y0[::-1]])
    lam = np.array([0.005, 0.02, 0.05])
    res = condat_vu(A, Y, W, lam, positivity=True, tol=1e-5, max_iter=3000)
    for i in range(3):
        r1 = condat_vu(A, Y[i], W, float(lam[i]), positivity=True, tol=1e-5, max_iter=3000)
        np.testing.assert_allclose(res.x[i], r1.x, atol=1e-10)
        assert res.n_iter[i] == r1.n_iter


@pytest.mark.skipif(not HAS_TORCH, reason="torch missing")
def test_numpy_torch_parity():
    A, _, y = _deconv_problem(seed=3)
    W = Starlet((10, 10), n_scales=2)
    rn = condat_vu(A, y, W, 0.05, positivity=True, tol=1e-6, max_iter=2000)
    At = A.to(backend="torch")
    Wt = W.to(backend="torch")
    rt = condat_vu(At, convert(y, "torch-cpu"), Wt, 0.05, positivity=True, tol=1e-6, max_iter=2000)
    assert rn.converged.all() and rt.n_iter == rn.n_iter
    np.testing.assert_allclose(rt.x.numpy(), rn.x, atol=1e-8)


def test_step_rule_and_bad_input():
    A, _, y = _deconv_problem()
    W = Starlet((10, 10), n_scales=2)
    L = A.opnorm() ** 2
    nW2 = W.opnorm() ** 2
    with pytest.raises(ValueError, match="tau"):
        condat_vu(A, y, W, 0.1, tau=1.0 / L, sigma=1.0 / nW2)
    ok = condat_vu(A, y, W, 0.1, tau=0.5 / L, sigma=1.0 / nW2, tol=1e-6, max_iter=5000)
    assert np.isclose(ok.extras["tau"], 0.5 / L)
    with pytest.raises(ValueError, match="lam"):
        condat_vu(A, y, W, -1.0)
    with pytest.raises(ValueError, match="in_shape"):
        condat_vu(A, y, Starlet((8, 8), n_scales=2), 0.1)
    with pytest.raises(TypeError, match="real"):
        condat_vu(Matrix(np.eye(4) + 0j), np.ones(4) + 1j, Gradient((4,)), 0.1, positivity=True)
    bad = y.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        condat_vu(A, bad, W, 0.1)
