"""Spec §8.9 (LDP-IHT), §8.10 (noise off), §8.11 (backends) and §8.12 (bad input) for LDP-IHT."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sparserec.prox import project_l0_ball, project_l1_ball
from sparserec.solvers.privacy import (
    LDPIHTServer,
    PrivacyViolationError,
    UserLedger,
    group_sizes,
    ldp_iht,
    population_iht,
    simulate_ldp_iht,
    simulate_nldp_slr,
)
from sparserec.solvers.privacy import interactive as inter

torch = pytest.importorskip("torch")


def iht_theta(d=50, k=5):
    th = np.zeros(d)
    th[:k] = np.array([1, -1, 1, -1, 1][:k]) / k
    return th


def _rademacher(n, d, th, seed, batch=()):
    rng = np.random.default_rng(seed)
    X = rng.choice([-1.0, 1.0], size=batch + (n, d))
    y = X @ th + 0.1 * rng.standard_normal(batch + (n,))
    return X, y


def mean_err(x, th):
    return float(np.linalg.norm(np.asarray(x) - th, axis=-1).mean())


# ----------------------------------------------------------------------------------------------
# each user queried exactly once


def test_each_user_queried_exactly_once(monkeypatch):
    th = iht_theta(10, 2)
    n, T = 1003, 7
    X, y = _rademacher(n, 10, th, 0)
    calls = {"n": 0, "rows": 0, "seen": []}
    real = inter.ldp_iht_release

    def counting(x_i, y_i, theta, **kw):
        calls["n"] += 1
        calls["rows"] += x_i.shape[-2]
        calls["seen"].append(x_i.copy())
        return real(x_i, y_i, theta, **kw)

    monkeypatch.setattr(inter, "ldp_iht_release", counting)
    res = ldp_iht(X, y, 1.0, 1e-5, k=2, n_rounds=T, tau_y=2.0, rng=3)
    assert calls["n"] == T and calls["rows"] == n
    sizes = res.extras["group_sizes"]
    assert sizes.sum() == n and sizes.max() - sizes.min() <= 1 and len(sizes) == T
    # the rows the randomiser saw are exactly the users, each once
    seen = np.concatenate(calls["seen"])
    def key(A):  # each +-1 row as an integer; compare the multisets of rows
        return np.sort((A > 0).astype(np.int64) @ (2 ** np.arange(A.shape[1])))

    np.testing.assert_array_equal(key(seen), key(X))
    # the server's groups partition the users
    srv = LDPIHTServer(10, n, 2, n_rounds=T, rng=3)
    ids = np.concatenate(srv.groups)
    np.testing.assert_array_equal(np.sort(ids), np.arange(n))


def test_requery_raises():
    srv = LDPIHTServer(4, 10, 2, n_rounds=3, rng=0)
    g0 = srv.current_group()
    srv.receive(np.ones((len(g0), 4)), g0)
    with pytest.raises(PrivacyViolationError, match="already queried"):
        srv.receive(np.ones((len(g0), 4)), g0)  # the same users again in round 2
    g1 = srv.current_group()
    with pytest.raises(PrivacyViolationError):
        srv.receive(np.ones((2, 4)), np.array([g1[0], g1[0]]))  # a user twice in one round
    # a group that is not this round's is refused
    srv2 = LDPIHTServer(4, 10, 2, n_rounds=2, partition="contiguous")
    with pytest.raises(ValueError, match="group"):
        srv2.receive_sum(np.ones(4), range(5, 10))
    srv2.receive_sum(np.ones(4), range(0, 5))
    with pytest.raises(PrivacyViolationError):
        srv2.receive_sum(np.ones(4), range(3, 8))
    while not srv2.done:
        srv2.receive_sum(np.ones(4), srv2.current_group())
    with pytest.raises(RuntimeError):
        srv2.current_group()


def test_ledger():
    led = UserLedger(10**9)  # ranges need no per-user memory
    led.claim(range(0, 10**8))
    led.claim(range(10**8, 2 * 10**8))
    with pytest.raises(PrivacyViolationError):
        led.claim(range(10**8 - 1, 10**8 + 1))
    with pytest.raises(PrivacyViolationError):
        led.claim(np.array([5]))
    led.claim(np.array([3 * 10**8, 3 * 10**8 + 7]))
    with pytest.raises(PrivacyViolationError):
        led.claim(range(3 * 10**8, 3 * 10**8 + 10))
    with pytest.raises(ValueError):
        led.claim(np.array([10**9]))
    assert led.n_queried == 2 * 10**8 + 2


# ----------------------------------------------------------------------------------------------
# rates and comparison with NLDP-SLR (sufficient-statistic simulation)


def test_iht_rate_in_n_and_beats_nldp():
    th = iht_theta()
    ns = [10**7, 10**8, 10**9]
    e_iht, e_nldp = [], []
    for n in ns:
        e_iht.append(mean_err(simulate_ldp_iht(th, n, 2.0, 1e-5, k=5, n_repeats=20, rng=7).x, th))
        if n <= 10**8:
            e_nldp.append(mean_err(simulate_nldp_slr(th, n, 2.0, 1e-5, k=5, n_repeats=20, rng=7).x, th))
    b = float(np.polyfit(np.log(ns), np.log(e_iht), 1)[0])
    assert -0.75 <= b <= -0.35, (b, e_iht)
    assert e_iht[0] < e_nldp[0] and e_iht[1] < e_nldp[1], (e_iht, e_nldp)


# ----------------------------------------------------------------------------------------------
# noise off


def _manual_iht(X, y, groups, k, T, eta, R, tx, ty):
    th = np.zeros(X.shape[-1])
    for grp in groups[:T]:
        xg, yg = np.clip(X[grp], -tx, tx), np.clip(y[grp], -ty, ty)
        pred = np.clip(xg @ th, -tx * R, tx * R)
        g = (xg * (pred - yg)[:, None]).mean(0)
        th = project_l1_ball(project_l0_ball(th - eta * g, k), R)
    return th


@pytest.mark.parametrize("simulate", ["per_user", "aggregate"])
def test_noise_off_equals_nonprivate_iht(simulate):
    th = iht_theta(12, 3)
    X, y = _rademacher(5000, 12, th, 1)
    X[:20] *= 4.0
    res = ldp_iht(X, y, 1.0, 1e-5, k=3, n_rounds=8, step=0.7, tau_y=0.8, rng=5, simulate=simulate,
                  _noise=False)
    srv = LDPIHTServer(12, 5000, 3, n_rounds=8, rng=5)
    ref = _manual_iht(X, y, srv.groups, 3, 8, 0.7, 1.0, 1.0, 0.8)
    np.testing.assert_allclose(res.x, ref, atol=1e-10)
    assert res.extras["privacy"]["epsilon"] == math.inf


def test_large_n_converges_to_nonprivate_iht():
    th = iht_theta()
    pop = population_iht(th, 5, n_rounds=10, step=0.5)
    r = simulate_ldp_iht(th, 10**9, 2.0, 1e-5, k=5, n_repeats=3, rng=0, _noise=False)
    assert np.max(np.abs(r.x - pop)) < 1e-3
    # and with noise, the private error shrinks towards the noise-free one as epsilon grows
    errs = [mean_err(simulate_ldp_iht(th, 10**9, e, 1e-5, k=5, n_repeats=5, rng=1).x, pop)
            for e in (1.0, 16.0, 1024.0)]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-3, errs


# ----------------------------------------------------------------------------------------------
# backends, batching, result contract


@pytest.mark.parametrize("simulate", ["per_user", "aggregate"])
def test_numpy_torch_agree_iht(simulate):
    th = iht_theta(8, 2)
    X, y = _rademacher(3000, 8, th, 2, batch=(2,))
    rn = ldp_iht(X, y, 4.0, 1e-5, k=2, tau_y=2.0, rng=4, simulate=simulate)
    rt = ldp_iht(torch.as_tensor(X), torch.as_tensor(y), 4.0, 1e-5, k=2, tau_y=2.0, rng=4, simulate=simulate)
    assert isinstance(rt.x, torch.Tensor)
    np.testing.assert_allclose(rt.x.numpy(), rn.x, atol=1e-10)
    rt32 = ldp_iht(torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32), 4.0,
                   1e-5, k=2, tau_y=2.0, rng=4, simulate=simulate)
    assert rt32.x.dtype == torch.float32
    np.testing.assert_allclose(rt32.x.numpy(), rn.x, atol=1e-3)


def test_iht_result_contract():
    th = iht_theta(10, 2)
    X, y = _rademacher(2000, 10, th, 3, batch=(3,))
    r = ldp_iht(X, y, 4.0, 1e-5, k=2, tau_y=2.0, n_rounds=5, rng=0)
    assert r.x.shape == (3, 10) and r.n_iter.tolist() == [5, 5, 5] and r.solver == "ldp_iht"
    assert r.history["rel_change"].shape == (5, 3) and r.history["n_nonzero"].max() <= 2
    assert np.all(np.abs(r.x).sum(-1) <= 1 + 1e-12)
    p = r.extras["privacy"]
    assert p["releases_per_user"] == 1 and p["epsilon"] == 4.0 and p["delta"] == 1e-5
    assert p["protocol"] == "sequentially-interactive"
    for key in ("sigma", "n_rounds", "group_sizes", "epsilon_release", "calibration"):
        assert key in r.extras
    rl = ldp_iht(X, y, 4.0, None, k=2, tau_y=2.0, n_rounds=5, mechanism="laplace", rng=0)
    assert rl.extras["privacy"]["delta"] == 0.0


def test_bad_input_iht():
    th = iht_theta(6, 2)
    X, y = _rademacher(50, 6, th, 4)
    with pytest.raises(ValueError, match="exceeds the number of users"):
        ldp_iht(X, y, 1.0, 1e-5, k=2, n_rounds=51)
    for k in (0, 7):
        with pytest.raises(ValueError, match="k"):
            ldp_iht(X, y, 1.0, 1e-5, k=k)
    with pytest.raises(ValueError, match="epsilon"):
        ldp_iht(X, y, -1.0, 1e-5, k=2)
    with pytest.raises(ValueError, match="delta"):
        ldp_iht(X, y, 1.0, 1.0, k=2)
    with pytest.raises(ValueError, match="radius"):
        ldp_iht(X, y, 1.0, 1e-5, k=2, radius=0.0)
    with pytest.raises(ValueError, match="tau_x"):
        ldp_iht(X, y, 1.0, 1e-5, k=2, tau_x=-1.0)
    Xb = X.copy()
    Xb[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ldp_iht(Xb, y, 1.0, 1e-5, k=2)
    with pytest.raises(ValueError, match="classical"):
        ldp_iht(X, y, 1.0, 1e-5, k=2, calibration="classical")
    with pytest.raises(ValueError):
        group_sizes(5, 0)


def test_iht_prototype_numbers():
    """Spec §7: LDP-IHT vs NLDP-SLR at d = 50, k = 5, eps = 2 (100 repetitions)."""
    th = iht_theta()
    proto_iht = {10**7: 0.116, 10**8: 0.029, 10**9: 0.0092}
    proto_nldp = {10**7: 0.205, 10**8: 0.056, 10**9: 0.013}
    for n in proto_iht:
        a = mean_err(simulate_ldp_iht(th, n, 2.0, 1e-5, k=5, n_repeats=100, rng=n).x, th)
        b = mean_err(simulate_nldp_slr(th, n, 2.0, 1e-5, k=5, n_repeats=100, rng=n).x, th)
        assert 0.65 * proto_iht[n] <= a <= 1.5 * proto_iht[n], (n, a)
        assert 0.65 * proto_nldp[n] <= b <= 1.5 * proto_nldp[n], (n, b)
        assert a < b
