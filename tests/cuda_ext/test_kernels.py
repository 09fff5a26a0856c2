"""cuda_ext: references against brute force / closed forms, Triton kernels (interpreted on CPU,
compiled on CUDA) against the references on awkward sizes with poisoned output buffers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sparserec import cuda_ext
from sparserec.cuda_ext import reference as R

from .conftest import CUDA, HAS_TRITON, needs_triton

torch = pytest.importorskip("torch")
DEVICES = ["cpu"] + ([pytest.param("cuda", marks=pytest.mark.gpu)] if CUDA else [])


def _brute_prox(v, tau, kind):
    grid = np.linspace(-6, 6, 240001)
    pen = {"l1": np.abs(grid), "l0": (grid != 0).astype(float), "l12": np.sqrt(np.abs(grid)),
           "nonneg_l1": np.where(grid >= 0, grid, np.inf)}[kind]
    obj = 0.5 * (grid - v) ** 2 + tau * pen
    return grid[np.argmin(obj)]


@pytest.mark.parametrize("kind", ["l1", "nonneg_l1", "l0", "l12"])
def test_prox_reference_vs_brute_force(kind):
    rng = np.random.default_rng(0)
    v = rng.uniform(-4, 4, 60)
    tau = rng.uniform(0.05, 1.5, 60)
    got = R.prox_scalar(v, tau, kind)
    want = np.array([_brute_prox(a, t, kind) for a, t in zip(v, tau)])
    assert np.allclose(got, want, atol=1e-4)


def test_group_prox_and_step_reference():
    rng = np.random.default_rng(1)
    B, G, S = 3, 4, 5
    z, g, xp = (rng.standard_normal((B, G * S)) for _ in range(3))
    t, lam, beta = rng.uniform(0.1, 1, B), rng.uniform(0, 2, B), rng.uniform(0, 1, B)
    x, zn, d2, n2 = R.prox_grad_step(z, g, xp, t, lam, beta, "l21", group_size=S)
    v = (z - t[:, None] * g).reshape(B, G, S)
    nrm = np.linalg.norm(v, axis=2, keepdims=True)
    want = (v * np.maximum(1 - (t * lam)[:, None, None] / nrm, 0)).reshape(B, -1)
    assert np.allclose(x, want)
    assert np.allclose(zn, want + beta[:, None] * (want - xp))
    assert np.allclose(d2, ((want - xp) ** 2).sum(1)) and np.allclose(n2, (want**2).sum(1))
    with pytest.raises(ValueError, match="multiple"):
        R.prox_grad_step(z[:, :7], g[:, :7], xp[:, :7], t, lam, beta, "l21", group_size=5)


def _chain_brute(pin, lam, pon, poff):
    Q = pin.size
    P, Z = np.zeros(Q), np.zeros(Q)
    for s in itertools.product([0, 1], repeat=Q):
        p = lam if s[0] else 1 - lam
        for q in range(1, Q):
            p *= (pon if s[q] else 1 - pon) if s[q - 1] == 0 else ((1 - poff) if s[q] else poff)
        lik = np.prod([pin[q] if s[q] else 1 - pin[q] for q in range(Q)])
        for q in range(Q):
            w = p * lik / (pin[q] if s[q] else 1 - pin[q])
            Z[q] += w
            P[q] += w * s[q]
    return P / Z


def test_markov_chain_reference_vs_brute_force():
    rng = np.random.default_rng(2)
    for Q in (1, 2, 5, 11):
        pin = rng.uniform(0.02, 0.98, (3, Q))
        lam, pon, poff = rng.uniform(0.05, 0.5, 3), rng.uniform(0.01, 0.4, 3), rng.uniform(0.1, 0.7, 3)
        got = R.markov_chain_messages(pin, lam, pon, poff)
        for b in range(3):
            assert np.allclose(got[b], _chain_brute(pin[b], lam[b], pon[b], poff[b]), atol=1e-10)


@pytest.mark.parametrize("vertical", [False, True])
def test_mrf_line_equals_chain(vertical):
    rng = np.random.default_rng(3)
    Q = 9
    pin = rng.uniform(0.05, 0.95, (1, Q))
    lam, pon, poff = 0.2, 0.15, 0.35
    chain = R.markov_chain_messages(pin, lam, pon, poff)
    psi = [[1 - pon, pon], [poff, 1 - poff]]  # psi[s_prev][s_next] = P(s_next | s_prev)
    prior = np.zeros((1, 1, Q))
    prior[0, 0, 0] = np.log(lam / (1 - lam))
    grid = pin[:, None, :]
    if vertical:
        out, _ = R.mrf_messages(grid.transpose(0, 2, 1), [[1, 1], [1, 1]], psi, prior.transpose(0, 2, 1),
                                sweeps=40, damping=0.0)
        out = out[:, :, 0]
    else:
        out, _ = R.mrf_messages(grid, psi, [[1, 1], [1, 1]], prior, sweeps=40, damping=0.0)
        out = out[:, 0, :]
    assert np.allclose(out, chain, atol=1e-10)


def test_mrf_damped_converges_to_undamped_fixed_point():
    rng = np.random.default_rng(4)
    pin = rng.uniform(0.1, 0.9, (2, 4, 5))
    psi = [[0.7, 0.3], [0.4, 0.6]]
    a, _ = R.mrf_messages(pin, psi, psi, sweeps=200, damping=0.5)
    b, _ = R.mrf_messages(pin, psi, psi, sweeps=200, damping=0.0)
    assert np.allclose(a, b, atol=1e-8)
    with pytest.raises(ValueError):
        R.mrf_messages(pin, [[0, 1], [1, 1]], psi)


def test_sbl_update_reference():
    rng = np.random.default_rng(5)
    mu, sig, g = rng.standard_normal((2, 30)), rng.uniform(0, 0.5, (2, 30)), rng.uniform(0.5, 2, (2, 30))
    g[0, 3] = 0
    gn, dof, gmax = R.sbl_update(mu, sig, g, "em", prune=0.05)
    want = np.where(g > 0, mu**2 + sig, 0)
    assert np.allclose(gmax, want.max(1))
    want = np.where(want < 0.05 * want.max(1, keepdims=True), 0, want)
    assert np.allclose(gn, want)
    assert np.allclose(dof, np.where(g > 0, 1 - sig / np.where(g > 0, g, 1), 0).sum(1))
    gm, _, _ = R.sbl_update(mu, sig, g, "mackay")
    assert np.allclose(gm, np.where(g > 0, mu**2 / (1 - sig / np.where(g > 0, g, 1)), 0))
    # complex mu uses |mu|^2
    gc, _, _ = R.sbl_update(mu + 1j * mu, sig, g, "em")
    assert np.allclose(gc, np.where(g > 0, 2 * mu**2 + sig, 0))


def test_available_and_dispatch(monkeypatch):
    info = cuda_ext.available()
    assert set(info) >= {"triton", "cuda", "enabled", "reason"}
    if not CUDA:
        assert not info["enabled"] and "no CUDA device" in info["reason"]
    x = torch.randn(2, 8, dtype=torch.float64)
    assert cuda_ext._pick("prox_grad_step", x, "auto") is R.prox_grad_step
    assert cuda_ext._pick("prox_grad_step", x.numpy(), "auto") is R.prox_grad_step
    monkeypatch.setenv("SPARSEREC_FORCE_REFERENCE", "1")
    assert not cuda_ext.available()["enabled"]
    with pytest.raises(ValueError, match="impl"):
        cuda_ext.prox_grad_step(x, x, x, 0.1, 0.1, 0.0, impl="cuda-magic")
    with pytest.raises(ValueError, match="unknown prox"):
        cuda_ext.prox_grad_step(x, x, x, 0.1, 0.1, 0.0, kind="l3")
    with pytest.raises(ValueError, match="shape"):
        cuda_ext.prox_grad_step(x, x[:, :3], x, 0.1, 0.1, 0.0)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        cuda_ext.markov_chain_messages(torch.rand(2, 5), 1.5, 0.1, 0.1)
    with pytest.raises(ValueError, match="prune"):
        cuda_ext.sbl_update(x, x.abs(), x.abs(), prune=1.0)


# ----------------------------------------------------------------------------- kernels
@pytest.fixture
def poisoned(monkeypatch):
    """Make every torch.empty_like in the kernel module return NaN-filled buffers."""
    if not HAS_TRITON:
        pytest.skip("triton not installed")
    from sparserec.cuda_ext import _triton as T

    real = torch.empty_like
    monkeypatch.setattr(T.torch, "empty_like", lambda t, **k: real(t, **k).fill_(float("nan")))
    return T


def _rand(shape, dtype, device, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype).to(device)


@needs_triton
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["l1", "nonneg_l1", "l0", "l12", "l21"])
def test_prox_grad_kernel_matches_reference(poisoned, device, dtype, kind):
    B, N = 3, 1001 if kind != "l21" else 1001 - 1001 % 7
    z, g, xp = (_rand((B, N), dtype, device, s) for s in (1, 2, 3))
    t = torch.rand(B, dtype=dtype).to(device) + 0.2
    lam = torch.rand(B, dtype=dtype).to(device) + 0.1
    beta = torch.rand(B, dtype=dtype).to(device)
    got = poisoned.prox_grad_step(z, g, xp, t, lam, beta, kind, group_size=7, block=256)
    want = R.prox_grad_step(z, g, xp, t, lam, beta, kind, group_size=7)
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    for a, b in zip(got, want):
        assert torch.isfinite(a).all()
        assert torch.allclose(a, b, rtol=tol, atol=tol * max(1.0, float(b.abs().max())))


@needs_triton
def test_l12_kernel_near_threshold(poisoned):
    tau = 0.3
    thr = (54 ** (1 / 3) / 4) * (2 * tau) ** (2 / 3)
    v = torch.linspace(thr * 1.0001, thr * 3, 999, dtype=torch.float64)[None]
    v = torch.cat([v, -v], 1)
    z = torch.zeros_like(v)
    got = poisoned.prox_grad_step(v, z, z, 1.0, tau, 0.0, "l12")[0]
    want = R.prox_grad_step(v, z, z, 1.0, tau, 0.0, "l12")[0]
    assert torch.allclose(got, want, atol=1e-8)


@needs_triton
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_chain_kernel_matches_reference(poisoned, device, dtype):
    g = torch.Generator().manual_seed(7)
    pin = torch.rand(37, 53, generator=g, dtype=dtype).to(device)
    lam = torch.rand(37, generator=g, dtype=dtype).to(device) * 0.5 + 0.01
    pon = torch.rand(37, generator=g, dtype=dtype).to(device) * 0.3 + 0.01
    poff = torch.rand(37, generator=g, dtype=dtype).to(device) * 0.5 + 0.05
    got = poisoned.markov_chain_messages(pin, lam, pon, poff, block_b=16)
    want = R.markov_chain_messages(pin, lam, pon, poff)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert torch.isfinite(got).all() and torch.allclose(got, want, atol=tol)


@needs_triton
@pytest.mark.parametrize("device", DEVICES)
def test_mrf_kernel_matches_reference(device):
    from sparserec.cuda_ext import _triton as T

    g = torch.Generator().manual_seed(8)
    pin = torch.rand(3, 13, 17, generator=g, dtype=torch.float64).to(device)
    prior = torch.randn(3, 13, 17, generator=g, dtype=torch.float64).to(device)
    psi_h, psi_v = [[0.8, 0.2], [0.35, 0.65]], [[0.6, 0.4], [0.25, 0.75]]
    a, ma = T.mrf_messages(pin, psi_h, psi_v, prior, sweeps=6, damping=0.5, block=128)
    b, mb = R.mrf_messages(pin, psi_h, psi_v, prior, sweeps=6, damping=0.5)
    assert torch.allclose(a, b, atol=1e-12)
    for k in ma:
        assert torch.allclose(ma[k], mb[k], atol=1e-12)


@needs_triton
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("rule", ["em", "mackay"])
def test_sbl_kernel_matches_reference(poisoned, device, rule):
    g = torch.Generator().manual_seed(9)
    mu = torch.randn(4, 777, generator=g, dtype=torch.float32).to(device)
    sig = (torch.rand(4, 777, generator=g, dtype=torch.float32) * 0.3).to(device)
    gam = (torch.rand(4, 777, generator=g, dtype=torch.float32) + 0.5).to(device)
    gam[:, ::11] = 0
    got = poisoned.sbl_update(mu, sig, gam, rule, prune=0.05, block=128)
    want = R.sbl_update(mu, sig, gam, rule, prune=0.05)
    for a, b in zip(got, want):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-4)


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_auto_dispatch_uses_kernel_on_cuda():
    x = torch.randn(2, 64, device="cuda")
    fn = cuda_ext._pick("prox_grad_step", x, "auto")
    assert fn is not R.prox_grad_step
    got = cuda_ext.prox_grad_step(x, x, x, 0.1, 0.2, 0.5)
    want = R.prox_grad_step(x, x, x, 0.1, 0.2, 0.5)
    for a, b in zip(got, want):
        assert torch.allclose(a, b, atol=1e-5)
