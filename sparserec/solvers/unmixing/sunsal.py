r"""Sparse (library) unmixing by ADMM: SUnSAL (l1 + ANC [+ ASC]) and CLSUnSAL (row-group l2,1).

Both follow the splittings of Bioucas-Dias & Figueiredo (2010) and Iordache, Bioucas-Dias & Plaza
(2011), implemented from the equations (batch-first: pixels ``(*batch, L)``, library ``D (L, P)``,
coefficients ``(*batch, P)``).  As in HySUPP, ``Y`` and ``D`` are first divided by the RMS of
``Y`` and ``lam`` by that RMS squared, so ``lam`` is comparable across data scalings.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from ..result import ConvergenceMonitor, SolverResult, SolverState, check_check_every, check_max_iter, check_tol
from ._common import check_pixels, dev_kw

__all__ = ["clsunsal", "sunsal"]


def _rms(xp: Any, Y2: Any, scale: float | None) -> float:
    if scale is not None:
        return float(scale)
    r = float(xp.sqrt(xp.mean(Y2 * Y2))) if Y2.shape[0] else 1.0
    return r if r > 0 else 1.0


def sunsal(D: Any, Y: Any, *, lam: float = 1e-3, anc: bool = True, asc: bool = False, mu: float | None = None,
           max_iter: int = 1000, tol: float = 1e-4, adapt_every: int = 10, scale: float | None = None,
           x0: Any = None, record_every: int = 10, check_every: int = 1, random_state: Any = None,
           callback: Callable[[SolverState], bool | None] | None = None, verbose: bool = False) -> SolverResult:
    r"""SUnSAL: :math:`\min_x \tfrac12\|Dx - y\|^2 + \lambda\|x\|_1` s.t. :math:`x \ge 0`
    [:math:`\mathbf 1^Tx = 1`], every pixel at once.

    Parameters
    ----------
    D : array ``(L, P)``
        Library / endmembers (columns).
    Y : array ``(*batch, L)``
        Pixels, bands last (numpy or torch).
    lam : float, default 1e-3
        :math:`\lambda` for data scaled to unit RMS (HySUPP default).
    anc, asc : bool
        Non-negativity (default on) and sum-to-one (default off).
    mu : float, optional
        Initial ADMM penalty, default :math:`10\lambda + 0.01` (HySUPP).
    max_iter : int, default 1000
    tol : float, default 1e-4
        Per pixel, stop when :math:`\|x - z\| \le \mathrm{tol}\sqrt P` and
        :math:`\mu\|z - z_{\text{prev}}\| \le \mathrm{tol}\sqrt P` (HySUPP's criterion
        :math:`\mathrm{tol}\sqrt{NP}` on the whole image, per pixel).
    adapt_every : int, default 10
        Penalty adaptation period (per pixel): if the primal residual exceeds 10 times the dual
        one, :math:`\mu` doubles and the scaled dual halves; in the opposite case the reverse.
    scale : float, optional
        Data scale used for the normalisation (default: RMS of ``Y``).  Pass the RMS of the whole
        image when calling on chunks so that ``lam`` means the same on every chunk.
    x0 : array ``(*batch, P)``, optional
    record_every, callback, verbose
        See :class:`~sparserec.solvers.result.ConvergenceMonitor`.
    check_every : int, default 1
        Convergence-check period.  The check is the only host synchronisation of an iteration
        (with torch tensors the iterations in between run entirely on the device); with
        ``check_every > 1`` a pixel may run up to ``check_every - 1`` iterations past the one
        where it first meets the criterion.
    random_state : ignored (deterministic)

    Returns
    -------
    SolverResult
        ``x``: the split variable :math:`z` (exactly sparse, non-negative), ``(*batch, P)``;
        ``extras``: ``primal_residual``, ``dual_residual`` (per pixel, scaled data), ``mu``,
        ``scale``.

    Notes
    -----
    With :math:`F = D^TD + \mu I` (diagonalised once, :math:`D^TD = V\Lambda V^T`, so a per-pixel
    :math:`\mu` needs no refactorisation), scaled dual :math:`u`:

    .. math::
        x &= F^{-1}(D^Ty + \mu(z + u)),\quad
        x \leftarrow x - F^{-1}\mathbf 1\,(\mathbf 1^TF^{-1}\mathbf 1)^{-1}(\mathbf 1^Tx - 1)
        \;[\text{ASC}]\\
        z &= \max(0, x - u - \lambda/\mu)\;[\text{ANC}]\quad\text{or}\quad
        \operatorname{soft}(x - u, \lambda/\mu)\\
        u &\leftarrow u - (x - z).
    """
    t0 = time.perf_counter()
    xp, D, Y2, batch = check_pixels(D, Y, "sunsal")
    max_iter = check_max_iter(max_iter)
    tol = check_tol(tol)
    check_every = check_check_every(check_every)
    if lam < 0:
        raise ValueError("sunsal: lam must be non-negative")
    N, L = Y2.shape
    P = D.shape[1]
    dt = Y2.dtype
    s = _rms(xp, Y2, scale)
    Ys, Ds = Y2 / s, D / s
    lam_s = float(lam)  # HySUPP: lam / rms^2 on the original scale == lam on unit-RMS data
    mu0 = 10.0 * lam_s + 0.01 if mu is None else float(mu)
    ev, V = xp.linalg.eigh(Ds.T @ Ds)
    ev = xp.clip(ev, min=0.0)
    kw = dev_kw(Y2)
    muv = xp.full((N,), mu0, dtype=dt, **kw)
    DtY = Ys @ Ds  # (N, P)
    ones = xp.ones((P,), dtype=dt, **kw)
    Vt1 = ones @ V  # (P,)

    def Finv(b: Any, m: Any) -> Any:  # b (N, P), m (N,)
        return ((b @ V) / (ev[None, :] + m[:, None])) @ V.T

    if x0 is None:
        x = Finv(DtY, muv)
    else:
        x = xp.reshape(xp.astype(xp.asarray(x0), dt), (N, P))
    z = xp.clip(x, min=0.0) if anc else x
    u = xp.zeros_like(x)
    mon = ConvergenceMonitor(batch, Y2, max_iter, tol, record_every=record_every, check_every=check_every,
                             callback=callback, verbose=verbose, solver="sunsal")
    sq = math.sqrt(P)
    rp = xp.zeros((N,), dtype=dt, **kw)
    rd = xp.zeros((N,), dtype=dt, **kw)
    while True:
        x = Finv(DtY + muv[:, None] * (z + u), muv)
        if asc:
            Fi1 = (Vt1[None, :] / (ev[None, :] + muv[:, None])) @ V.T  # (N, P)
            x = x - Fi1 * ((xp.sum(x, axis=1) - 1.0) / xp.sum(Fi1, axis=1))[:, None]
        z_old = z
        v = x - u
        if anc:
            z = xp.clip(v - lam_s / muv[:, None], min=0.0)
        else:
            z = xp.sign(v) * xp.clip(xp.abs(v) - lam_s / muv[:, None], min=0.0)
        u = u - (x - z)
        rp = xp.sqrt(xp.sum((x - z) ** 2, axis=1))
        rd = muv * xp.sqrt(xp.sum((z - z_old) ** 2, axis=1))
        it = mon.iteration + 1
        if adapt_every and it % adapt_every == 0:
            up = rp > 10.0 * rd
            down = rd > 10.0 * rp
            fac = xp.where(up, xp.full_like(muv, 2.0), xp.where(down, xp.full_like(muv, 0.5), xp.ones_like(muv)))
            muv = muv * fac
            u = u / fac[:, None]
        crit = xp.maximum(rp, rd) / sq
        if mon.step(xp.reshape(crit, batch), x=z, primal_residual=xp.reshape(rp, batch),
                    dual_residual=xp.reshape(rd, batch)):
            break
    return mon.result(xp.reshape(z, batch + (P,)),
                      params={"lam": lam, "anc": anc, "asc": asc, "mu0": mu0, "max_iter": max_iter, "tol": tol,
                              "check_every": check_every, "scale": s},
                      extras={"primal_residual": xp.reshape(rp, batch), "dual_residual": xp.reshape(rd, batch),
                              "mu": xp.reshape(muv, batch), "scale": s, "time": time.perf_counter() - t0})


def clsunsal(D: Any, Y: Any, *, lam: float = 0.01, mu: float = 0.1, max_iter: int = 1000, tol: float = 1e-4,
             scale: float | None = None, record_every: int = 10, check_every: int = 1, random_state: Any = None,
             callback: Callable[[SolverState], bool | None] | None = None, verbose: bool = False) -> SolverResult:
    r"""CLSUnSAL (collaborative sparse unmixing): :math:`\min_X \tfrac12\|Y - XD^T\|_F^2 +
    \lambda\sum_{i=1}^P \|X_{:,i}\|_2` s.t. :math:`X \ge 0`.

    The group norm runs over all pixels of atom :math:`i` (joint sparsity: whole atoms switch off),
    so the problem couples the pixels of the image given; call it per scene, not per chunk.

    Parameters
    ----------
    D : array ``(L, P)``
    Y : array ``(*batch, L)``
    lam : float, default 0.01
        For data scaled to unit RMS (HySUPP default).
    mu : float, default 0.1
        ADMM penalty (HySUPP default).
    max_iter, tol
        Stop when the primal and dual residuals (Frobenius, scaled data) are at most
        :math:`\mathrm{tol}\sqrt{NP}`.
    scale : float, optional
        Normalisation (default RMS of ``Y``).
    record_every, callback, verbose
        See :class:`~sparserec.solvers.result.ConvergenceMonitor`.
    check_every : int, default 1
        Convergence-check period (the check is the only host synchronisation of an iteration).
    random_state : ignored

    Returns
    -------
    SolverResult
        ``x``: ``(*batch, P)``, the group-sparse split variable :math:`V_2` clipped at 0 (whole
        atoms are exactly zero; at convergence :math:`V_2 = V_3 = X`); ``extras["row_norms"]``: the
        :math:`\ell_2` norm of each atom's abundance map.

    Notes
    -----
    Splitting :math:`V_1 = XD^T`, :math:`V_2 = X`, :math:`V_3 = X` with scaled duals
    :math:`U_1, U_2, U_3`:

    .. math::
        X &= \bigl((V_1 + U_1)D + V_2 + U_2 + V_3 + U_3\bigr)(D^TD + 2I)^{-1}\\
        V_1 &= (Y + \mu(XD^T - U_1))/(1 + \mu),\quad
        V_2 = \operatorname{gsoft}(X - U_2, \lambda/\mu),\quad V_3 = \max(X - U_3, 0)\\
        U_j &\leftarrow U_j - (\text{split}_j(X) - V_j),

    where ``gsoft`` shrinks every column (atom) of its argument by its :math:`\ell_2` norm.
    """
    t0 = time.perf_counter()
    xp, D, Y2, batch = check_pixels(D, Y, "clsunsal")
    max_iter = check_max_iter(max_iter)
    tol = check_tol(tol)
    check_every = check_check_every(check_every)
    N, L = Y2.shape
    P = D.shape[1]
    dt = Y2.dtype
    kw = dev_kw(Y2)
    s = _rms(xp, Y2, scale)
    Ys, Ds = Y2 / s, D / s
    B = xp.linalg.inv(Ds.T @ Ds + 2.0 * xp.eye(P, dtype=dt, **kw))
    X = (Ys @ Ds) @ B
    V1 = X @ Ds.T
    V2 = X
    V3 = xp.clip(X, min=0.0)
    U1 = xp.zeros_like(V1)
    U2 = xp.zeros_like(X)
    U3 = xp.zeros_like(X)
    mon = ConvergenceMonitor((), Y2, max_iter, tol, record_every=record_every, check_every=check_every,
                             callback=callback, verbose=verbose, solver="clsunsal")
    thr = lam / mu
    norm = math.sqrt(N * P)
    while True:
        X = ((V1 + U1) @ Ds + V2 + U2 + V3 + U3) @ B
        XD = X @ Ds.T
        V1 = (Ys + mu * (XD - U1)) / (1.0 + mu)
        W = X - U2
        cn = xp.sqrt(xp.sum(W * W, axis=0))
        V2o, V3o = V2, V3
        V2 = W * (xp.clip(cn - thr, min=0.0) / xp.where(cn > 0, cn, xp.ones_like(cn)))[None, :]
        V3 = xp.clip(X - U3, min=0.0)
        U1 = U1 - (XD - V1)
        U2 = U2 - (X - V2)
        U3 = U3 - (X - V3)
        rp = xp.sqrt(xp.sum((X - V2) ** 2) + xp.sum((X - V3) ** 2))
        rd = mu * xp.sqrt(xp.sum((V2 - V2o) ** 2) + xp.sum((V3 - V3o) ** 2))
        crit = xp.maximum(rp, rd) / norm
        if mon.step(xp.asarray(crit), x=V3, primal_residual=rp, dual_residual=rd):
            break
    Xo = xp.clip(V2, min=0.0)  # group-sparse split (exact zero rows), made non-negative
    row = xp.sqrt(xp.sum(Xo * Xo, axis=0))
    return mon.result(xp.reshape(Xo, batch + (P,)),
                      params={"lam": lam, "mu": mu, "max_iter": max_iter, "tol": tol, "check_every": check_every,
                              "scale": s},
                      extras={"row_norms": row, "primal_residual": float(rp), "dual_residual": float(rd),
                              "scale": s, "time": time.perf_counter() - t0})



