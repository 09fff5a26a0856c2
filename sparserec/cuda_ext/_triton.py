r"""Triton kernels of ``cuda_ext`` (imported only when triton is installed).

Each kernel has a pure reference in :mod:`sparserec.cuda_ext.reference` with identical
semantics.  On CPU the kernels run under ``TRITON_INTERPRET=1`` (set before import), which is how
CI tests them.  All kernels work on contiguous float32/float64 torch tensors with a leading batch
dimension.
"""

from __future__ import annotations

from typing import Any

import torch
import triton
import triton.language as tl

__all__ = ["markov_chain_messages", "prox_grad_step", "sbl_update"]

_KIND = {"l1": 0, "nonneg_l1": 1, "l0": 2, "l12": 3}
_C54 = 54.0 ** (1.0 / 3.0) / 4.0


@triton.jit
def _prox_grad_kernel(z_ptr, g_ptr, xp_ptr, step_ptr, lam_ptr, beta_ptr, x_ptr, zn_ptr, d2_ptr, n2_ptr,
                      N, KIND: tl.constexpr, C54: tl.constexpr, NEWTON: tl.constexpr, BLOCK: tl.constexpr):
    b = tl.program_id(0)
    pid = tl.program_id(1)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    m = offs < N
    base = b * N
    z = tl.load(z_ptr + base + offs, mask=m, other=0.0)
    g = tl.load(g_ptr + base + offs, mask=m, other=0.0)
    xo = tl.load(xp_ptr + base + offs, mask=m, other=0.0)
    t = tl.load(step_ptr + b)
    lam = tl.load(lam_ptr + b)
    beta = tl.load(beta_ptr + b)
    v = z - t * g
    tau = t * lam
    zero = tl.zeros_like(v)
    a = tl.abs(v)
    if KIND == 0:
        x = tl.where(a > tau, v - tl.where(v > 0, tau, -tau), zero)
    elif KIND == 1:
        x = tl.maximum(v - tau, zero)
    elif KIND == 2:
        x = tl.where(v * v > 2.0 * tau, v, zero)
    else:
        # half thresholding: for |v| above the threshold the prox is sign(v) u^2 with u the largest
        # root of u^3 - |v| u + lam2/4 = 0 (stationarity of (x - v)^2 + lam2 sqrt|x|); Newton from
        # u0 = sqrt|v| decreases monotonically to it (the cubic is convex for u > 0)
        lam2 = 2.0 * tau
        thr = C54 * tl.exp((2.0 / 3.0) * tl.log(lam2))
        u = tl.sqrt(a)
        for _ in range(NEWTON):
            f = u * u * u - a * u + 0.25 * lam2
            df = 3.0 * u * u - a
            u = u - f / tl.where(df > 0, df, 1.0 + zero)
        x = tl.where(a > thr, tl.where(v > 0, u * u, -u * u), zero)
    d = x - xo
    zn = x + beta * d
    tl.store(x_ptr + base + offs, x, mask=m)
    tl.store(zn_ptr + base + offs, zn, mask=m)
    tl.atomic_add(d2_ptr + b, tl.sum(tl.where(m, d * d, zero), axis=0))
    tl.atomic_add(n2_ptr + b, tl.sum(tl.where(m, x * x, zero), axis=0))


@triton.jit
def _group_prox_grad_kernel(z_ptr, g_ptr, xp_ptr, step_ptr, lam_ptr, beta_ptr, x_ptr, zn_ptr, d2_ptr, n2_ptr,
                            N, S, G, BLOCK_S: tl.constexpr):
    row = tl.program_id(0)  # one (problem, group)
    b = row // G
    offs = tl.arange(0, BLOCK_S)
    m = offs < S
    base = row * S
    z = tl.load(z_ptr + base + offs, mask=m, other=0.0)
    g = tl.load(g_ptr + base + offs, mask=m, other=0.0)
    xo = tl.load(xp_ptr + base + offs, mask=m, other=0.0)
    t = tl.load(step_ptr + b)
    lam = tl.load(lam_ptr + b)
    beta = tl.load(beta_ptr + b)
    v = z - t * g
    nrm = tl.sqrt(tl.sum(tl.where(m, v * v, 0.0 * v), axis=0))
    scale = tl.maximum(1.0 - (t * lam) / tl.where(nrm > 0, nrm, 1.0), 0.0)
    x = v * scale
    d = x - xo
    tl.store(x_ptr + base + offs, x, mask=m)
    tl.store(zn_ptr + base + offs, x + beta * d, mask=m)
    tl.atomic_add(d2_ptr + b, tl.sum(tl.where(m, d * d, 0.0 * d), axis=0))
    tl.atomic_add(n2_ptr + b, tl.sum(tl.where(m, x * x, 0.0 * x), axis=0))


def _col(v: Any, B: int, like: torch.Tensor) -> torch.Tensor:
    if isinstance(v, (int, float)):
        return torch.full((B,), float(v), dtype=like.dtype, device=like.device)
    return v.to(dtype=like.dtype).contiguous()


def prox_grad_step(z: torch.Tensor, grad: torch.Tensor, x_prev: torch.Tensor, step: Any, lam: Any, beta: Any,
                   kind: str = "l1", group_size: int = 1, block: int = 1024) -> tuple[torch.Tensor, ...]:
    """Triton version of :func:`sparserec.cuda_ext.reference.prox_grad_step` (one memory pass)."""
    B, N = z.shape
    z, grad, x_prev = z.contiguous(), grad.contiguous(), x_prev.contiguous()
    x = torch.empty_like(z)
    zn = torch.empty_like(z)
    d2 = torch.zeros(B, dtype=z.dtype, device=z.device)
    n2 = torch.zeros(B, dtype=z.dtype, device=z.device)
    st, lm, bt = _col(step, B, z), _col(lam, B, z), _col(beta, B, z)
    if kind == "l21":
        if N % group_size:
            raise ValueError(f"N={N} is not a multiple of group_size={group_size}")
        G = N // group_size
        bs = triton.next_power_of_2(group_size)
        _group_prox_grad_kernel[(B * G,)](z, grad, x_prev, st, lm, bt, x, zn, d2, n2, N, group_size, G,
                                          BLOCK_S=bs)
    else:
        if kind not in _KIND:
            raise ValueError(f"unknown prox kind {kind!r}")
        grid = (B, triton.cdiv(N, block))
        _prox_grad_kernel[grid](z, grad, x_prev, st, lm, bt, x, zn, d2, n2, N, KIND=_KIND[kind], C54=_C54,
                                NEWTON=40 if z.dtype == torch.float64 else 24, BLOCK=block)
    return x, zn, d2, n2


@triton.jit
def _chain_kernel(pin_ptr, lam_ptr, pon_ptr, poff_ptr, lf_ptr, out_ptr, B, Q, EPS: tl.constexpr,
                  BLOCK_B: tl.constexpr):
    pid = tl.program_id(0)
    rows = pid * BLOCK_B + tl.arange(0, BLOCK_B)
    m = rows < B
    lam = tl.load(lam_ptr + rows, mask=m, other=0.5)
    pon = tl.load(pon_ptr + rows, mask=m, other=0.5)
    poff = tl.load(poff_ptr + rows, mask=m, other=0.5)
    p11 = 1.0 - poff
    p00 = 1.0 - pon
    f = lam
    tl.store(lf_ptr + rows * Q, f, mask=m)
    for q in range(1, Q):
        a = tl.load(pin_ptr + rows * Q + q - 1, mask=m, other=0.5)
        a = tl.minimum(tl.maximum(a, EPS), 1.0 - EPS)
        f = (pon * (1.0 - a) * (1.0 - f) + p11 * a * f) / ((1.0 - a) * (1.0 - f) + a * f)
        tl.store(lf_ptr + rows * Q + q, f, mask=m)
    bw = 0.5 + 0.0 * lam
    ff = tl.load(lf_ptr + rows * Q + Q - 1, mask=m, other=0.5)
    tl.store(out_ptr + rows * Q + Q - 1, ff * bw / ((1.0 - ff) * (1.0 - bw) + ff * bw), mask=m)
    for k in range(1, Q):
        q = Q - 1 - k
        a = tl.load(pin_ptr + rows * Q + q + 1, mask=m, other=0.5)
        a = tl.minimum(tl.maximum(a, EPS), 1.0 - EPS)
        bw = (poff * (1.0 - a) * (1.0 - bw) + p11 * a * bw) / (
            (p00 + poff) * (1.0 - a) * (1.0 - bw) + (p11 + pon) * a * bw)
        ff = tl.load(lf_ptr + rows * Q + q, mask=m, other=0.5)
        tl.store(out_ptr + rows * Q + q, ff * bw / ((1.0 - ff) * (1.0 - bw) + ff * bw), mask=m)


def markov_chain_messages(pi_in: torch.Tensor, lam: Any, p_on: Any, p_off: Any,
                          block_b: int = 64) -> torch.Tensor:
    """Triton version of :func:`sparserec.cuda_ext.reference.markov_chain_messages`: one program per
    ``block_b`` chains, forward then backward recursion (the whole batch in one launch)."""
    B, Q = pi_in.shape
    pin = pi_in.contiguous()
    lf = torch.empty_like(pin)
    out = torch.empty_like(pin)
    grid = (triton.cdiv(B, block_b),)
    _chain_kernel[grid](pin, _col(lam, B, pin), _col(p_on, B, pin), _col(p_off, B, pin), lf, out, B, Q,
                        EPS=1e-10 if pin.dtype == torch.float64 else 1e-6, BLOCK_B=block_b)
    return out


@triton.jit
def _sbl_kernel(mu_ptr, sig_ptr, g_ptr, gn_ptr, dof_ptr, gmax_ptr, N, MACKAY: tl.constexpr, BLOCK: tl.constexpr):
    b = tl.program_id(0)
    pid = tl.program_id(1)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    m = offs < N
    base = b * N
    mu = tl.load(mu_ptr + base + offs, mask=m, other=0.0)
    sig = tl.load(sig_ptr + base + offs, mask=m, other=0.0)
    g = tl.load(g_ptr + base + offs, mask=m, other=0.0)
    zero = tl.zeros_like(g)
    active = (g > 0) & m
    ratio = tl.where(active, sig / tl.where(active, g, 1.0 + zero), 1.0 + zero)
    if MACKAY:
        gn = mu * mu / tl.maximum(1.0 - ratio, 1e-12 + zero)
    else:
        gn = mu * mu + sig
    gn = tl.where(active, gn, zero)
    tl.store(gn_ptr + base + offs, gn, mask=m)
    tl.atomic_add(dof_ptr + b, tl.sum(tl.where(active, 1.0 - ratio, zero), axis=0))
    tl.atomic_max(gmax_ptr + b, tl.max(gn, axis=0))


def sbl_update(mu: torch.Tensor, sigma_diag: torch.Tensor, gamma: torch.Tensor, rule: str = "em",
               prune: float = 0.0, block: int = 1024) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Triton version of :func:`sparserec.cuda_ext.reference.sbl_update` (real data)."""
    if rule not in ("em", "mackay"):
        raise ValueError(f"rule must be 'em' or 'mackay', got {rule!r}")
    B, N = mu.shape
    gn = torch.empty_like(gamma)
    dof = torch.zeros(B, dtype=gamma.dtype, device=gamma.device)
    gmax = torch.zeros(B, dtype=gamma.dtype, device=gamma.device)  # gamma >= 0, so 0 is a safe start
    grid = (B, triton.cdiv(N, block))
    _sbl_kernel[grid](mu.contiguous(), sigma_diag.contiguous(), gamma.contiguous(), gn, dof, gmax, N,
                      MACKAY=rule == "mackay", BLOCK=block)
    if prune > 0:
        gn = torch.where(gn < prune * gmax[:, None], torch.zeros_like(gn), gn)
    return gn, dof, gmax




@triton.jit
def _lse(a, b):
    mx = tl.maximum(a, b)
    return mx + tl.log(1.0 + tl.exp(-tl.abs(a - b)))


@triton.jit
def _msg(h, l00, l01, l10, l11):
    # log(psi01 + psi11 e^h) - log(psi00 + psi10 e^h)
    return _lse(l01 + 0.0 * h, h + l11) - _lse(l00 + 0.0 * h, h + l10)


@triton.jit
def _mrf_sweep_kernel(base_ptr, mr_ptr, ml_ptr, md_ptr, mu_ptr, nr_ptr, nl_ptr, nd_ptr, nu_ptr, total_n, R, C,
                      h00, h01, h10, h11, v00, v01, v10, v11, damping, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < total_n
    c = offs % C
    r = (offs // C) % R
    base = tl.load(base_ptr + offs, mask=m, other=0.0)
    mr = tl.load(mr_ptr + offs, mask=m, other=0.0)
    ml = tl.load(ml_ptr + offs, mask=m, other=0.0)
    md = tl.load(md_ptr + offs, mask=m, other=0.0)
    mu = tl.load(mu_ptr + offs, mask=m, other=0.0)
    tot = base + mr + ml + md + mu
    # to the right neighbour (r, c+1): excludes the message it sent here (ml)
    ok = m & (c < C - 1)
    old = tl.load(mr_ptr + offs + 1, mask=ok, other=0.0)
    tl.store(nr_ptr + offs + 1, (1.0 - damping) * _msg(tot - ml, h00, h01, h10, h11) + damping * old, mask=ok)
    # to the left neighbour (r, c-1): transposed table, excludes mr
    ok = m & (c > 0)
    old = tl.load(ml_ptr + offs - 1, mask=ok, other=0.0)
    tl.store(nl_ptr + offs - 1, (1.0 - damping) * _msg(tot - mr, h00, h10, h01, h11) + damping * old, mask=ok)
    # to the lower neighbour (r+1, c)
    ok = m & (r < R - 1)
    old = tl.load(md_ptr + offs + C, mask=ok, other=0.0)
    tl.store(nd_ptr + offs + C, (1.0 - damping) * _msg(tot - mu, v00, v01, v10, v11) + damping * old, mask=ok)
    # to the upper neighbour (r-1, c)
    ok = m & (r > 0)
    old = tl.load(mu_ptr + offs - C, mask=ok, other=0.0)
    tl.store(nu_ptr + offs - C, (1.0 - damping) * _msg(tot - md, v00, v10, v01, v11) + damping * old, mask=ok)


def mrf_messages(pi_in: torch.Tensor, psi_h: Any, psi_v: Any, prior_logit: torch.Tensor | None = None,
                 sweeps: int = 10, damping: float = 0.5, messages: dict[str, torch.Tensor] | None = None,
                 block: int = 1024) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Triton version of :func:`sparserec.cuda_ext.reference.mrf_messages`: one fused launch per
    flooding sweep (all four message directions, damping included)."""
    import math as _m

    if not 0 <= damping < 1:
        raise ValueError(f"damping must be in [0, 1), got {damping}")
    B, R, C = pi_in.shape
    eps = 1e-10 if pi_in.dtype == torch.float64 else 1e-6  # 1 - 1e-10 rounds to 1 in float32
    p = pi_in.clamp(eps, 1 - eps)
    base = (torch.log(p) - torch.log1p(-p))
    if prior_logit is not None:
        base = base + prior_logit
    base = base.contiguous()
    msgs = {k: (messages[k].contiguous().clone() if messages is not None else torch.zeros_like(base))
            for k in ("right", "left", "down", "up")}
    lh = [_m.log(float(psi_h[a][b])) for a in (0, 1) for b in (0, 1)]
    lv = [_m.log(float(psi_v[a][b])) for a in (0, 1) for b in (0, 1)]
    n = B * R * C
    grid = (triton.cdiv(n, block),)
    for _ in range(int(sweeps)):
        new = {k: torch.zeros_like(base) for k in msgs}
        _mrf_sweep_kernel[grid](base, msgs["right"], msgs["left"], msgs["down"], msgs["up"], new["right"],
                                new["left"], new["down"], new["up"], n, R, C, *lh, *lv, float(damping),
                                BLOCK=block)
        msgs = new
    prior = prior_logit if prior_logit is not None else torch.zeros_like(base)
    out = prior + msgs["right"] + msgs["left"] + msgs["down"] + msgs["up"]
    return torch.sigmoid(out), msgs
