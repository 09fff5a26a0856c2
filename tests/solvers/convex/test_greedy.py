"""Tests of the greedy solvers: omp (vs scikit-learn), iht, htp and Kronecker OMP."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sparserec.operators import FunctionOperator, Kronecker, Matrix
from sparserec.solvers.convex.greedy import htp, iht, komp, omp
from tests.conftest import HAS_TORCH, convert

sk_omp = pytest.importorskip("sklearn.linear_model").orthogonal_mp


def _problem(m=50, n=120, B=6, k=8, noise=0.05, seed=0, complex_=False):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    if complex_:
        A = A + 1j * rng.standard_normal((m, n))
    A /= np.linalg.norm(A, axis=0)
    X = np.zeros((B, n), dtype=A.dtype)
    for b in range(B):
        idx = rng.choice(n, k, replace=False)
        X[b, idx] = rng.standard_normal(k) + (1j * rng.standard_normal(k) if complex_ else 0)
    Y = X @ A.T
    if noise:
        Y = Y + noise * rng.standard_normal(Y.shape)
    return A, X, Y


def _to_np(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


# ------------------------------------------------------------------------------------ OMP
@pytest.mark.parametrize("precision", ["mixed", "full"])
def test_omp_matches_sklearn_n_nonzero(backend, precision):
    A, _, Y = _problem()
    res = omp(convert(A, backend), convert(Y, backend), n_nonzero=8, precision=precision)
    ref = sk_omp(A, Y.T, n_nonzero_coefs=8).T
    x = _to_np(res.x)
    np.testing.assert_allclose(x, ref, atol=1e-10, rtol=0)
    sup = res.extras["support"]
    assert sup.shape == (6, 8)
    for b in range(6):
        assert set(sup[b]) == set(np.flatnonzero(ref[b]))
    assert res.converged.all() and (res.n_iter == 8).all()
    assert res.history["residual"].shape == (8, 6)
    assert np.all(np.diff(res.history["residual"], axis=0) <= 1e-12)


def test_omp_state_growth_matches_preallocated(backend, monkeypatch):
    """More atoms than the initial capacity (64) when the state is not allocated at once: the
    grown buffers give scikit-learn's solution, as the preallocated ones do."""
    import sparserec.solvers.convex.greedy as G

    A, _, Y = _problem(m=120, n=300, B=3, k=20, noise=0.01)
    ref = sk_omp(A, Y.T, n_nonzero_coefs=70).T
    full = _to_np(omp(convert(A, backend), convert(Y, backend), n_nonzero=70, precision="full").x)
    monkeypatch.setattr(G, "_OMP_STATE_BYTES", 0)
    grown = _to_np(omp(convert(A, backend), convert(Y, backend), n_nonzero=70, precision="full").x)
    np.testing.assert_allclose(full, ref, atol=1e-8 * np.abs(ref).max())
    np.testing.assert_allclose(grown, full, atol=1e-12 * np.abs(ref).max())


def test_omp_matches_sklearn_tol():
    A, _, Y = _problem(noise=0.1)
    tol_sq = 0.4
    res = omp(A, Y, tol=np.sqrt(tol_sq))
    ref = sk_omp(A, Y.T, tol=tol_sq).T
    np.testing.assert_allclose(res.x, ref, atol=1e-10, rtol=0)
    assert np.array_equal(res.n_iter, (ref != 0).sum(axis=1))
    # per-problem supports differ in size; padding with -1
    sup = res.extras["support"]
    for b in range(6):
        row = sup[b]
        assert set(row[row >= 0]) == set(np.flatnonzero(ref[b]))
        assert np.all(row[res.n_iter[b]:] == -1)
    assert np.all(res.extras["residual_norm"] <= np.sqrt(tol_sq) + 1e-12)


@pytest.mark.parametrize("complex_", [False, True])
def test_omp_mixed_precision_near_ties(complex_):
    # near-duplicate atoms: 32-bit correlations cannot separate them, the 64-bit re-check must
    A, _, Y = _problem(m=40, n=60, B=8, k=6, seed=5, complex_=complex_)
    rng = np.random.default_rng(9)
    A = np.concatenate([A, A + 1e-7 * rng.standard_normal(A.shape)], axis=1)
    A /= np.linalg.norm(A, axis=0)
    rm = omp(A, Y, n_nonzero=6, precision="mixed")
    rf = omp(A, Y, n_nonzero=6, precision="full")
    assert np.array_equal(rm.extras["support"], rf.extras["support"])
    np.testing.assert_allclose(rm.x, rf.x, atol=1e-12)
    if not complex_:
        np.testing.assert_allclose(rm.x, sk_omp(A, Y.T, n_nonzero_coefs=6).T, atol=1e-8)


def test_omp_mixed_precision_torch_atom_rows(monkeypatch):
    """Large real numpy dictionaries (m*n >= 1e6) run the 32-bit products through torch on atom
    rows; near-duplicate atoms still get the 64-bit selection, and a reduced float32 matmul
    precision setting falls back to numpy's products."""
    torch = pytest.importorskip("torch")
    import sparserec.solvers.convex.greedy as G

    A, _, Y = _problem(m=100, n=10000, B=6, k=10, seed=7)
    rng = np.random.default_rng(11)
    A[:, 5000:] = A[:, :5000] + 1e-7 * rng.standard_normal((100, 5000))  # near-duplicates
    A /= np.linalg.norm(A, axis=0)
    kinds = []
    real = G._select_dense

    def spy(xp, dense, Ac, Alow, *a, **k):
        kinds.append(type(Alow).__module__.split(".")[0])
        return real(xp, dense, Ac, Alow, *a, **k)

    monkeypatch.setattr(G, "_select_dense", spy)
    rf = omp(A, Y, n_nonzero=10, precision="full")
    kinds.clear()
    rm = omp(A, Y, n_nonzero=10, precision="mixed")
    assert set(kinds) == {"torch"}
    assert np.array_equal(rm.extras["support"], rf.extras["support"])
    np.testing.assert_allclose(rm.x, rf.x, atol=1e-12)
    old = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("medium")
        kinds.clear()
        r2 = omp(A, Y, n_nonzero=10, precision="mixed")
    finally:
        torch.set_float32_matmul_precision(old)
    assert set(kinds) == {"numpy"} and np.array_equal(r2.extras["support"], rf.extras["support"])


def test_omp_complex_and_exact_recovery():
    A, X, Y = _problem(complex_=True, noise=0)
    res = omp(A, Y, n_nonzero=8)
    np.testing.assert_allclose(res.x, X, atol=1e-10)
    res_t = omp(A.astype(np.complex64), Y.astype(np.complex64), n_nonzero=8)
    assert res_t.x.dtype == np.complex64
    np.testing.assert_allclose(res_t.x, X, atol=1e-4)


def test_omp_per_problem_k_and_batch_shape():
    A, _, Y = _problem(B=6)
    ks = np.array([[1, 2, 3], [4, 5, 6]])
    res = omp(A, Y.reshape(2, 3, -1), n_nonzero=ks)
    assert res.x.shape == (2, 3, A.shape[1])
    assert np.array_equal(res.n_iter, ks)
    for b, k in enumerate(ks.reshape(-1)):
        ref = sk_omp(A, Y[b], n_nonzero_coefs=int(k))
        np.testing.assert_allclose(res.x.reshape(6, -1)[b], ref, atol=1e-10)


def test_omp_matrix_free_operator_matches_dense():
    A, _, Y = _problem()
    op = FunctionOperator(lambda x: x @ A.T, lambda y: y @ A, in_shape=A.shape[1], out_shape=A.shape[0],
                          dtype=A.dtype)
    r1 = omp(op, Y, n_nonzero=8)
    r2 = omp(Matrix(A), Y, n_nonzero=8)
    np.testing.assert_allclose(r1.x, r2.x, atol=1e-12)


def test_omp_float32_and_callback():
    A, X, Y = _problem(noise=0)
    seen = []
    res = omp(A.astype(np.float32), Y.astype(np.float32), n_nonzero=8,
              callback=lambda s: seen.append(s.iteration) or s.iteration >= 3)
    assert res.x.dtype == np.float32
    assert seen == [1, 2, 3] and (res.n_iter == 3).all()
    assert res.status.name == "CALLBACK_STOP"


def test_omp_linear_dependence_stops_early():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 8))
    y = rng.standard_normal(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = omp(A, y, tol=1e-14)
    assert res.n_iter <= 5
    assert res.extras["residual_norm"] < 1e-8 or res.extras["early_stop"]


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
def test_omp_numpy_torch_agree():
    A, _, Y = _problem(seed=3)
    rn = omp(A, Y, n_nonzero=6)
    rt = omp(convert(A, "torch-cpu"), convert(Y, "torch-cpu"), n_nonzero=6)
    np.testing.assert_allclose(_to_np(rt.x), rn.x, atol=1e-12)
    assert np.array_equal(rn.extras["support"], rt.extras["support"])


def test_omp_bad_input():
    A, _, Y = _problem()
    with pytest.raises(ValueError, match="n_nonzero"):
        omp(A, Y, n_nonzero=0)
    with pytest.raises(ValueError, match="cannot exceed"):
        omp(A, Y, n_nonzero=A.shape[1] + 1)
    with pytest.raises(ValueError, match="shape"):
        omp(A, Y[:, :-1], n_nonzero=3)
    Yn = Y.copy()
    Yn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        omp(A, Yn, n_nonzero=3)
    An = A.copy()
    An[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        omp(An, Y, n_nonzero=3)
    with pytest.raises(ValueError, match="tol"):
        omp(A, Y, tol=-1.0)
    with pytest.raises(ValueError, match="precision"):
        omp(A, Y, n_nonzero=2, precision="half")


# ------------------------------------------------------------------------------------ IHT / HTP
def _cs_problem(seed=1, m=80, n=200):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n)) / np.sqrt(m)
    ks = np.array([3, 5, 4, 6, 2])
    X = np.zeros((5, n))
    for b, k in enumerate(ks):
        X[b, rng.choice(n, k, replace=False)] = rng.choice([-1, 1], k) * (1 + rng.random(k))
    return A, X, X @ A.T, ks


@pytest.mark.parametrize("solver", [iht, htp])
def test_normalized_thresholding_recovers(backend, solver):
    A, X, Y, ks = _cs_problem()
    kw = {"tol": 1e-12, "max_iter": 3000} if solver is iht else {}
    res = solver(convert(A, backend), convert(Y, backend), n_nonzero=ks, normalized=True, **kw)
    np.testing.assert_allclose(_to_np(res.x), X, atol=1e-8)
    assert res.converged.all()
    sup = res.extras["support"]
    for b, k in enumerate(ks):
        assert set(sup[b, :k]) == set(np.flatnonzero(X[b])) and np.all(sup[b, k:] == -1)


def test_iht_fixed_step_from_norm_bound():
    A, X, Y, ks = _cs_problem(m=150)
    res = iht(Matrix(A), Y, n_nonzero=ks, tol=1e-12, max_iter=5000)
    assert res.params["step"] == pytest.approx(1 / np.linalg.norm(A, 2) ** 2, rel=1e-5)
    np.testing.assert_allclose(res.x, X, atol=1e-8)
    # iterates are k-sparse
    assert np.all((res.x != 0).sum(axis=1) <= ks)


def test_htp_fixed_point_is_least_squares_on_support():
    A, X, Y, ks = _cs_problem(m=150)
    res = htp(A, Y + 0.01 * np.random.default_rng(0).standard_normal(Y.shape), n_nonzero=ks)
    for b, k in enumerate(ks):
        S = np.flatnonzero(res.x[b])
        assert len(S) == k
        y_b = res.x[b] @ A.T
        z = np.linalg.lstsq(A[:, S], y_b, rcond=None)[0]
        np.testing.assert_allclose(res.x[b, S], z, atol=1e-10)


def test_thresholding_bad_input():
    A, X, Y, ks = _cs_problem()
    with pytest.raises(ValueError):
        iht(A, Y, n_nonzero=0)
    with pytest.raises(ValueError):
        htp(A, Y, n_nonzero=A.shape[1] + 1)
    with pytest.raises(TypeError):
        iht(A, Y)
    with pytest.raises(ValueError):
        iht(A, Y, n_nonzero=2, step=-1.0)


# ------------------------------------------------------------------------------------ KOMP
def _kron_problem(seed=2):
    rng = np.random.default_rng(seed)
    A1, A2 = rng.standard_normal((14, 20)), rng.standard_normal((12, 16))
    x1 = np.zeros(20)
    x1[[2, 9]] = [1.0, -2.0]
    x2 = np.zeros(16)
    x2[[4, 11]] = [1.5, 0.5]
    return A1, A2, np.kron(x1, x2)


def test_komp_recovers_kronecker_support_and_matches_omp_on_kron(backend):
    A1, A2, x = _kron_problem()
    K = np.kron(A1, A2)
    y = K @ x
    res = komp([convert(A1, backend), convert(A2, backend)], convert(y, backend), tol=1e-10)
    np.testing.assert_allclose(_to_np(res.x), x, atol=1e-10)
    ref = omp(K, y, n_nonzero=4)
    np.testing.assert_allclose(_to_np(res.x), ref.x, atol=1e-10)
    assert res.converged.all()
    assert [int(m.sum()) for m in res.extras["mode_support"]] == [2, 2]


def test_komp_tensor_batch_and_operator_input():
    A1, A2, x = _kron_problem()
    Kop = Kronecker([A1, A2])
    Y = np.stack([np.kron(A1, A2) @ x, -3 * (np.kron(A1, A2) @ x)]).reshape(2, 14, 12)
    res = komp(Kop, Y, tol=1e-10)
    assert res.x.shape == (2, 20, 16)
    np.testing.assert_allclose(res.x[1].reshape(-1), -3 * x, atol=1e-9)
    # three factors, complex
    rng = np.random.default_rng(2)
    Fs = [rng.standard_normal((5, 7)) + 1j * rng.standard_normal((5, 7)) for _ in range(3)]
    xs = [np.zeros(7, complex) for _ in range(3)]
    for v in xs:
        v[rng.choice(7, 1)] = 1 + 1j
    x3 = np.kron(xs[0], np.kron(xs[1], xs[2]))
    y3 = Kronecker(Fs, flat=True) @ x3
    r3 = komp(Fs, y3, tol=1e-10)
    np.testing.assert_allclose(r3.x, x3, atol=1e-10)


def test_omp_on_nd_kronecker_operator_is_matrix_free():
    A1, A2, x = _kron_problem()
    K = Kronecker([A1, A2])                      # in_shape (20, 16), out_shape (14, 12)
    y = (np.kron(A1, A2) @ x).reshape(14, 12)
    res = omp(K, np.stack([y, 2 * y]), n_nonzero=4)
    assert res.x.shape == (2, 20, 16)
    ref = omp(np.kron(A1, A2), np.stack([y, 2 * y]).reshape(2, -1), n_nonzero=4)
    np.testing.assert_allclose(res.x.reshape(2, -1), ref.x, atol=1e-10)


def test_komp_single_factor_is_omp():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((30, 50))
    Y = rng.standard_normal((3, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r1 = komp([A], Y, max_per_mode=6, tol=0.0)
    r2 = omp(A, Y, n_nonzero=6)
    np.testing.assert_allclose(r1.x, r2.x, atol=1e-10)


def test_komp_bad_input():
    A1, A2, x = _kron_problem()
    with pytest.raises(ValueError, match="shape"):
        komp([A1, A2], np.ones(7))
    with pytest.raises(ValueError, match="max_per_mode"):
        komp([A1, A2], np.ones(168), max_per_mode=0)
    y = np.ones(168)
    y[3] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        komp([A1, A2], y)
    with pytest.raises(ValueError, match="check_every"):
        komp([A1, A2], np.ones(168), check_every=0)


def _komp_batch(seed=5):
    """Mixed batch: noiseless (stops on tol), noisy (runs out of indices) and an all-zero problem."""
    rng = np.random.default_rng(seed)
    A1, A2 = rng.standard_normal((9, 12)), rng.standard_normal((8, 10))
    X = np.zeros((4, 12, 10))
    for b in range(3):
        X[b][np.ix_(rng.choice(12, 2, replace=False), rng.choice(10, 3, replace=False))] = rng.standard_normal((2, 3))
    Y = np.einsum("ij,bjk,lk->bil", A1, X, A2).reshape(4, -1)
    Y[1] += 0.1 * rng.standard_normal(72)
    Y[3] = 0.0
    return A1, A2, Y


@pytest.mark.parametrize("check_every", [1, 3, 100])
def test_komp_results_do_not_depend_on_check_every(backend, check_every):
    """Finished problems are frozen on the device: ``check_every`` only changes how often the loop
    reads back "any problem running?", never the results, counts or history."""
    A1, A2, Y = _komp_batch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = komp([A1, A2], Y, tol=1e-8, max_per_mode=[5, 6])
        res = komp([convert(A1, backend), convert(A2, backend)], convert(Y, backend), tol=1e-8,
                   max_per_mode=[5, 6], check_every=check_every)
    np.testing.assert_allclose(_to_np(res.x), ref.x, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(res.n_iter, ref.n_iter)
    np.testing.assert_array_equal(res.converged, ref.converged)
    assert list(res.converged) == [True, False, True, True]
    assert int(res.n_iter[3]) == 0
    for a, b in zip(res.extras["mode_support"], ref.extras["mode_support"]):
        np.testing.assert_array_equal(a, b)
    for mk, cap in zip(res.extras["mode_support"], (5, 6)):
        assert int(mk[3].sum()) == 0 and int(mk.sum(axis=1).max()) <= cap
    np.testing.assert_array_equal(res.history["iteration"], np.arange(1, int(ref.n_iter.max()) + 1))
    np.testing.assert_allclose(res.history["residual"], ref.history["residual"], rtol=1e-10, atol=1e-14)
    assert res.history["residual"].shape == (int(ref.n_iter.max()), 4)


def test_komp_max_iter_and_record_every():
    A1, A2, Y = _komp_batch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = komp([A1, A2], Y, tol=1e-8, max_iter=3, record_every=2)
    assert list(res.n_iter) == [3, 3, 3, 0]
    np.testing.assert_array_equal(res.history["iteration"], [2])
    assert res.history["residual"].shape == (1, 4)


@pytest.mark.parametrize("backend", ["numpy", "torch-cpu"])
@pytest.mark.parametrize("dup", [False, True])
def test_omp_bf16_selection_is_exact(backend, dup):
    """precision='bf16': bfloat16 correlations + rigorous 64-bit re-check select the same atoms
    as 64-bit products, near-duplicate atoms included; complex data falls back to 'mixed'."""
    if backend == "torch-cpu" and not HAS_TORCH:
        pytest.skip("torch not installed")
    A, _, Y = _problem(m=60, n=200, B=8, k=10, seed=3)
    if dup:
        rng = np.random.default_rng(4)
        A = np.concatenate([A, A + 1e-6 * rng.standard_normal(A.shape)], axis=1)
        A /= np.linalg.norm(A, axis=0)
    rb = omp(convert(A, backend), convert(Y, backend), n_nonzero=10, precision="bf16")
    rf = omp(A, Y, n_nonzero=10, precision="full")
    assert np.array_equal(np.asarray(rb.extras["support"]), rf.extras["support"])
    np.testing.assert_allclose(np.asarray(rb.x), rf.x, atol=1e-10)
    np.testing.assert_allclose(np.asarray(rb.x), sk_omp(A, Y.T, n_nonzero_coefs=10).T, atol=1e-8)
    Ac, _, Yc = _problem(m=30, n=50, B=2, k=3, seed=1, complex_=True)
    rc = omp(Ac, Yc, n_nonzero=3, precision="bf16")
    np.testing.assert_allclose(rc.x, omp(Ac, Yc, n_nonzero=3, precision="full").x, atol=1e-12)


def test_omp_bf16_many_candidates_fallback():
    """Problems with many candidates within the bf16 bound (tiny residuals) get a full 64-bit
    product; selections still equal the 64-bit ones."""
    A, _, Y = _problem(m=50, n=3000, B=4, k=30, seed=7)
    rb = omp(A, Y, n_nonzero=45, precision="bf16")
    rf = omp(A, Y, n_nonzero=45, precision="full")
    assert np.array_equal(rb.extras["support"], rf.extras["support"])


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
@pytest.mark.parametrize("case", ["k", "tol", "per_problem_k", "complex", "matrix_free", "batch_nd",
                                  "dependent", "float32"])
def test_omp_device_loop_matches_host_loop(case):
    """``check_every > 1`` on torch (device-resident loop) gives the host loop's results."""
    import torch

    kw: dict = {"n_nonzero": 8}
    A, _, Y = _problem(complex_=case == "complex")
    if case == "tol":
        kw = {"tol": 0.08}
    elif case == "per_problem_k":
        kw = {"n_nonzero": np.array([1, 3, 8, 5, 2, 7])}
    elif case == "batch_nd":
        Y = Y.reshape(2, 3, -1)
    elif case == "dependent":
        rng = np.random.default_rng(0)
        A = rng.standard_normal((5, 8))
        Y = rng.standard_normal((3, 5))
        kw = {"tol": 1e-14}
    elif case == "float32":
        A, Y = A.astype(np.float32), Y.astype(np.float32)
    Aop = A
    if case == "matrix_free":
        Aop = FunctionOperator(lambda x: x @ A.T, lambda r: r @ A, in_shape=A.shape[1],
                               out_shape=A.shape[0], dtype=A.dtype)
        At = FunctionOperator(lambda x: x @ torch.as_tensor(A).T, lambda r: r @ torch.as_tensor(A),
                              in_shape=A.shape[1], out_shape=A.shape[0], dtype=torch.float64)
    else:
        At = torch.as_tensor(A)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rh = omp(Aop, Y, precision="full", **kw)
        rd = omp(At, torch.as_tensor(Y), check_every=3, **kw)
    tol = 1e-4 if case == "float32" else 1e-10
    np.testing.assert_allclose(_to_np(rd.x), rh.x, atol=tol)
    np.testing.assert_array_equal(rd.n_iter, rh.n_iter)
    np.testing.assert_array_equal(rd.extras["support"], rh.extras["support"])
    np.testing.assert_allclose(rd.extras["residual_norm"], rh.extras["residual_norm"], atol=tol)
    np.testing.assert_array_equal(rd.extras["early_stop"], rh.extras["early_stop"])
    assert rd.history["residual"].shape == rh.history["residual"].shape or case in ("tol", "dependent",
                                                                                      "per_problem_k")


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
def test_omp_device_loop_callback():
    import torch

    A, _, Y = _problem(noise=0)
    seen = []
    res = omp(torch.as_tensor(A), torch.as_tensor(Y), n_nonzero=8, check_every=4,
              callback=lambda s: seen.append(s.iteration) or s.iteration >= 3)
    assert seen == [1, 2, 3] and (res.n_iter == 3).all()
    assert res.status.name == "CALLBACK_STOP"
