r"""CVXPY reference formulations for small problems (test oracles; also usable directly).

CVXPY is optional and imported on first use (``pip install 'sparserec[cvx]'``).  Inputs are
dense numpy arrays (torch tensors and :class:`~sparserec.operators.LinearOperator` objects are
converted with ``todense()``); every function solves one problem and returns a
:class:`CvxResult` with the solution, the optimal value and the CVXPY status.  Objectives use
the same scaling as the iterative solvers (``0.5 * ||Ax - y||^2 + lam * g(x)``), so optimal
values can be compared directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._backend import to_numpy

__all__ = [
    "CvxResult",
    "analysis_l1",
    "bpdn",
    "group_lasso",
    "l21_loss_regression",
    "lasso",
    "nnls",
    "pcp",
    "simplex_ls",
]


@dataclass(frozen=True)
class CvxResult:
    """Solution of a CVXPY formulation.

    Attributes
    ----------
    x : numpy.ndarray
        Solution (for :func:`pcp`, ``x`` is the low-rank part and ``extras['S']`` the sparse one).
    value : float
        Optimal objective value.
    status : str
        CVXPY status (``"optimal"``, ``"optimal_inaccurate"``, ...).
    extras : dict
        Other variables.
    """

    x: np.ndarray
    value: float
    status: str
    extras: dict[str, Any]


def _cp() -> Any:
    try:
        import cvxpy as cp
    except ImportError as e:  # pragma: no cover - depends on environment
        raise ImportError("the CVXPY formulations need cvxpy: pip install 'sparserec[cvx]'") from e
    return cp


def _dense(A: Any) -> np.ndarray:
    from ...operators.base import LinearOperator

    if isinstance(A, LinearOperator):
        return np.asarray(to_numpy(A.todense()))
    if hasattr(A, "toarray"):
        return np.asarray(A.toarray())
    return np.asarray(to_numpy(A))


def _solve(prob: Any, solver: str | None, **kw: Any) -> str:
    cp = _cp()
    if solver is None:
        solver = "CLARABEL" if "CLARABEL" in cp.installed_solvers() else None
    prob.solve(solver=solver, **kw)
    if prob.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"CVXPY returned status {prob.status!r}")
    return str(prob.status)


def _loss(cp: Any, A: np.ndarray, x: Any, y: np.ndarray) -> Any:
    return 0.5 * cp.sum_squares(A @ x - y)


def lasso(A: Any, y: Any, lam: float, *, positivity: bool = False, weights: Any = None,
          solver: str | None = None) -> CvxResult:
    r"""Lasso :math:`\min_x \tfrac12\|Ax-y\|_2^2 + \lambda\|w\odot x\|_1` (complex data allowed).

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.solvers.convex import cvx
    >>> res = cvx.lasso(np.eye(3), np.array([3.0, 0.5, -2.0]), 1.0)
    >>> np.round(res.x, 4) + 0.0
    array([ 2.,  0., -1.])
    """
    cp = _cp()
    A, y = _dense(A), np.asarray(to_numpy(y))
    cplx = np.iscomplexobj(A) or np.iscomplexobj(y)
    x = cp.Variable(A.shape[1], complex=cplx)
    w = 1.0 if weights is None else np.asarray(to_numpy(weights)).reshape(-1)
    obj = _loss(cp, A, x, y) + lam * cp.sum(cp.multiply(w, cp.abs(x)))
    cons = [x >= 0] if positivity else []
    prob = cp.Problem(cp.Minimize(obj), cons)
    st = _solve(prob, solver)
    return CvxResult(np.asarray(x.value), float(prob.value), st, {})


def analysis_l1(A: Any, y: Any, W: Any, weights: Any = 1.0, *, positivity: bool = False,
                solver: str | None = None) -> CvxResult:
    r"""Analysis-ℓ1 problem :math:`\min_x \tfrac12\|Ax-y\|^2 + \|\Lambda\odot Wx\|_1`
    [+ :math:`x \ge 0`] (the problem of :func:`~sparserec.solvers.convex.condat_vu`; ``W`` dense
    or an operator, ``weights`` :math:`\Lambda` scalar or one per row of ``W``)."""
    cp = _cp()
    A, W, y = _dense(A), _dense(W), np.asarray(to_numpy(y)).reshape(-1)
    lam = np.broadcast_to(np.asarray(to_numpy(weights), dtype=float).reshape(-1)
                          if np.ndim(weights) else float(weights), (W.shape[0],))
    x = cp.Variable(A.shape[1])
    obj = _loss(cp, A, x, y) + cp.sum(cp.multiply(lam, cp.abs(W @ x)))
    prob = cp.Problem(cp.Minimize(obj), [x >= 0] if positivity else [])
    st = _solve(prob, solver)
    return CvxResult(np.asarray(x.value), float(prob.value), st, {})


def bpdn(A: Any, y: Any, eps: float, *, solver: str | None = None) -> CvxResult:
    r"""Basis pursuit denoising :math:`\min_x \|x\|_1` s.t. :math:`\|Ax - y\|_2 \le \varepsilon`
    (:math:`\varepsilon = 0`: basis pursuit)."""
    cp = _cp()
    A, y = _dense(A), np.asarray(to_numpy(y))
    x = cp.Variable(A.shape[1], complex=np.iscomplexobj(A) or np.iscomplexobj(y))
    cons = [A @ x == y] if eps == 0 else [cp.norm(A @ x - y, 2) <= eps]
    prob = cp.Problem(cp.Minimize(cp.norm1(x)), cons)
    st = _solve(prob, solver)
    return CvxResult(np.asarray(x.value), float(prob.value), st, {})


def group_lasso(A: Any, y: Any, lam: float, groups: Any, *, weights: Any = None,
                solver: str | None = None) -> CvxResult:
    r"""Group lasso :math:`\min_x \tfrac12\|Ax-y\|^2 + \lambda\sum_g w_g\|x_g\|_2` for integer
    group labels ``groups`` (one per column of ``A``)."""
    cp = _cp()
    A, y = _dense(A), np.asarray(to_numpy(y))
    g = np.asarray(groups).reshape(-1)
    labels = np.unique(g)
    w = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=float)
    x = cp.Variable(A.shape[1], complex=np.iscomplexobj(A) or np.iscomplexobj(y))
    pen = sum(w[i] * cp.norm(x[np.flatnonzero(g == lab)], 2) for i, lab in enumerate(labels))
    prob = cp.Problem(cp.Minimize(_loss(cp, A, x, y) + lam * pen))
    st = _solve(prob, solver)
    return CvxResult(np.asarray(x.value), float(prob.value), st, {})


def nnls(A: Any, y: Any, *, solver: str | None = None) -> CvxResult:
    r"""Non-negative least squares :math:`\min_{x \ge 0} \tfrac12\|Ax-y\|^2`."""
    cp = _cp()
    A, y = _dense(A), np.asarray(to_numpy(y))
    x = cp.Variable(A.shape[1])
    prob = cp.Problem(cp.Minimize(_loss(cp, A, x, y)), [x >= 0])
    st = _solve(prob, solver)
    return CvxResult(np.asarray(x.value), float(prob.value), st, {})


def simplex_ls(A: Any, y: Any, *, lam: float = 0.0, nonneg: bool = True, total: float = 1.0,
               solver: str | None = None) -> CvxResult:
    r"""Fully constrained least squares (unmixing):
    :math:`\min_x \tfrac12\|Ax-y\|^2 + \lambda\|x\|_1` s.t. :math:`\sum x = s` [and
    :math:`x \ge 0`]."""
    cp = _cp()
    A, y = _dense(A), np.asarray(to_numpy(y))
    x = cp.Variable(A.shape[1])
    cons = [cp.sum(x) == total] + ([x >= 0] if nonneg else [])
    prob = cp.Problem(cp.Minimize(_loss(cp, A, x, y) + lam * cp.norm1(x)), cons)
    st = _solve(prob, solver)
    return CvxResult(np.asarray(x.value), float(prob.value), st, {})


def l21_loss_regression(A: Any, Y: Any, lam: float = 0.0, *, solver: str | None = None) -> CvxResult:
    r"""Robust (ℓ2,1-loss) multi-signal regression
    :math:`\min_X \sum_j \|A x_j - y_j\|_2 + \lambda\|X\|_1`.

    ``Y`` has shape ``(n_signals, m)`` (one signal per row, batch-first like the solvers); the
    solution has shape ``(n_signals, n)``.  Each signal's residual norm is one group, so an
    outlying signal costs linearly, not quadratically.
    """
    cp = _cp()
    A, Y = _dense(A), np.asarray(to_numpy(Y))
    X = cp.Variable((Y.shape[0], A.shape[1]))
    R = X @ A.T - Y
    obj = cp.sum(cp.norm(R, 2, axis=1)) + lam * cp.sum(cp.abs(X))
    prob = cp.Problem(cp.Minimize(obj))
    st = _solve(prob, solver)
    return CvxResult(np.asarray(X.value), float(prob.value), st, {})


def pcp(D: Any, lam: float | None = None, *, solver: str | None = None) -> CvxResult:
    r"""Principal component pursuit :math:`\min_{L,S} \|L\|_* + \lambda\|S\|_1` s.t.
    :math:`L + S = D`, with :math:`\lambda = 1/\sqrt{\max(m, n)}` by default (small matrices).

    Returns ``x = L`` and ``extras['S']``.
    """
    cp = _cp()
    D = np.asarray(to_numpy(D))
    m, n = D.shape
    lam = 1.0 / np.sqrt(max(m, n)) if lam is None else float(lam)
    L = cp.Variable((m, n))
    S = cp.Variable((m, n))
    prob = cp.Problem(cp.Minimize(cp.normNuc(L) + lam * cp.sum(cp.abs(S))), [L + S == D])
    st = _solve(prob, solver)
    return CvxResult(np.asarray(L.value), float(prob.value), st, {"S": np.asarray(S.value)})
