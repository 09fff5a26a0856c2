r"""Batched ADMM for least squares with a (possibly analysis) penalty and unmixing constraints.

Solves, for every problem of a batch,

.. math::
    \min_x \tfrac12\|Ax-y\|_2^2 + \lambda\,g(Wx) \;[+\,\iota_{\ge 0}(x)]\;
    [+\,\iota_{\{\mathbf 1^T x = s\}}(x)]

by the splitting :math:`\min f(x) + h(z)` s.t. :math:`Wx - z = 0` (the general form
:math:`Bx + Cz = c` with :math:`B = W`, :math:`C = -I`, :math:`c = 0`).  With :math:`W = I`,
``positivity=True`` and ``sum_to=1`` this is SUnSAL (Bioucas-Dias & Figueiredo, 2010), the
sparse unmixing solver, run over all pixels at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from ..._backend import is_complex_dtype, is_torch, namespace, real_dtype
from ...operators import FunctionOperator, Identity, Matrix
from ...operators.base import LinearOperator
from ...prox.penalties import ZeroPenalty, get_penalty
from ..result import (
    ConvergenceMonitor,
    ConvergenceWarning,
    SolverResult,
    SolverState,
    check_max_iter,
    check_tol,
)
from ._common import (
    as_operator,
    bnorm,
    broadcast_lam,
    check_positive,
    expand,
    prepare_data,
    prepare_x0,
)

__all__ = ["admm"]


class _DirectSolver:
    r"""Cached solver of :math:`(A^H A + \rho I)x = b` for a dense matrix, any per-problem
    :math:`\rho`.

    One eigendecomposition of the smaller Gram matrix (:math:`A^HA` or :math:`AA^H`) is
    computed once; a solve then costs two matrix products, like a Cholesky solve, but
    :math:`\rho` may change (residual balancing) and differ between problems without a new
    factorisation.  For :math:`n > m`:
    :math:`(A^HA+\rho I)^{-1}b = V\mathrm{diag}(\tfrac{1}{s^2+\rho})V^Hb + \tfrac1\rho(b - VV^Hb)`
    with :math:`V = A^H U\,\mathrm{diag}(1/s)` from :math:`AA^H = U\mathrm{diag}(s^2)U^H`.
    """

    def __init__(self, M: Any, dt: Any) -> None:
        xp = namespace(M)
        M = xp.astype(M, dt)
        m, n = M.shape
        Mh = xp.conj(M).T if is_complex_dtype(dt) else M.T
        if n <= m:
            G = Mh @ M
            evals, V = xp.linalg.eigh((G + (xp.conj(G).T if is_complex_dtype(dt) else G.T)) / 2)
            self.full = True
        else:
            G = M @ Mh
            evals, U = xp.linalg.eigh((G + (xp.conj(G).T if is_complex_dtype(dt) else G.T)) / 2)
            keep = evals > float(xp.max(evals)) * 1e-12
            evals, U = evals[keep], U[:, keep]
            s = xp.sqrt(evals)
            V = (Mh @ U) / xp.astype(s, dt) if is_complex_dtype(dt) else (Mh @ U) / s
            self.full = False
        self.V = V
        self.Vh = xp.conj(V).T if is_complex_dtype(dt) else V.T
        self.evals = xp.clip(evals, min=0.0)
        self.xp = xp

    def solve(self, b: Any, rho: Any) -> Any:
        # row-vector convention: b @ M.T applies M to every problem of the batch
        c = b @ self.Vh.T
        out = (c / (self.evals + rho)) @ self.V.T
        if not self.full:
            out = out + (b - c @ self.V.T) / rho
        return out


def admm(A: LinearOperator | Any, y: Any, penalty: Any = "l1", lam: Any = 1.0, *,
         W: LinearOperator | None = None, positivity: bool = False, sum_to: float | None = None,
         rho: Any = 1.0, x0: Any = None, max_iter: int = 1000, tol: float = 1e-5,
         residual_balancing: bool = False, mu: float = 10.0, tau: float = 2.0,
         solver: str = "auto", cg_tol: float = 1e-8, cg_max_iter: int = 100,
         record_every: int = 10, check_every: int = 1,
         callback: Callable[[SolverState], bool | None] | None = None,
         verbose: bool = False) -> SolverResult:
    r"""ADMM for :math:`\min_x \tfrac12\|Ax-y\|^2 + \lambda g(Wx)` [+ positivity, sum-to-one].

    Parameters
    ----------
    A : LinearOperator or 2-D array
        Forward operator (e.g. the endmember matrix of unmixing).
    y : array of shape ``(*batch, *A.out_shape)``
        Data, e.g. all pixels of a hyperspectral image ``(n_pixels, n_bands)``.
    penalty : Penalty or str, default ``"l1"``
        :math:`g` (see :func:`~sparserec.prox.get_penalty`); ``"zero"`` for constrained least
        squares (FCLS with ``positivity=True, sum_to=1``).
    lam : float or array
        :math:`\lambda \ge 0`, scalar or per problem.
    W : LinearOperator, optional
        Analysis operator (default identity).
    positivity : bool
        :math:`x \ge 0` (ANC), enforced on the split variable (``W`` must be the identity).
    sum_to : float, optional
        :math:`\mathbf 1^T x = s` over the last axis (ASC), enforced exactly in the
        :math:`x`-update (needs ``W`` = identity and the direct solver).
    rho : float or array, default 1.0
        Penalty parameter :math:`\rho > 0` (scalar or per problem).
    x0 : array, optional
        Initial :math:`x` (and :math:`z = Wx_0`).
    max_iter : int, default 1000
    tol : float, default 1e-5
        Stop when both relative residuals :math:`\|Wx-z\|/\max(\|Wx\|,\|z\|)` and
        :math:`\rho\|W^H(z-z_{old})\|/\|\rho W^H u\|` are at most ``tol``.
    residual_balancing : bool, default False
        Per-problem :math:`\rho` update of Boyd et al. (2011, §3.4.1): multiply by ``tau`` when
        the primal residual exceeds ``mu`` times the dual one, divide in the opposite case (the
        scaled dual variable is rescaled accordingly).
    mu, tau : float
        Residual-balancing parameters.
    solver : {"auto", "direct", "cg"}
        :math:`x`-update: ``"direct"`` caches an eigendecomposition of the Gram matrix of a dense
        ``Matrix`` (one factorisation for all problems and all :math:`\rho`), ``"cg"`` runs
        batched conjugate gradients warm-started from the previous iterate (any operator).
    cg_tol, cg_max_iter : float, int
        Inner CG settings.
    record_every, check_every, callback, verbose
        See :class:`~sparserec.solvers.result.ConvergenceMonitor`.

    Returns
    -------
    SolverResult
        ``x``: the split variable :math:`z` when ``W`` is the identity (exactly sparse and
        non-negative), else :math:`x`; ``extras`` holds ``x``, ``z``, ``u`` (scaled dual),
        ``rho`` and the final ``objective``.  History: ``objective``, ``primal_residual``,
        ``dual_residual``, ``n_nonzero``.

    Notes
    -----
    Scaled-form iterations:

    .. math::
        x_{k+1} &= \arg\min_x \tfrac12\|Ax-y\|^2 + \tfrac\rho2\|Wx - z_k + u_k\|^2
            \;[\text{s.t. } \mathbf 1^T x = s]\\
        z_{k+1} &= \mathrm{prox}_{(\lambda/\rho) g\,[+\iota_{\ge0}]}(W x_{k+1} + u_k)\\
        u_{k+1} &= u_k + W x_{k+1} - z_{k+1}.

    The :math:`x`-update solves :math:`(A^HA + \rho W^HW)x = A^Hy + \rho W^H(z - u)`; with the
    sum constraint, :math:`x = B^{-1}w - B^{-1}\mathbf 1\,(\mathbf 1^TB^{-1}w - s)/
    (\mathbf 1^TB^{-1}\mathbf 1)`, :math:`B = A^HA + \rho I`.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.solvers.convex import admm
    >>> rng = np.random.default_rng(0)
    >>> E = np.abs(rng.standard_normal((50, 6)))          # endmembers (bands x materials)
    >>> ab = rng.dirichlet(np.ones(6), size=100)           # abundances of 100 pixels
    >>> res = admm(E, ab @ E.T, "zero", positivity=True, sum_to=1.0, tol=1e-8, max_iter=5000)
    >>> bool(np.allclose(res.x, ab, atol=1e-4))
    True
    """
    A = as_operator(A)
    xp, y, batch, dt = prepare_data(A, y, "admm")
    pen = get_penalty(penalty)
    max_iter = check_max_iter(max_iter)
    tol = check_tol(tol)
    lam_b = broadcast_lam(lam, batch, y)
    rho_b = broadcast_lam(rho, batch, y, name="rho")
    if (isinstance(rho_b, float) and rho_b <= 0) or (not isinstance(rho_b, float) and bool(xp.any(rho_b <= 0))):
        raise ValueError("admm: rho must be positive")
    mu, tau = check_positive(mu, "mu"), check_positive(tau, "tau")
    cg_tol = check_tol(cg_tol, "cg_tol")
    if residual_balancing and isinstance(rho_b, float):
        rho_b = xp.full(batch, rho_b, dtype=real_dtype(dt), **({"device": y.device} if is_torch(y) else {}))
    if positivity and is_complex_dtype(dt):
        raise TypeError("admm: positivity=True needs real data and operator, got complex")
    if pen.real_only and is_complex_dtype(dt):
        raise TypeError(f"admm: penalty {pen!r} is defined for real data only")
    nin = len(A.in_shape)
    ident = W is None
    if W is None:
        W = Identity(A.in_shape)
    else:
        W = as_operator(W, "W")
        if W.in_shape != A.in_shape:
            raise ValueError(f"admm: W.in_shape {W.in_shape} differs from A.in_shape {A.in_shape}")
        if positivity or sum_to is not None:
            raise ValueError("admm: positivity/sum_to are supported with W = identity only")
    if positivity and not (pen.positivity_compatible or isinstance(pen, ZeroPenalty)):
        raise ValueError(f"admm: positivity is not supported with {pen!r}")
    nz = len(W.out_shape)
    if solver not in ("auto", "direct", "cg"):
        raise ValueError(f"admm: solver must be 'auto', 'direct' or 'cg', got {solver!r}")
    dense = isinstance(A, Matrix) and A._kind == "dense" and nin == 1
    if solver == "auto":
        solver = "direct" if (dense and ident) else "cg"
    if solver == "direct" and not (dense and ident):
        raise ValueError("admm: solver='direct' needs a dense Matrix operator and W = identity")
    if sum_to is not None and solver != "direct":
        raise ValueError("admm: sum_to needs the direct solver (a dense Matrix operator)")
    # --------------------------------------------------------------- setup
    Aty = A._adjoint(y)
    x = prepare_x0(x0, A, batch, y, dt, "admm")
    z = W._apply(x)
    u = xp.zeros_like(z)
    lam_e = expand(lam_b, nz)
    direct = _DirectSolver(A.A, dt) if solver == "direct" else None
    if direct is not None and sum_to is not None:
        ones = xp.ones(batch + tuple(A.in_shape), dtype=dt, **({"device": y.device} if is_torch(y) else {}))
    mon = ConvergenceMonitor(batch, y, max_iter, tol, record_every, check_every, callback,
                             verbose, "admm")

    def rho_e(nd: int) -> Any:
        return expand(rho_b, nd)

    def x_update(rhs: Any, xw: Any) -> Any:
        if direct is not None:
            r = rho_e(1)
            xs = direct.solve(rhs, r)
            if sum_to is not None:
                b1 = direct.solve(ones, r)
                num = xp.sum(xs, axis=-1, keepdims=True) - sum_to
                den = xp.sum(b1, axis=-1, keepdims=True)
                xs = xs - b1 * (num / den)
            return xs
        from ..linear import cg

        def normal(v: Any) -> Any:
            return A._normal(v) + rho_e(nin) * W._normal(v)

        N = FunctionOperator(normal, normal, A.in_shape, A.in_shape, dtype=dt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return cg(N, rhs, xw, tol=cg_tol, max_iter=cg_max_iter, record_every=0).x

    def zprox(v: Any) -> Any:
        if positivity:
            v = xp.clip(v, min=0.0)
        return pen._prox(v, 1.0 / rho_e(nz), lam_e)

    def objective(xc: Any, Wx: Any) -> Any:
        f = 0.5 * bnorm(xp, A._apply(xc) - y, len(A.out_shape)) ** 2
        if not isinstance(pen, ZeroPenalty):
            f = f + pen._value(Wx, lam_b, nz)
        return f

    all_active = True
    while True:
        rec = mon.record_every > 0 and (mon.iteration + 1) % mon.record_every == 0
        rhs = Aty + rho_e(nin) * W._adjoint(z - u)
        x_new = x_update(rhs, x)
        Wx = W._apply(x_new)
        z_new = zprox(Wx + u)
        u_new = u + Wx - z_new
        if not all_active:
            x_new = xp.where(mon.mask(x_new), x_new, x)
            z_new = xp.where(mon.mask(z_new), z_new, z)
            u_new = xp.where(mon.mask(u_new), u_new, u)
            Wx = xp.where(mon.mask(Wx), Wx, W._apply(x_new))
        r_norm = bnorm(xp, Wx - z_new, nz)
        s_norm = rho_b * bnorm(xp, W._adjoint(z_new - z), nin)
        scale_p = xp.clip(xp.maximum(bnorm(xp, Wx, nz), bnorm(xp, z_new, nz)), min=1e-30)
        scale_d = xp.clip(rho_b * bnorm(xp, W._adjoint(u_new), nin), min=1e-30)
        crit = xp.maximum(r_norm / scale_p, s_norm / scale_d)
        # a problem whose primal and dual residuals are both exactly zero has converged
        crit = xp.where((r_norm == 0) & (s_norm == 0), xp.zeros_like(crit), crit)
        x, z, u = x_new, z_new, u_new
        metrics: dict[str, Any] = {"primal_residual": r_norm, "dual_residual": s_norm}
        if rec:
            est = z if ident else x
            metrics["objective"] = objective(x if not ident else z, z if ident else Wx)
            metrics["n_nonzero"] = xp.sum(xp.astype(est != 0, xp.int64),
                                          axis=tuple(range(len(batch), est.ndim)))
        if mon.step(crit, z if ident else x, **metrics):
            break
        if all_active and mon.iteration % mon.check_every == 0:
            all_active = bool(xp.all(mon.active))
        if residual_balancing and mon.iteration % 10 == 0:
            up = (r_norm > mu * s_norm) & mon.active
            down = (s_norm > mu * r_norm) & mon.active
            factor = xp.where(up, xp.full_like(rho_b, tau), xp.where(down, xp.full_like(rho_b, 1.0 / tau),
                                                                    xp.ones_like(rho_b)))
            rho_b = rho_b * factor
            f_e = expand(factor, nz)
            u = u / (xp.astype(f_e, dt) if is_complex_dtype(dt) else f_e)
    out = z if ident else x
    extras = {"x": x, "z": z, "u": u, "rho": rho_b,
              "objective": objective(out, z if ident else W._apply(x))}
    params = {"lam": lam_b, "rho": rho, "max_iter": max_iter, "tol": tol, "positivity": positivity,
              "sum_to": sum_to, "solver": solver, "residual_balancing": residual_balancing,
              "penalty": repr(pen), "analysis": not ident}
    return mon.result(out, params=params, extras=extras)
