"""SUnSAL / CLSUnSAL (ADMM) and endmember extraction (VCA, SPA)."""

from __future__ import annotations

import numpy as np
import pytest
from _hostsync import count_syncs

from sparserec.applications.hyperspectral.metrics import sad, sre
from sparserec.applications.hyperspectral.simulate import add_noise, synthetic_spectra
from sparserec.solvers.unmixing import clsunsal, estimate_snr, fcls, spa, sunsal, vca


@pytest.fixture(scope="module")
def sparse_problem():
    """Spec test 10 data: 40 synthetic atoms (pairwise SAD >= 3 deg), 3 active, Dirichlet, 40 dB, 1000 px."""
    rng = np.random.default_rng(2024)
    D = synthetic_spectra(40, 100, min_sad=3.0, random_state=rng)
    active = np.sort(rng.choice(40, 3, replace=False))
    X = np.zeros((1000, 40))
    X[:, active] = rng.dirichlet(np.ones(3), size=1000)
    Y = add_noise(X @ D.T, 40.0, random_state=rng)
    return D, X, Y, active


def test_sunsal_lambda0_equals_fcls():  # spec test 9
    rng = np.random.default_rng(0)
    E = rng.uniform(0.1, 1, (60, 5))
    A = rng.dirichlet(np.ones(5) * 0.5, size=300)
    Y = A @ E.T + 0.01 * rng.standard_normal((300, 60))
    r = sunsal(E, Y, lam=0.0, asc=True, tol=1e-8, max_iter=5000)
    assert np.sqrt(np.mean((r.x - fcls(E, Y).x) ** 2)) <= 1e-4


def test_sunsal_sparse_recovery(sparse_problem):  # spec test 10 (+ 11)
    D, X, Y, active = sparse_problem
    r = sunsal(D, Y)  # HySUPP defaults: lam=1e-3 on unit-RMS data, 1000 iterations, tol=1e-4
    assert sre(X, r.x) >= 15.0
    top5 = np.argsort(r.x.mean(axis=0))[::-1][:5]
    assert set(active) <= set(top5)
    # test 11: residuals at exit, or max_iter reported per pixel
    P = D.shape[1]
    ok = (r.extras["primal_residual"] <= 1e-4 * np.sqrt(P)) & (r.extras["dual_residual"] <= 1e-4 * np.sqrt(P))
    assert np.all(ok | (r.n_iter == 1000))
    assert r.params["scale"] == pytest.approx(np.sqrt(np.mean(Y ** 2)))
    r2 = sunsal(D, Y)
    np.testing.assert_array_equal(r.x, r2.x)


def test_clsunsal_row_sparsity(sparse_problem):  # spec test 12
    D, X, Y, active = sparse_problem
    # calibrated once (seed 2024): at HySUPP's default lam=0.01 only 30 % of the inactive rows vanish on
    # this 1000-pixel scene (the group norm grows like sqrt(N)); lam=1 gives 86 %.
    r = clsunsal(D, Y, lam=1.0)
    rn = r.extras["row_norms"]
    inactive = np.setdiff1d(np.arange(D.shape[1]), active)
    assert np.mean(rn[inactive] <= 1e-3 * rn.max()) >= 0.8
    assert r.x.min() >= 0
    assert set(active) <= set(np.argsort(rn)[::-1][:5])


def _pure_pixel_scene(snr=None, seed=0):
    rng = np.random.default_rng(seed)
    E = synthetic_spectra(4, 80, min_sad=8.0, random_state=rng)
    A = rng.dirichlet(np.ones(4), size=500)
    pure = rng.choice(500, 4, replace=False)
    A[pure] = np.eye(4)
    Y = A @ E.T
    if snr is not None:
        Y = add_noise(Y, snr, random_state=rng)
    return E, A, Y, pure


def test_vca_pure_pixels_and_noise():  # spec test 13
    E, A, Y, pure = _pure_pixel_scene()
    r = vca(Y, 4, random_state=0)
    assert set(r.extras["indices"]) == set(pure)
    E2, A2, Y2, _ = _pure_pixel_scene(snr=30.0)
    r2 = vca(Y2, 4, random_state=0, projected=True)  # subspace-projected (denoised) vertices
    from sparserec.applications.hyperspectral.metrics import align

    perm = align(E2, r2.x)
    assert sad(E2, r2.x[:, perm]).mean() <= 2.0


def test_vca_seeded_and_snr():  # spec test 14
    _, _, Y, _ = _pure_pixel_scene(snr=25.0, seed=3)
    a = vca(Y, 4, random_state=7)
    b = vca(Y, 4, random_state=7)
    np.testing.assert_array_equal(a.x, b.x)
    assert np.isfinite(estimate_snr(Y, 4))
    assert vca(Y, 4, snr=0.0, random_state=1).extras["branch"] == "centred"


def test_spa_deterministic_pure_pixels():
    E, A, Y, pure = _pure_pixel_scene()
    r = spa(Y, 4)
    assert set(r.extras["indices"]) == set(pure)


def test_extractors_bad_input():
    Y = np.random.default_rng(0).uniform(size=(50, 5))
    with pytest.raises(ValueError, match="exceeds the number of bands"):
        vca(Y, 6)
    with pytest.raises(ValueError, match="exceeds the number of bands"):
        spa(Y, 6)
    Y[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        vca(Y, 2)


def test_sunsal_clsunsal_torch_match_numpy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    D = rng.uniform(0.1, 1, (30, 8))
    Y = rng.dirichlet(np.ones(8), 50) @ D.T
    for fn in (sunsal, clsunsal):
        a = fn(D, Y)
        b = fn(torch.as_tensor(D), torch.as_tensor(Y))
        assert isinstance(b.x, torch.Tensor)
        np.testing.assert_allclose(b.x.numpy(), a.x, atol=1e-10)


@pytest.mark.filterwarnings("ignore::sparserec.solvers.result.ConvergenceWarning")  # tol=0 runs
@pytest.mark.parametrize("fn", [sunsal, clsunsal])
def test_sunsal_clsunsal_check_every(fn):
    rng = np.random.default_rng(1)
    D = rng.uniform(0.1, 1, (30, 8))
    Y = rng.dirichlet(np.ones(8), 40) @ D.T
    # with tol=0 the iterates do not depend on how often convergence is checked
    a = fn(D, Y, max_iter=55, tol=0, check_every=1)
    b = fn(D, Y, max_iter=55, tol=0, check_every=10)
    np.testing.assert_array_equal(a.x, b.x)
    assert np.max(b.n_iter) == 55 and b.params["check_every"] == 10
    assert np.all((b.n_iter % 10 == 0) | (b.n_iter == 55))  # a pixel may reach exactly 0 at a check
    # with a tolerance, stops only at a checked iteration (a multiple of check_every)
    c = fn(D, Y, max_iter=5000, tol=1e-5, check_every=7)
    assert np.all(c.converged) and np.max(c.n_iter) % 7 == 0
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="check_every"):
            fn(D, Y, check_every=bad)


@pytest.mark.filterwarnings("ignore::sparserec.solvers.result.ConvergenceWarning")  # tol=0 runs
def test_sunsal_clsunsal_torch_host_syncs_only_at_checks():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    D = rng.uniform(0.1, 1, (20, 5))
    Y = rng.dirichlet(np.ones(5), 16) @ D.T
    Dt, Yt = torch.as_tensor(D), torch.as_tensor(Y)

    def count(fn, **kw):
        return count_syncs(lambda: fn(Dt, Yt, max_iter=100, tol=0, **kw))

    for fn in (sunsal, clsunsal):
        n10, r10 = count(fn, check_every=10)
        n1, r1 = count(fn, check_every=1)
        assert int(np.max(r10.n_iter)) == 100
        assert n10 <= 40 + 6 * 10 < n1, (fn.__name__, n10, n1)
        np.testing.assert_allclose(r10.x.numpy(), fn(D, Y, max_iter=100, tol=0, check_every=10).x, atol=1e-10)
