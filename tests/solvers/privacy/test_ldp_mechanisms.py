"""Spec §8.1–8.4: exact noise scales, output distribution, privacy profile, shrinkage before noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sparserec.solvers.privacy import (
    GaussianMechanism,
    LaplaceMechanism,
    analytic_gaussian_sigma,
    classical_gaussian_sigma,
    gaussian_delta,
    gaussian_sigma,
    ldp_iht_mechanism,
    ldp_iht_release,
    nldp_slr,
    nldp_slr_cross_release,
    nldp_slr_mechanisms,
    nldp_slr_release,
    public_cross_mechanism,
)
from sparserec.solvers.privacy._ops import sym_from_upper, upper

# ----------------------------------------------------------------------------------------------
# §8.1 exact noise scale

TABLE = {  # spec §2 reference values: eps' -> (analytic, classical), Delta = 1
    1e-5: {0.5: (7.0318, 9.6896), 1: (3.7306, 4.8448), 2: (1.9938, 2.4224), 4: (1.0812, 1.2112),
           8: (0.6002, 0.6056), 16: (0.3442, 0.3028)},
    5e-6: {0.5: (7.3511, 9.9716), 1: (3.8841, 4.9858), 2: (2.0672, 2.4929), 4: (1.1159, 1.2465),
           8: (0.6165, 0.6232), 16: (0.3517, 0.3116)},
}


def _classical_formula(eps, delta, sens=1.0):
    return sens * math.sqrt(2 * math.log(1.25 / delta)) / eps


def test_nldp_closed_form_sigmas():
    eps, delta, d, tx, ty = 1.0, 1e-5, 10, 1.0, 2.0
    m1, m2 = nldp_slr_mechanisms(d, eps, delta, tau_x=tx, tau_y=ty)
    s1 = 32 * d**2 * tx**4 * math.log(2.5 / delta) / eps**2
    s2 = 32 * d * tx**2 * ty**2 * math.log(2.5 / delta) / eps**2
    assert m1.calibration == m2.calibration == "classical"
    assert abs(m1.sigma**2 / s1 - 1) < 1e-12
    assert abs(m2.sigma**2 / s2 - 1) < 1e-12
    assert m1.sensitivity == 2 * d * tx**2 and abs(m2.sensitivity - 2 * math.sqrt(d) * tx * ty) < 1e-15
    # the driver reports the same numbers
    X = np.ones((5, d))
    res = nldp_slr(X, np.ones(5), eps, delta, k=2, tau_x=tx, tau_y=ty, rng=0)
    assert abs(res.extras["sigma1"] ** 2 / s1 - 1) < 1e-12
    assert abs(res.extras["sigma2"] ** 2 / s2 - 1) < 1e-12
    assert res.extras["epsilon_release"] == (0.5, 0.5)
    assert res.extras["delta_release"] == (0.5e-5, 0.5e-5)


@pytest.mark.parametrize("eps", [0.3, 0.9])
def test_public_and_iht_closed_forms(eps):
    delta, d, tx, ty, R = 1e-5, 20, 1.5, 2.0, 1.0
    m = public_cross_mechanism(d, eps, delta, tau_x=tx, tau_y=ty)
    assert abs(m.sigma**2 / (8 * d * tx**2 * ty**2 * math.log(1.25 / delta) / eps**2) - 1) < 1e-12
    mi = ldp_iht_mechanism(d, eps, delta, tau_x=tx, tau_y=ty, radius=R)
    ref = 8 * d * tx**2 * (tx * R + ty) ** 2 * math.log(1.25 / delta) / eps**2
    assert abs(mi.sigma**2 / ref - 1) < 1e-12


@pytest.mark.parametrize("delta", sorted(TABLE))
@pytest.mark.parametrize("eps", [0.5, 1, 2, 4, 8, 16])
def test_analytic_table_equality_minimality(eps, delta):
    ana, cla = TABLE[delta][eps]
    s = analytic_gaussian_sigma(1.0, eps, delta)
    assert round(s, 4) == ana
    assert round(_classical_formula(eps, delta), 4) == cla
    assert abs(gaussian_delta(eps, s, 1.0) / delta - 1) < 1e-9  # condition holds with equality
    assert gaussian_delta(eps, s, 1.0) <= delta * (1 + 1e-12)
    assert gaussian_delta(eps, s * (1 - 1e-6), 1.0) > delta  # minimal
    # scale equivariance in the sensitivity
    assert abs(analytic_gaussian_sigma(3.7, eps, delta) / (3.7 * s) - 1) < 1e-12


@pytest.mark.parametrize("eps", [0.05, 0.3, 0.7, 0.99, 1.0])
def test_analytic_below_classical_where_proven(eps):
    assert analytic_gaussian_sigma(1.0, eps, 1e-5) <= _classical_formula(eps, 1e-5)


def test_analytic_extreme_epsilon_and_auto_switch():
    s = analytic_gaussian_sigma(1.0, 1024.0, 1e-5)
    assert math.isfinite(s) and s > 0
    assert abs(gaussian_delta(1024.0, s, 1.0) / 1e-5 - 1) < 1e-9
    # the classical formula fails the exact profile at eps' = 16 ...
    d16 = gaussian_delta(16.0, _classical_formula(16.0, 1e-5), 1.0)
    assert 3.3e-4 < d16 < 3.5e-4
    # ... so "auto" picks analytic there, and classical below 1
    assert GaussianMechanism(16.0, 1e-5, 1.0).calibration == "analytic"
    assert GaussianMechanism(0.99, 1e-5, 1.0).calibration == "classical"
    assert GaussianMechanism(1.0, 1e-5, 1.0).calibration == "analytic"
    assert GaussianMechanism(0.5, 1e-5, 1.0, calibration="analytic").calibration == "analytic"
    # NLDP-SLR switches on the per-release eps' = eps / 2
    assert nldp_slr_mechanisms(10, 1.9, 1e-5)[0].calibration == "classical"
    assert nldp_slr_mechanisms(10, 2.0, 1e-5)[0].calibration == "analytic"
    assert public_cross_mechanism(10, 1.0, 1e-5).calibration == "analytic"
    with pytest.raises(ValueError, match="only valid for epsilon < 1"):
        classical_gaussian_sigma(1.0, 1.0, 1e-5)
    with pytest.raises(ValueError, match="classical"):
        gaussian_sigma(1.0, 2.0, 1e-5, calibration="classical")
    with pytest.raises(ValueError):
        nldp_slr_mechanisms(10, 2.0, 1e-5, calibration="classical")


def test_laplace_scale():
    m = LaplaceMechanism(0.5, sensitivity=3.0)
    assert m.scale == 6.0 and m.variance == 72.0 and m.delta == 0.0
    m1, m2 = nldp_slr_mechanisms(10, 2.0, mechanism="laplace", tau_x=1.0, tau_y=2.0)
    assert m1.sensitivity == 10 * 11 and m2.sensitivity == 2 * 10 * 2
    assert abs(m1.scale - 110 / 1.0) < 1e-12 and abs(m2.scale - 40 / 1.0) < 1e-12


# ----------------------------------------------------------------------------------------------
# §8.2 output distribution

N_DRAWS = 100_000


def _check_gaussian_sample(noise, sigma):
    noise = noise.reshape(noise.shape[0], -1)
    se = sigma / math.sqrt(noise.shape[0])
    assert np.all(np.abs(noise.mean(axis=0)) < 5 * se)
    var = noise.var(axis=0, ddof=1)
    assert np.all(np.abs(var / sigma**2 - 1) < 0.02), np.abs(var / sigma**2 - 1).max()
    assert stats.kstest(noise[:, 0] / sigma, "norm").pvalue > 1e-3
    assert stats.kstest(noise[:, -1] / sigma, "norm").pvalue > 1e-3


def test_nldp_release_distribution():
    d, eps, delta = 6, 1.0, 1e-5
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, d)
    y = np.array(0.7)
    xs, ys = np.repeat(x[None], N_DRAWS, 0), np.full(N_DRAWS, 0.7)
    S, b = nldp_slr_release(xs, ys, epsilon=eps, delta=delta, tau_x=1.0, tau_y=2.0, rng=1)
    m1, m2 = nldp_slr_mechanisms(d, eps, delta, tau_x=1.0, tau_y=2.0)
    xt = np.clip(x, -1, 1)
    _check_gaussian_sample(S - upper(np.outer(xt, xt)), m1.sigma)  # diagonal and off-diagonal
    _check_gaussian_sample(b - xt * y, m2.sigma)
    M = sym_from_upper(S[:10], d)
    assert np.array_equal(M, np.swapaxes(M, -1, -2))  # exactly symmetric
    assert np.array_equal(upper(M), S[:10])


def test_public_and_iht_release_distribution():
    d = 5
    rng = np.random.default_rng(2)
    x, th = rng.uniform(-1, 1, d), rng.uniform(-0.2, 0.2, d)
    xs, ys = np.repeat(x[None], N_DRAWS, 0), np.full(N_DRAWS, -0.3)
    b = nldp_slr_cross_release(xs, ys, epsilon=0.8, delta=1e-5, tau_y=2.0, rng=3)
    _check_gaussian_sample(b - x * -0.3, public_cross_mechanism(d, 0.8, 1e-5, tau_y=2.0).sigma)
    gr = ldp_iht_release(xs, ys, th, epsilon=3.0, delta=1e-5, tau_y=2.0, rng=4)
    clean = x * (x @ th + 0.3)
    _check_gaussian_sample(gr - clean, ldp_iht_mechanism(d, 3.0, 1e-5, tau_y=2.0).sigma)


def test_laplace_distribution_and_exact_aggregate():
    m = LaplaceMechanism(1.0, sensitivity=2.0)
    z = m.noise((N_DRAWS, 4), rng=5)
    assert np.all(np.abs(z.var(axis=0, ddof=1) / m.variance - 1) < 0.02)
    assert stats.kstest(z[:, 0], "laplace", args=(0, m.scale)).pvalue > 1e-3
    # the sum of n Laplace draws is drawn exactly (Gamma difference): compare with explicit sums
    n = 7
    agg = m.aggregate_noise((N_DRAWS,), n, rng=6)
    explicit = m.noise((N_DRAWS, n), rng=7).sum(axis=1)
    assert abs(agg.var() / (n * m.variance) - 1) < 0.02
    assert stats.ks_2samp(agg, explicit).pvalue > 1e-3


def test_gaussian_aggregate_noise_law():
    m = GaussianMechanism(0.5, 1e-5, 1.0)
    n = 10**9
    agg = m.aggregate_noise((N_DRAWS,), n, rng=8)
    assert abs(agg.var() / (n * m.variance) - 1) < 0.02
    assert stats.kstest(agg / (m.sigma * math.sqrt(n)), "norm").pvalue > 1e-3


# ----------------------------------------------------------------------------------------------
# §8.3 privacy profile


def test_sensitivity_worst_pairs_and_random_pairs():
    d, tx, ty, eps, delta = 8, 1.5, 2.0, 1.0, 1e-5
    m1, m2 = nldp_slr_mechanisms(d, eps, delta, tau_x=tx, tau_y=ty)
    kw = dict(epsilon=eps, delta=delta, tau_x=tx, tau_y=ty, _noise=False)
    ones = np.ones(d)
    _, b0 = nldp_slr_release(tx * ones, np.array(ty), **kw)
    _, b1 = nldp_slr_release(tx * ones, np.array(-ty), **kw)
    assert abs(np.linalg.norm(b0 - b1) / m2.sensitivity - 1) < 1e-14  # worst case attains Delta
    alt = tx * np.where(np.arange(d) % 2 == 0, 1.0, -1.0)
    F = np.linalg.norm(np.outer(tx * ones, tx * ones) - np.outer(alt, alt))
    assert abs(F / (math.sqrt(2) * d * tx**2) - 1) < 1e-14 and F <= m1.sensitivity
    S0, _ = nldp_slr_release(tx * ones, np.array(ty), **kw)
    S1, _ = nldp_slr_release(alt, np.array(ty), **kw)
    assert np.linalg.norm(S0 - S1) <= F + 1e-12
    # 10^4 random neighbouring pairs (heavy-tailed data, so that clipping is active)
    rng = np.random.default_rng(0)
    n = 10_000
    xa, xb = 3 * rng.standard_t(2, (n, d)), 3 * rng.standard_t(2, (n, d))
    ya, yb = 3 * rng.standard_t(2, n), 3 * rng.standard_t(2, n)
    Sa, ba = nldp_slr_release(xa, ya, **kw)
    Sb, bb = nldp_slr_release(xb, yb, **kw)
    assert np.linalg.norm(Sa - Sb, axis=1).max() <= m1.sensitivity * (1 + 1e-12)
    assert np.linalg.norm(ba - bb, axis=1).max() <= m2.sensitivity * (1 + 1e-12)
    ml1, ml2 = nldp_slr_mechanisms(d, eps, tau_x=tx, tau_y=ty, mechanism="laplace")
    assert np.abs(Sa - Sb).sum(axis=1).max() <= ml1.sensitivity * (1 + 1e-12)
    assert np.abs(ba - bb).sum(axis=1).max() <= ml2.sensitivity * (1 + 1e-12)
    # LDP-IHT messages, for broadcasts inside the l1 ball and (adversarially) outside it
    mi = ldp_iht_mechanism(d, eps, delta, tau_x=tx, tau_y=ty, radius=1.0)
    for scale in (1.0, 50.0):
        th = rng.laplace(size=(n, d))
        th = th / np.abs(th).sum(axis=1, keepdims=True) * scale
        ga = ldp_iht_release(xa, ya, th, epsilon=eps, delta=delta, tau_x=tx, tau_y=ty, _noise=False)
        gb = ldp_iht_release(xb, yb, th, epsilon=eps, delta=delta, tau_x=tx, tau_y=ty, _noise=False)
        assert np.linalg.norm(ga - gb, axis=1).max() <= mi.sensitivity * (1 + 1e-12)


@pytest.mark.parametrize("eps", [0.5, 1.0, 1.9, 2.0, 4.0, 16.0, 100.0])
def test_exact_profile_of_every_release(eps):
    for m in (*nldp_slr_mechanisms(10, eps, 1e-5, tau_y=2.0), public_cross_mechanism(10, eps, 1e-5),
              ldp_iht_mechanism(50, eps, 1e-5, tau_y=2.0)):
        assert m.exact_delta() <= m.delta + 1e-12


@pytest.mark.parametrize("eps_total", [1.0, 8.0])  # per-release 0.5 (classical), 4 (analytic)
def test_privacy_loss_monte_carlo_worst_pair(eps_total):
    """Privacy loss of the actual cross-term release at the worst-case neighbours (10^7 draws)."""
    d, tx, ty, delta = 4, 1.0, 2.0, 1e-5
    _, m2 = nldp_slr_mechanisms(d, eps_total, delta, tau_x=tx, tau_y=ty)
    s, epsr, deltar = m2.sigma, m2.epsilon, m2.delta
    x = tx * np.ones(d)
    mu0, mu1 = x * ty, -x * ty  # means of the releases of (x, tau_y) and (x, -tau_y)
    D = np.linalg.norm(mu0 - mu1)
    assert abs(D / m2.sensitivity - 1) < 1e-14
    rng = np.random.default_rng(11)
    chunk, n_chunks = 1_000_000, 10
    s1 = s2 = hsum = hsq = 0.0
    for _ in range(n_chunks):
        o = nldp_slr_cross_release(np.repeat(x[None], chunk, 0), np.full(chunk, ty),
                                   epsilon=epsr, delta=deltar, tau_x=tx, tau_y=ty, rng=rng)
        L = (((o - mu1) ** 2).sum(1) - ((o - mu0) ** 2).sum(1)) / (2 * s * s)
        s1, s2 = s1 + L.sum(), s2 + (L * L).sum()
        h = np.maximum(0.0, -np.expm1(epsr - L))
        hsum, hsq = hsum + h.sum(), hsq + (h * h).sum()
    N = chunk * n_chunks
    mean, var = s1 / N, s2 / N - (s1 / N) ** 2
    assert abs(mean / (D**2 / (2 * s**2)) - 1) < 0.03
    assert abs(var / (D**2 / s**2) - 1) < 0.03
    est = hsum / N
    se = math.sqrt(max(hsq / N - est**2, 0.0) / N)
    assert est <= deltar + 5 * se
    if m2.calibration == "analytic":  # tight: the hockey-stick divergence equals delta'
        assert abs(est - deltar) <= 5 * se


# ----------------------------------------------------------------------------------------------
# §8.4 shrinkage before noise


def test_shrinkage_before_noise_bit_identical_and_ks():
    d, tx, ty = 5, 1.0, 2.0
    rng = np.random.default_rng(0)
    signs = rng.choice([-1.0, 1.0], size=(1000, d))
    big, at = signs * rng.uniform(10, 1e6, (1000, d)), signs * tx
    ysig = rng.choice([-1.0, 1.0], 1000)
    ybig, yat = ysig * 1e4, ysig * ty
    kw = dict(epsilon=1.0, delta=1e-5, tau_x=tx, tau_y=ty)
    S1, b1 = nldp_slr_release(big, ybig, rng=42, **kw)
    S2, b2 = nldp_slr_release(at, yat, rng=42, **kw)
    assert np.array_equal(S1, S2) and np.array_equal(b1, b2)
    assert np.array_equal(nldp_slr_cross_release(big, ybig, rng=3, **kw),
                          nldp_slr_cross_release(at, yat, rng=3, **kw))
    th = np.full(d, 0.1)
    assert np.array_equal(ldp_iht_release(big, ybig, th, rng=4, **kw),
                          ldp_iht_release(at, yat, th, rng=4, **kw))
    # across seeds the two laws agree
    S3, b3 = nldp_slr_release(at, yat, rng=43, **kw)
    assert stats.ks_2samp(b1[:, 0], b3[:, 0]).pvalue > 1e-3
    assert stats.ks_2samp(S1[:, 1], S3[:, 1]).pvalue > 1e-3
