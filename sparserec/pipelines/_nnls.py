r"""Batched non-negative (and fully constrained) least squares, private to the pipelines.

A stand-in until :mod:`sparserec.solvers.unmixing` provides ``fcls``; registered in the solver
registry as ``"nnls"``.  It solves, for every problem of a batch at once,

.. math:: \min_x \tfrac12 \|A x - y\|_2^2 \quad \text{s.t.}\quad x \ge 0
          \;\;(\text{and } \textstyle\sum_i x_i = 1 \text{ if sum\_to\_one}),

by accelerated projected gradient (FISTA with per-problem adaptive restart).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..operators.base import LinearOperator
from ..solvers.result import ConvergenceMonitor, SolverResult, check_max_iter, check_tol

__all__ = ["nnls", "project_simplex"]


def project_simplex(v: np.ndarray) -> np.ndarray:
    r"""Euclidean projection of each row (last axis) of ``v`` onto the probability simplex.

    Notes
    -----
    Sort-based algorithm: with :math:`u` sorted decreasingly and
    :math:`\rho = \max\{j : u_j - (\sum_{i \le j} u_i - 1)/j > 0\}`, the projection is
    :math:`\max(v - \theta, 0)` with :math:`\theta = (\sum_{i \le \rho} u_i - 1)/\rho`.
    """
    n = v.shape[-1]
    u = -np.sort(-v, axis=-1)
    css = np.cumsum(u, axis=-1) - 1.0
    j = np.arange(1, n + 1, dtype=v.dtype)
    cond = u - css / j > 0
    rho = n - np.argmax(cond[..., ::-1], axis=-1)  # last index where cond holds (1-based)
    theta = np.take_along_axis(css, (rho - 1)[..., None], axis=-1) / rho[..., None]
    return np.maximum(v - theta, 0.0)


def nnls(A: LinearOperator, y: Any, *, sum_to_one: bool = False, max_iter: int = 2000,
         tol: float = 1e-9, record_every: int = 10, check_every: int = 5,
         verbose: bool = False) -> SolverResult:
    r"""Batched NNLS / FCLS by accelerated projected gradient (numpy).

    Parameters
    ----------
    A : LinearOperator
        Forward model with 1-D ``in_shape`` (e.g. an endmember matrix ``Matrix(E)``).
    y : numpy.ndarray of shape ``(*batch, *A.out_shape)``
    sum_to_one : bool, default False
        Also impose :math:`\sum_i x_i = 1` (fully constrained least squares, abundances).
    max_iter : int, default 2000
    tol : float, default 1e-9
        Per-problem stop when :math:`\|x_{k+1}-x_k\| \le \mathrm{tol}\,\max(\|x_{k+1}\|, 10^{-30})`.
    record_every, check_every, verbose
        See :class:`~sparserec.solvers.result.ConvergenceMonitor`.

    Returns
    -------
    SolverResult
        ``history['objective']`` is :math:`\tfrac12\|Ax-y\|^2` per problem.

    Notes
    -----
    For operators with a small input (``prod(in_shape) <= 2048``) the Gram matrix
    :math:`A^H A` is formed once, so an iteration costs :math:`O(B n^2)` for a batch of
    :math:`B` problems; the step is :math:`1/\lambda_{\max}(A^H A)`.
    """
    if not isinstance(A, LinearOperator):
        raise TypeError("nnls expects a sparserec LinearOperator; wrap matrices with Matrix(A)")
    if len(A.in_shape) != 1:
        raise ValueError(f"nnls needs an operator with a 1-D in_shape, got {A.in_shape}")
    y = np.asarray(y)
    A._check_input(y, A.out_shape, "nnls")
    if not np.all(np.isfinite(y)):
        raise ValueError("nnls: y contains NaN or Inf")
    max_iter = check_max_iter(max_iter)
    tol = check_tol(tol)
    nout = len(A.out_shape)
    batch = y.shape[: y.ndim - nout]
    n = A.in_shape[0]
    op_dt = np.float64 if A.dtype is None else np.dtype(str(A.dtype).replace("torch.", ""))
    dt = np.result_type(y.dtype, op_dt)
    if np.issubdtype(dt, np.complexfloating):
        raise TypeError("nnls is defined for real data only")
    y = y.astype(dt, copy=False)
    Aty = np.asarray(A._adjoint(y))
    if n <= 2048:
        E = np.asarray(A.todense()).astype(dt).reshape(-1, n)
        G = E.T @ E
        L = float(np.linalg.eigvalsh(G)[-1])

        def grad(x: np.ndarray) -> np.ndarray:
            return x @ G - Aty
    else:
        L = float(A.opnorm()) ** 2

        def grad(x: np.ndarray) -> np.ndarray:
            return np.asarray(A._adjoint(A._apply(x))) - Aty
    step = 1.0 / max(L, 1e-300)
    proj = project_simplex if sum_to_one else (lambda v: np.maximum(v, 0.0))
    x = proj(np.zeros(batch + (n,), dtype=dt) + (1.0 / n if sum_to_one else 0.0))
    z = x.copy()
    t = np.ones(batch + (1,), dtype=dt)
    yy = 0.5 * np.sum(y.reshape(batch + (-1,)) ** 2, axis=-1)
    mon = ConvergenceMonitor(batch, y, max_iter, tol, record_every, check_every, None, verbose, "nnls")
    while True:
        x_new = proj(z - step * grad(z))
        d = x_new - x
        # per-problem adaptive restart (O'Donoghue & Candes): momentum off where it points uphill
        restart = np.sum((z - x_new) * d, axis=-1, keepdims=True) > 0
        t_new = np.where(restart, 1.0, 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t)))
        beta = np.where(restart, 0.0, (t - 1.0) / t_new)
        m = mon.mask(x_new)
        x_new = np.where(m, x_new, x)
        z = np.where(m, x_new + beta * d, z)
        t = np.where(m, t_new, t)
        dn = np.sqrt(np.sum(d * d, axis=-1))
        xn = np.maximum(np.sqrt(np.sum(x_new * x_new, axis=-1)), 1e-30)
        x = x_new
        crit = dn / xn
        metrics: dict[str, Any] = {}
        if mon.record_every > 0 and (mon.iteration + 1) % mon.record_every == 0:
            # 1/2||Ax-y||^2 = 1/2 x'Gx - x'A'y + 1/2||y||^2 (exact for the Gram path)
            if n <= 2048:
                obj = 0.5 * np.sum((x @ G) * x, axis=-1) - np.sum(x * Aty, axis=-1) + yy
            else:
                r = np.asarray(A._apply(x)) - y
                obj = 0.5 * np.sum(r.reshape(batch + (-1,)) ** 2, axis=-1)
            metrics = {"objective": obj, "rel_change": crit}
        if mon.step(crit, x, **metrics):
            break
    return mon.result(x, params={"sum_to_one": bool(sum_to_one), "max_iter": max_iter, "tol": tol,
                                 "step": step})
