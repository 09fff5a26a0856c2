r"""Blind and supervised multiplicative unmixing: NMF with sum-to-one, L1/2-NMF and the robust
RRLbS-style method (l2,1 loss over channels + learned guidance map weighting an lp penalty).

All three are one majorise--minimise kernel, :func:`rrlbs_style`; :func:`nmf` and
:func:`l12_nmf` are its special cases (Frobenius loss, :math:`\lambda = 0` or :math:`p = 1/2`,
:math:`w \equiv 1`), so they share iterates exactly.

"RRLbS-style" is a reconstruction from the abstract of Zhu et al. (arXiv 1409.0685) and the
project's specification; it is not the authors' code, and their equations were not available.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..._backend import is_torch, namespace, to_numpy
from ...prox import project_simplex
from ..result import ConvergenceMonitor, ConvergenceWarning, SolverResult, SolverState, check_max_iter, check_tol
from ._common import as_dense_endmembers, dev_kw, float_dtype

__all__ = ["channel_weights", "l12_lambda", "l12_nmf", "nmf", "rrlbs_style"]


def l12_lambda(Y: Any) -> float:
    r"""Data-sparseness heuristic for the L1/2-NMF weight (Qian et al., 2011, as recalled by the spec).

    .. math:: \lambda = \frac{1}{\sqrt L}\sum_{l=1}^L \frac{\sqrt N - \|y^l\|_1/\|y^l\|_2}{\sqrt N - 1}

    with :math:`y^l` the :math:`l`-th channel (all pixels).  ``Y`` is ``(*batch, L)``.  The
    :math:`1/\sqrt L` prefactor is unverified against the paper.
    """
    Yn = np.asarray(to_numpy(Y), dtype=np.float64)
    Yn = Yn.reshape(-1, Yn.shape[-1])
    N, L = Yn.shape
    l1 = np.abs(Yn).sum(axis=0)
    l2 = np.sqrt((Yn * Yn).sum(axis=0))
    ratio = np.where(l2 > 0, l1 / np.where(l2 > 0, l2, 1.0), np.sqrt(N))
    return float(np.sum((np.sqrt(N) - ratio) / (np.sqrt(N) - 1.0)) / np.sqrt(L))


def channel_weights(Y: Any, *, threshold: float = 3.0, ridge: float = 1e-6) -> np.ndarray:
    r"""Robust per-channel weights in :math:`(0, 1]` that down-weight outlier channels.

    Each channel is regressed on all the others over the pixels (HySime-style noise
    estimation): its residual variance is :math:`\sigma_l^2 = 1/(R^{-1})_{ll}` with
    :math:`R = Y^TY + \text{ridge}\cdot\operatorname{tr}(Y^TY)/L\cdot I`.  Signal lies in a
    low-dimensional subspace, so regular channels are well predicted; blank-but-noisy or grossly
    corrupted channels are not.  The weight is
    :math:`d_l = \min\bigl(1, (\text{threshold}\cdot\operatorname{median}_j\sigma_j/\sigma_l)^2\bigr)`:
    1 for ordinary channels, :math:`\ll 1` for outliers.  ``Y`` is ``(*batch, L)``; returns ``(L,)``.
    """
    Yn = np.asarray(to_numpy(Y), dtype=np.float64)
    Yn = Yn.reshape(-1, Yn.shape[-1])
    L = Yn.shape[1]
    R = Yn.T @ Yn
    R = R + ridge * max(float(np.trace(R)) / L, 1e-300) * np.eye(L)
    sig = np.sqrt(1.0 / np.diag(np.linalg.inv(R)))
    med = float(np.median(sig))
    return np.minimum(1.0, (threshold * med / np.maximum(sig, 1e-300)) ** 2)


def _init(Y2: Any, K: int | None, endmembers: Any, E0: Any, A0: Any, init: str, random_state: Any,
          floor: float, solver: str, robust: bool = False) -> tuple[Any, Any, bool]:
    """Initial ``(M (L,K), A (N,K), supervised)`` in the namespace of ``Y2``.

    With ``robust=True`` the endmember extraction and the initial FCLS run on channel-weighted
    data (:func:`channel_weights`), so outlier channels cannot steer the start.
    """
    from .endmembers import spa, vca
    from .fcls import fcls

    xp = namespace(Y2)
    N, L = Y2.shape
    supervised = endmembers is not None
    if supervised:
        M = as_dense_endmembers(endmembers, "endmembers")
        if M.shape[0] != L:
            raise ValueError(f"{solver}: band-count mismatch: Y has {L} bands but endmembers has {M.shape[0]} rows")
        if K is not None and K != M.shape[1]:
            raise ValueError(f"{solver}: n_endmembers={K} but endmembers has {M.shape[1]} columns")
        K = M.shape[1]
    elif E0 is not None:
        M = as_dense_endmembers(E0, "E0")
        if M.shape[0] != L:
            raise ValueError(f"{solver}: band-count mismatch: Y has {L} bands but E0 has {M.shape[0]} rows")
        K = M.shape[1]
    else:
        if K is None:
            raise ValueError(f"{solver}: give n_endmembers (blind) or endmembers (supervised)")
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
            raise ValueError(f"{solver}: n_endmembers must be a positive integer, got {K!r}")
        if K > L:
            raise ValueError(f"{solver}: n_endmembers={K} exceeds the number of bands ({L})")
        sw = None
        if robust:
            sw = xp.asarray(np.sqrt(channel_weights(Y2)), dtype=Y2.dtype, **dev_kw(Y2))
        Yx = Y2 if sw is None else Y2 * sw
        if init in ("vca", "spa"):
            ext = vca(Yx, int(K), random_state=random_state) if init == "vca" else spa(Yx, int(K))
            M = Y2[xp.asarray(ext.extras["indices"], **dev_kw(Y2))].T
        elif init == "random":
            rng = np.random.default_rng(random_state)
            M = Y2[xp.asarray(rng.choice(N, int(K), replace=False), **dev_kw(Y2))].T
        else:
            raise ValueError(f"{solver}: init must be 'vca', 'spa' or 'random', got {init!r}")
    M = xp.astype(M, Y2.dtype)
    if A0 is None:
        # FCLS of the (clipped) endmembers; warnings about convergence are irrelevant here
        Mc = xp.clip(M, min=0.0)
        if robust:
            sw = xp.asarray(np.sqrt(channel_weights(Y2)), dtype=Y2.dtype, **dev_kw(Y2))
            Mc, Yf = Mc * sw[:, None], Y2 * sw
        else:
            Yf = Y2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            A = fcls(Mc, Yf).x
    else:
        A = xp.reshape(xp.astype(A0 if not isinstance(A0, np.ndarray) or not is_torch(Y2) else
                                 xp.asarray(A0), Y2.dtype), (N, -1))
        if A.shape[1] != M.shape[1]:
            raise ValueError(f"{solver}: A0 has {A.shape[1]} abundances per pixel, expected {M.shape[1]}")
    scale = float(xp.max(xp.abs(M))) if M.shape[0] else 1.0
    M = xp.clip(M, min=max(scale, 1e-30) * 1e-6)
    if floor > 0:
        A = xp.clip(A, min=floor)
        A = A / xp.sum(A, axis=1, keepdims=True)
    return M, A, supervised


def _h_step(xp: Any, s: Any, lam: float, gamma: float, N: int) -> Any:
    r"""``argmin_h lam*sum(h*s) + gamma*||h||^2`` s.t. ``h >= 0, sum h = N``."""
    if lam == 0.0:
        return xp.ones_like(s)
    return project_simplex(-lam * s / (2.0 * gamma), radius=float(N))


def _gamma_from_rho(s_np: np.ndarray, lam: float, rho: float) -> float:
    r"""gamma such that the h-step gives about ``rho*N`` nonzero weights."""
    N = s_np.size
    m = int(np.clip(round(rho * N), 1, N))
    ss = np.sort(s_np)
    if m >= N:
        gap = float(np.sum(ss[-1] - ss) + (ss[-1] - ss[0] + 1e-12))
    else:
        gap = float(np.sum(ss[m] - ss[:m]))
    gap = max(gap, 1e-12 * max(float(ss.max()), 1e-300) * N)
    c = N / gap  # c = lam / (2 gamma)
    return lam / (2.0 * c)


def rrlbs_style(Y: Any, n_endmembers: int | None = None, *, endmembers: Any = None, loss: str = "l21",
                lam: float | None = None, lam_rel: float = 1.0, p: float = 0.5, variant: str | None = "W",
                gamma: float | None = None, rho: float = 0.5, refit_gamma: bool = False,
                p_min: float = 0.1, beta: float = 1.0, refresh_every: int = 10, delta: float = 15.0,
                max_iter: int = 1000, tol: float = 1e-5, init: str = "vca", E0: Any = None, A0: Any = None,
                init_floor: float = 1e-4, robust_init: bool | None = None, eps: float | None = None,
                eps_A: float = 1e-9,
                random_state: Any = None, record_every: int = 1,
                callback: Callable[[SolverState], bool | None] | None = None,
                verbose: bool = False, _solver: str = "rrlbs_style") -> SolverResult:
    r"""Robust RRLbS-style unmixing: l2,1 loss over channels + guidance-map-weighted lp sparsity.

    Parameters
    ----------
    Y : array of shape ``(*batch, L)``
        Pixels (bands last), reflectance-like (non-negative; negative entries are allowed and
        handled by the split numerator/denominator updates).  numpy or torch.
    n_endmembers : int, optional
        :math:`K` (blind mode).  Ignored/checked when ``endmembers`` is given.
    endmembers : array ``(L, K)``, optional
        Known endmembers: supervised mode (only abundances and the map are learned).
    loss : {"l21", "fro"}
        ``"l21"``: :math:`\sum_l \sqrt{\|y^l - m^lA\|^2 + \varepsilon}` (channel-robust);
        ``"fro"``: :math:`\tfrac12\|Y - MA\|_F^2`.
    lam : float, optional
        Absolute weight :math:`\lambda \ge 0` of the sparsity term.  Default:
        ``lam_rel`` times the data term at the initial point divided by :math:`N`.
    lam_rel : float, default 1.0
        Relative weight used when ``lam`` is None.
    p : float, default 0.5
        Exponent :math:`0 < p \le 1` (variants ``"W"`` and None).
    variant : {"W", "E", None}
        ``"W"``: learned sparse guidance map :math:`h` weighting the penalty (default);
        ``"E"``: data-guided exponents :math:`p_n = 1 - h_n`, refreshed every ``refresh_every``
        iterations (DgS-style); None: :math:`w \equiv 1`, :math:`p_n \equiv p` (L1/2-NMF-like).
    gamma : float, optional
        Map regulariser :math:`\gamma > 0` (variant W).  Default: fitted once on the initial point
        so that a share ``rho`` of the pixels gets a nonzero weight, then kept fixed.
    rho : float, default 0.5
        Target share of nonzero map entries (used when ``gamma`` is None).
    refit_gamma : bool, default False
        Refit :math:`\gamma` to ``rho`` at every h-step (exact share; the objective then changes with
        :math:`\gamma` and monotonicity is no longer guaranteed).
    p_min, beta : float
        Variant E: :math:`h_n = (1-p_\min)(\max_k A_{kn})^\beta`.
    refresh_every : int
        Variant E refresh period.
    delta : float, default 15
        Weight of the sum-to-one augmentation row (fixed weight 1, never reweighted).
    max_iter : int, default 1000
    tol : float, default 1e-5
        Stop when :math:`(F_{t-10} - F_t)/|F_t| <` ``tol``.
    init : {"vca", "spa", "random"}
        Blind initial endmembers (seeded by ``random_state``); abundances start from FCLS.
    E0, A0 : arrays, optional
        Explicit initial endmembers ``(L, K)`` / abundances ``(*batch, K)``.
    robust_init : bool, optional
        Extract the initial endmembers and FCLS abundances on channel-weighted data
        (:func:`channel_weights`); default True for ``loss="l21"``, False for ``"fro"``.
    init_floor : float, default 1e-4
        Initial abundances are floored at this value (then renormalised): multiplicative updates
        cannot leave an exact zero.
    eps : float, optional
        Smoothing of the row norms, default :math:`10^{-8}\,\mathrm{RMS}(Y)^2 N`.
    eps_A : float, default 1e-9
        The penalty is :math:`(A_{kn}+\varepsilon_A)^{p_n}` (smooth, concave; no blow-up at 0).
    random_state : int or Generator, optional
    record_every, callback, verbose
        See :class:`~sparserec.solvers.result.ConvergenceMonitor`.

    Returns
    -------
    SolverResult
        ``x``: abundances ``(*batch, K)``; ``extras``: ``endmembers`` ``(L, K)``, ``guidance_map``
        ``h`` (``batch``), ``exponents`` (variant E), ``lam``, ``gamma``, ``channel_weights``
        :math:`d_l`, ``objective``, ``objective_history`` (:math:`F_\delta` at iterations
        0..n_iter), ``init_endmembers`` / ``init_abundances`` (the start, e.g. to start another
        method from the same point).  ``history``: ``objective`` (:math:`F_\delta`), ``data``,
        ``penalty``.

    Notes
    -----
    With :math:`Y \in \mathbb R^{L\times N}` (channels as rows), the method minimises

    .. math::
        F_\delta(M, A, h) = \sum_{l=1}^L \sqrt{\|y^l - m^lA\|_2^2 + \varepsilon}
        + \tfrac{\delta^2}{2}\|\mathbf 1^TA - \mathbf 1^T\|_2^2
        + \lambda\sum_n w_n \sum_k (A_{kn}+\varepsilon_A)^{p_n} + \gamma\|h\|_2^2

    over :math:`M \ge 0, A \ge 0` and (variant W) :math:`h \ge 0, \sum_n h_n = N`, with
    :math:`w_n = h_n` (variant W) or :math:`w_n = 1, p_n = 1-h_n` (variant E).  One iteration:

    1. channel weights :math:`d_l = 1/\sqrt{\|r^l\|^2+\varepsilon}` from the current residual
       (:math:`\sqrt x \le x/(2\sqrt{x_0}) + \sqrt{x_0}/2` majorises the loss, tight at
       :math:`x_0`); :math:`d \equiv 1` for the Frobenius loss;
    2. A-step :math:`A \leftarrow A \odot [\bar M^T\bar D\bar Y]_+ \oslash
       (\bar M^T\bar D\bar MA + [\bar M^T\bar D\bar Y]_- + \lambda C)`,
       :math:`C_{kn} = w_n p_n (A_{kn}+\varepsilon_A)^{p_n-1}` (tangent of the concave penalty),
       :math:`\bar Y = [Y; \delta\mathbf 1^T]`, :math:`\bar M = [M; \delta\mathbf 1^T]`,
       :math:`\bar D = \mathrm{diag}(d, 1)`;
    3. M-step :math:`M \leftarrow M \odot [YA^T]_+ \oslash (MAA^T + [YA^T]_-)` (the loss decouples
       over the rows of :math:`M`, and each row's norm falls with its square);
    4. h-step (variant W): :math:`h = \Pi_{\{h\ge0,\sum h = N\}}(-\lambda s/(2\gamma))`,
       :math:`s_n = \sum_k (A_{kn}+\varepsilon_A)^p` (exact minimisation); variant E refreshes
       :math:`h` from :math:`A` every ``refresh_every`` iterations.

    Steps 2--3 minimise Lee--Seung auxiliary functions of majorisers of :math:`F_\delta`, step 4
    is exact, so :math:`F_\delta` never increases for fixed :math:`\gamma` (variant W, None) and
    between refreshes (variant E); the history records it every iteration (**convergence
    check**: relative decrease over 10 iterations below ``tol``).  Special cases: ``loss="fro"``,
    ``lam=0`` is :func:`nmf`; ``loss="fro"``, ``variant=None``, ``p=0.5`` is :func:`l12_nmf`.
    Pixels with a small :math:`s_n` (pure) get a positive weight; highly mixed pixels get
    :math:`h_n = 0` (no sparsity push).  Cost per iteration :math:`O(LKN)`.
    """
    t0 = time.perf_counter()
    if loss not in ("l21", "fro"):
        raise ValueError(f"{_solver}: loss must be 'l21' or 'fro', got {loss!r}")
    if variant not in ("W", "E", None):
        raise ValueError(f"{_solver}: variant must be 'W', 'E' or None, got {variant!r}")
    if not (0.0 < p <= 1.0):
        raise ValueError(f"{_solver}: p must be in (0, 1], got {p}")
    max_iter = check_max_iter(max_iter)
    tol = check_tol(tol)
    if not hasattr(Y, "shape") or Y.ndim < 1:
        raise TypeError(f"{_solver}: Y must be an array with bands last")
    xp = namespace(Y)
    batch = tuple(Y.shape[:-1])
    dt = float_dtype(xp, Y)
    Y2 = xp.reshape(xp.astype(Y, dt, copy=False), (-1, Y.shape[-1]))
    if not bool(xp.all(xp.isfinite(Y2))):
        raise ValueError(f"{_solver}: Y contains NaN or Inf; mask those pixels first")
    N, L = Y2.shape
    robust = (loss == "l21") if robust_init is None else bool(robust_init)
    M, A2, supervised = _init(Y2, n_endmembers, endmembers, E0, A0, init, random_state, init_floor, _solver,
                              robust)
    K = M.shape[1]
    M_init, A_init = M, A2
    Yt = Y2.T  # (L, N)
    A = xp.asarray(A2.T, copy=True)  # (K, N)
    M = xp.asarray(M, copy=True)
    tiny = float(np.finfo(to_numpy(xp.zeros((1,), dtype=dt)).dtype).tiny)
    rms2 = float(xp.mean(Y2 * Y2))
    if eps is None:
        eps = 1e-8 * max(rms2, 1e-300) * N
    d2 = delta * delta

    yy = xp.vecdot(Yt, Yt, axis=-1)  # (L,) squared channel norms, computed once

    def rowsq_of(M: Any, YA: Any, AA: Any) -> Any:
        """Squared residual norm of every channel, ||y^l - m^l A||^2, without forming the residual."""
        r = yy - 2.0 * xp.sum(M * YA, axis=1) + xp.sum((M @ AA) * M, axis=1)
        return xp.clip(r, min=0.0)

    def data_term(rowsq: Any) -> tuple[Any, Any]:
        if loss == "l21":
            e = xp.sqrt(rowsq + eps)
            return xp.sum(e), 1.0 / e
        return 0.5 * xp.sum(rowsq), xp.ones_like(rowsq)

    YA, AA = Yt @ A.T, A @ A.T
    rowsq = rowsq_of(M, YA, AA)
    F_data0, _ = data_term(rowsq)
    if lam is None:
        lam = lam_rel * float(F_data0) / N if variant is not None or p < 1 else 0.0
    lam = float(lam)
    if lam < 0:
        raise ValueError(f"{_solver}: lam must be non-negative")
    pn = xp.full((N,), p, dtype=dt, **dev_kw(Y2))
    h = xp.ones((N,), dtype=dt, **dev_kw(Y2))
    gam = 0.0

    def s_of(A: Any) -> Any:
        return xp.sum((A + eps_A) ** p, axis=0)

    def refresh_E(A: Any) -> tuple[Any, Any]:
        hh = (1.0 - p_min) * xp.max(A, axis=0) ** beta
        hh = xp.clip(hh, min=0.0, max=1.0 - p_min)
        return hh, 1.0 - hh

    if variant == "W" and lam > 0:
        s = s_of(A)
        gam = float(gamma) if gamma is not None else _gamma_from_rho(to_numpy(s), lam, rho)
        if gam <= 0:
            raise ValueError(f"{_solver}: gamma must be positive")
        h = _h_step(xp, s, lam, gam, N)
    elif variant == "E":
        h, pn = refresh_E(A)

    def weights() -> Any:
        return h if variant == "W" else xp.ones_like(h)

    mon = ConvergenceMonitor((), Y2, max_iter, tol, record_every=record_every, check_every=1,
                             callback=callback, verbose=verbose, solver=_solver)
    hist_F: list[float] = []
    it = 0
    F_cur = None
    d = None
    Pcache = None  # (A + eps_A)^p of the current A when the exponents are fixed (variants W, None)
    while True:
        # objective at the current point and IRLS weights
        Fd, d = data_term(rowsq)
        asc_res = xp.sum(A, axis=0) - 1.0
        F_asc = 0.5 * d2 * xp.sum(asc_res * asc_res)
        w = weights()
        if lam > 0:
            Pw = Pcache if Pcache is not None else (A + eps_A) ** pn[None, :]
            F_pen = lam * xp.sum(w * xp.sum(Pw, axis=0))
        else:
            F_pen = 0.0 * Fd
        F_h = gam * xp.sum(h * h) if variant == "W" and lam > 0 else 0.0 * Fd
        F_cur = Fd + F_asc + F_pen + F_h
        hist_F.append(float(F_cur))
        if it > 0:
            if len(hist_F) > 10:
                crit = (hist_F[-11] - hist_F[-1]) / max(abs(hist_F[-1]), 1e-300)
            else:
                crit = np.inf
            critx = xp.asarray(crit if np.isfinite(crit) else 1e300, dtype=xp.float64, **dev_kw(Y2))
            if not np.isfinite(hist_F[-1]):
                critx = xp.asarray(np.nan, dtype=xp.float64, **dev_kw(Y2))
            if mon.step(critx, x=A, objective=F_cur, data=Fd, penalty=F_pen):
                break
        it += 1
        # A-step
        Md = M * d[:, None]
        num = Md.T @ Yt + d2
        num_pos = xp.clip(num, min=0.0)
        num_neg = xp.clip(-num, min=0.0)
        den = (Md.T @ M) @ A + d2 * xp.sum(A, axis=0)[None, :] + num_neg
        if lam > 0:
            # tangent slope p (A + eps_A)^(p - 1) = p (A + eps_A)^p / (A + eps_A): one power per iteration
            den = den + lam * (weights() * pn)[None, :] * Pw / (A + eps_A)
        A = A * num_pos / xp.clip(den, min=tiny)
        Pcache = (A + eps_A) ** p if (lam > 0 and variant != "E") else None
        # M-step
        YA, AA = Yt @ A.T, A @ A.T
        if not supervised:
            M = M * xp.clip(YA, min=0.0) / xp.clip(M @ AA + xp.clip(-YA, min=0.0), min=tiny)
        # map step
        if variant == "W" and lam > 0:
            s = xp.sum(Pcache, axis=0)
            if refit_gamma:
                gam = _gamma_from_rho(to_numpy(s), lam, rho)
            h = _h_step(xp, s, lam, gam, N)
        elif variant == "E" and it % max(1, refresh_every) == 0:
            h, pn = refresh_E(A)
        rowsq = rowsq_of(M, YA, AA)
    Fd, d = data_term(rowsq)
    extras: dict[str, Any] = {
        "endmembers": M, "guidance_map": xp.reshape(h, batch), "lam": lam, "gamma": gam,
        "channel_weights": d, "objective": hist_F[-1], "objective_history": np.asarray(hist_F),
        "supervised": supervised, "init_endmembers": M_init, "init_abundances": xp.reshape(A_init, batch + (K,)),
        "time": time.perf_counter() - t0,
    }
    if variant == "E":
        extras["exponents"] = xp.reshape(pn, batch)
    params = {"loss": loss, "lam": lam, "p": p, "variant": variant if variant is not None else "none",
              "gamma": gam, "rho": rho, "refit_gamma": refit_gamma, "delta": delta, "max_iter": max_iter,
              "tol": tol, "init": init, "eps": eps, "eps_A": eps_A, "random_state": str(random_state)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = mon.result(xp.reshape(A.T, batch + (K,)), params=params, extras=extras)
    return res


def nmf(Y: Any, n_endmembers: int | None = None, *, delta: float = 15.0, max_iter: int = 1000,
        tol: float = 1e-5, init: str = "vca", E0: Any = None, A0: Any = None, endmembers: Any = None,
        random_state: Any = None, **kw: Any) -> SolverResult:
    r"""NMF with the sum-to-one augmentation (multiplicative updates, Lee & Seung).

    Minimises :math:`\tfrac12\|Y - MA\|_F^2 + \tfrac{\delta^2}{2}\|\mathbf 1^TA - \mathbf 1^T\|^2`
    over :math:`M, A \ge 0` by :math:`A \leftarrow A\odot(\bar M^T\bar Y)\oslash(\bar M^T\bar MA)`,
    :math:`M \leftarrow M\odot(YA^T)\oslash(MAA^T)` (:math:`\bar\cdot`: the :math:`\delta` row
    appended).  The objective never increases.  It is :func:`rrlbs_style` with ``loss="fro"``,
    ``lam=0``; see there for the parameters and the returned fields.
    """
    return rrlbs_style(Y, n_endmembers, endmembers=endmembers, loss="fro", lam=0.0, variant=None, delta=delta,
                       max_iter=max_iter, tol=tol, init=init, E0=E0, A0=A0, random_state=random_state,
                       _solver="nmf", **kw)


def l12_nmf(Y: Any, n_endmembers: int | None = None, *, lam: float | None = None, delta: float = 15.0,
            max_iter: int = 1000, tol: float = 1e-5, init: str = "vca", E0: Any = None, A0: Any = None,
            endmembers: Any = None, random_state: Any = None, **kw: Any) -> SolverResult:
    r"""L1/2-sparsity-constrained NMF (Qian et al., 2011) with the sum-to-one augmentation.

    Minimises :math:`\tfrac12\|Y - MA\|_F^2 + \lambda\sum_{kn}A_{kn}^{1/2}` (+ the
    :math:`\delta`-ASC row) with
    :math:`A \leftarrow A\odot(\bar M^T\bar Y)\oslash(\bar M^T\bar MA + \tfrac\lambda2 A^{-1/2})`
    (regularised as :math:`(A+\varepsilon_A)^{-1/2}`).  ``lam`` defaults to
    :func:`l12_lambda` of the data.  It is :func:`rrlbs_style` with ``loss="fro"``,
    ``variant=None``, ``p=0.5``.
    """
    if lam is None:
        lam = l12_lambda(Y)
    return rrlbs_style(Y, n_endmembers, endmembers=endmembers, loss="fro", lam=lam, p=0.5, variant=None,
                       delta=delta, max_iter=max_iter, tol=tol, init=init, E0=E0, A0=A0,
                       random_state=random_state, _solver="l12_nmf", **kw)
