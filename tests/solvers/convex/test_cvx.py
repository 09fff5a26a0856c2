"""CVXPY reference formulations: closed forms, feasibility, lazy import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

cp = pytest.importorskip("cvxpy")
from sparserec.solvers.convex import cvx  # noqa: E402

RNG = np.random.default_rng(0)


def test_lasso_orthogonal_closed_form():
    Q, _ = np.linalg.qr(RNG.standard_normal((12, 12)))
    y = RNG.standard_normal(12)
    res = cvx.lasso(Q, y, 0.3)
    z = Q.T @ y
    np.testing.assert_allclose(res.x, np.sign(z) * np.maximum(np.abs(z) - 0.3, 0), atol=1e-6)
    assert res.status.startswith("optimal")


def test_bpdn_and_basis_pursuit():
    A = RNG.standard_normal((15, 40))
    x = np.zeros(40)
    x[[2, 9, 30]] = [1.0, -2.0, 1.5]
    y = A @ x
    bp = cvx.bpdn(A, y, 0.0)
    np.testing.assert_allclose(bp.x, x, atol=1e-5)
    dn = cvx.bpdn(A, y + 0.01 * RNG.standard_normal(15), 0.1)
    assert np.linalg.norm(A @ dn.x - y) <= 0.1 + 0.2
    assert dn.value <= np.abs(x).sum() + 1e-6 + 0.5


def test_group_lasso_single_group_closed_form():
    # A = I, one group: group soft thresholding
    y = RNG.standard_normal(5)
    res = cvx.group_lasso(np.eye(5), y, 0.5, np.zeros(5, dtype=int))
    np.testing.assert_allclose(res.x, y * max(1 - 0.5 / np.linalg.norm(y), 0), atol=1e-6)


def test_nnls_and_simplex_ls():
    from scipy.optimize import nnls

    A = RNG.standard_normal((20, 6))
    y = RNG.standard_normal(20)
    res = cvx.nnls(A, y)
    np.testing.assert_allclose(res.x, nnls(A, y)[0], atol=1e-5)
    s = cvx.simplex_ls(A, y)
    assert abs(s.x.sum() - 1) < 1e-6 and s.x.min() > -1e-7
    s2 = cvx.simplex_ls(A, y, nonneg=False)
    assert abs(s2.x.sum() - 1) < 1e-6


def test_l21_loss_regression_robust_to_outlier_signal():
    A = RNG.standard_normal((30, 4))
    X = RNG.standard_normal((6, 4))
    Y = X @ A.T
    Y[0] += 50 * RNG.standard_normal(30)  # one corrupted signal
    res = cvx.l21_loss_regression(A, Y, 0.0)
    np.testing.assert_allclose(res.x[1:], X[1:], atol=1e-5)
    assert res.x.shape == X.shape


def test_pcp_small():
    U = RNG.standard_normal((20, 2))
    L = U @ RNG.standard_normal((2, 20))
    S = np.zeros((20, 20))
    idx = RNG.choice(400, 12, replace=False)
    S.flat[idx] = 10 * RNG.standard_normal(12)
    res = cvx.pcp(L + S)
    assert np.linalg.norm(res.x - L) / np.linalg.norm(L) < 1e-4
    np.testing.assert_allclose(res.extras["S"], S, atol=1e-3)


def test_accepts_operators_and_analysis():
    from sparserec.operators import Gradient, Matrix

    A = RNG.standard_normal((10, 8))
    y = RNG.standard_normal(10)
    r1 = cvx.lasso(Matrix(A), y, 0.1)
    r2 = cvx.lasso(A, y, 0.1)
    np.testing.assert_allclose(r1.x, r2.x, atol=1e-7)
    ra = cvx.analysis_l1(A, y, Gradient((8,)), 0.2)
    assert ra.value <= 0.5 * np.linalg.norm(y) ** 2 + 1e-9


def test_cvxpy_is_imported_lazily():
    code = ("import sys, sparserec.solvers.convex as c; "
            "print('cvxpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
