"""Tests of robust PCA (pcp, inexact ALM) and the IPI patch-image model."""

from __future__ import annotations

import numpy as np
import pytest

from sparserec.solvers import ConvergenceWarning
from sparserec.solvers.convex.pcp import image_to_patches, ipi, patch_positions, patches_to_image, pcp
from tests.conftest import HAS_TORCH, convert


def _planted(m=200, n=200, rank=5, frac=0.05, seed=0, complex_=False):
    rng = np.random.default_rng(seed)
    L = rng.standard_normal((m, rank)) @ rng.standard_normal((rank, n))
    S = np.where(rng.random((m, n)) < frac, rng.uniform(-50, 50, (m, n)), 0.0)
    if complex_:
        L = L + 1j * (rng.standard_normal((m, rank)) @ rng.standard_normal((rank, n)))
        S = S * np.exp(1j * rng.uniform(0, 2 * np.pi, (m, n)))
    return L, S


def _to_np(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def test_pcp_exact_recovery_200():
    L, S = _planted()
    res = pcp(L + S)
    assert res.converged.all() and res.n_iter <= 60
    assert _rel(res.x, L) < 1e-6
    assert _rel(res.extras["sparse"], S) < 1e-6
    assert res.extras["rank"] == 5
    assert res.extras["residual"] <= 1e-7
    h = res.history
    assert {"residual", "rank", "n_nonzero", "mu"} <= set(h)
    assert h["rank"][-1] == 5
    assert res.params["lam"] == pytest.approx(1 / np.sqrt(200))
    assert res.params["mu0"] == pytest.approx(1.25 / np.linalg.norm(L + S, 2))


def test_pcp_rectangular_and_transpose_invariance():
    L, S = _planted(300, 200, rank=10, frac=0.1, seed=1)
    res = pcp(L + S)
    assert _rel(res.x, L) < 1e-5 and _rel(res.extras["sparse"], S) < 1e-5
    assert res.params["lam"] == pytest.approx(1 / np.sqrt(300))
    rt = pcp((L + S).T)
    np.testing.assert_allclose(rt.x.T, res.x, atol=1e-6 * np.abs(L).max())


def test_pcp_batched_per_problem_lam(backend):
    L1, S1 = _planted(60, 50, rank=2, seed=2)
    L2, S2 = _planted(60, 50, rank=3, seed=3)
    D = np.stack([L1 + S1, L2 + S2])
    lam = np.array([1 / np.sqrt(60), 1.2 / np.sqrt(60)])
    res = pcp(convert(D, backend), lam=convert(lam, "numpy"))
    single = [pcp(D[i], lam=lam[i]) for i in range(2)]
    x = _to_np(res.x)
    for i in range(2):
        np.testing.assert_allclose(x[i], single[i].x, atol=1e-8)
        assert res.n_iter[i] == single[i].n_iter
    assert _rel(x[0], L1) < 1e-5


def test_pcp_complex():
    L, S = _planted(40, 30, rank=2, frac=0.05, seed=5, complex_=True)
    res = pcp(L + S)
    assert _rel(res.x, L) < 1e-5


def test_pcp_matches_cvxpy_oracle():
    pytest.importorskip("cvxpy")
    cvx = pytest.importorskip("sparserec.solvers.convex.cvx")
    rng = np.random.default_rng(7)
    D = rng.standard_normal((12, 10)) @ np.diag(np.linspace(1, 0.1, 10)) + \
        np.where(rng.random((12, 10)) < 0.1, 5.0, 0.0)
    lam = 1 / np.sqrt(12)
    ref = cvx.pcp(D, lam=lam)
    # a small rho lets mu grow slowly enough for the inexact ALM to reach the optimum
    res = pcp(D, rho=1.02, tol=1e-10, max_iter=2000)

    def obj(L, S):
        return np.linalg.svd(L, compute_uv=False).sum() + lam * np.abs(S).sum()

    f = obj(res.x, res.extras["sparse"])
    f_ref = obj(ref.x, D - ref.x)
    assert abs(f - f_ref) <= 1e-6 * f_ref
    np.testing.assert_allclose(res.x, ref.x, atol=1e-4)
    np.testing.assert_allclose(res.x + res.extras["sparse"], D, atol=1e-8)


def test_pcp_max_iter_and_zero_data():
    L, S = _planted(30, 30, rank=2, seed=8)
    with pytest.warns(ConvergenceWarning):
        res = pcp(L + S, tol=0.0, max_iter=5)
    assert res.n_iter == 5 and not res.converged
    z = pcp(np.zeros((2, 5, 4)))
    assert z.converged.all() and np.all(z.x == 0)


def test_pcp_bad_input():
    D = np.ones((5, 4))
    with pytest.raises(ValueError, match="lam"):
        pcp(D, lam=-0.1)
    with pytest.raises(ValueError, match="NaN"):
        pcp(np.full((5, 4), np.nan))
    with pytest.raises(ValueError, match="shape"):
        pcp(np.ones(5))
    with pytest.raises(ValueError, match="rho"):
        pcp(D, rho=0.5)
    with pytest.raises(ValueError, match="mu"):
        pcp(D, mu=-1.0)
    with pytest.raises(ValueError, match="broadcast"):
        pcp(np.ones((3, 5, 4)), lam=np.ones(2))


# ------------------------------------------------------------------------------------- IPI
def test_patch_image_roundtrip_covers_border(backend):
    rng = np.random.default_rng(0)
    img = rng.random((2, 256, 256))
    pos = patch_positions(256, 50, 10)
    assert pos[0] == 0 and pos[-2] == 200 and pos[-1] == 206      # extra window for 250..255
    P = image_to_patches(convert(img, backend), 50, 10)
    assert tuple(P.shape) == (2, 2500, 22 * 22)
    np.testing.assert_array_equal(_to_np(P)[0, :, 0], img[0, :50, :50].reshape(-1))
    for agg in ("median", "mean"):
        back = _to_np(patches_to_image(P, (256, 256), 50, 10, aggregate=agg))
        np.testing.assert_allclose(back, img, atol=1e-14)


def test_patches_median_vs_mean():
    # a pixel covered by several windows gets the median / mean of its estimates
    P = np.zeros((1, 4, 9))                       # 4x4 image, 2x2 windows, stride 1 -> 3x3 windows
    P[0, 0, 4] = 9.0                              # window (1,1), top-left pixel = image (1,1)
    med = patches_to_image(P, (4, 4), 2, 1, "median")
    mean = patches_to_image(P, (4, 4), 2, 1, "mean")
    assert med[0, 1, 1] == 0.0                    # 4 estimates (0, 0, 0, 9): median 0
    assert mean[0, 1, 1] == pytest.approx(9 / 4)
    P[0, 3, 0] = 9.0                              # window (0,0) bottom-right -> image (1,1) again
    assert patches_to_image(P, (4, 4), 2, 1, "median")[0, 1, 1] == pytest.approx(4.5)


def _ir_scene(H=128, W=128, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:H, :W] / H
    bg = 1 + 0.8 * xx + 0.5 * yy + 0.3 * xx * yy + 0.2 * np.sin(2 * xx)
    centers = [(30, 40), (80, 90), (100, 20)]
    amp = 0.3 * (bg.max() - bg.min())
    tg = np.zeros((H, W))
    r, c = np.arange(H)[:, None], np.arange(W)[None, :]
    for (i, j) in centers:
        tg += amp * np.exp(-((r - i) ** 2 + (c - j) ** 2) / 2.0)
    return bg, tg, bg + tg + 0.005 * rng.standard_normal((H, W)), centers, amp


def test_ipi_detects_small_targets():
    bg, tg, img, centers, amp = _ir_scene()
    res = ipi(img, patch_size=32, stride=8)
    T = res.extras["target"]
    assert T.shape == img.shape and res.x.shape == img.shape
    mask = tg > amp / 2
    # most of the target-map energy is on the targets
    assert (T[mask] ** 2).sum() / (T**2).sum() > 0.6
    # every target found: local peak within 1 px of the truth; Pd = 1 at mean + 4 std
    thr = T.mean() + 4 * T.std()
    det = T > thr
    r, c = np.arange(T.shape[0])[:, None], np.arange(T.shape[1])[None, :]
    for (i, j) in centers:
        near = (np.abs(r - i) <= 4) & (np.abs(c - j) <= 4)
        pi, pj = np.unravel_index(np.argmax(np.where(near, T, -np.inf)), T.shape)
        assert abs(pi - i) <= 1 and abs(pj - j) <= 1
        assert det[near].any()
    # false alarms: few detected pixels away from the targets
    far = np.ones_like(mask)
    for (i, j) in centers:
        far &= ~((np.abs(r - i) <= 3) & (np.abs(c - j) <= 3))
    assert det[far].mean() < 1e-3
    # background close to the truth
    assert np.abs(res.x - bg).max() < 0.05 * (bg.max() - bg.min())


def test_ipi_batch_and_options():
    bg, tg, img, centers, amp = _ir_scene(64, 64)
    img2 = np.stack([img, img[::-1]])
    res = ipi(img2, patch_size=16, stride=4, aggregate="mean", lam="image")
    assert res.x.shape == (2, 64, 64)
    np.testing.assert_allclose(res.extras["target"][1], res.extras["target"][0][::-1], atol=1e-6)
    assert res.params["lam"][0] == pytest.approx(1 / 8)
    with pytest.raises(ValueError, match="patch_size"):
        ipi(img, patch_size=100)
    with pytest.raises(ValueError, match="lam"):
        ipi(img, patch_size=16, lam="bogus")
    with pytest.raises(ValueError, match="aggregate"):
        ipi(img, patch_size=16, aggregate="max")


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
def test_ipi_torch_matches_numpy():
    bg, tg, img, centers, amp = _ir_scene(48, 48)
    rn = ipi(img, patch_size=16, stride=8)
    rt = ipi(convert(img, "torch-cpu"), patch_size=16, stride=8)
    np.testing.assert_allclose(_to_np(rt.extras["target"]), rn.extras["target"], atol=1e-8)
