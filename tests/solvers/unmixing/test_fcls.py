"""FCLS: exactness, constraints, scale invariance, KKT, CVXPY oracle, backends, chunking, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import nnls as scipy_nnls

from sparserec.solvers.unmixing import fcls
from tests.conftest import HAS_TORCH, convert


def _scene(K=5, L=100, n=400, alpha=1.0, seed=0):
    rng = np.random.default_rng(seed)
    E = rng.uniform(0.05, 1.0, (L, K))
    A = rng.dirichlet(np.full(K, alpha), size=n)
    return E, A, rng


def _kkt(E, y, a, asc=True):
    g = E.T @ (E @ a - y)
    pos = a > 1e-12
    nu = g[pos].mean() if (asc and pos.any()) else 0.0
    mu = g - nu
    scale = np.max(np.diag(E.T @ E))
    return max(np.abs(mu[pos]).max(initial=0), np.clip(-mu[~pos], 0, None).max(initial=0)) / scale


def test_noise_free_exact():  # spec test 5
    E, A, _ = _scene()
    res = fcls(E, A @ E.T)
    assert np.abs(res.x - A).max() <= 1e-6
    assert res.converged.all() and res.x.shape == A.shape


def test_constraints_noisy():  # spec test 4
    E, A, rng = _scene(alpha=0.3)
    Y = A @ E.T + 0.05 * rng.standard_normal((A.shape[0], E.shape[0]))
    res = fcls(E, Y)
    assert res.x.min() >= -1e-10
    assert np.abs(res.x.sum(-1) - 1).max() <= 1e-8
    assert res.extras["kkt_violation"] <= 1e-8


@pytest.mark.parametrize("c", [1e-3, 1e3])
def test_scale_invariance(c):  # spec test 6
    E, A, rng = _scene(alpha=0.3)
    Y = A @ E.T + 0.05 * rng.standard_normal((A.shape[0], E.shape[0]))
    assert np.abs(fcls(c * E, c * Y).x - fcls(E, Y).x).max() <= 1e-8


def test_kkt_and_augmented_nnls_reference():  # spec test 7
    E, A, rng = _scene(K=4, L=30, n=40, alpha=0.3, seed=1)
    Y = A @ E.T + 0.05 * rng.standard_normal((40, 30))
    res = fcls(E, Y)
    delta = 1e3
    Ea = np.vstack([E, delta * np.ones((1, 4))])
    for n in range(40):
        assert _kkt(E, Y[n], res.x[n]) <= 1e-6
        ref, _ = scipy_nnls(Ea, np.append(Y[n], delta))
        assert np.abs(ref - res.x[n]).max() <= 1e-4


@pytest.mark.parametrize("asc", [True, False])
def test_cvxpy_oracle(asc):
    cvx = pytest.importorskip("cvxpy")
    del cvx
    from sparserec.solvers.convex.cvx import nnls, simplex_ls

    rng = np.random.default_rng(3)
    for _ in range(5):
        L, K = rng.integers(5, 40), rng.integers(2, 8)
        E = rng.uniform(0, 1, (L, K))
        y = rng.uniform(0, 1, L)
        a = fcls(E, y[None], asc=asc).x[0]
        ref = simplex_ls(E, y) if asc else nnls(E, y)
        obj = 0.5 * np.sum((E @ a - y) ** 2)
        assert obj <= ref.value + 1e-6 * max(1.0, abs(ref.value))
        assert abs(obj - ref.value) <= 1e-6 * max(1.0, abs(ref.value))
        assert _kkt(E, y, a, asc) <= 1e-6


def test_switches():
    E, A, rng = _scene(K=3, L=20, n=50)
    Y = A @ E.T + 0.1 * rng.standard_normal((50, 20))
    ls = fcls(E, Y, anc=False, asc=False).x
    np.testing.assert_allclose(ls, np.linalg.lstsq(E, Y.T, rcond=None)[0].T, atol=1e-10)
    sto = fcls(E, Y, anc=False).x
    np.testing.assert_allclose(sto.sum(-1), 1.0, atol=1e-12)
    nn = fcls(E, Y, asc=False).x
    assert nn.min() >= 0


def test_admm_path_matches_active_set():
    E, A, rng = _scene(K=4, L=50, n=200, alpha=0.5)
    Y = A @ E.T + 0.01 * rng.standard_normal((200, 50))
    a1 = fcls(E, Y).x
    a2 = fcls(E, Y, method="admm", tol=1e-10).x
    assert np.sqrt(np.mean((a1 - a2) ** 2)) <= 1e-5


def test_chunking_and_batch_shape():
    E, A, rng = _scene(K=4, L=30, n=6 * 7, alpha=0.3)
    Y = (A @ E.T + 0.05 * rng.standard_normal((42, 30))).reshape(6, 7, 30)
    full = fcls(E, Y, chunk_size=None)
    chunked = fcls(E, Y, chunk_size=5)
    assert full.x.shape == (6, 7, 4) and full.n_iter.shape == (6, 7)
    np.testing.assert_allclose(full.x, chunked.x, atol=1e-12)


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
def test_torch_backend_matches_numpy():
    E, A, rng = _scene(K=4, L=30, n=100, alpha=0.3)
    Y = A @ E.T + 0.05 * rng.standard_normal((100, 30))
    ref = fcls(E, Y).x
    out = fcls(convert(E, "torch-cpu"), convert(Y, "torch-cpu"))
    import torch

    assert isinstance(out.x, torch.Tensor)
    np.testing.assert_allclose(out.x.numpy(), ref, atol=1e-10)
    out32 = fcls(convert(E, "torch-cpu").float(), convert(Y, "torch-cpu").float())
    assert out32.x.dtype == torch.float32


def test_bad_input():
    E, A, _ = _scene(K=3, L=20, n=5)
    Y = A @ E.T
    with pytest.raises(ValueError, match="band-count mismatch"):
        fcls(E, Y[:, :-1])
    Yn = Y.copy()
    Yn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fcls(E, Yn)
    with pytest.raises(ValueError, match="method"):
        fcls(E, Y, method="qp")
    with pytest.raises(TypeError):
        fcls(E, Y.tolist())


def test_matrix_operator_accepted():
    from sparserec.operators import Matrix

    E, A, _ = _scene(K=3, L=20, n=5)
    np.testing.assert_allclose(fcls(Matrix(E), A @ E.T).x, A, atol=1e-10)


def test_batched_kkt_fallback_matches_grouped(monkeypatch):
    import importlib

    mod = importlib.import_module("sparserec.solvers.unmixing.fcls")

    E, A, rng = _scene(K=6, L=30, n=300, alpha=0.3)
    Y = A @ E.T + 0.05 * rng.standard_normal((300, 30))
    ref, ref_nn = fcls(E, Y).x, fcls(E, Y, asc=False).x
    monkeypatch.setattr(mod, "_MAX_PATTERNS", 0)  # force one batched solve over pixels
    np.testing.assert_allclose(fcls(E, Y).x, ref, atol=1e-10)
    np.testing.assert_allclose(fcls(E, Y, asc=False).x, ref_nn, atol=1e-10)


def test_single_pixel_and_float32():
    E, A, rng = _scene(K=3, L=20, n=1)
    y = A[0] @ E.T
    r = fcls(E, y)
    assert r.x.shape == (3,) and r.converged.shape == ()
    np.testing.assert_allclose(r.x, A[0], atol=1e-10)
    r32 = fcls(E.astype(np.float32), (A @ E.T).astype(np.float32))
    assert r32.x.dtype == np.float32 and r32.converged.all()
    np.testing.assert_allclose(r32.x, A, atol=1e-4)


def test_pipeline_registry_resolves_fcls():
    from sparserec.operators import Matrix
    from sparserec.pipelines.registry import resolve_solver

    fn = resolve_solver("fcls")
    E, A, _ = _scene(K=3, L=20, n=10)
    res = fn(Matrix(E), A @ E.T, sum_to_one=True)
    np.testing.assert_allclose(res.x, A, atol=1e-10)
    assert fn(Matrix(E), A @ E.T, sum_to_one=False).params["asc"] is False
