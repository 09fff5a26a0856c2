r"""Batched Krylov solvers on the :class:`~sparserec.operators.LinearOperator` contract.

:func:`cg` solves Hermitian positive-definite systems and :func:`lsqr` least-squares problems,
for a whole batch of right-hand sides at once with per-problem step sizes and per-problem
convergence (one shared operator apply per iteration for the whole batch).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._backend import check_finite, dtype_name, namespace, real_dtype, result_dtype
from ..operators.base import LinearOperator
from .result import ConvergenceMonitor, SolverResult, SolverState, check_max_iter, check_tol

__all__ = ["cg", "lsqr"]


def _bdot(xp: Any, a: Any, b: Any, nd: int) -> Any:
    """Per-problem Hermitian inner product over the last ``nd`` axes (real part kept complex)."""
    axes = tuple(range(a.ndim - nd, a.ndim))
    return xp.sum(xp.conj(a) * b, axis=axes)


def _bnorm(xp: Any, a: Any, nd: int) -> Any:
    axes = tuple(range(a.ndim - nd, a.ndim))
    return xp.sqrt(xp.sum(xp.real(a * xp.conj(a)), axis=axes))


def _expand(xp: Any, v: Any, nd: int) -> Any:
    return xp.reshape(v, tuple(v.shape) + (1,) * nd)


def _validate(A: Any, b: Any, shape: tuple[int, ...], what: str) -> None:
    if not isinstance(A, LinearOperator):
        raise TypeError(f"{what} expects a sparserec LinearOperator; wrap matrices with Matrix(A)")
    A._check_input(b, shape, what)
    check_finite(b, "right-hand side b")


def cg(A: LinearOperator, b: Any, x0: Any = None, *, tol: float = 1e-6, max_iter: int | None = None,
       M: LinearOperator | None = None, record_every: int = 1, check_every: int = 1,
       callback: Callable[[SolverState], bool | None] | None = None,
       verbose: bool = False) -> SolverResult:
    r"""Batched (preconditioned) conjugate gradient for :math:`A x = b`, :math:`A = A^H \succ 0`.

    Parameters
    ----------
    A : LinearOperator
        Square Hermitian positive-definite operator (e.g. ``B.H @ B + lam * Identity(n)``).
    b : array of shape ``(*batch, *A.out_shape)``
        Right-hand sides; every problem in the batch is solved at once.
    x0 : array, optional
        Initial guess (default zero).
    tol : float, default 1e-6
        Per-problem stopping rule :math:`\|r_k\|_2 \le \mathrm{tol}\,\|b\|_2`.
    max_iter : int, optional
        Default ``10 * prod(in_shape)``.
    M : LinearOperator, optional
        Hermitian positive-definite preconditioner approximating :math:`A^{-1}`.
    record_every, check_every, callback, verbose
        See :class:`~sparserec.solvers.result.ConvergenceMonitor`.

    Returns
    -------
    SolverResult
        ``x``; ``history['residual']`` holds :math:`\|r_k\|/\|b\|` per problem.

    Notes
    -----
    Each problem has its own step :math:`\alpha_k = \langle r_k, z_k\rangle / \langle p_k,
    A p_k\rangle` and direction update :math:`\beta_k`; converged problems are frozen.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import Matrix
    >>> from sparserec.solvers import cg
    >>> A = Matrix(np.array([[4.0, 1.0], [1.0, 3.0]]))
    >>> res = cg(A, np.array([[1.0, 2.0], [0.0, 1.0]]), tol=1e-12)
    >>> bool(np.allclose(A @ res.x, [[1.0, 2.0], [0.0, 1.0]]))
    True
    """
    if not isinstance(A, LinearOperator):
        raise TypeError("cg expects a sparserec LinearOperator; wrap matrices with Matrix(A)")
    if A.in_shape != A.out_shape:
        raise ValueError("cg needs a square LinearOperator (in_shape == out_shape)")
    _validate(A, b, A.out_shape, "cg")
    tol = check_tol(tol)
    nd = len(A.in_shape)
    max_iter = check_max_iter(max_iter if max_iter is not None else 10 * math.prod(A.in_shape))
    if x0 is not None:
        A._check_input(x0, A.in_shape, "cg (x0)")
        namespace(b, x0)
        if tuple(x0.shape) != tuple(b.shape):
            raise ValueError(f"cg: x0 must have the shape of b, expected {tuple(b.shape)}, "
                             f"got {tuple(x0.shape)}")
    xp = namespace(b)
    dt = result_dtype(A.dtype, b.dtype)
    b = xp.astype(b, dt) if dtype_name(b.dtype) != dtype_name(dt) else b
    batch = tuple(b.shape[: b.ndim - nd])
    x = xp.zeros_like(b) if x0 is None else xp.astype(x0, dt)
    r = b - A._apply(x) if x0 is not None else b
    z = M._apply(r) if M is not None else r
    p = z
    rz = _bdot(xp, r, z, nd)
    bnorm = _bnorm(xp, b, nd)
    bnorm = xp.where(bnorm > 0, bnorm, xp.ones_like(bnorm))
    mon = ConvergenceMonitor(batch, b, max_iter, tol, record_every, check_every, callback, verbose, "cg")
    rel0 = _bnorm(xp, r, nd) / bnorm
    mon.active = mon.active & ~(rel0 <= tol)  # solved before any iteration: n_iter = 0
    if not bool(xp.any(mon.active)):
        return mon.result(x, params={"tol": tol, "max_iter": max_iter})
    rdt = real_dtype(dt)
    while True:
        Ap = A._apply(p)
        pAp = xp.real(_bdot(xp, p, Ap, nd))
        ok = pAp > 0
        alpha = xp.where(ok, xp.real(rz) / xp.where(ok, pAp, xp.ones_like(pAp)), xp.zeros_like(pAp))
        act = xp.astype(mon.active, rdt)
        alpha = xp.astype(alpha * act, dt)
        x = x + _expand(xp, alpha, nd) * p
        r = r - _expand(xp, alpha, nd) * Ap
        z = M._apply(r) if M is not None else r
        rz_new = _bdot(xp, r, z, nd)
        beta = xp.where(xp.abs(rz) > 0, rz_new / xp.where(xp.abs(rz) > 0, rz, xp.ones_like(rz)),
                        xp.zeros_like(rz))
        p = z + _expand(xp, beta, nd) * p
        rz = rz_new
        rel = _bnorm(xp, r, nd) / bnorm
        if mon.step(rel, x, residual=rel):
            break
    return mon.result(x, params={"tol": tol, "max_iter": max_iter,
                                 "preconditioned": M is not None})


def lsqr(A: LinearOperator, b: Any, *, damp: float = 0.0, atol: float = 1e-8, btol: float = 1e-8,
         max_iter: int | None = None, record_every: int = 1, check_every: int = 1,
         callback: Callable[[SolverState], bool | None] | None = None,
         verbose: bool = False) -> SolverResult:
    r"""Batched LSQR for :math:`\min_x \|A x - b\|_2^2 + \mathrm{damp}^2 \|x\|_2^2`.

    Parameters
    ----------
    A : LinearOperator
    b : array of shape ``(*batch, *A.out_shape)``
    damp : float, default 0
        Tikhonov damping.
    atol, btol : float
        Stopping tolerances of Paige & Saunders (1982): a problem stops when
        :math:`\|r\| \le \mathrm{btol}\|b\| + \mathrm{atol}\|A\|\|x\|` (compatible systems) or
        :math:`\|A^H r\| \le \mathrm{atol}\|A\|\|r\|` (least squares).
    max_iter : int, optional
        Default ``2 * prod(in_shape)``.

    Returns
    -------
    SolverResult
        ``history['residual']`` is :math:`\|r_k\|`, ``history['normal_residual']`` is
        :math:`\|A^H r_k\|`.

    Notes
    -----
    Golub–Kahan bidiagonalisation with every scalar of the recursion (α, β, ρ, φ, ...) held per
    problem, so the whole batch shares one apply and one adjoint per iteration.  Results agree
    with ``scipy.sparse.linalg.lsqr`` run problem by problem.
    """
    if not isinstance(A, LinearOperator):
        raise TypeError("lsqr expects a sparserec LinearOperator; wrap matrices with Matrix(A)")
    _validate(A, b, A.out_shape, "lsqr")
    damp = check_tol(damp, "damp")
    atol, btol = check_tol(atol, "atol"), check_tol(btol, "btol")
    max_iter = check_max_iter(max_iter if max_iter is not None else 2 * A.shape[1])
    xp = namespace(b)
    dt = result_dtype(A.dtype, b.dtype)
    rdt = real_dtype(dt)
    b = xp.astype(b, dt) if dtype_name(b.dtype) != dtype_name(dt) else b
    nin, nout = len(A.in_shape), len(A.out_shape)
    batch = tuple(b.shape[: b.ndim - nout])

    def safe_div(a: Any, c: Any) -> Any:
        return xp.where(c > 0, a / xp.where(c > 0, c, xp.ones_like(c)), xp.zeros_like(a))

    u = b
    beta = _bnorm(xp, u, nout)
    u = u * xp.astype(_expand(xp, safe_div(xp.ones_like(beta), beta), nout), dt)
    v = A._adjoint(u)
    alpha = _bnorm(xp, v, nin)
    v = v * xp.astype(_expand(xp, safe_div(xp.ones_like(alpha), alpha), nin), dt)
    w = v
    x = xp.zeros_like(v)
    phibar = beta
    rhobar = alpha
    bnorm = beta
    anorm2 = xp.zeros_like(beta)
    xnorm = xp.zeros_like(beta)
    res2 = xp.zeros_like(beta)  # running sum of psi^2 (Paige & Saunders)
    mon = ConvergenceMonitor(batch, b, max_iter, 1.0, record_every, check_every, callback,
                             verbose, "lsqr")
    crit0 = xp.where((alpha * beta) == 0, xp.zeros_like(beta), xp.ones_like(beta) * 2.0)
    mon.active = mon.active & ~(crit0 == 0)
    if not bool(xp.any(mon.active)):
        return mon.result(x, params={"damp": damp, "atol": atol, "btol": btol})
    while True:
        act = xp.astype(mon.active, rdt)
        u = A._apply(v) - xp.astype(_expand(xp, alpha, nout), dt) * u
        beta = _bnorm(xp, u, nout)
        u = u * xp.astype(_expand(xp, safe_div(xp.ones_like(beta), beta), nout), dt)
        anorm2 = anorm2 + alpha**2 + beta**2 + damp**2
        v = A._adjoint(u) - xp.astype(_expand(xp, beta, nin), dt) * v
        alpha_new = _bnorm(xp, v, nin)
        v = v * xp.astype(_expand(xp, safe_div(xp.ones_like(alpha_new), alpha_new), nin), dt)
        # eliminate the damping parameter
        rhobar1 = xp.sqrt(rhobar**2 + damp**2)
        cs1 = safe_div(rhobar, rhobar1)
        sn1 = safe_div(damp * xp.ones_like(rhobar), rhobar1)
        psi = sn1 * phibar
        res2 = res2 + xp.where(mon.active, psi**2, xp.zeros_like(psi))
        phibar = cs1 * phibar
        # plane rotation
        rho = xp.sqrt(rhobar1**2 + beta**2)
        cs = safe_div(rhobar1, rho)
        sn = safe_div(beta, rho)
        theta = sn * alpha_new
        rhobar_new = -cs * alpha_new
        phi = cs * phibar
        phibar_new = sn * phibar
        t1 = safe_div(phi, rho) * act
        t2 = -safe_div(theta, rho)
        x = x + xp.astype(_expand(xp, t1, nin), dt) * w
        w_new = v + xp.astype(_expand(xp, t2, nin), dt) * w
        m = mon.mask(x)
        w = xp.where(m, w_new, w)
        alpha = xp.where(mon.active, alpha_new, alpha)
        rhobar = xp.where(mon.active, rhobar_new, rhobar)
        phibar = xp.where(mon.active, phibar_new, phibar)
        xnorm = _bnorm(xp, x, nin)
        rnorm = xp.sqrt(phibar**2 + res2)
        arnorm = alpha * xp.abs(cs * phibar)
        anorm = xp.sqrt(anorm2)
        # Paige–Saunders tests 1 and 2 folded into one criterion <= 1
        # a zero denominator (atol = btol = 0) means the test can only pass with a zero numerator
        inf = xp.full_like(rnorm, 2.0)  # "cannot pass": the monitor converges at criterion <= 1
        d1 = btol * bnorm + atol * anorm * xnorm
        t_1 = xp.where(d1 > 0, rnorm / xp.where(d1 > 0, d1, xp.ones_like(d1)), xp.where(rnorm > 0, inf, 0 * inf))
        d2 = atol * anorm * rnorm
        t_2 = xp.where(d2 > 0, arnorm / xp.where(d2 > 0, d2, xp.ones_like(d2)), inf)
        crit = xp.minimum(t_1, t_2)
        crit = xp.where(rnorm == 0, xp.zeros_like(crit), crit)
        finite = xp.isfinite(rnorm) & xp.isfinite(arnorm) & xp.isfinite(xnorm) & xp.isfinite(anorm)
        crit = xp.where(finite, crit, xp.full_like(crit, float("nan")))  # -> NONFINITE
        if mon.step(crit, x, residual=rnorm, normal_residual=arnorm):
            break
    return mon.result(x, params={"damp": damp, "atol": atol, "btol": btol, "max_iter": max_iter})
