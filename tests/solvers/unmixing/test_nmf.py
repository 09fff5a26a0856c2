"""NMF with ASC, L1/2-NMF and the RRLbS-style robust method (spec tests 16-23, 30)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from sparserec.applications.hyperspectral.simulate import add_noise, synthetic_spectra
from sparserec.solvers.unmixing import channel_weights, l12_lambda, l12_nmf, nmf, rrlbs_style
from tests.conftest import HAS_TORCH


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(11)
    E = synthetic_spectra(3, 60, min_sad=8.0, random_state=rng)
    A = rng.dirichlet(np.full(3, 0.5), size=(20, 20))
    Y = np.clip(add_noise(A @ E.T, 30.0, random_state=rng), 0, None)
    return E, A, Y


def _rel_increase(F):
    F = np.asarray(F)
    return np.max((F[1:] - F[:-1]) / np.abs(F[:-1]))


def _reference_mu(Y, M, A, delta, n_iter, lam=0.0):
    """Independent few-line multiplicative NMF (spec 3.4/3.5), channels as rows: Y (L, N), A (K, N)."""
    for _ in range(n_iter):
        Mb = np.vstack([M, delta * np.ones((1, M.shape[1]))])
        Yb = np.vstack([Y, delta * np.ones((1, Y.shape[1]))])
        den = Mb.T @ Mb @ A
        if lam:
            den = den + lam * 0.5 * (A + 1e-9) ** -0.5
        A = A * (Mb.T @ Yb) / den
        M = M * (Y @ A.T) / (M @ A @ A.T)
    return M, A


def test_nmf_matches_reference_updates(scene):
    E, A, Y = scene
    r0 = nmf(Y, 3, max_iter=1, tol=0, random_state=0)
    E0 = r0.extras["endmembers"]
    A0 = np.full((400, 3), 1 / 3)
    r = nmf(Y, E0=E0, A0=A0, max_iter=25, tol=0)
    M_ref, A_ref = _reference_mu(Y.reshape(-1, 60).T, np.asarray(E0), A0.T.copy(), 15.0, 25)
    np.testing.assert_allclose(r.x.reshape(-1, 3), A_ref.T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(r.extras["endmembers"], M_ref, rtol=1e-9, atol=1e-12)
    r12 = l12_nmf(Y, E0=E0, A0=A0, lam=0.3, max_iter=25, tol=0)
    M12, A12 = _reference_mu(Y.reshape(-1, 60).T, np.asarray(E0), A0.T.copy(), 15.0, 25, lam=0.3)
    np.testing.assert_allclose(r12.x.reshape(-1, 3), A12.T, rtol=1e-8, atol=1e-12)


def test_nmf_monotone_nonneg_asc(scene):  # spec tests 16, 17
    E, A, Y = scene
    r = nmf(Y, 3, max_iter=1000, tol=0, random_state=0)
    assert _rel_increase(r.extras["objective_history"]) <= 1e-10
    assert r.x.min() >= 0 and np.asarray(r.extras["endmembers"]).min() >= 0
    assert np.abs(r.x.sum(-1) - 1).max() <= 0.05
    r12 = l12_nmf(Y, 3, max_iter=300, tol=0, random_state=0)
    assert _rel_increase(r12.extras["objective_history"]) <= 1e-10


def test_l12_sparser_than_nmf(scene):  # spec test 19
    E, A, Y = scene
    a = nmf(Y, 3, max_iter=200, tol=0, random_state=0)
    b = l12_nmf(Y, 3, max_iter=200, tol=0, random_state=0, lam=0.5)
    assert np.mean(np.sqrt(b.x).sum(-1)) < np.mean(np.sqrt(a.x).sum(-1))
    assert l12_lambda(Y) > 0


def test_reductions(scene):  # spec test 20
    E, A, Y = scene
    st = dict(max_iter=60, tol=0, random_state=0, init_floor=1e-4)
    ref = nmf(Y, 3, **st)
    for variant in (None, "W"):
        r = rrlbs_style(Y, 3, loss="fro", lam=0.0, variant=variant, **st)
        np.testing.assert_allclose(r.x, ref.x, rtol=0, atol=1e-10)
        np.testing.assert_allclose(r.extras["endmembers"], ref.extras["endmembers"], rtol=0, atol=1e-10)
    ref12 = l12_nmf(Y, 3, lam=0.2, **st)
    r = rrlbs_style(Y, 3, loss="fro", lam=0.2, p=0.5, variant=None, **st)
    np.testing.assert_allclose(r.x, ref12.x, rtol=0, atol=1e-10)


@pytest.mark.parametrize("variant", ["W", "E", None])
def test_robust_objective_monotone(scene, variant):  # spec test 21
    E, A, Y = scene
    r = rrlbs_style(Y, 3, variant=variant, lam_rel=0.1, max_iter=300, tol=0, random_state=0, refresh_every=50)
    F = r.extras["objective_history"]
    if variant == "E":  # monotone between refreshes of the data-guided exponents
        F = np.asarray(F)
        segs = [F[i * 50:(i + 1) * 50] for i in range(6)]  # F[50i] is the first value after a refresh
        assert max(_rel_increase(s) for s in segs if len(s) > 1) <= 1e-9
    else:
        assert _rel_increase(F) <= 1e-9
    assert r.x.min() >= 0


def test_map_constraints_and_rho(scene):  # spec test 22
    E, A, Y = scene
    r = rrlbs_style(Y, 3, max_iter=50, tol=0, random_state=0)
    h = np.asarray(r.extras["guidance_map"])
    assert h.min() >= 0 and abs(h.sum() - h.size) <= 1e-8 * h.size
    r2 = rrlbs_style(Y, 3, max_iter=50, tol=0, random_state=0, rho=0.3, refit_gamma=True)
    h2 = np.asarray(r2.extras["guidance_map"])
    assert abs(np.mean(h2 > 0) - 0.3) <= 0.02


def test_map_tracks_purity():  # spec test 23
    rng = np.random.default_rng(5)
    E = synthetic_spectra(4, 80, min_sad=10.0, random_state=rng)
    n = 800
    A = rng.dirichlet(np.ones(4), size=n)
    A[: n // 2] = np.eye(4)[rng.integers(0, 4, n // 2)]
    Y = add_noise(A @ E.T, 35.0, random_state=rng)
    r = rrlbs_style(Y, endmembers=E, max_iter=100, tol=0, lam_rel=0.05, random_state=0)
    h = np.asarray(r.extras["guidance_map"])
    rho, _ = spearmanr(h, A.max(axis=1))
    assert rho >= 0.5


def test_supervised_keeps_endmembers(scene):
    E, A, Y = scene
    r = rrlbs_style(Y, endmembers=E, max_iter=50, tol=0)
    np.testing.assert_array_equal(r.extras["endmembers"], E)
    assert r.extras["supervised"] and r.x.shape == A.shape
    with pytest.raises(ValueError, match="band-count mismatch"):
        rrlbs_style(Y, endmembers=E[:-1])
    with pytest.raises(ValueError, match="exceeds the number of bands"):
        nmf(Y[..., :2], 3)


def test_convergence_check_stops(scene):
    E, A, Y = scene
    r = rrlbs_style(Y, 3, max_iter=5000, tol=1e-4, random_state=0)
    assert r.converged.all() and int(r.n_iter) < 5000
    F = r.extras["objective_history"]
    assert (F[-11] - F[-1]) / abs(F[-1]) < 1e-4


def test_random_state_reproducible(scene):  # spec test 30
    E, A, Y = scene
    for fn in (nmf, l12_nmf, rrlbs_style):
        a = fn(Y, 3, max_iter=20, tol=0, random_state=3)
        b = fn(Y, 3, max_iter=20, tol=0, random_state=3)
        np.testing.assert_array_equal(a.x, b.x)


def test_channel_weights_flag_outliers(scene):
    E, A, Y = scene
    Yc = Y.copy()
    Yc[..., [5, 30]] = np.random.default_rng(0).normal(0, Y.max(), Yc[..., [5, 30]].shape)
    d = channel_weights(Yc)
    assert d[[5, 30]].max() < 0.01 and np.median(d) == 1.0


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
def test_torch_matches_numpy(scene):
    import torch

    E, A, Y = scene
    a = rrlbs_style(Y, endmembers=E, max_iter=30, tol=0)
    b = rrlbs_style(torch.as_tensor(Y), endmembers=torch.as_tensor(E), max_iter=30, tol=0)
    assert isinstance(b.x, torch.Tensor)
    np.testing.assert_allclose(b.x.numpy(), a.x, atol=1e-8)
