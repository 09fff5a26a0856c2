"""ISTA/FISTA: CVXPY oracle, KKT, closed forms, batching, backends, restart, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sparserec import prox as P
from sparserec.operators import DWT, Matrix
from sparserec.solvers import ConvergenceWarning
from sparserec.solvers.convex import fista, ista
from tests.conftest import HAS_TORCH, convert

cvx = pytest.importorskip("sparserec.solvers.convex.cvx")
pytest.importorskip("cvxpy")


def _problem(m=30, n=60, k=5, seed=0, complex_=False):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n)) / np.sqrt(m)
    x = np.zeros(n)
    x[rng.choice(n, k, replace=False)] = rng.standard_normal(k) * 3
    if complex_:
        A = A + 1j * rng.standard_normal((m, n)) / np.sqrt(m)
        x = x.astype(complex)
        x[x != 0] *= np.exp(1j * rng.uniform(0, 2 * np.pi, k))
    y = A @ x + 0.01 * rng.standard_normal(m)
    return A, x, y


def _obj(A, x, y, lam):
    return 0.5 * np.linalg.norm(A @ x - y) ** 2 + lam * np.abs(x).sum()


def _kkt_l1(A, x, y, lam, tol):
    g = A.conj().T @ (y - A @ x)  # -grad
    on = np.abs(x) > 1e-8
    assert np.all(np.abs(g[~on]) <= lam * (1 + tol) + tol)
    np.testing.assert_allclose(g[on], lam * x[on] / np.abs(x[on]), atol=tol * 10 * max(1, lam))


@pytest.mark.parametrize("solver", [fista, ista])
@pytest.mark.parametrize("complex_", [False, True])
def test_lasso_matches_cvxpy(solver, complex_):
    A, _, y = _problem(complex_=complex_)
    lam = 0.05
    ref = cvx.lasso(A, y, lam)
    res = solver(Matrix(A), y, "l1", lam, tol=1e-10, max_iter=20000)
    assert res.converged.all()
    f = _obj(A, res.x, y, lam)
    assert abs(f - ref.value) <= 1e-6 * abs(ref.value)
    _kkt_l1(A, res.x, y, lam, 1e-5)


def test_positivity_and_weighted_matches_cvxpy():
    A, _, y = _problem(seed=3)
    w = np.random.default_rng(1).uniform(0.5, 2, A.shape[1])
    ref = cvx.lasso(A, y, 0.05, positivity=True, weights=w)
    res = fista(Matrix(A), y, P.L1(weights=w), 0.05, positivity=True, tol=1e-11, max_iter=20000)
    assert res.x.min() >= 0
    f = 0.5 * np.linalg.norm(A @ res.x - y) ** 2 + 0.05 * np.sum(w * np.abs(res.x))
    assert abs(f - ref.value) <= 1e-6 * abs(ref.value)


def test_group_lasso_matches_cvxpy():
    A, _, y = _problem(seed=4)
    groups = np.repeat(np.arange(12), 5)
    lam = 0.1
    ref = cvx.group_lasso(A, y, lam, groups)
    res = fista(Matrix(A), y, P.GroupL21(groups=groups), lam, tol=1e-11, max_iter=20000)
    assert abs(float(res.extras["objective"]) - ref.value) <= 1e-6 * ref.value
    f = 0.5 * np.linalg.norm(A @ res.x - y) ** 2 + lam * sum(
        np.linalg.norm(res.x[groups == g]) for g in range(12))
    assert abs(f - ref.value) <= 1e-6 * ref.value


def test_backtracking_matches_constant_step():
    A, _, y = _problem(seed=5)
    ref = cvx.lasso(A, y, 0.05)
    res = fista(Matrix(A), y, "l1", 0.05, step=10.0, backtracking=True, tol=1e-10, max_iter=20000)
    assert abs(float(res.extras["objective"]) - ref.value) <= 1e-6 * ref.value
    L = np.linalg.norm(A, 2) ** 2
    assert res.extras["lipschitz_estimate"] >= 0.5 * L  # grew from 0.1 by doubling


@pytest.mark.parametrize("restart", [None, "adaptive", "function"])
def test_restart_variants_converge(restart):
    A, _, y = _problem(seed=6)
    ref = cvx.lasso(A, y, 0.02)
    res = fista(Matrix(A), y, "l1", 0.02, restart=restart, tol=1e-10, max_iter=20000)
    assert abs(float(res.extras["objective"]) - ref.value) <= 1e-6 * ref.value


def test_orthogonal_operator_one_step_exact():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((40, 40)))
    y = rng.standard_normal((3, 40))
    lam = np.array([0.1, 0.5, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = fista(Matrix(Q), y, "l1", lam, step=1.0, max_iter=1)
    np.testing.assert_allclose(res.x, P.prox_l1(y @ Q, lam[:, None]), atol=1e-12)
    # a DWT (orthogonal, closed-form norm 1): 1/L = 1, the fixed point is reached at once
    W = DWT((16, 16), "haar", levels=2)
    img = rng.standard_normal((2, 16, 16))
    res = fista(W.H, img, "l1", 0.3, tol=1e-12)
    np.testing.assert_allclose(res.x, P.prox_l1(W @ img, 0.3), atol=1e-10)
    assert res.n_iter.max() <= 2


def test_analysis_orthogonal_equals_synthesis():
    rng = np.random.default_rng(2)
    W = DWT((8, 8), "haar", levels=2)
    M = rng.standard_normal((40, 64)) / 6
    A = Matrix(M).reshape(in_shape=(8, 8))
    y = rng.standard_normal(40)
    ra = fista(A, y, "l1", 0.1, analysis=W, tol=1e-11, max_iter=20000)
    rs = fista(A @ W.H, y, "l1", 0.1, tol=1e-11, max_iter=20000)
    np.testing.assert_allclose(ra.x, W.H @ rs.x, atol=1e-6)
    Wd = np.asarray(W.todense())
    ref = cvx.analysis_l1(M, y, Wd, 0.1)
    assert abs(float(ra.extras["objective"]) - ref.value) <= 1e-6 * ref.value


def test_batched_per_problem_lam_equals_separate():
    A, _, y0 = _problem(seed=7)
    rng = np.random.default_rng(8)
    Y = np.stack([y0, y0 + 0.1 * rng.standard_normal(y0.shape), 2 * y0, -y0]).reshape(2, 2, -1)
    lam = np.array([[0.01, 0.05], [0.1, 0.3]])
    res = fista(Matrix(A), Y, "l1", lam, tol=1e-10, max_iter=20000)
    assert res.x.shape == (2, 2, A.shape[1]) and res.n_iter.shape == (2, 2)
    for i in range(2):
        for j in range(2):
            r1 = fista(Matrix(A), Y[i, j], "l1", float(lam[i, j]), tol=1e-10, max_iter=20000)
            np.testing.assert_allclose(res.x[i, j], r1.x, atol=1e-7)
            assert res.n_iter[i, j] == r1.n_iter
    # per-problem convergence: different iteration counts
    assert len(np.unique(res.n_iter)) > 1
    assert res.history["objective"].shape[1:] == (2, 2)
    assert res.history["n_nonzero"].shape[1:] == (2, 2)


@pytest.mark.skipif(not HAS_TORCH, reason="torch missing")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numpy_torch_parity(dtype):
    A, _, y = _problem(seed=9)
    A, y = A.astype(dtype), np.stack([y, 0.5 * y]).astype(dtype)
    lam = np.array([0.05, 0.02])
    tol = 1e-5 if dtype == "float32" else 1e-10
    rn = fista(Matrix(A), y, "l1", lam, tol=tol, max_iter=5000)
    rt = fista(Matrix(convert(A, "torch-cpu")), convert(y, "torch-cpu"), "l1", lam, tol=tol, max_iter=5000)
    assert rt.x.dtype == getattr(__import__("torch"), dtype) and rn.x.dtype == np.dtype(dtype)
    atol = 2e-3 if dtype == "float32" else 1e-8
    np.testing.assert_allclose(rt.x.numpy(), rn.x, atol=atol)


@pytest.mark.parametrize("pen", [P.L0(), P.Lp(0.5), P.CEL0(np.ones(60))])
def test_nonconvex_penalties_decrease_objective(pen):
    A, x_true, y = _problem(seed=10, m=40)
    res = fista(Matrix(A), y, pen, 0.02, restart=None, tol=1e-9, max_iter=3000)
    obj = res.history["objective"]
    assert obj[-1] <= obj[0] + 1e-12
    assert np.isfinite(res.x).all()


def test_tv_penalty_denoising_matches_cvxpy():
    import cvxpy as cp

    from sparserec.operators import Identity

    rng = np.random.default_rng(11)
    y = np.repeat([0.0, 1.0, 0.4], 8) + 0.1 * rng.standard_normal(24)
    res = fista(Identity(24), y, P.TotalVariation(ndim=1, n_iter=2000, tol=1e-12), 0.3, tol=1e-12)
    v = cp.Variable(24)
    cp.Problem(cp.Minimize(0.5 * cp.sum_squares(v - y) + 0.3 * cp.norm1(cp.diff(v)))).solve()
    np.testing.assert_allclose(res.x, v.value, atol=1e-5)


def test_bad_input():
    A, _, y = _problem()
    M = Matrix(A)
    L = np.linalg.norm(A, 2) ** 2
    with pytest.raises(ValueError, match="lam"):
        fista(M, y, "l1", -1.0)
    with pytest.raises(ValueError, match="lam"):
        fista(M, np.stack([y, y]), "l1", np.array([0.1, -0.1]))
    with pytest.raises(ValueError, match="broadcast"):
        fista(M, np.stack([y, y]), "l1", np.array([0.1, 0.1, 0.2]))
    bad = y.copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fista(M, bad, "l1", 0.1)
    with pytest.raises(ValueError, match="1/L"):
        fista(M, y, "l1", 0.1, step=1.5 / L)
    with pytest.warns(ConvergenceWarning):
        fista(M, y, "l1", 0.1, step=0.99 / L, max_iter=5)  # fine
    with pytest.warns(ConvergenceWarning):
        ista(M, y, "l1", 0.1, step=1.5 / L, max_iter=5)  # ISTA accepts up to 2/L
    with pytest.raises(ValueError, match="2/L"):
        ista(M, y, "l1", 0.1, step=2.5 / L)
    with pytest.raises(ValueError, match="shape"):
        fista(M, y[:-1], "l1", 0.1)
    with pytest.raises(ValueError, match="p must lie"):
        fista(M, y, "lp:1.5", 0.1)
    with pytest.raises(TypeError, match="real"):
        fista(M, y + 1j, "l1", 0.1, positivity=True)
    with pytest.raises(TypeError, match="real"):
        fista(M, y + 1j, P.NonNegative(), 0.1)
    with pytest.raises(ValueError, match="orthogonal"):
        fista(M, y, "l1", 0.1, analysis=Matrix(np.ones((3, 60))))
    with pytest.raises(ValueError, match="restart"):
        fista(M, y, "l1", 0.1, restart="sometimes")
    with pytest.warns(ConvergenceWarning):
        fista(M, y, "l1", 0.001, max_iter=3)


# ------------------------------------------------------------------------ working-set lasso
@pytest.mark.parametrize("positivity", [False, True])
def test_lasso_working_set_matches_cvxpy(positivity):
    from sparserec.solvers.convex import lasso

    rng = np.random.default_rng(12)
    A = rng.standard_normal((40, 300))
    x = np.zeros(300)
    x[rng.choice(300, 8, replace=False)] = rng.uniform(1, 3, 8)
    Y = np.stack([A @ x + 0.1 * rng.standard_normal(40) for _ in range(3)])
    lam = np.array([1.0, 3.0, 10.0])
    res = lasso(A, Y, lam, tol=1e-10, positivity=positivity)
    assert res.converged.all()
    full = lasso(A, Y, lam, tol=1e-10, positivity=positivity, working_set=False)
    for i in range(3):
        ref = cvx.lasso(A, Y[i], float(lam[i]), positivity=positivity)
        f = _obj(A, res.x[i], Y[i], lam[i])
        assert abs(f - ref.value) <= 1e-6 * ref.value
        assert abs(_obj(A, full.x[i], Y[i], lam[i]) - ref.value) <= 1e-6 * ref.value
        r1 = lasso(A, Y[i], float(lam[i]), tol=1e-10, positivity=positivity)
        assert abs(_obj(A, r1.x, Y[i], lam[i]) - f) <= 1e-7 * f
    assert np.all(res.history["duality_gap"][-1] <= 1e-10 * (Y**2).sum(1))
    if positivity:
        assert res.x.min() >= 0


@pytest.mark.skipif(not HAS_TORCH, reason="torch missing")
def test_lasso_torch_parity():
    from sparserec.solvers.convex import lasso

    rng = np.random.default_rng(13)
    A = rng.standard_normal((30, 120))
    Y = rng.standard_normal((2, 30))
    rn = lasso(A, Y, 2.0, tol=1e-10)
    rt = lasso(convert(A, "torch-cpu"), convert(Y, "torch-cpu"), 2.0, tol=1e-10)
    np.testing.assert_allclose(rt.x.numpy(), rn.x, atol=1e-6)


@pytest.mark.parametrize("backend", ["numpy", "torch-cpu"])
def test_lasso_compaction_and_row_chunks(backend, monkeypatch):
    """Problems of very different difficulty in one batch: converged rows leave the inner loop
    (compaction) and rows are solved in chunks; every row still reaches its own gap and equals
    a single-target solve."""
    if backend == "torch-cpu" and not HAS_TORCH:
        pytest.skip("torch missing")
    import sparserec.solvers.convex.proximal_gradient as pg

    monkeypatch.setattr(pg, "_WS_CHUNK_BYTES", 3 * 64 * 40 * 8)   # 3 rows per chunk
    rng = np.random.default_rng(21)
    A = rng.standard_normal((40, 250))
    x = np.zeros(250)
    x[rng.choice(250, 10, replace=False)] = rng.uniform(1, 3, 10)
    Y = np.stack([A @ x * s + 0.2 * rng.standard_normal(40) for s in (1, 0.01, 3, 1, 0.5, 2, 1.5)])
    lam = np.array([0.5, 50.0, 1.0, 5.0, 0.2, 2.0, 0.1])
    res = pg.lasso(convert(A, backend), convert(Y, backend), convert(lam, backend), tol=1e-10)
    xr = np.asarray(res.x)
    assert bool(np.all(np.asarray(res.converged)))
    for i in range(len(lam)):
        r1 = pg.lasso(A, Y[i], float(lam[i]), tol=1e-10)
        f, f1 = _obj(A, xr[i], Y[i], lam[i]), _obj(A, r1.x, Y[i], lam[i])
        assert abs(f - f1) <= 1e-7 * max(f1, 1e-12)


# ------------------------------------------------------------------------- homotopy lasso
def _saturated_lasso_data(seed=30, m=60, n=600, n_targets=5):
    """make_regression-like data whose Lasso solutions have nearly as many non-zeros as samples."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    W = np.zeros((n_targets, n))
    for i in range(n_targets):
        W[i, rng.choice(n, 15, replace=False)] = rng.uniform(-50, 50, 15)
    Y = W @ A.T + rng.standard_normal((n_targets, m))
    return A, Y


def test_lasso_homotopy_matches_sklearn_kkt_per_problem_lam():
    from sklearn.linear_model import Lasso

    from sparserec.solvers.convex import lasso

    A, Y = _saturated_lasso_data()
    m = A.shape[0]
    lam = np.array([0.5, 1.0, 5.0, 20.0, 200.0]) * m / 60
    res = lasso(A, Y, lam, tol=1e-10, method="homotopy")
    assert res.converged.all()
    assert res.extras["homotopy_steps"] > 0 and res.extras["inner_iterations"] == 0  # exact path
    fi = lasso(A, Y[2:], lam[2:], tol=1e-10, method="fista")  # (slow on the saturated ones)
    for i in range(len(lam)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sk = Lasso(alpha=lam[i] / m, fit_intercept=False, tol=1e-6, max_iter=100000).fit(A, Y[i]).coef_
        f, f_sk = _obj(A, res.x[i], Y[i], lam[i]), _obj(A, sk, Y[i], lam[i])
        assert f <= f_sk * (1 + 1e-6)
        if i >= 2:
            assert abs(_obj(A, fi.x[i - 2], Y[i], lam[i]) - f) <= 1e-6 * f
        _kkt_l1(A, res.x[i], Y[i], lam[i], 1e-7)
    assert np.count_nonzero(res.x[0]) >= 40  # the hard, nearly saturated regime


@pytest.mark.parametrize("positivity", [False, True])
def test_lasso_homotopy_fallback_when_active_set_full(positivity, monkeypatch):
    """Paths that cannot finish (capacity reached) are completed by the working-set FISTA."""
    import sparserec.solvers.convex._lasso_active_set as las
    from sparserec.solvers.convex import lasso

    A, Y = _saturated_lasso_data(seed=31, n_targets=3)
    lam = np.array([2.0, 10.0, 3000.0])
    ref = lasso(A, Y, lam, tol=1e-10, positivity=positivity, method="fista")
    monkeypatch.setattr(las, "_MAX_SLOTS", 6)
    res = lasso(A, Y, lam, tol=1e-10, positivity=positivity, method="homotopy")
    assert res.converged.all() and res.extras["inner_iterations"] > 0
    for i in range(3):
        f, f0 = _obj(A, res.x[i], Y[i], lam[i]), _obj(A, ref.x[i], Y[i], lam[i])
        assert abs(f - f0) <= 1e-6 * f0
    if positivity:
        assert res.x.min() >= 0


def test_lasso_homotopy_positivity_matches_cvxpy():
    from sparserec.solvers.convex import lasso

    A, Y = _saturated_lasso_data(seed=32, m=30, n=120, n_targets=2)
    lam = np.array([5.0, 50.0])
    res = lasso(A, Y, lam, tol=1e-10, positivity=True, method="homotopy")
    assert res.converged.all() and res.x.min() >= 0
    for i in range(2):
        ref = cvx.lasso(A, Y[i], float(lam[i]), positivity=True)
        assert abs(_obj(A, res.x[i], Y[i], lam[i]) - ref.value) <= 1e-6 * ref.value


@pytest.mark.skipif(not HAS_TORCH, reason="torch missing")
def test_lasso_homotopy_torch_and_bad_method():
    from sparserec.solvers.convex import lasso

    A, Y = _saturated_lasso_data(seed=33, m=30, n=120, n_targets=2)
    rn = lasso(A, Y, 3.0, tol=1e-10)
    rt = lasso(convert(A, "torch-cpu"), convert(Y, "torch-cpu"), 3.0, tol=1e-10, method="homotopy")
    assert rt.extras["homotopy_steps"] > 0 and isinstance(rt.x, __import__("torch").Tensor)
    np.testing.assert_allclose(rt.x.numpy(), rn.x, atol=1e-8)
    with pytest.raises(ValueError, match="method"):
        lasso(A, Y, 3.0, method="lars")
    # lam above lambda_max: zero without any step
    big = lasso(A, Y, 10 * np.abs(Y @ A).max())
    assert not big.x.any()


def test_lasso_homotopy_low_precision_compaction_and_threads():
    """The float32 entry test (with exact float64 active-set algebra), the compaction of finished
    rows and the threaded blocks give the float64 path's solution; the result is exact (KKT)."""
    import sparserec.solvers.convex._lasso_active_set as las
    from sparserec.solvers.convex import lasso

    rng = np.random.default_rng(41)
    m, n, B = 80, 4000, 12  # m * n >= 2**18: low precision by default
    A = rng.standard_normal((m, n))
    X0 = np.zeros((B, n))
    for b in range(B):
        X0[b, rng.choice(n, 10 + 4 * b, replace=False)] = rng.standard_normal(10 + 4 * b) * 3
    Y = X0 @ A.T + 0.1 * rng.standard_normal((B, m))
    lam = np.linspace(2.0, 40.0, B)  # different path lengths: rows finish at different steps
    X64, ok64, _ = las.lasso_homotopy(A, Y, lam, lowp=False)
    X32, ok32, _ = las.lasso_homotopy(A, Y, lam)
    assert ok64.all() and ok32.all()
    np.testing.assert_allclose(X32, X64, atol=1e-8 * np.abs(X64).max())
    for b in range(B):
        _kkt_l1(A, X32[b], Y[b], lam[b], 1e-6)
    # the shared Gram matrix of entered features outgrows its bound mid-path: the entering
    # feature's Gram entries then come from the columns, with the same result
    nu_max = int((las._GRAM_BYTES / 8) ** 0.5)
    assert nu_max > 200
    monkey = pytest.MonkeyPatch()
    monkey.setattr(las, "_GRAM_BYTES", 8 * 60 ** 2)
    try:
        Xg, okg, _ = las.lasso_homotopy(A, Y, lam)
    finally:
        monkey.undo()
    assert okg.all() and np.count_nonzero(X32.any(axis=0)) > 60  # the union did overflow
    np.testing.assert_allclose(Xg, X64, atol=1e-8 * np.abs(X64).max())
    r1 = lasso(A, Y, lam, tol=1e-10, n_jobs=1)
    r3 = lasso(A, Y, lam, tol=1e-10, n_jobs=3)
    np.testing.assert_allclose(r1.x, r3.x, atol=1e-9 * np.abs(r1.x).max())  # blocks: other rounding
    assert r1.converged.all() and r1.extras["inner_iterations"] == 0
    with pytest.raises(ValueError, match="n_jobs"):
        lasso(A, Y, lam, n_jobs=0)
