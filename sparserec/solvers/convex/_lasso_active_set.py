r"""Batched Lasso homotopy (LARS-Lasso) used by :func:`~sparserec.solvers.convex.lasso`.

Follows, for every problem of a batch at once, the piecewise-linear solution path of
:math:`\min_x \tfrac12\|Mx - y_b\|^2 + \lambda\|x\|_1` from :math:`\lambda_{\max} =
\|M^T y_b\|_\infty` down to the problem's own :math:`\lambda_b`, one event (a feature enters or
leaves the active set) per problem and step.  The inverse Gram matrix of each active set is kept
in fixed slots of a ``(batch, s, s)`` array and updated by rank-one formulas (bordering on entry,
Schur complement on exit), so a step costs :math:`O(s^2 + mn)` per problem and all problems share
one matrix product with :math:`M`.  The result is exact up to rounding; :func:`lasso` certifies it
with the duality gap and finishes any problem that the path could not complete (active set full,
degenerate pivot, step cap) with its working-set FISTA.
"""

from __future__ import annotations

import numpy as np

_LAZY_RANK = 16
_MAX_SLOTS = 1024


def slots_for(m: int, n: int) -> int:
    """Active-set capacity per problem (a path reaching it is left to the caller's fallback)."""
    return max(1, min(m, n, _MAX_SLOTS))


def lasso_homotopy(M: np.ndarray, Y: np.ndarray, lam: np.ndarray, positivity: bool = False,
                   max_steps: int | None = None, smax: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Solutions ``X`` (B, n) at ``lam`` (B,), a mask of the problems whose path reached their
    ``lam`` and the number of steps taken."""
    m, n = M.shape
    B = Y.shape[0]
    dt = np.result_type(M.dtype, Y.dtype, np.float64)
    M = np.ascontiguousarray(M, dtype=dt)
    Y = np.asarray(Y, dtype=dt)
    lam = np.broadcast_to(np.asarray(lam, dtype=dt), (B,)).copy()
    if smax is None:
        smax = slots_for(m, n)
    if max_steps is None:
        max_steps = 8 * smax + 10
    MT = np.ascontiguousarray(M.T)
    C = Y @ M                                       # correlations M^T r
    lam_cur = (C if positivity else np.abs(C)).max(axis=-1)
    X = np.zeros((B, n), dtype=dt)
    ok = np.zeros(B, dtype=bool)
    run = lam_cur > lam                             # others: x = 0 is optimal
    ok[~run] = True
    run &= lam > 0
    floor = np.full((B, n), 1e-300, dtype=dt)         # +inf on active features
    feat = np.full((B, smax), -1, dtype=np.int64)
    sgn = np.zeros((B, smax), dtype=dt)
    w = np.zeros((B, smax), dtype=dt)
    d = np.zeros((B, smax), dtype=dt)                 # Ginv @ sgn, updated with Ginv
    Ginv = np.zeros((B, smax, smax), dtype=dt)
    XA = np.zeros((B, smax, m), dtype=dt)
    rows = np.arange(B)
    hi = 0                                            # slots in use are < hi
    # pending rank-one terms: Ginv_true = Ginv + sum_t cf[:, t] Z[:, :, t] Z[:, :, t]^T
    K = _LAZY_RANK
    Z = np.zeros((B, smax, K), dtype=dt)
    cf = np.zeros((B, K), dtype=dt)
    nz = 0

    def gmv(v: np.ndarray) -> np.ndarray:
        r = (Ginv[:, :hi, :hi] @ v[:, :, None])[:, :, 0]
        if nz:
            Zh = Z[:, :hi, :nz]
            t = (v[:, None, :] @ Zh)[:, 0, :] * cf[:, :nz]
            r += (Zh @ t[:, :, None])[:, :, 0]
        return r

    def flush() -> None:
        if nz:
            Zh = Z[:, :hi, :nz]
            Ginv[:, :hi, :hi] += (Zh * cf[:, None, :nz]) @ Zh.transpose(0, 2, 1)
            Z[:, :, :nz] = 0.0
        free = feat[:, :hi] < 0
        if np.any(free):
            rb, sb = np.nonzero(free)
            Ginv[rb, sb, :] = 0.0
            Ginv[rb, :, sb] = 0.0
    # first entry: the most correlated feature of each running problem
    add = run.copy()
    j_in = np.argmax(C if positivity else np.abs(C), axis=-1)
    drop = np.zeros(B, dtype=bool)
    s_out = np.zeros(B, dtype=np.int64)
    steps = 0
    while True:
        # ---- events: one rank-one update of the inverse Gram matrices for the whole batch
        if np.any(add) or np.any(drop):
            z = np.zeros((B, smax), dtype=dt)
            coef = np.zeros(B, dtype=dt)
            if np.any(add):
                free = feat < 0
                full = add & ~free.any(axis=-1)
                run[full] = False
                add &= ~full
                slot = np.argmax(free, axis=-1)
                hi_new = max(hi, int(slot[add].max()) + 1) if np.any(add) else hi
                xj = np.where(add[:, None], MT[j_in], 0.0)    # (B, m)
                g = (XA[:, :hi] @ xj[:, :, None])[:, :, 0]
                q = gmv(g)
                nx = np.einsum("ij,ij->i", xj, xj)
                dd = nx - np.einsum("ij,ij->i", g, q)
                bad = add & ~(dd > 1e-10 * nx)
                run[bad] = False
                add &= ~bad
                hi = hi_new
                z[:, :q.shape[1]] = q
                z[rows[add], slot[add]] = -1.0
                z[~add] = 0.0
                coef[add] = 1.0 / dd[add]
            if np.any(drop):
                rd, sd = rows[drop], s_out[drop]
                s_old = sgn[rd, sd]
                col = Ginv[rd, :, sd]
                if nz:
                    col += (Z[rd, :, :nz] @ (cf[rd, :nz] * Z[rd, sd, :nz])[:, :, None])[:, :, 0]
                z[rd] = col
                coef[rd] = -1.0 / col[np.arange(rd.shape[0]), sd]
            zh = z[:, :hi]
            cz = coef[:, None] * zh
            Z[:, :, nz] = z
            cf[:, nz] = coef
            nz += 1
            if np.any(add):
                ra, sa = rows[add], slot[add]
                XA[ra, sa] = MT[j_in[ra]]
                feat[ra, sa] = j_in[ra]
                sgn[ra, sa] = 1.0 if positivity else np.sign(C[ra, j_in[ra]])
                floor[ra, j_in[ra]] = np.inf
            if np.any(drop):
                floor[rd, feat[rd, sd]] = 1e-300
                feat[rd, sd] = -1
                sgn[rd, sd] = 0.0
                w[rd, sd] = 0.0
                XA[rd, sd] = 0.0
            # direction d = Ginv @ sgn: rank-one update, recomputed exactly now and then
            if nz == K:
                flush()
                nz = 0
                d[:, :hi] = gmv(sgn[:, :hi])
            else:
                d[:, :hi] += cz * np.einsum("ij,ij->i", zh, sgn[:, :hi])[:, None]
                if np.any(drop):
                    d[rd, :hi] -= col[:, :hi] * s_old[:, None]
                    d[rd, sd] = 0.0
        if not np.any(run) or steps >= max_steps:
            break
        steps += 1
        dh = d[:, :hi]
        u = (dh[:, None, :] @ XA[:, :hi])[:, 0, :]            # (B, m)
        a = u @ M                                             # (B, n)
        lc = lam_cur[:, None]
        # entry: |c_j| reaches lambda (a violator, by rounding, enters at once if it would grow)
        # (numerators floored at a tiny positive value, +inf for active features: no NaN, and a
        # denominator <= 0, clipped to 0, gives +inf)
        with np.errstate(divide="ignore"):
            den = np.subtract(1.0, a)
            np.maximum(den, 0.0, out=den)
            g1 = np.subtract(lc, C)
            np.maximum(g1, floor, out=g1)
            np.divide(g1, den, out=g1)
            if not positivity:
                np.add(1.0, a, out=den)
                np.maximum(den, 0.0, out=den)
                g2 = np.add(lc, C)
                np.maximum(g2, floor, out=g2)
                np.divide(g2, den, out=g2)
                np.minimum(g1, g2, out=g1)
        j_in = np.argmin(g1, axis=-1)
        g_in = g1[rows, j_in]
        # exit: an active coefficient moving towards zero reaches it
        wh, sg = w[:, :hi], sgn[:, :hi]
        with np.errstate(divide="ignore", invalid="ignore"):
            go = np.where(dh * sg < 0, np.maximum(-wh / dh, 0.0), np.inf)
        s_out = np.argmin(go, axis=-1) if hi else np.zeros(B, dtype=np.int64)
        g_out = go[rows, s_out] if hi else np.full(B, np.inf)
        g_end = lam_cur - lam
        gam = np.minimum(np.minimum(g_in, g_out), g_end)
        gam = np.where(run, gam, 0.0)
        wh += gam[:, None] * dh
        np.multiply(a, gam[:, None], out=a)
        C -= a
        lam_cur -= gam
        fin = run & (gam >= g_end)
        ok[fin] = True
        run &= ~fin
        drop = run & (g_out <= g_in)
        add = run & ~drop
    occ = feat >= 0
    bi, si = np.nonzero(occ)
    X[bi, feat[bi, si]] = w[bi, si]
    if positivity:
        np.clip(X, 0.0, None, out=X)
    return X, ok, steps
