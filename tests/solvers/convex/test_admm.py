"""ADMM: SUnSAL/FCLS/NNLS/Lasso against CVXPY, CG path, analysis W, batching, backends."""

from __future__ import annotations

import numpy as np
import pytest

from sparserec.operators import Gradient, Matrix
from sparserec.solvers import ConvergenceWarning
from sparserec.solvers.convex import admm, fista
from tests.conftest import HAS_TORCH, convert

cvx = pytest.importorskip("sparserec.solvers.convex.cvx")
pytest.importorskip("cvxpy")


def _unmixing(n_pix=8, bands=40, p=6, seed=0):
    rng = np.random.default_rng(seed)
    E = np.abs(rng.standard_normal((bands, p))) + 0.1
    ab = rng.dirichlet(np.ones(p) * 0.5, size=n_pix)
    Y = ab @ E.T + 0.01 * rng.standard_normal((n_pix, bands))
    return E, ab, Y


def test_sunsal_matches_cvxpy_per_pixel():
    E, _, Y = _unmixing()
    lam = 0.01
    res = admm(E, Y, "l1", lam, positivity=True, sum_to=1.0, tol=1e-9, max_iter=20000)
    assert res.converged.all()
    for i in range(Y.shape[0]):
        ref = cvx.simplex_ls(E, Y[i], lam=lam)
        xi = res.x[i]
        f = 0.5 * np.linalg.norm(E @ xi - Y[i]) ** 2 + lam * np.abs(xi).sum()
        assert abs(f - ref.value) <= 1e-6 * abs(ref.value) + 1e-9
        assert xi.min() >= 0 and abs(xi.sum() - 1) < 1e-6


def test_fcls_and_nnls():
    E, ab, Y = _unmixing(seed=1)
    from scipy.optimize import nnls

    r = admm(E, Y, "zero", positivity=True, tol=1e-10, max_iter=20000)
    for i in range(3):
        ref = cvx.nnls(E, Y[i])
        f = 0.5 * np.linalg.norm(E @ r.x[i] - Y[i]) ** 2
        assert f <= ref.value * (1 + 1e-6)  # CVXPY (interior point) is the less accurate one here
        xs, rn = nnls(E, Y[i])
        assert abs(f - 0.5 * rn**2) <= 1e-6 * 0.5 * rn**2
        np.testing.assert_allclose(r.x[i], xs, atol=1e-6)


@pytest.mark.parametrize("shape", [(60, 20), (20, 60)])
@pytest.mark.parametrize("solver", ["direct", "cg"])
def test_lasso_matches_cvxpy(shape, solver):
    rng = np.random.default_rng(2)
    A = rng.standard_normal(shape) / np.sqrt(shape[0])
    y = A @ (rng.standard_normal(shape[1]) * (rng.uniform(size=shape[1]) < 0.2)) \
        + 0.01 * rng.standard_normal(shape[0])
    lam = 0.05
    ref = cvx.lasso(A, y, lam)
    res = admm(Matrix(A), y, "l1", lam, solver=solver, rho=0.1, tol=1e-9, max_iter=20000,
               cg_tol=1e-10)
    f = 0.5 * np.linalg.norm(A @ res.x - y) ** 2 + lam * np.abs(res.x).sum()
    assert abs(f - ref.value) <= 1e-6 * ref.value


def test_residual_balancing_same_answer_and_rho_changes():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((30, 50)) / 5
    y = rng.standard_normal((2, 30))
    ref = [cvx.lasso(A, y[i], 0.1).value for i in range(2)]
    res = admm(A, y, "l1", 0.1, rho=100.0, residual_balancing=True, tol=1e-10, max_iter=20000)
    vals = 0.5 * np.linalg.norm(res.x @ A.T - y, axis=1) ** 2 + 0.1 * np.abs(res.x).sum(1)
    np.testing.assert_allclose(vals, ref, rtol=1e-6)
    assert np.all(res.extras["rho"] < 100.0)


def test_analysis_tv_matches_cvxpy():
    import cvxpy as cp

    rng = np.random.default_rng(4)
    n = 30
    x = np.repeat([0.0, 2.0, 1.0], 10)
    A = rng.standard_normal((25, n)) / 5
    y = A @ x + 0.05 * rng.standard_normal(25)
    G = Gradient((n,))
    lam = 0.2
    res = admm(Matrix(A), y, "l1", lam, W=G, tol=1e-8, max_iter=20000, cg_tol=1e-10)
    v = cp.Variable(n)
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(A @ v - y) + lam * cp.norm1(cp.diff(v))))
    prob.solve()
    f = float(res.extras["objective"])
    assert abs(f - prob.value) <= 1e-6 * prob.value


def test_batched_per_problem_lam_equals_separate_and_matches_fista():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((40, 15))
    Y = rng.standard_normal((3, 40))
    lam = np.array([0.1, 1.0, 5.0])
    res = admm(A, Y, "l1", lam, tol=1e-11, max_iter=20000)
    rf = fista(Matrix(A), Y, "l1", lam, tol=1e-12, max_iter=50000)
    np.testing.assert_allclose(res.x, rf.x, atol=1e-6)
    for i in range(3):
        r1 = admm(A, Y[i], "l1", float(lam[i]), tol=1e-11, max_iter=20000)
        np.testing.assert_allclose(res.x[i], r1.x, atol=1e-9)
        assert r1.n_iter == res.n_iter[i]


@pytest.mark.skipif(not HAS_TORCH, reason="torch missing")
def test_numpy_torch_parity():
    E, _, Y = _unmixing(seed=6)
    rn = admm(E, Y, "l1", 0.01, positivity=True, sum_to=1.0, tol=1e-9, max_iter=5000)
    rt = admm(Matrix(convert(E, "torch-cpu")), convert(Y, "torch-cpu"), "l1", 0.01, positivity=True,
              sum_to=1.0, tol=1e-9, max_iter=5000)
    np.testing.assert_allclose(rt.x.numpy(), rn.x, atol=1e-7)


def test_bad_input():
    E, _, Y = _unmixing()
    with pytest.raises(ValueError, match="lam"):
        admm(E, Y, "l1", -0.1)
    with pytest.raises(ValueError, match="rho"):
        admm(E, Y, "l1", 0.1, rho=0.0)
    with pytest.raises(ValueError, match="shape"):
        admm(E, Y[:, :-1], "l1", 0.1)
    bad = Y.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN"):
        admm(E, bad, "l1", 0.1)
    with pytest.raises(TypeError, match="real"):
        admm(E + 0j, Y + 1j, "l1", 0.1, positivity=True)
    with pytest.raises(ValueError, match="W = identity"):
        admm(E, Y, "l1", 0.1, W=Gradient((6,)), positivity=True)
    with pytest.raises(ValueError, match="solver"):
        admm(E, Y, "l1", 0.1, solver="qr")
    with pytest.warns(ConvergenceWarning):
        admm(E, Y, "l1", 0.1, max_iter=2)
