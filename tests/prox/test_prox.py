"""Proximal maps: Moreau identity, brute-force minimisers, batching, backends, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from sparserec import prox as P
from tests.conftest import HAS_TORCH, convert

RNG = np.random.default_rng(1234)


def _grid_min(obj, lo, hi, n=200001):
    z = np.linspace(lo, hi, n)
    f = obj(z)
    i = np.argmin(f)
    return z[i], f[i]


# ---------------------------------------------------------------------------------- Moreau
@pytest.mark.parametrize("cplx", [False, True])
def test_moreau_l1_linf(cplx):
    x = RNG.standard_normal((4, 7)) + (1j * RNG.standard_normal((4, 7)) if cplx else 0)
    t = RNG.uniform(0.1, 1.5, (4, 1))
    lhs = P.prox_l1(x, t) + P.project_linf_ball(x, t)
    np.testing.assert_allclose(lhs, x, atol=1e-12)


def test_moreau_weighted_l1_box():
    x = RNG.standard_normal((3, 6))
    w = RNG.uniform(0, 2, 6)
    t = 0.7
    lhs = P.prox_l1(x, t, weights=w) + P.project_box(x, -t * w, t * w)
    np.testing.assert_allclose(lhs, x, atol=1e-12)


@pytest.mark.parametrize("kind", ["rows", "cols", "index"])
@pytest.mark.parametrize("cplx", [False, True])
def test_moreau_group_l21(kind, cplx):
    x = RNG.standard_normal((2, 5, 6)) + (1j * RNG.standard_normal((2, 5, 6)) if cplx else 0)
    t = np.array([0.5, 2.0]).reshape(2, 1, 1)
    if kind == "index":
        groups = np.array([0, 2, 0, 1, 1, 2])
        kw = {"groups": groups}
    else:
        kw = {"axis": -1 if kind == "rows" else -2}
    lhs = P.prox_group_l21(x, t, **kw) + P.project_group_ball(x, t, **kw)
    np.testing.assert_allclose(lhs, x, atol=1e-12)


@pytest.mark.parametrize("cplx", [False, True])
def test_moreau_nuclear_spectral(cplx):
    x = RNG.standard_normal((3, 5, 4)) + (1j * RNG.standard_normal((3, 5, 4)) if cplx else 0)
    t = np.array([0.3, 1.0, 3.0]).reshape(3, 1, 1)
    lhs = P.prox_nuclear(x, t) + P.project_spectral_ball(x, t)
    np.testing.assert_allclose(lhs, x, atol=1e-10)


def test_moreau_nonneg():
    x = RNG.standard_normal(20)
    np.testing.assert_allclose(P.project_nonneg(x) - P.project_nonneg(-x), x)


def test_moreau_linf_via_l1_ball():
    # prox of t*||.||_inf = x - P_{||.||_1 <= t}(x); check against a generic minimiser
    x = RNG.standard_normal(5)
    t = 0.8
    z = x - P.project_l1_ball(x, t)
    f = lambda v: 0.5 * np.sum((v - x) ** 2) + t * np.max(np.abs(v))  # noqa: E731
    ref = minimize(f, x, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20000})
    assert f(z) <= ref.fun + 1e-9


# --------------------------------------------------------------------- brute-force scalar checks
@pytest.mark.parametrize("p", [0.3, 0.5, 2.0 / 3.0, 0.7, 1.0])
def test_lp_against_grid(p):
    a = np.concatenate([RNG.uniform(-4, 4, 40), [0.0]])
    t = RNG.uniform(0.05, 2.0, a.shape)
    z = P.prox_lp(a, t, p)
    for ai, ti, zi in zip(a, t, z):
        obj = lambda v: 0.5 * (v - ai) ** 2 + ti * np.abs(v) ** p  # noqa: E731,B023
        zb, fb = _grid_min(obj, -4.5, 4.5)
        assert obj(zi) <= fb + 1e-10
        assert abs(zi - zb) < 1e-3 or abs(obj(zi) - fb) < 1e-9


def test_lp_threshold_value():
    t = 0.7
    for p in (0.3, 0.5, 2 / 3, 0.7):
        tau = P.lp_threshold(t, p)
        assert P.prox_lp(np.array([tau * 0.999]), t, p)[0] == 0.0
        assert P.prox_lp(np.array([tau * 1.001]), t, p)[0] > 0.0


def test_l0_and_l1_against_grid():
    a = RNG.uniform(-3, 3, 30)
    for ai in a:
        t = 0.9
        z1 = P.prox_l1(np.array([ai]), t)[0]
        zb, _ = _grid_min(lambda v: 0.5 * (v - ai) ** 2 + t * np.abs(v), -3.5, 3.5)  # noqa: B023
        assert abs(z1 - zb) < 1e-4
        z0 = P.prox_l0(np.array([ai]), t)[0]
        obj0 = lambda v: 0.5 * (v - ai) ** 2 + t * (v != 0)  # noqa: E731,B023
        assert obj0(z0) <= min(obj0(0.0), obj0(ai)) + 1e-12


@pytest.mark.parametrize("gamma", [0.3, 0.9, 1.5])
def test_cel0_against_grid(gamma):
    lam, a = 0.6, 1.0
    theta = np.sqrt(2 * lam) / a

    def phi(v):
        u = np.abs(v)
        return lam - 0.5 * a**2 * np.clip(theta - u, 0, None) ** 2

    for u in np.concatenate([RNG.uniform(-3, 3, 30), [theta, -theta]]):
        z = P.prox_cel0(np.array([u]), gamma, lam, a)[0]
        obj = lambda v: 0.5 * (v - u) ** 2 + gamma * phi(v)  # noqa: E731,B023
        _, fb = _grid_min(obj, -3.5, 3.5)
        assert obj(z) <= fb + 1e-9


def test_cel0_closed_form_small_step():
    # for gamma * a^2 < 1: sign(u) min(|u|, max(0, (|u| - gamma a sqrt(2 lam)) / (1 - gamma a^2)))
    u = RNG.uniform(-3, 3, 100)
    a = RNG.uniform(0.5, 1.5, 100)
    gamma, lam = 0.4, 0.5
    ref = np.sign(u) * np.minimum(np.abs(u), np.maximum(
        0, (np.abs(u) - gamma * a * np.sqrt(2 * lam)) / (1 - gamma * a**2)))
    np.testing.assert_allclose(P.prox_cel0(u, gamma, lam, a), ref, atol=1e-12)


def test_group_l21_against_scipy():
    x = RNG.standard_normal(6)
    groups = np.array([0, 1, 0, 2, 1, 2])
    t = 0.6
    z = P.prox_group_l21(x, t, groups=groups)

    def f(v):
        return 0.5 * np.sum((v - x) ** 2) + t * sum(np.linalg.norm(v[groups == g]) for g in range(3))

    ref = minimize(f, x, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 40000})
    assert f(z) <= ref.fun + 1e-9


def test_simplex_projections_against_cvxpy():
    cp = pytest.importorskip("cvxpy")
    x = RNG.standard_normal((5, 7)) * 2
    z = P.project_simplex(x, 1.0)
    zl = P.project_simplex(x * 0.1, 1.0, equality=False)
    for i in range(5):
        v = cp.Variable(7)
        cp.Problem(cp.Minimize(cp.sum_squares(v - x[i])), [v >= 0, cp.sum(v) == 1]).solve()
        np.testing.assert_allclose(z[i], v.value, atol=1e-6)
        cp.Problem(cp.Minimize(cp.sum_squares(v - 0.1 * x[i])), [v >= 0, cp.sum(v) <= 1]).solve()
        np.testing.assert_allclose(zl[i], v.value, atol=1e-6)
    np.testing.assert_allclose(z.sum(-1), 1.0)
    # axis argument and per-vector radius
    r = np.array([1.0, 2.0, 0.5, 3.0, 1.0])
    za = P.project_simplex(x.T, r, axis=0)
    np.testing.assert_allclose(za.sum(0), r)


def test_sum_to_and_l1_ball():
    x = RNG.standard_normal((4, 6))
    np.testing.assert_allclose(P.project_sum_to(x, 1.0).sum(-1), 1.0)
    z = P.project_l1_ball(x, 0.5)
    np.testing.assert_allclose(np.abs(z).sum(-1), 0.5)
    assert np.all(np.sign(z) * np.sign(x) >= 0)


def test_tv_against_cvxpy():
    cp = pytest.importorskip("cvxpy")
    x = np.repeat([0.0, 1.0, -0.5, 0.3], 6) + 0.2 * RNG.standard_normal(24)
    t = 0.4
    z = P.prox_tv(x, t, n_iter=5000, tol=1e-12)
    v = cp.Variable(24)
    cp.Problem(cp.Minimize(0.5 * cp.sum_squares(v - x) + t * cp.norm1(cp.diff(v)))).solve()
    np.testing.assert_allclose(z, v.value, atol=1e-5)
    # 2-D isotropic, batched with per-image thresholds
    X = RNG.standard_normal((2, 6, 5))
    T = np.array([0.2, 0.5]).reshape(2, 1, 1)
    Z = P.prox_tv(X, T, ndim=2, n_iter=3000, tol=1e-12)
    for b in range(2):
        V = cp.Variable((6, 5))
        dx = cp.vstack([V[1:, :] - V[:-1, :], np.zeros((1, 5))])
        dy = cp.hstack([V[:, 1:] - V[:, :-1], np.zeros((6, 1))])
        tv = cp.sum(cp.norm(cp.vstack([cp.vec(dx, order="C"), cp.vec(dy, order="C")]), 2, axis=0))
        cp.Problem(cp.Minimize(0.5 * cp.sum_squares(V - X[b]) + T[b, 0, 0] * tv)).solve()
        np.testing.assert_allclose(Z[b], V.value, atol=2e-4)


def test_nuclear_low_rank():
    U = RNG.standard_normal((8, 2))
    X = U @ RNG.standard_normal((2, 6)) + 0.01 * RNG.standard_normal((8, 6))
    Z = P.prox_nuclear(X, 0.5)
    assert np.linalg.matrix_rank(Z, tol=1e-8) == 2


# ------------------------------------------------------------------------------- batching
def test_per_problem_thresholds_equal_separate_calls():
    x = RNG.standard_normal((3, 10))
    t = np.array([0.1, 0.5, 1.0])
    for fn in (P.prox_l1, P.prox_l0, lambda v, s: P.prox_lp(v, s, 0.5),
               lambda v, s: P.prox_lp(v, s, 0.3)):
        full = fn(x, t[:, None])
        for i in range(3):
            np.testing.assert_allclose(full[i], fn(x[i], float(t[i])), atol=1e-12)


# ------------------------------------------------------------------------------- backends
@pytest.mark.skipif(not HAS_TORCH, reason="torch missing")
@pytest.mark.parametrize("name", ["l1", "l0", "lp05", "lp23", "lp03", "cel0", "group", "groupidx",
                                  "nuclear", "simplex", "tv", "l1ball"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numpy_torch_parity(name, dtype):
    x = RNG.standard_normal((3, 6, 5)).astype(dtype)
    t = np.array([0.2, 0.5, 0.9]).reshape(3, 1, 1)
    fns = {
        "l1": lambda v, s: P.prox_l1(v, s),
        "l0": lambda v, s: P.prox_l0(v, s),
        "lp05": lambda v, s: P.prox_lp(v, s, 0.5),
        "lp23": lambda v, s: P.prox_lp(v, s, 2 / 3),
        "lp03": lambda v, s: P.prox_lp(v, s, 0.3),
        "cel0": lambda v, s: P.prox_cel0(v, s, 0.5, np.linspace(0.5, 1.2, 5)),
        "group": lambda v, s: P.prox_group_l21(v, s, axis=-2),
        "groupidx": lambda v, s: P.prox_group_l21(v, s, groups=np.array([0, 1, 1, 0, 2])),
        "nuclear": lambda v, s: P.prox_nuclear(v, s),
        "simplex": lambda v, s: P.project_simplex(v),
        "tv": lambda v, s: P.prox_tv(v, s, ndim=2, n_iter=30),
        "l1ball": lambda v, s: P.project_l1_ball(v, 1.0),
    }
    fn = fns[name]
    ref = fn(x, t)
    out = fn(convert(x, "torch-cpu"), t)
    assert str(out.dtype).endswith(dtype)
    tol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(out.numpy(), ref, rtol=tol, atol=tol)
    assert ref.dtype == np.dtype(dtype)


@pytest.mark.parametrize("p", [0.5, 2 / 3, 0.4, 1.0])
def test_complex_modulus(p):
    x = RNG.standard_normal(50) + 1j * RNG.standard_normal(50)
    z = P.prox_lp(x, 0.4, p)
    zr = P.prox_lp(np.abs(x), 0.4, p)
    np.testing.assert_allclose(np.abs(z), zr, atol=1e-12)
    nz = zr > 0
    np.testing.assert_allclose(np.angle(z[nz]), np.angle(x[nz]), atol=1e-12)
    np.testing.assert_allclose(np.abs(P.prox_l0(x, 0.3)), P.prox_l0(np.abs(x), 0.3))
    np.testing.assert_allclose(np.abs(P.prox_cel0(x, 0.5, 0.4, 1.0)), P.prox_cel0(np.abs(x), 0.5, 0.4, 1.0))


# ------------------------------------------------------------------------------- bad input
def test_bad_input():
    x = np.ones(4)
    with pytest.raises(ValueError, match="non-negative"):
        P.prox_l1(x, -1.0)
    with pytest.raises(ValueError, match="non-negative"):
        P.prox_l1(x, np.array([0.1, -0.1, 0.0, 0.0]))
    with pytest.raises(ValueError, match="finite"):
        P.prox_l1(x, float("nan"))
    for p in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="p must lie"):
            P.prox_lp(x, 1.0, p)
        with pytest.raises(ValueError, match="p must lie"):
            P.Lp(p)
    xc = x + 1j
    for fn in (P.project_nonneg, P.project_simplex, lambda v: P.project_box(v, 0, 1)):
        with pytest.raises(TypeError, match="real"):
            fn(xc)
    with pytest.raises(TypeError, match="real"):
        P.NonNegative()(xc)
    with pytest.raises(TypeError):
        P.prox_l1([1.0, 2.0], 1.0)
    with pytest.raises(TypeError):
        P.prox_l1(np.arange(3), 1.0)
    with pytest.raises(ValueError, match="groups"):
        P.prox_group_l21(np.ones(5), 1.0, groups=np.array([0, 1]))
    with pytest.raises(ValueError):
        P.prox_nuclear(np.ones(4), 1.0)
    with pytest.raises(ValueError, match="lower"):
        P.project_box(x, 1.0, 0.0)
    with pytest.raises(ValueError, match="unknown penalty"):
        P.get_penalty("l7")


# ------------------------------------------------------------------------------- objects
def test_penalty_objects_prox_and_value():
    x = RNG.standard_normal((2, 3, 4))
    lam = np.array([0.5, 1.5])
    lam_e = lam.reshape(2, 1, 1)
    cases = [
        (P.L1(), lambda v: np.abs(v).sum((-2, -1)), lambda v, s: P.prox_l1(v, s)),
        (P.L1(weights=np.arange(4.0)), lambda v: (np.abs(v) * np.arange(4.0)).sum((-2, -1)),
         lambda v, s: P.prox_l1(v, s, weights=np.arange(4.0))),
        (P.L0(), lambda v: (v != 0).sum((-2, -1)), lambda v, s: P.prox_l0(v, s)),
        (P.Lp(0.5), lambda v: (np.abs(v) ** 0.5).sum((-2, -1)), lambda v, s: P.prox_lp(v, s, 0.5)),
        (P.GroupL21(), lambda v: np.linalg.norm(v, axis=-1).sum(-1), lambda v, s: P.prox_group_l21(v, s)),
        (P.NuclearNorm(), lambda v: np.linalg.svd(v, compute_uv=False).sum(-1),
         lambda v, s: P.prox_nuclear(v, s)),
    ]
    for pen, val, prox in cases:
        np.testing.assert_allclose(pen.value(x, lam, ndim=2), lam * val(x), rtol=1e-12)
        np.testing.assert_allclose(pen(x, 0.3, lam_e), prox(x, 0.3 * lam_e), rtol=1e-12)
    assert float(P.NonNegative().value(np.abs(x))) == 0.0
    assert np.isinf(float(P.NonNegative().value(x)))
    np.testing.assert_allclose(P.Simplex()(x).sum(-1), 1.0)
    assert P.get_penalty("lp:0.5").p == 0.5
    assert isinstance(P.get_penalty(None), P.ZeroPenalty)
    cel = P.CEL0(np.ones(4))
    v = cel.value(np.zeros((2, 3, 4)), lam, ndim=2)
    np.testing.assert_allclose(v, 0.0, atol=1e-12)
    v = cel.value(np.full((2, 3, 4), 10.0), lam, ndim=2)
    np.testing.assert_allclose(v, 12 * lam)
