r"""Fully constrained least squares (FCLS) unmixing, exact and batched over pixels.

For every pixel :math:`y_n \in \mathbb R^L` and endmember matrix :math:`E \in \mathbb R^{L\times K}`

.. math:: \hat a_n = \arg\min_a \tfrac12\|y_n - E a\|_2^2 \quad\text{s.t.}\quad
          a \ge 0 \;(\text{ANC}),\;\; \mathbf 1^T a = 1 \;(\text{ASC}).

The default solver is an exact primal active-set method (Lawson--Hanson with the sum-to-one
equality) run on all pixels of a chunk at once; an ADMM path (SUnSAL with :math:`\lambda = 0`,
through :func:`sparserec.solvers.convex.admm`) is available for comparison.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..._backend import to_numpy
from ..result import SolverResult, Status, check_max_iter, check_tol
from ._common import check_pixels, dev_kw

__all__ = ["fcls"]

_MAX_PATTERNS = 512  # above this many distinct active sets per sweep, use one batched solve


def _kkt_solve_grouped(xp: Any, G: Any, C: Any, P: Any, asc: bool, ridge: float) -> Any:
    """Solve the equality-constrained LS restricted to each pixel's passive set ``P``.

    Pixels sharing a passive set share one small KKT matrix: pixels are grouped by the bit code of
    ``P`` and every group is solved with one matrix right-hand side.  Falls back to a batched
    ``linalg.solve`` over pixels when there are many distinct sets.
    """
    n, K = C.shape
    dt = C.dtype
    Pf = xp.astype(P, dt)
    eye = xp.eye(K, dtype=dt, **dev_kw(C))
    if K <= 60:
        w = xp.asarray(2 ** np.arange(K, dtype=np.int64), **dev_kw(C))
        codes = xp.sum(xp.astype(P, xp.int64) * w, axis=1)
        uniq, inv = xp.unique_inverse(codes)
        n_pat = int(uniq.shape[0])
    else:
        n_pat = _MAX_PATTERNS + 1
    Z = xp.zeros((n, K), dtype=dt, **dev_kw(C))
    if n_pat <= _MAX_PATTERNS:
        uniq_np = to_numpy(uniq)
        inv_np = to_numpy(inv).reshape(-1)
        order = np.argsort(inv_np, kind="stable")
        bounds = np.searchsorted(inv_np[order], np.arange(n_pat + 1))
        for g in range(n_pat):
            code = int(uniq_np[g])
            m = np.array([(code >> k) & 1 for k in range(K)], dtype=bool)
            if not m.any():
                continue  # empty passive set (NNLS start): solution 0
            sel_np = order[bounds[g]:bounds[g + 1]]
            sel = xp.asarray(sel_np, **dev_kw(C))
            idx = np.flatnonzero(m)
            idx_x = xp.asarray(idx, **dev_kw(C))
            Gs = xp.take(xp.take(G, idx_x, axis=0), idx_x, axis=1)
            Gs = Gs + ridge * xp.eye(len(idx), dtype=dt, **dev_kw(C))
            rhs = xp.take(xp.take(C, sel, axis=0), idx_x, axis=1)  # (n_g, |P|)
            if asc:
                k = len(idx)
                top = xp.concat([Gs, xp.ones((k, 1), dtype=dt, **dev_kw(C))], axis=1)
                bot = xp.concat([xp.ones((1, k), dtype=dt, **dev_kw(C)), xp.zeros((1, 1), dtype=dt, **dev_kw(C))],
                                axis=1)
                Kkt = xp.concat([top, bot], axis=0)
                rhs = xp.concat([rhs, xp.ones((rhs.shape[0], 1), dtype=dt, **dev_kw(C))], axis=1)
                sol = xp.linalg.solve(Kkt, rhs.T).T[:, :k]
            else:
                sol = xp.linalg.solve(Gs, rhs.T).T
            full = xp.zeros((sol.shape[0], K), dtype=dt, **dev_kw(C))
            full[:, idx_x] = sol
            Z[sel, :] = full
        return Z
    # many patterns: one batched solve with masked KKT matrices
    Gm = G[None, :, :] * (Pf[:, :, None] * Pf[:, None, :]) + eye[None] * (1.0 - Pf[:, :, None]) \
        + ridge * eye[None] * Pf[:, :, None]
    rhs = C * Pf
    if asc:
        col = Pf[:, :, None]
        top = xp.concat([Gm, col], axis=2)
        bot = xp.concat([Pf[:, None, :], xp.zeros((n, 1, 1), dtype=dt, **dev_kw(C))], axis=2)
        Kkt = xp.concat([top, bot], axis=1)
        rhs = xp.concat([rhs, xp.ones((n, 1), dtype=dt, **dev_kw(C))], axis=1)
        sol = xp.linalg.solve(Kkt, rhs[..., None])[..., 0]
        return sol[:, :K] * Pf
    sol = xp.linalg.solve(Gm, rhs[..., None])[..., 0]
    return sol * Pf


def _active_set(xp: Any, G: Any, C: Any, asc: bool, max_iter: int, tol: float) -> tuple[Any, np.ndarray, np.ndarray]:
    """Batched primal active-set method for :math:`\\min \\tfrac12 a^TGa - c^Ta`, ``a >= 0`` [``1^Ta = 1``].

    Returns ``(A, n_iter, converged)``.
    """
    n, K = C.shape
    dt = C.dtype
    scale = float(xp.max(xp.abs(xp.linalg.diagonal(G)))) if K else 1.0
    scale = scale if scale > 0 else 1.0
    ridge = 1e-13 * scale
    # the achievable accuracy depends on the dtype: never ask for less than ~100 ulp
    eps = float(np.finfo(np.float32).eps) if dt == xp.float32 else float(np.finfo(np.float64).eps)
    kkt_tol = max(tol, 100.0 * eps) * scale
    if asc:
        A = xp.full((n, K), 1.0 / K, dtype=dt, **dev_kw(C))
        P = xp.ones((n, K), dtype=xp.bool, **dev_kw(C))
    else:
        A = xp.zeros((n, K), dtype=dt, **dev_kw(C))
        P = xp.zeros((n, K), dtype=xp.bool, **dev_kw(C))
    act = np.arange(n)
    n_iter = np.zeros(n, dtype=np.int64)
    conv = np.zeros(n, dtype=bool)
    it = 0
    while act.size and it < max_iter:
        it += 1
        ia = xp.asarray(act, **dev_kw(C))
        a = xp.take(A, ia, axis=0)
        p = xp.take(P, ia, axis=0)
        c = xp.take(C, ia, axis=0)
        z = _kkt_solve_grouped(xp, G, c, p, asc, ridge)
        bad = p & (z <= 0)
        infeas = xp.any(bad, axis=1)
        # --- inner step for infeasible pixels: move towards z until the first passive entry hits 0
        den = a - z
        ratio = xp.where(bad, a / xp.where(bad, den, xp.ones_like(den)), xp.full_like(a, np.inf))
        alpha = xp.min(ratio, axis=1)
        alpha = xp.where(infeas, alpha, xp.ones_like(alpha))
        alpha = xp.clip(alpha, min=0.0, max=1.0)
        a_new = a + alpha[:, None] * (z - a)
        jmin = xp.argmin(ratio, axis=1)
        hit = (xp.arange(K, **dev_kw(C))[None, :] == jmin[:, None]) & infeas[:, None]
        drop = hit | (p & (a_new <= 1e-15 * xp.max(xp.abs(a_new), axis=1, keepdims=True)) & infeas[:, None])
        a_new = xp.where(drop, xp.zeros_like(a_new), a_new)
        p_new = p & ~drop
        # --- feasible pixels: accept z and test the KKT multipliers of the inactive entries
        a_new = xp.where(infeas[:, None], a_new, xp.clip(z, min=0.0))
        g = a_new @ G - c
        if asc:
            cnt = xp.clip(xp.sum(xp.astype(p_new, dt), axis=1), min=1.0)
            nu = xp.sum(xp.where(p_new, g, xp.zeros_like(g)), axis=1) / cnt
        else:
            nu = xp.zeros((g.shape[0],), dtype=dt, **dev_kw(C))
        mu = g - nu[:, None]
        mu_out = xp.where(p_new, xp.full_like(mu, np.inf), mu)
        jadd = xp.argmin(mu_out, axis=1)
        mu_min = xp.min(mu_out, axis=1)
        optimal = (~infeas) & (mu_min >= -kkt_tol)
        add = (~infeas) & ~optimal
        add_mask = (xp.arange(K, **dev_kw(C))[None, :] == jadd[:, None]) & add[:, None]
        p_new = p_new | add_mask
        A[ia, :] = a_new
        P[ia, :] = p_new
        n_iter[act] += 1
        opt_np = to_numpy(optimal).astype(bool)
        conv[act[opt_np]] = True
        act = act[~opt_np]
    return A, n_iter, conv


def fcls(E: Any, Y: Any, *, anc: bool = True, asc: bool = True, method: str = "active_set",
         max_iter: int | None = None, tol: float = 1e-12, chunk_size: int | None = 65536,
         rho: float | None = None, sum_to_one: bool | None = None, random_state: Any = None,
         verbose: bool = False) -> SolverResult:
    r"""Fully constrained least-squares abundances of every pixel (batched, exact).

    Parameters
    ----------
    E : array of shape ``(L, K)`` or ``Matrix`` operator
        Endmember spectra as columns (bands by materials).
    Y : array of shape ``(*batch, L)``
        Pixels, bands last (a cube ``(H, W, L)`` is a batch of ``H*W`` pixels).  numpy or torch
        (CPU/CUDA); the result has the same library and device.
    anc, asc : bool, default True
        Abundance non-negativity / sum-to-one constraints (``anc=asc=True`` is FCLS,
        ``asc=False`` is NNLS, ``anc=False`` is sum-to-one constrained LS, both False is plain LS).
    method : {"active_set", "admm"}
        ``"active_set"`` (default): exact primal active set, finite termination; ``"admm"``:
        SUnSAL with :math:`\lambda = 0` (iterative, accurate to ``tol``).
    max_iter : int, optional
        Active-set sweeps (default ``10 K + 10``) or ADMM iterations (default 5000).
    tol : float, default 1e-12
        Active set: KKT tolerance relative to :math:`\max_k (E^TE)_{kk}`; ADMM: relative residual.
    chunk_size : int or None, default 65536
        Pixels solved together; working memory is :math:`O(\text{chunk\_size}\cdot (L + K^2))`
        whatever the size of ``Y``.  ``None`` solves all at once.
    rho : float, optional
        ADMM penalty (default :math:`\operatorname{tr}(E^TE)/K`).
    sum_to_one : bool, optional
        Alias of ``asc`` (the keyword of the pipelines' NNLS stand-in); overrides ``asc`` when given.
    random_state : ignored
        Accepted for API uniformity (the solver is deterministic).
    verbose : bool
        Print a summary per chunk.

    Returns
    -------
    SolverResult
        ``x``: abundances ``(*batch, K)``; ``n_iter``/``converged`` per pixel; ``extras``:
        ``objective`` (:math:`\tfrac12\|y-Ea\|^2` per pixel), ``kkt_violation`` (largest
        violation of the optimality conditions, relative), ``time``.

    Raises
    ------
    ValueError
        Band-count mismatch between ``Y`` and ``E``, NaN/Inf in ``Y``, unknown ``method``.

    Notes
    -----
    With :math:`G = E^TE` and :math:`c_n = E^Ty_n`, each pixel solves the QP
    :math:`\min_a \tfrac12 a^TGa - c_n^Ta` over the (probability) simplex.  KKT conditions:

    .. math:: Ga - c_n - \nu\mathbf 1 - \mu = 0,\quad \mu \ge 0,\quad a \ge 0,\quad \mu_k a_k = 0,
              \quad \mathbf 1^Ta = 1.

    The active-set method keeps a passive set :math:`\mathcal P` (entries allowed to be positive),
    starting from the barycentre :math:`a = \mathbf 1/K`, :math:`\mathcal P = \{1..K\}` (FCLS) or
    from :math:`a = 0`, :math:`\mathcal P = \emptyset` (NNLS).  A sweep solves the
    equality-constrained problem on :math:`\mathcal P` (a :math:`(|\mathcal P|+1)`-square KKT
    system); if that solution :math:`z` is not positive, it moves from :math:`a` towards :math:`z`
    until the first passive entry reaches 0 and drops it (Lawson--Hanson inner loop); otherwise it
    accepts :math:`z` and adds the inactive entry with the most negative multiplier
    :math:`\mu_k = (Ga - c)_k - \nu`, or stops when :math:`\min_k \mu_k \ge -\text{tol}\,\max G_{kk}`.
    The objective decreases strictly between additions, so the method terminates with the exact
    solution.  Pixels sharing a passive set share one small factorisation; all pixels of a chunk
    advance together, each with its own iteration count.  The solution is invariant to a common
    scaling of ``E`` and ``Y`` (all tolerances are relative), and ANC/ASC are enforced
    whatever the scaling of the data.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.solvers.unmixing import fcls
    >>> rng = np.random.default_rng(0)
    >>> E = rng.uniform(0.1, 1.0, (50, 4))
    >>> A = rng.dirichlet(np.ones(4), size=(8, 8))
    >>> res = fcls(E, A @ E.T)
    >>> bool(np.abs(res.x - A).max() < 1e-10)
    True
    """
    t0 = time.perf_counter()
    if sum_to_one is not None:
        asc = bool(sum_to_one)
    xp, E, Y2, batch = check_pixels(E, Y, "fcls")
    L, K = E.shape
    if method not in ("active_set", "admm"):
        raise ValueError(f"fcls: method must be 'active_set' or 'admm', got {method!r}")
    tol = check_tol(tol)
    if max_iter is None:
        max_iter = 10 * K + 10 if method == "active_set" else 5000
    max_iter = check_max_iter(max_iter)
    N = Y2.shape[0]
    dt = Y2.dtype
    G = E.T @ E
    A = xp.zeros((N, K), dtype=dt, **dev_kw(Y2))
    n_iter = np.zeros(N, dtype=np.int64)
    conv = np.zeros(N, dtype=bool)
    step = N if not chunk_size else max(1, int(chunk_size))
    obj = xp.zeros((N,), dtype=dt, **dev_kw(Y2))
    kkt = 0.0
    gscale = float(xp.max(xp.linalg.diagonal(G))) if K else 1.0
    gscale = gscale if gscale > 0 else 1.0
    for s in range(0, max(N, 1), step):
        if N == 0:
            break
        Yc = Y2[s:s + step]
        C = Yc @ E
        if not anc:
            if asc:
                Gi = xp.linalg.inv(G)
                u = Gi @ xp.ones((K,), dtype=dt, **dev_kw(Y2))
                a = C @ Gi
                a = a - (xp.sum(a, axis=1, keepdims=True) - 1.0) * (u / xp.sum(u))[None, :]
            else:
                a = xp.linalg.solve(G, C.T).T
            A[s:s + step] = a
            n_iter[s:s + step] = 1
            conv[s:s + step] = True
        elif method == "active_set":
            a, it, cv = _active_set(xp, G, C, asc, max_iter, tol)
            A[s:s + step] = a
            n_iter[s:s + step] = it
            conv[s:s + step] = cv
        else:
            from ..convex.admm import admm

            r = rho if rho is not None else float(xp.sum(xp.linalg.diagonal(G))) / K
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = admm(E, Yc, "zero", lam=0.0, positivity=True, sum_to=1.0 if asc else None, rho=r,
                           max_iter=max_iter, tol=max(tol, 1e-10), residual_balancing=True, record_every=0)
            A[s:s + step] = res.x
            n_iter[s:s + step] = res.n_iter
            conv[s:s + step] = res.converged
        Ac = A[s:s + step]
        yy = xp.vecdot(Yc, Yc, axis=-1)  # no (chunk, L) temporary
        obj[s:s + step] = 0.5 * xp.clip(yy - 2.0 * xp.vecdot(Ac, C, axis=-1) + xp.vecdot(Ac @ G, Ac, axis=-1),
                                        min=0.0)
        if anc:
            g = Ac @ G - C
            if asc:
                pos = Ac > 0
                cnt = xp.clip(xp.sum(xp.astype(pos, dt), axis=1), min=1.0)
                nu = xp.sum(xp.where(pos, g, xp.zeros_like(g)), axis=1) / cnt
                mu = g - nu[:, None]
            else:
                mu = g
            viol = xp.where(Ac > 0, xp.abs(mu), xp.clip(-mu, min=0.0))
            kkt = max(kkt, float(xp.max(viol)) / gscale)
        if verbose:
            print(f"fcls: pixels {s}..{min(s + step, N)} of {N}, max sweeps {int(n_iter[s:s + step].max())}")
    status = np.where(conv, Status.CONVERGED, Status.MAX_ITER).astype(np.int64).reshape(batch)
    overall = Status(int(status.max())) if status.size else Status.CONVERGED
    if overall != Status.CONVERGED:
        import warnings

        from ..result import ConvergenceWarning

        warnings.warn(f"fcls: {int((~conv).sum())} of {N} pixel(s) did not converge; raise max_iter",
                      ConvergenceWarning, stacklevel=2)
    return SolverResult(
        x=xp.reshape(A, batch + (K,)), status=overall, problem_status=status,
        converged=conv.reshape(batch), n_iter=n_iter.reshape(batch), history={},
        params={"anc": anc, "asc": asc, "method": method, "max_iter": max_iter, "tol": tol,
                "chunk_size": chunk_size},
        extras={"objective": xp.reshape(obj, batch), "kkt_violation": kkt, "time": time.perf_counter() - t0},
        solver="fcls")
