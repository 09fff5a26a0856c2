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
_REFRESH = 32
_COMPACT = 4 / 3  # drop finished rows once the running ones are at most 1/_COMPACT of the batch
_GRAM_BYTES = 64 << 20  # Gram matrix among the features that have entered (shared by the batch)


def slots_for(m: int, n: int) -> int:
    """Active-set capacity per problem (a path reaching it is left to the caller's fallback)."""
    return max(1, min(m, n, _MAX_SLOTS))


def lasso_homotopy(M: np.ndarray, Y: np.ndarray, lam: np.ndarray, positivity: bool = False,
                   max_steps: int | None = None, smax: int | None = None,
                   lowp: bool | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    r"""Solutions ``X`` (B, n) at ``lam`` (B,), a mask of the problems whose path reached their
    ``lam`` and the number of steps taken.

    ``lowp`` (default: real float64 data with ``m*n >= 2**18``) runs the two ``O(Bmn)`` parts
    of a step — the correlation update :math:`a = M^T u` and the entry test over all features —
    in float32, with the correlations recomputed exactly in float64 every ``_REFRESH`` steps.
    Everything that defines the solution on the active set (inverse Gram matrix, direction,
    coefficients, :math:`\lambda`) stays in float64, so the path invariant
    :math:`M_A^T(y - M_A w) = \lambda s` holds to float64 rounding; float32 only decides *which*
    feature enters (ties closer than about :math:`10^{-6}` may be taken in either order), and
    :func:`lasso` certifies the result with the float64 duality gap.

    The Gram entries :math:`M_A^T m_j` needed when feature :math:`j` enters come from a Gram
    matrix among the features that have entered any problem of the batch so far (filled in as
    they first enter, bounded by ``_GRAM_BYTES``; past the bound they are computed from the
    columns), so no per-problem float64 copy of the active columns is kept.
    """
    with np.errstate(divide="ignore", invalid="ignore"):  # 0-denominators give inf by design
        return _homotopy(M, Y, lam, positivity, max_steps, smax, lowp)


def _homotopy(M: np.ndarray, Y: np.ndarray, lam: np.ndarray, positivity: bool, max_steps: int | None,
              smax: int | None, lowp: bool | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Body of :func:`lasso_homotopy` (run with division warnings off)."""
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
    colsq = np.einsum("ij,ij->i", MT, MT)             # squared column norms
    C = Y @ M                                       # correlations M^T r
    lam_cur = (C if positivity else np.abs(C)).max(axis=-1)
    X = np.zeros((B, n), dtype=dt)
    ok = np.zeros(B, dtype=bool)
    run = lam_cur > lam                             # others: x = 0 is optimal
    ok[~run] = True
    run &= lam > 0
    if lowp is None:
        lowp = dt == np.float64 and m * n >= 2 ** 18
    ct = np.float32 if lowp else dt                  # precision of the O(Bmn) parts
    Mt = M.astype(ct) if lowp else M
    C0 = None
    if lowp:
        C0, C = C, C.astype(ct)                      # C0: the exact M^T y (polish, refresh)
    tiny = np.finfo(ct).tiny if lowp else 1e-300
    floor = np.full((B, n), tiny, dtype=ct)           # +inf on active features
    feat = np.full((B, smax), -1, dtype=np.int64)
    sgn = np.zeros((B, smax), dtype=dt)
    w = np.zeros((B, smax), dtype=dt)
    d = np.zeros((B, smax), dtype=dt)                 # Ginv @ sgn, updated with Ginv
    Ginv = np.zeros((B, smax, smax), dtype=dt)
    XAt = np.zeros((B, smax, m), dtype=ct)           # active columns (in ct) for u = M_A d
    MTt = MT.astype(ct) if lowp else MT
    # Gram matrix among the features that entered so far: GU[pos[i], pos[j]] = m_i^T m_j
    # (allocated at full size: the pages of the zero arrays are only mapped as rows are filled)
    nu_max = max(1, min(n, int((_GRAM_BYTES / 8) ** 0.5)))
    pos = np.full(n, -1, dtype=np.int64)
    nu = 0                                           # features in the Gram matrix
    GU = np.zeros((nu_max, nu_max), dtype=dt)        # row k holds entries <= k: GU[max, min]
    UT = np.zeros((nu_max, m), dtype=dt)             # their columns
    gram = True                                      # False once the union outgrows nu_max
    rows = np.arange(B)
    orig = np.arange(B)                               # row of the caller's batch
    ok_out = np.zeros(B, dtype=bool)
    hi = 0                                            # slots in use are < hi
    # pending rank-one terms: Ginv_true = Ginv + sum_t cf[:, t] Z[:, t] Z[:, t]^T
    K = _LAZY_RANK
    Z = np.zeros((B, K, smax), dtype=dt)
    cf = np.zeros((B, K), dtype=dt)
    nz = 0

    def gmv(v: np.ndarray) -> np.ndarray:
        r = (Ginv[:, :hi, :hi] @ v[:, :, None])[:, :, 0]
        if nz:
            Zh = Z[:, :nz, :hi]
            t = (Zh @ v[:, :, None])[:, :, 0] * cf[:, :nz]
            r += (t[:, None, :] @ Zh)[:, 0, :]
        return r

    def flush() -> None:
        if nz:
            # in blocks of problems: the (b, hi, hi) product stays in cache and is reused
            bs = max(1, min(B, (1 << 21) // (8 * hi * hi)))
            tmp = np.empty((bs, hi, hi), dtype=dt)
            for b0 in range(0, B, bs):
                b1 = min(B, b0 + bs)
                Zb = Z[b0:b1, :nz, :hi]
                t = tmp[:b1 - b0]
                np.matmul(Zb.transpose(0, 2, 1) * cf[b0:b1, None, :nz], Zb, out=t)
                Ginv[b0:b1, :hi, :hi] += t
            Z[:, :nz] = 0.0
        free = feat[:, :hi] < 0
        if np.any(free):
            rb, sb = np.nonzero(free)
            Ginv[rb, sb, :] = 0.0
            Ginv[rb, :, sb] = 0.0
    def polish() -> np.ndarray:
        r"""Coefficients re-solved exactly on each active set, :math:`w = G_A^{-1}(M_A^T y -
        \lambda s)` (removes the drift of float32-timed entries), where sign-consistent."""
        if not hi:
            return w
        fh = feat[:, :hi]
        v = np.where(fh >= 0, C0[rows[:, None], np.maximum(fh, 0)], 0.0) - lam_cur[:, None] * sgn[:, :hi]
        wn = np.where(feat[:, :hi] >= 0, gmv(v), 0.0)
        good = np.all(wn * sgn[:, :hi] >= 0, axis=1)
        out = w.copy()
        out[good, :hi] = wn[good]
        return out

    # first entry: the most correlated feature of each running problem
    add = run.copy()
    j_in = np.argmax(C if positivity else np.abs(C), axis=-1)
    drop = np.zeros(B, dtype=bool)
    s_out = np.zeros(B, dtype=np.int64)
    steps = 0
    bufs = None                                       # (B, n) work arrays of the entry test
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
                ja = j_in[add]
                if gram:
                    new = np.unique(ja[pos[ja] < 0])
                    k0 = nu
                    k1 = k0 + new.shape[0]
                    if k1 > nu_max:
                        gram = False
                    elif new.shape[0]:
                        UT[k0:k1] = MT[new]
                        pos[new] = np.arange(k0, k1)
                        np.matmul(UT[k0:k1], UT[:k1].T, out=GU[k0:k1, :k1])
                        nu = k1
                fh = feat[:, :hi]
                if gram:
                    pf, pj = pos[fh], pos[j_in][:, None]
                    g = GU.ravel().take(np.maximum(pf, pj) * GU.shape[0] + np.minimum(pf, pj), mode="clip")
                else:
                    g = np.einsum("bsm,bm->bs", MT[np.maximum(fh, 0)], MT[j_in])
                g = np.where((fh >= 0) & add[:, None], g, 0.0)
                q = gmv(g)
                nx = np.where(add, colsq[j_in], 0.0)
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
                    col += ((cf[rd, :nz] * Z[rd, :nz, sd])[:, None, :] @ Z[rd, :nz, :])[:, 0, :]
                z[rd] = col
                coef[rd] = -1.0 / col[np.arange(rd.shape[0]), sd]
            zh = z[:, :hi]
            cz = coef[:, None] * zh
            Z[:, nz] = z
            cf[:, nz] = coef
            nz += 1
            if np.any(add):
                ra, sa = rows[add], slot[add]
                XAt[ra, sa] = MTt[j_in[ra]]
                feat[ra, sa] = j_in[ra]
                sgn[ra, sa] = 1.0 if positivity else np.sign(C[ra, j_in[ra]])
                floor[ra, j_in[ra]] = np.inf
            if np.any(drop):
                floor[rd, feat[rd, sd]] = tiny
                feat[rd, sd] = -1
                sgn[rd, sd] = 0.0
                w[rd, sd] = 0.0
                XAt[rd, sd] = 0.0
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
        if B > 4 and _COMPACT * int(run.sum()) <= B:
            # a quarter of the rows have finished: store them and drop them from the batch
            done = ~run
            wp = polish() if lowp else w
            _store(X, ok_out, orig[done], feat[done], wp[done], ok[done])
            keep = np.flatnonzero(run)
            orig, Y, lam, C, lam_cur, ok, run = orig[keep], Y[keep], lam[keep], C[keep], lam_cur[keep], \
                ok[keep], run[keep]
            floor, feat, sgn, w, d = floor[keep], feat[keep], sgn[keep], w[keep], d[keep]
            Ginv, XAt, Z, cf = Ginv[keep], XAt[keep], Z[keep], cf[keep]
            C0 = C0[keep] if lowp else None
            add, drop, j_in, s_out = add[keep], drop[keep], j_in[keep], s_out[keep]
            B = len(keep)
            rows = np.arange(B)
        steps += 1
        if lowp and steps % _REFRESH == 0:
            # exact correlations of the current point: M^T (y - M_A w)
            # (the columns of the features that entered so far, while they are kept)
            cols, cpos = (UT[:nu], pos) if gram else (MT, np.arange(n))
            Wd = np.zeros((B, cols.shape[0]), dtype=dt)
            bi, si = np.nonzero(feat[:, :hi] >= 0)
            Wd[bi, cpos[feat[bi, si]]] = w[bi, si]
            C = (C0 - (Wd @ cols) @ M).astype(ct)
        dh = d[:, :hi]
        if bufs is None or bufs[0].shape[0] != B:
            rb = max(1, min(B, (1 << 18) // (n * np.dtype(ct).itemsize)))
            bufs = (np.empty((B, n), dtype=ct),) + tuple(np.empty((rb, n), dtype=ct) for _ in range(3))
            rho_b = np.empty(B, dtype=ct)
        a, r1, r2, nb = bufs
        u = (dh.astype(ct)[:, None, :] @ XAt[:, :hi])[:, 0, :]  # (B, m)
        np.matmul(u, Mt, out=a)                                 # (B, n)
        lc = lam_cur[:, None].astype(ct)
        # entry: |c_j| reaches lambda after the step 1/rho_j, rho_j = max((1 - a_j)/(lambda - c_j),
        # (1 + a_j)/(lambda + c_j)) (a branch with rho <= 0 never reaches it).  Numerators of the
        # steps are floored at a tiny positive value (a violator by rounding enters at once if it
        # would grow) and are +inf on active features (rho = 0: never selected).
        # (in blocks of rows whose work arrays stay in the core's cache)
        j_in = np.empty(B, dtype=np.int64)
        for b0 in range(0, B, rb):
            sl = slice(b0, b0 + rb)
            k = min(B, b0 + rb) - b0
            ab, cb, fb, lb = a[sl], C[sl], floor[sl], lc[sl]
            x1, x2, xn = r1[:k], r2[:k], nb[:k]
            np.subtract(1.0, ab, out=x1)
            np.subtract(lb, cb, out=xn)
            np.maximum(xn, fb, out=xn)
            np.divide(x1, xn, out=x1)
            if not positivity:
                np.add(1.0, ab, out=x2)
                np.add(lb, cb, out=xn)
                np.maximum(xn, fb, out=xn)
                np.divide(x2, xn, out=x2)
                np.maximum(x1, x2, out=x1)
            jb = np.argmax(x1, axis=-1)
            j_in[sl] = jb
            rho_b[sl] = x1[np.arange(k), jb]
        rho = rho_b.astype(dt)
        g_in = np.where(rho > 0, 1.0 / rho, np.inf)
        # exit: an active coefficient moving towards zero reaches it
        wh, sg = w[:, :hi], sgn[:, :hi]
        go = np.where(dh * sg < 0, np.maximum(-wh / dh, 0.0), np.inf)
        s_out = np.argmin(go, axis=-1) if hi else np.zeros(B, dtype=np.int64)
        g_out = go[rows, s_out] if hi else np.full(B, np.inf)
        g_end = lam_cur - lam
        gam = np.minimum(np.minimum(g_in, g_out), g_end)
        gam = np.where(run, gam, 0.0)
        wh += gam[:, None] * dh
        np.multiply(a, gam[:, None].astype(ct), out=a)
        C -= a
        lam_cur -= gam
        fin = run & (gam >= g_end)
        ok[fin] = True
        run &= ~fin
        drop = run & (g_out <= g_in)
        add = run & ~drop
    _store(X, ok_out, orig, feat, polish() if lowp else w, ok)
    if positivity:
        np.clip(X, 0.0, None, out=X)
    return X, ok_out, steps


def _store(X: np.ndarray, ok_out: np.ndarray, where: np.ndarray, feat: np.ndarray, w: np.ndarray,
           ok: np.ndarray) -> None:
    """Write the coefficients of the rows ``where`` (active slots ``feat``, values ``w``)."""
    bi, si = np.nonzero(feat >= 0)
    X[where[bi], feat[bi, si]] = w[bi, si]
    ok_out[where] = ok
