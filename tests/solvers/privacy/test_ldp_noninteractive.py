"""Spec §8.5–8.8, 8.10–8.12 for NLDP-SLR (and its public-data variant)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sparserec._backend import default_rng
from sparserec.prox import project_l0_ball, project_l1_ball
from sparserec.solvers import SolverResult, Status
from sparserec.solvers.privacy import (
    PrivacyRecord,
    nldp_slr,
    nldp_slr_mechanisms,
    nldp_slr_server,
    simulate_nldp_slr,
)
from sparserec.solvers.privacy._ops import upper

torch = pytest.importorskip("torch")


def proto_theta(d=10, k=3):
    th = np.zeros(d)
    th[:k] = np.array([1, -1, 1, -1, 1, -1][:k]) / k
    return th


def mean_err(res, th):
    return float(np.linalg.norm(np.asarray(res.x) - th, axis=-1).mean())


def slope(xs, ys):
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


# ----------------------------------------------------------------------------------------------
# §8.5 rate in n, §8.6 rate in epsilon


def test_rate_in_n():
    th = proto_theta()
    ns = [10**6, 10**7, 10**8, 10**9]
    # common random numbers (one seed for every point) keep the fitted slope's spread small
    errs = [mean_err(simulate_nldp_slr(th, n, 4.0, 1e-5, k=3, n_repeats=20, rng=100), th) for n in ns]
    keep = [i for i, e in enumerate(errs) if e < 0.3 * np.linalg.norm(th)]
    assert len(keep) >= 3
    b = slope(np.array(ns)[keep], np.array(errs)[keep])
    assert -0.75 <= b <= -0.35, (b, errs)


def test_rate_in_epsilon_classical_and_analytic():
    th = proto_theta()
    eps_c = [0.5, 1.0, 1.9]
    errs = []
    for e in eps_c:
        r = simulate_nldp_slr(th, 10**9, e, 1e-5, k=3, n_repeats=20, rng=200)
        assert r.extras["calibration"] == ("classical", "classical")
        errs.append(mean_err(r, th))
    b = slope(eps_c, errs)
    assert -1.15 <= b <= -0.85, (b, errs)
    eps_a = [2.0, 4.0, 8.0]
    errs = []
    for e in eps_a:
        r = simulate_nldp_slr(th, 10**7, e, 1e-5, k=3, n_repeats=20, rng=300)
        assert r.extras["calibration"] == ("analytic", "analytic")
        errs.append(mean_err(r, th))
    b = slope(eps_a, errs)
    assert -1.3 <= b <= -0.7, (b, errs)


# ----------------------------------------------------------------------------------------------
# §8.7 public data helps, more so as d grows


def test_public_data_helps_more_in_high_dimension():
    ratios = {}
    for d in (10, 40):
        th = proto_theta(d, 3)
        n = 10**8
        priv = mean_err(simulate_nldp_slr(th, n, 4.0, 1e-5, k=3, n_repeats=20, rng=d), th)
        pub = mean_err(simulate_nldp_slr(th, n, 4.0, 1e-5, k=3, n_repeats=20, n_public=n, rng=d + 1), th)
        assert pub < priv
        ratios[d] = priv / pub
    assert ratios[40] > ratios[10], ratios


# ----------------------------------------------------------------------------------------------
# §8.8 support recovery


def test_support_recovery_strong_signal():
    th = proto_theta()
    m1, m2 = nldp_slr_mechanisms(10, 4.0, 1e-5, tau_y=2.0)
    # smallest n with min|theta_j| >= 5 s_pred, s_pred = sqrt(s2^2 + s1^2 ||theta||^2) / sqrt(n)
    spread = math.sqrt(m2.sigma**2 + m1.sigma**2 * float(th @ th))
    n = int(math.ceil((5 * spread / np.abs(th[th != 0]).min()) ** 2))
    assert np.abs(th[th != 0]).min() / (spread / math.sqrt(n)) >= 5
    r = simulate_nldp_slr(th, n, 4.0, 1e-5, k=3, n_repeats=200, rng=7)
    exact = np.all((r.x != 0) == (th != 0), axis=-1)
    assert exact.mean() >= 0.9, exact.mean()


# ----------------------------------------------------------------------------------------------
# §8.10 noise off; convergence to the non-private solution as epsilon grows


def _rademacher(n, d, th, seed, batch=()):
    rng = np.random.default_rng(seed)
    X = rng.choice([-1.0, 1.0], size=batch + (n, d))
    y = X @ th + 0.1 * rng.standard_normal(batch + (n,))
    return X, y


def _nonprivate(X, y, tx, ty, k):
    Xt, yt = np.clip(X, -tx, tx), np.clip(y, -ty, ty)
    n, d = X.shape
    S, b = Xt.T @ Xt / n, Xt.T @ yt / n
    w, V = np.linalg.eigh(S)
    beta = V @ ((V.T @ b) / np.maximum(w, 0.5 * np.trace(S) / d))
    return project_l0_ball(beta, k)


@pytest.mark.parametrize("simulate", ["per_user", "aggregate"])
def test_noise_off_equals_nonprivate(simulate):
    th = proto_theta(8, 3)
    X, y = _rademacher(3000, 8, th, 0)
    X[:5] *= 3.0  # some clipping
    r = nldp_slr(X, y, 1.0, 1e-5, k=3, tau_x=1.0, tau_y=0.9, simulate=simulate, chunk_size=700,
                 _noise=False)
    assert np.max(np.abs(r.x - _nonprivate(X, y, 1.0, 0.9, 3))) < 1e-10
    assert r.extras["privacy"]["epsilon"] == math.inf and not r.extras["privacy"]["noise"]
    # public-data variant without noise: covariance from the public sample
    Xp, _ = _rademacher(2000, 8, th, 1)
    r = nldp_slr(X, y, 1.0, 1e-5, k=3, public_X=Xp, simulate=simulate, _noise=False)
    Sp = Xp.T @ Xp / 2000
    w, V = np.linalg.eigh(Sp)
    bbar = np.clip(X, -1, 1).T @ np.clip(y, -1, 1) / 3000
    beta = V @ ((V.T @ bbar) / np.maximum(w, 0.5 * np.trace(Sp) / 8))
    assert np.max(np.abs(r.x - project_l0_ball(beta, 3))) < 1e-10


def test_converges_to_nonprivate_as_epsilon_grows():
    th = proto_theta()
    X, y = _rademacher(20000, 10, th, 3)
    ref = nldp_slr(X, y, 1.0, k=3, tau_y=2.0, sparsify="none", _noise=False).x
    dist = [np.linalg.norm(nldp_slr(X, y, e, 1e-5, k=3, tau_y=2.0, sparsify="none",
                                    simulate="aggregate", rng=4).x - ref) for e in (4.0, 64.0, 1024.0)]
    assert dist[0] > dist[1] > dist[2] and dist[2] < 0.02, dist


# ----------------------------------------------------------------------------------------------
# §8.11 backends and batching


@pytest.mark.parametrize("simulate", ["per_user", "aggregate"])
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-10), ("float32", 1e-3)])
def test_numpy_torch_agree(simulate, dtype, tol):
    th = proto_theta(6, 2)
    X, y = _rademacher(4000, 6, th, 5, batch=(2,))
    X, y = X.astype(dtype), y.astype(dtype)
    kw = dict(k=2, tau_y=2.0, simulate=simulate, chunk_size=1500)
    rn = nldp_slr(X, y, 8.0, 1e-5, rng=9, **kw)
    rt = nldp_slr(torch.as_tensor(X), torch.as_tensor(y), 8.0, 1e-5, rng=9, **kw)
    assert isinstance(rt.x, torch.Tensor) and str(rt.x.dtype) == f"torch.{dtype}"
    assert rn.x.dtype == np.dtype(dtype)
    np.testing.assert_allclose(rt.x.numpy(), rn.x, atol=tol, rtol=tol)
    Xp = X[0, :1000]
    rn = nldp_slr(X, y, 8.0, 1e-5, public_X=Xp, rng=9, **kw)
    rt = nldp_slr(torch.as_tensor(X), torch.as_tensor(y), 8.0, 1e-5, public_X=torch.as_tensor(Xp),
                  rng=9, **kw)
    np.testing.assert_allclose(rt.x.numpy(), rn.x, atol=tol, rtol=tol)


def test_batch_equals_loop():
    th = proto_theta(6, 2)
    X, y = _rademacher(3000, 6, th, 6, batch=(3,))
    g = default_rng(21)
    rb = nldp_slr(X, y, 2.0, 1e-5, k=2, tau_y=2.0, simulate="aggregate", rng=g)
    g = default_rng(21)
    loop = [nldp_slr(X[j], y[j], 2.0, 1e-5, k=2, tau_y=2.0, simulate="aggregate", rng=g).x for j in range(3)]
    np.testing.assert_allclose(rb.x, np.stack(loop), rtol=1e-12, atol=1e-13)
    assert rb.converged.shape == (3,) and rb.n_iter.tolist() == [1, 1, 1]
    # simulation driver: a batch of repetitions equals the looped repetitions
    th = proto_theta()
    g = default_rng(5)
    rb = simulate_nldp_slr(th, 10**7, 4.0, 1e-5, k=3, n_repeats=4, rng=g)
    g = default_rng(5)
    loop = [simulate_nldp_slr(th, 10**7, 4.0, 1e-5, k=3, rng=g).x for _ in range(4)]
    np.testing.assert_allclose(rb.x, np.stack(loop), rtol=1e-12, atol=1e-13)


def test_simulation_torch_theta():
    th = proto_theta()
    rn = simulate_nldp_slr(th, 10**8, 4.0, 1e-5, k=3, n_repeats=3, rng=1)
    rt = simulate_nldp_slr(torch.as_tensor(th), 10**8, 4.0, 1e-5, k=3, n_repeats=3, rng=1)
    assert isinstance(rt.x, torch.Tensor)
    np.testing.assert_allclose(rt.x.numpy(), rn.x, atol=1e-10)


# ----------------------------------------------------------------------------------------------
# result contract, server, sparsifiers, Laplace


def test_result_contract_and_privacy_record():
    th = proto_theta()
    X, y = _rademacher(5000, 10, th, 8)
    r = nldp_slr(X, y, 3.0, 2e-5, tau_y=2.0, rng=0)
    assert isinstance(r, SolverResult) and r.status == Status.CONVERGED and r.solver == "nldp_slr"
    for key in ("beta", "sigma1", "sigma2", "epsilon_release", "delta_release", "calibration",
                "eig_floor", "threshold", "n_users", "n_public", "privacy"):
        assert key in r.extras
    assert r.params["sparsify"] == "soft"
    rec = PrivacyRecord.from_dict(r.extras["privacy"])
    assert rec.epsilon == pytest.approx(3.0) and rec.delta == pytest.approx(2e-5)
    assert rec.releases_per_user == 2 and rec.n_users == 5000
    assert [x.name for x in rec.releases] == ["covariance", "cross"]
    assert rec.releases[0].noise_scale == r.extras["sigma1"]
    rp = nldp_slr(X, y, 3.0, 2e-5, k=3, tau_y=2.0, public_X=X[:100], rng=0)
    recp = PrivacyRecord.from_dict(rp.extras["privacy"])
    assert recp.releases_per_user == 1 and recp.epsilon == 3.0 and rp.extras["n_public"] == 100
    assert rp.extras["sigma1"] is None
    r.to_dict()


def test_sparsifiers_and_laplace():
    th = proto_theta()
    X, y = _rademacher(20000, 10, th, 9)
    r = nldp_slr(X, y, 8.0, 1e-5, tau_y=2.0, sparsify="hard", threshold=0.15, simulate="aggregate", rng=1)
    beta = r.extras["beta"]
    assert np.array_equal(r.x, np.where(np.abs(beta) > 0.15, beta, 0.0))
    r = nldp_slr(X, y, 8.0, 1e-5, tau_y=2.0, sparsify="soft", threshold=0.1, simulate="aggregate", rng=1)
    beta = r.extras["beta"]
    np.testing.assert_allclose(r.x, np.sign(beta) * np.maximum(np.abs(beta) - 0.1, 0))
    rl = nldp_slr(X, y, 8.0, None, k=3, tau_y=2.0, mechanism="laplace", simulate="aggregate", rng=1)
    assert rl.extras["privacy"]["delta"] == 0.0 and rl.extras["calibration"] == ("laplace", "laplace")
    # Laplace per-user and aggregate are the same law (cheap check: finite, right support size)
    rl2 = nldp_slr(X[:2000], y[:2000], 8.0, None, k=3, tau_y=2.0, mechanism="laplace", rng=1)
    assert np.count_nonzero(rl2.x) == 3


def test_server_direct_and_helpers():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    S = A @ A.T + np.eye(4)
    b = rng.standard_normal(4)
    th, info = nldp_slr_server(upper(S) * 10, b * 10, 10, sparsify="none", eig_floor=1e-9)
    np.testing.assert_allclose(th, np.linalg.solve(S, b), rtol=1e-10)
    with pytest.raises(ValueError):
        nldp_slr_server(None, b, 10)
    # l1 projection against a brute-force check of the KKT conditions
    v = rng.standard_normal((50, 7)) * 2
    p = project_l1_ball(v, 1.0)
    assert np.all(np.abs(p).sum(1) <= 1 + 1e-12)
    inside = np.abs(v).sum(1) <= 1
    np.testing.assert_allclose(p[inside], v[inside])
    for vi, pi in zip(v[~inside], p[~inside]):
        lam = np.max(np.abs(vi) - np.abs(pi))
        np.testing.assert_allclose(np.abs(pi), np.maximum(np.abs(vi) - lam, 0), atol=1e-12)
    pt = project_l1_ball(torch.as_tensor(v), 1.0).numpy()
    np.testing.assert_allclose(pt, p, atol=1e-12)
    t = project_l0_ball(v, 2)
    assert np.all((t != 0).sum(1) == 2)
    np.testing.assert_array_equal(project_l0_ball(torch.as_tensor(v), 2).numpy(), t)


# ----------------------------------------------------------------------------------------------
# §8.12 bad input


def test_bad_input():
    th = proto_theta(6, 2)
    X, y = _rademacher(200, 6, th, 10)
    ok = dict(k=2, tau_y=2.0, rng=0)
    for eps in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="epsilon"):
            nldp_slr(X, y, eps, 1e-5, **ok)
    for delta in (0.0, 1.0, -0.1, 2.0):
        with pytest.raises(ValueError, match="delta"):
            nldp_slr(X, y, 1.0, delta, **ok)
    with pytest.raises(ValueError, match="tau_x"):
        nldp_slr(X, y, 1.0, 1e-5, k=2, tau_x=0.0)
    with pytest.raises(ValueError, match="tau_y"):
        nldp_slr(X, y, 1.0, 1e-5, k=2, tau_y=-1.0)
    for bad in (np.nan, np.inf):
        Xb = X.copy()
        Xb[3, 2] = bad
        with pytest.raises(ValueError, match="NaN or Inf"):
            nldp_slr(Xb, y, 1.0, 1e-5, **ok)
        yb = y.copy()
        yb[0] = bad
        with pytest.raises(ValueError, match="NaN or Inf"):
            nldp_slr(X, yb, 1.0, 1e-5, **ok)
    for k in (0, 7):
        with pytest.raises(ValueError, match="k"):
            nldp_slr(X, y, 1.0, 1e-5, k=k)
    for split in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="split"):
            nldp_slr(X, y, 1.0, 1e-5, split=split, **ok)
    with pytest.raises(ValueError, match="public_X"):
        nldp_slr(X, y, 1.0, 1e-5, public_X=np.ones((10, 5)), **ok)
    with pytest.raises(ValueError, match="classical"):
        nldp_slr(X, y, 2.0, 1e-5, calibration="classical", **ok)
    nldp_slr(X, y, 1.9, 1e-5, calibration="classical", **ok)  # eps' = 0.95 < 1 is fine
    with pytest.raises(ValueError, match="calibration"):
        nldp_slr(X, y, 1.0, 1e-5, calibration="fancy", **ok)
    with pytest.raises(ValueError, match="shape"):
        nldp_slr(X, y[:-1], 1.0, 1e-5, **ok)
    with pytest.raises(TypeError):
        nldp_slr(torch.as_tensor(X), y, 1.0, 1e-5, **ok)
    with pytest.raises(ValueError, match="simulate"):
        nldp_slr(X, y, 1.0, 1e-5, simulate="magic", **ok)
    with pytest.raises(ValueError, match="threshold"):
        nldp_slr(X, y, 1.0, 1e-5, sparsify="hard", tau_y=2.0)
    with pytest.raises(ValueError, match="non-binding"):
        simulate_nldp_slr(proto_theta(), 10**6, 1.0, 1e-5, tau_y=1.0)
    with pytest.raises(ValueError, match="n_public"):
        simulate_nldp_slr(proto_theta(), 10**6, 1.0, 1e-5, n_public=0)


# ----------------------------------------------------------------------------------------------
# spec §7 prototype table (100 repetitions per cell; sufficient statistics keep it fast)

PROTO = {  # eps -> mean l2 error for n = 1e5 .. 1e9 (spec §7, 20 repetitions)
    1: [1.35, 0.50, 0.103, 0.033, 0.0084],
    2: [0.65, 0.149, 0.037, 0.013, 0.0035],
    4: [0.25, 0.058, 0.016, 0.0059, 0.0018],
    8: [0.11, 0.034, 0.0095, 0.0028, 0.0009],
    "public": [0.067, 0.020, 0.0061, 0.0025, 0.0006],
}


def test_prototype_table():
    th = proto_theta()
    ns = [10**5, 10**6, 10**7, 10**8, 10**9]
    for key, ref in PROTO.items():
        for n, r in zip(ns, ref):
            if key == "public":
                res = simulate_nldp_slr(th, n, 4.0, 1e-5, k=3, n_public=n, n_repeats=100, rng=n)
            else:
                res = simulate_nldp_slr(th, n, float(key), 1e-5, k=3, n_repeats=100, rng=n)
            e = mean_err(res, th)
            # the prototype's own Monte-Carlo error (20 repetitions) is ~10 %
            assert 0.65 * r <= e <= 1.5 * r, (key, n, e, r)
