r"""Batched proximal gradient: ISTA and FISTA (with backtracking and adaptive restart).

Both solve, for every problem of a batch at once,

.. math:: \min_x \tfrac12\|A x - y\|_2^2 + \lambda\, g(x) \;[+\, \iota_{\ge 0}(x)]

with a penalty :math:`g` from :mod:`sparserec.prox` (synthesis form) or
:math:`g(x) = \|W x\|_1` for an orthogonal analysis operator :math:`W` (analysis form).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..._backend import is_complex_dtype, real_dtype
from ...operators.base import LinearOperator
from ...prox.penalties import Penalty, ZeroPenalty, get_penalty
from ..result import ConvergenceMonitor, SolverResult, SolverState, check_max_iter, check_tol
from ._common import (
    as_operator,
    bdot,
    bnorm,
    broadcast_lam,
    check_positive,
    check_step,
    expand,
    lipschitz,
    prepare_data,
    prepare_x0,
    step_slack,
)

__all__ = ["fista", "ista", "lasso"]

# lasso: rows of the batch solved together in the inner loop, by bytes of their sub-dictionaries
_WS_CHUNK_BYTES = 16 << 20
# lasso homotopy: rows of the batch followed together, by bytes of their state
_HOMOTOPY_BYTES = 192 << 20


class _AnalysisL1(Penalty):
    r""":math:`g(x) = h(Wx)` for an orthogonal :math:`W`: :math:`\mathrm{prox}_g = W^H
    \mathrm{prox}_h W` (exact)."""

    separable = False
    positivity_compatible = False

    def __init__(self, inner: Penalty, W: LinearOperator) -> None:
        self.inner, self.W = inner, W
        self.homogeneous = inner.homogeneous

    def _prox(self, x: Any, step: Any, lam: Any) -> Any:
        return self.W._adjoint(self.inner._prox(self.W._apply(x), step, lam))

    def _value(self, x: Any, lam: Any, ndim: int | None) -> Any:
        nd = None if ndim is None else len(self.W.out_shape)
        return self.inner._value(self.W._apply(x), lam, nd)


def _setup(A: Any, y: Any, penalty: Any, lam: Any, positivity: bool, analysis: Any,
           solver: str) -> tuple[Any, ...]:
    A = as_operator(A)
    xp, y, batch, dt = prepare_data(A, y, solver)
    pen = get_penalty(penalty)
    if pen.real_only and is_complex_dtype(dt):
        raise TypeError(f"{solver}: penalty {pen!r} is defined for real data only; got complex data")
    lam_b = broadcast_lam(lam, batch, y)
    if positivity:
        if is_complex_dtype(dt):
            raise TypeError(f"{solver}: positivity=True needs real data and operator, got complex")
        if not pen.positivity_compatible and not isinstance(pen, ZeroPenalty):
            raise ValueError(
                f"{solver}: positivity is not supported with {pen!r} (its prox does not commute "
                "with the projection); use condat_vu or admm for this combination")
    if analysis is not None:
        W = as_operator(analysis, "analysis")
        if W.in_shape != A.in_shape:
            raise ValueError(f"{solver}: analysis operator in_shape {W.in_shape} differs from "
                             f"A.in_shape {A.in_shape}")
        if not W.is_orthogonal:
            raise ValueError(
                f"{solver}: the analysis form needs an orthogonal W (exact prox of g(Wx)); for "
                "redundant frames such as Starlet use condat_vu(A, y, W, ...)")
        if positivity:
            raise ValueError(f"{solver}: positivity with an analysis prior: use condat_vu")
        pen = _AnalysisL1(pen, W)
    return A, xp, y, batch, dt, pen, lam_b


def ista_step(x: Any, grad: Any, step: Any, thresh: Any, prox: Callable[[Any, Any], Any] | None = None) -> Any:
    r"""One proximal-gradient (ISTA) step :math:`x_{k+1} = \mathrm{prox}_{\theta}(x_k - \gamma\, g)`.

    The single step function shared by the classical solvers (:func:`ista`, :func:`fista`, where
    :math:`g = A^H(Ax - y)` and :math:`\theta = \gamma\lambda`) and the unrolled networks of
    :mod:`sparserec.solvers.unfolding` (LISTA learns :math:`g`, :math:`\gamma`, :math:`\theta`).

    Parameters
    ----------
    x, grad : arrays of the same shape
    step : float or array broadcasting against ``x``
    thresh : float or array
        Threshold passed to ``prox`` (:math:`\gamma\lambda` in classical ISTA).
    prox : callable ``prox(z, thresh)``, default soft thresholding (:func:`sparserec.prox.prox_l1`).
    """
    if prox is None:
        from ...prox import prox_l1 as prox
    return prox(x - step * grad, thresh)


def _fused_kind(pen: Penalty, positivity: bool, in_shape: tuple[int, ...], ndim: int) -> tuple[str, int] | None:
    """The :func:`sparserec.cuda_ext.prox_grad_step` kind (and group size) whose prox is exactly
    ``pen``'s (after the positivity projection), or None when the kernel has no such prox.

    ``ndim`` is the number of axes of a full iterate ``(*batch, *in_shape)``.
    """
    from ...prox.penalties import L0, L1, GroupL21, Lp

    if type(pen) is L1 and pen.weights is None:
        return ("nonneg_l1" if positivity else "l1"), 1
    if positivity or not in_shape:
        return None
    if type(pen) is L0:
        return "l0", 1
    if type(pen) is Lp and pen.p == 0.5:
        return "l12", 1
    if type(pen) is GroupL21 and pen.weights is None:
        n = int(in_shape[-1])
        if pen.groups is None:
            ax = -1 if pen.axis is None else int(pen.axis)
            # groups along the last axis are contiguous runs of n entries of the flattened iterate
            return ("l21", n) if (ax if ax >= 0 else ax + ndim) == ndim - 1 else None
        g = pen.groups
        sizes = set(int(s) for s in g.sizes)
        if g.n != n or len(sizes) != 1:
            return None
        size = sizes.pop()
        lab = g.labels.reshape(-1, size)
        if (lab == lab[:, :1]).all() and len(set(lab[:, 0].tolist())) == lab.shape[0]:
            return "l21", size
    return None


_FUSED_VALUES = (None, True, False, "reference", "triton")


def _fused_plan(fused: Any, pen: Penalty, positivity: bool, analysis: Any, dt: Any, in_shape: tuple[int, ...],
                y: Any, ndim: int, solver: str) -> tuple[str, int, str] | None:
    """Resolve the ``fused`` keyword to ``(kind, group_size, impl)`` or None (unfused path)."""
    from ..._backend import is_torch

    if isinstance(fused, str):
        if fused not in ("reference", "triton", "cuda"):
            raise ValueError(f"{solver}: fused must be None, True, False, 'reference', 'triton' or 'cuda', "
                             f"got {fused!r}")
    elif fused is not None and not isinstance(fused, bool):
        raise TypeError(f"{solver}: fused must be None, a bool, 'reference', 'triton' or 'cuda', got {fused!r}")
    if fused is False:
        return None
    kind = None if analysis is not None or is_complex_dtype(dt) else _fused_kind(pen, positivity, in_shape, ndim)
    if fused is None:
        if kind is None or not is_torch(y) or getattr(y.device, "type", "") != "cuda":
            return None
        from ... import cuda_ext

        if not cuda_ext.available()["enabled"]:
            return None
        return kind[0], kind[1], "auto"
    if kind is None:
        why = ("an analysis operator" if analysis is not None else "complex data" if is_complex_dtype(dt)
               else f"penalty {pen!r}" + (" with positivity=True" if positivity else ""))
        raise ValueError(
            f"{solver}: fused={fused!r} is not supported with {why}; the fused step covers real data "
            "without an analysis operator and the penalties L1() (with or without positivity), and, "
            "without positivity, L0(), Lp(0.5) and unweighted GroupL21 over contiguous equal groups "
            "of the last axis. Use fused=None or False")
    if fused == "triton" and not is_torch(y):
        raise ValueError(f"{solver}: fused='triton' needs torch tensors, got {type(y).__name__}")
    if fused == "cuda" and not (is_torch(y) and getattr(y.device, "type", "") == "cuda"):
        where = f"{y.device} tensors" if is_torch(y) else type(y).__name__
        raise ValueError(f"{solver}: fused='cuda' (the CUDA C++ kernel) needs torch CUDA tensors, got {where}")
    return kind[0], kind[1], ("auto" if fused is True else fused)


def _proximal_gradient(A: Any, y: Any, penalty: Any, lam: Any, *, accelerated: bool, step: Any,
                       x0: Any, max_iter: int, tol: float, backtracking: bool, restart: str | None,
                       positivity: bool, analysis: Any, record_every: int, check_every: int,
                       callback: Callable[[SolverState], bool | None] | None, verbose: bool,
                       eta: float, solver: str, fused: Any = None) -> SolverResult:
    A, xp, y, batch, dt, pen, lam_b = _setup(A, y, penalty, lam, positivity, analysis, solver)
    fz = _fused_plan(fused, pen, positivity, analysis, dt, tuple(A.in_shape), y,
                     len(batch) + len(A.in_shape), solver)
    max_iter = check_max_iter(max_iter)
    tol = check_tol(tol)
    if restart not in (None, "adaptive", "gradient", "function"):
        raise ValueError(f"{solver}: restart must be None, 'adaptive'/'gradient' or 'function', "
                         f"got {restart!r}")
    if restart == "adaptive":
        restart = "gradient"
    eta = check_positive(eta, "eta")
    if backtracking and eta <= 1:
        raise ValueError(f"{solver}: eta must exceed 1 for backtracking, got {eta}")
    nin, nout = len(A.in_shape), len(A.out_shape)
    rdt = real_dtype(dt)
    # ---- step size
    L = None
    if step is None:
        if backtracking:
            L = lipschitz(A, y) if A.opnorm_bound() is not None else None
            step_v = 1.0 / L if L else 1.0
        else:
            L = lipschitz(A, y)
            step_v = 1.0 / L if L > 0 else 1.0
    else:
        if backtracking:
            step_v = check_positive(step, "step")
        else:
            L = lipschitz(A, y)
            sl = step_slack(A)
            if accelerated:
                step_v = check_step(step, L, 1.0, solver, "1/L (FISTA rule)", sl)
            else:
                step_v = check_step(step, L, 2.0, solver, "2/L (ISTA rule)", sl)
    lam_e = expand(lam_b, nin)
    x = prepare_x0(x0, A, batch, y, dt, solver)
    Aty = A._adjoint(y)
    mon = ConvergenceMonitor(batch, y, max_iter, tol, record_every, check_every, callback,
                             verbose, solver)

    if backtracking:
        Lb = xp.full(batch, 1.0 / step_v, dtype=rdt, **_dev(y))
    else:
        Lb = None

    def prox(z: Any, s: Any) -> Any:
        if positivity:
            z = xp.clip(z, min=0.0)
        return pen._prox(z, s, lam_e)

    def objective(xc: Any, Ax: Any = None) -> Any:
        r = (A._apply(xc) if Ax is None else Ax) - y
        f = 0.5 * bnorm(xp, r, nout) ** 2
        if not isinstance(pen, ZeroPenalty):
            f = f + pen._value(xc, lam_b, nin)
        return f

    t = xp.ones(batch, dtype=rdt, **_dev(y)) if accelerated else None
    v = x
    f_prev = objective(x) if restart == "function" else None
    all_active = True
    red_nz = tuple(range(len(batch), len(batch) + nin))
    if fz is not None:
        from ... import cuda_ext

        f_kind, f_group, f_impl = fz
        n_b, n_x = 1, 1
        for s_ in batch:
            n_b *= int(s_)
        for s_ in A.in_shape:
            n_x *= int(s_)
        xshape = tuple(batch) + tuple(A.in_shape)
        lam_f = lam_b if isinstance(lam_b, float) else xp.reshape(lam_b, (n_b,))

        def per_problem(a: Any) -> Any:
            return a if isinstance(a, float) else xp.reshape(a, (n_b,))

        def fused_step(vc: Any, grad: Any, s: Any, beta_c: Any) -> tuple[Any, tuple[Any, Any, Any]]:
            # x+ = prox(v - s grad), v+ = x+ + beta (x+ - x) and |x+ - x|^2, |x+|^2 in one pass
            xn, zn, d2, n2 = cuda_ext.prox_grad_step(
                xp.reshape(vc, (n_b, n_x)), xp.reshape(grad, (n_b, n_x)), xp.reshape(x, (n_b, n_x)),
                per_problem(s), lam_f, per_problem(beta_c), f_kind, f_group, impl=f_impl)
            return xp.reshape(xn, xshape), (xp.reshape(zn, xshape), xp.reshape(d2, batch), xp.reshape(n2, batch))
    n2_prev = None
    while True:
        rec = mon.record_every > 0 and (mon.iteration + 1) % mon.record_every == 0
        Ax_new = None
        red = None  # fused path: (v+, |x+ - x|^2, |x+|^2) from the kernel
        if accelerated:
            t_new = (1.0 + xp.sqrt(1.0 + 4.0 * t * t)) / 2.0
            beta = (t - 1.0) / t_new
        if not backtracking:
            grad = A._normal(v) - Aty
            if fz is None:
                x_new = ista_step(v, grad, step_v, step_v, prox)
            else:
                x_new, red = fused_step(v, grad, step_v, beta if accelerated else 0.0)
        else:
            Av = A._apply(v)
            rv = Av - y
            fv = 0.5 * bnorm(xp, rv, nout) ** 2
            grad = A._adjoint(rv)
            while True:
                if fz is None:
                    s_e = expand(1.0 / Lb, nin)
                    x_new = ista_step(v, grad, s_e, s_e, prox)
                else:
                    x_new, red = fused_step(v, grad, 1.0 / Lb, beta if accelerated else 0.0)
                d = x_new - v
                Ax_new = A._apply(x_new)
                fx = 0.5 * bnorm(xp, Ax_new - y, nout) ** 2
                Q = fv + bdot(xp, d, grad, nin) + 0.5 * Lb * bnorm(xp, d, nin) ** 2
                bad = (fx > Q + 1e-12 * xp.abs(Q) + 1e-30) & mon.active
                if not bool(xp.any(bad)):
                    break
                Lb = xp.where(bad, Lb * eta, Lb)
        if red is not None:
            z_next, d2, n2 = red
        if not all_active:
            m = mon.mask(x_new)
            x_new = xp.where(m, x_new, x)
            if red is not None:  # frozen problems: v+ = x, no change, same norm as before
                z_next = xp.where(m, z_next, x)
                d2 = xp.where(mon.active, d2, xp.zeros_like(d2))
                n2 = xp.where(mon.active, n2, n2_prev)
        diff = x_new - x if red is None or restart == "gradient" else None
        cond = None
        if accelerated:
            if restart == "gradient":
                cond = bdot(xp, v - x_new, diff, nin) > 0
                t_new = xp.where(cond, xp.ones_like(t_new), t_new)
                beta = xp.where(cond, xp.zeros_like(beta), beta)
            elif restart == "function":
                f_new = objective(x_new, Ax_new)
                cond = f_new > f_prev
                t_new = xp.where(cond, xp.ones_like(t_new), t_new)
                beta = xp.where(cond, xp.zeros_like(beta), beta)
                f_prev = f_new
            if red is None:
                v = x_new + expand(xp.astype(beta, dt) if is_complex_dtype(dt) else beta, nin) * diff
            else:  # the kernel's v+ used the unrestarted beta; a restart (beta = 0) gives v+ = x+
                v = z_next if cond is None else xp.where(expand(cond, nin), x_new, z_next)
            t = t_new
        else:
            v = x_new
        if red is None:
            nrm = bnorm(xp, x_new, nin)
            dnrm = bnorm(xp, diff, nin)
        else:  # the stopping rule from the kernel's reductions
            nrm, dnrm, n2_prev = xp.sqrt(n2), xp.sqrt(d2), n2
        rel = dnrm / xp.clip(nrm, min=1e-30)
        rel = xp.where(nrm > 0, rel, dnrm)
        x = x_new
        metrics: dict[str, Any] = {"rel_change": rel}
        if rec:
            metrics["objective"] = objective(x, Ax_new)
            metrics["n_nonzero"] = xp.sum(xp.astype(x != 0, xp.int64), axis=red_nz)
        if mon.step(rel, x, **metrics):
            break
        if all_active and mon.iteration % mon.check_every == 0:
            all_active = bool(xp.all(mon.active))
    params = {"lam": lam_b, "step": step_v if not backtracking else None, "max_iter": max_iter,
              "tol": tol, "restart": restart, "backtracking": backtracking,
              "positivity": positivity, "analysis": analysis is not None, "penalty": repr(pen),
              "lipschitz": L, "fused": None if fz is None else fz[0]}
    extras = {"objective": objective(x)}
    if backtracking:
        extras["lipschitz_estimate"] = Lb
    return mon.result(x, params=params, extras=extras)


def _dev(like: Any) -> dict[str, Any]:
    from ..._backend import is_torch

    return {"device": like.device} if is_torch(like) else {}


_PARAMS_DOC = r"""
    Parameters
    ----------
    A : LinearOperator or 2-D array
        Forward operator (dense arrays are wrapped in :class:`~sparserec.operators.Matrix`).
    y : array of shape ``(*batch, *A.out_shape)``
        Data; every problem of the batch is solved at once.
    penalty : Penalty, str or callable, default ``"l1"``
        :math:`g`: a :class:`~sparserec.prox.Penalty` (``L1``, ``GroupL21``, ``Lp``, ``L0``,
        ``CEL0``, ``NuclearNorm``, ``TotalVariation``, ...), a name (``"l1"``, ``"l0"``,
        ``"lp:0.5"``, ``"l21"``, ``"zero"``) or a callable ``prox(x, thresh)``.
    lam : float or array, default 1.0
        :math:`\lambda \ge 0`, scalar or one value per problem (broadcasting to the batch shape).
    step : float, optional
        Step :math:`\gamma`.  Default :math:`1/L` with :math:`L = \|A\|_2^2` from the operator's
        closed-form bound (else its cached power-iteration estimate).  A user step is checked
        against the convergence rule (see Notes); with ``backtracking`` it is the initial step.
    x0 : array, optional
        Initial iterate, shape ``A.in_shape`` or ``(*batch, *A.in_shape)`` (default zero).
    max_iter : int, default 1000
    tol : float, default 1e-6
        A problem stops when :math:`\|x_{k+1}-x_k\|/\|x_{k+1}\| \le \mathrm{tol}`.
    backtracking : bool, default False
        Per-problem Beck–Teboulle backtracking: :math:`L_b \leftarrow \eta L_b` until the
        quadratic upper bound holds (monotone, never decreased).
    positivity : bool, default False
        Add :math:`\iota_{\ge 0}(x)` (real data; penalties whose prox commutes with the
        projection: L1, weighted L1, Lp, L0, CEL0, group ℓ2,1).
    analysis : LinearOperator, optional
        Orthogonal :math:`W`; the penalty is then :math:`g(Wx)` with the exact prox
        :math:`W^H \mathrm{prox}_g(W\cdot)`.  Redundant frames: use
        :func:`~sparserec.solvers.convex.condat_vu`.
    record_every : int, default 10
        History (``objective``, ``rel_change``, ``n_nonzero``) every ``record_every``
        iterations; the objective costs one extra operator apply, so it is computed only then.
        0 disables the history.
    check_every : int, default 1
        Convergence test (one host synchronisation) every ``check_every`` iterations.
    callback : callable, optional
        ``callback(state) -> bool``; True stops.
    verbose : bool, default False
        Progress bar.
    eta : float, default 2.0
        Backtracking factor.
    fused : bool, {"reference", "triton", "cuda"} or None, default None
        Take each step with the fused kernel :func:`sparserec.cuda_ext.prox_grad_step` (prox,
        momentum and the two stopping-rule reductions in one pass over memory; see
        :doc:`/gpu`).  ``None``: when the data are torch CUDA tensors, triton is installed
        (``cuda_ext.available()["enabled"]``) and the penalty is one the kernel computes;
        ``True``: whenever the penalty is supported, with the registry's implementation (the
        Triton kernel for CUDA tensors, the array-API reference otherwise); ``"reference"`` /
        ``"triton"``: force that implementation (``"triton"`` on CPU tensors needs
        ``TRITON_INTERPRET=1``); ``"cuda"``: the opt-in CUDA C++ kernel (torch CUDA tensors only;
        built on first use, see :doc:`/gpu`; its reductions match up to rounding, not bit for
        bit); ``False``: never.  Supported: real data, no ``analysis``, and
        ``L1()`` (with or without ``positivity``), or without ``positivity`` ``L0()``,
        ``Lp(0.5)`` and unweighted ``GroupL21`` over the last axis (or contiguous equal-size
        ``groups``).  The iterates are those of the unfused path up to rounding.  A forced
        ``fused`` with anything else raises ``ValueError``.
"""

_RETURNS_DOC = r"""
    Returns
    -------
    SolverResult
        ``x`` of shape ``(*batch, *A.in_shape)``; ``extras['objective']`` is the final
        objective per problem.

    Raises
    ------
    ValueError
        ``lam < 0`` or non-finite, non-finite data, shape mismatch, step above the rule,
        non-orthogonal analysis operator.
    TypeError
        Complex data with a real-only penalty or with ``positivity=True``.
"""


def ista(A: LinearOperator | Any, y: Any, penalty: Any = "l1", lam: Any = 1.0, *,
         step: float | None = None, x0: Any = None, max_iter: int = 1000, tol: float = 1e-6,
         backtracking: bool = False, positivity: bool = False, analysis: Any = None,
         record_every: int = 10, check_every: int = 1,
         callback: Callable[[SolverState], bool | None] | None = None, verbose: bool = False,
         eta: float = 2.0, fused: bool | str | None = None) -> SolverResult:
    return _proximal_gradient(A, y, penalty, lam, accelerated=False, step=step, x0=x0,
                              max_iter=max_iter, tol=tol, backtracking=backtracking, restart=None,
                              positivity=positivity, analysis=analysis, record_every=record_every,
                              check_every=check_every, callback=callback, verbose=verbose,
                              eta=eta, solver="ista", fused=fused)


ista.__doc__ = r"""ISTA (proximal gradient) for :math:`\min_x \tfrac12\|Ax-y\|^2 + \lambda g(x)`, batched.
""" + _PARAMS_DOC + _RETURNS_DOC + r"""
    Notes
    -----
    :math:`x_{k+1} = \mathrm{prox}_{\gamma\lambda g}\bigl(x_k - \gamma A^H(Ax_k - y)\bigr)`,
    with :math:`A^H A` applied through the operator's ``normal`` hook.  ISTA converges for
    :math:`0 < \gamma < 2/L`; a user step :math:`\ge 2/L` raises ``ValueError``.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import Matrix
    >>> from sparserec.solvers.convex import ista
    >>> A = Matrix(np.eye(3))
    >>> res = ista(A, np.array([3.0, 0.5, -2.0]), lam=1.0)
    >>> res.x
    array([ 2.,  0., -1.])
    """


def fista(A: LinearOperator | Any, y: Any, penalty: Any = "l1", lam: Any = 1.0, *,
          step: float | None = None, x0: Any = None, max_iter: int = 1000, tol: float = 1e-6,
          backtracking: bool = False, restart: str | None = "adaptive", positivity: bool = False,
          analysis: Any = None, record_every: int = 10, check_every: int = 1,
          callback: Callable[[SolverState], bool | None] | None = None, verbose: bool = False,
          eta: float = 2.0, fused: bool | str | None = None) -> SolverResult:
    return _proximal_gradient(A, y, penalty, lam, accelerated=True, step=step, x0=x0,
                              max_iter=max_iter, tol=tol, backtracking=backtracking, restart=restart,
                              positivity=positivity, analysis=analysis, record_every=record_every,
                              check_every=check_every, callback=callback, verbose=verbose,
                              eta=eta, solver="fista", fused=fused)


fista.__doc__ = r"""FISTA for :math:`\min_x \tfrac12\|Ax-y\|^2 + \lambda g(x)`, batched, with restart.
""" + _PARAMS_DOC + r"""    restart : {"adaptive", "gradient", "function", None}, default "adaptive"
        Per-problem adaptive restart of the momentum (O'Donoghue & Candès, 2015): ``"adaptive"``
        (= ``"gradient"``) restarts when :math:`\langle v_k - x_{k+1}, x_{k+1} - x_k\rangle > 0`
        (one inner product, no extra apply); ``"function"`` when the objective increases (one
        extra apply per iteration).
""" + _RETURNS_DOC + r"""

    Notes
    -----
    Beck & Teboulle (2009):

    .. math::
        x_{k+1} = \mathrm{prox}_{\gamma\lambda g}\bigl(v_k - \gamma A^H(A v_k - y)\bigr),\quad
        t_{k+1} = \tfrac{1 + \sqrt{1 + 4t_k^2}}{2},\quad
        v_{k+1} = x_{k+1} + \tfrac{t_k - 1}{t_{k+1}}(x_{k+1} - x_k).

    Step rule: FISTA's :math:`O(1/k^2)` guarantee needs :math:`\gamma \le 1/L`; a user step
    above :math:`1/L` raises ``ValueError`` (ISTA accepts up to :math:`2/L`).  Every scalar of
    the recursion (:math:`t_k`, restart flags, backtracking :math:`L_b`) is held per problem;
    converged problems are frozen while the others continue.  With an orthogonal ``A`` and
    :math:`\gamma = 1`, one iteration from zero returns the exact solution
    :math:`\mathrm{prox}_{\lambda g}(A^H y)`.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import Matrix
    >>> from sparserec.solvers.convex import fista
    >>> rng = np.random.default_rng(0)
    >>> A = Matrix(rng.standard_normal((20, 50)))
    >>> x = np.zeros(50); x[[3, 17]] = [2.0, -3.0]
    >>> y = np.stack([A @ x, 2 * (A @ x)])          # a batch of two problems
    >>> res = fista(A, y, lam=np.array([0.5, 1.0]), tol=1e-8)
    >>> res.x.shape, bool(res.converged.all())
    ((2, 50), True)
    """


# ------------------------------------------------------------------------------------ Lasso
def _topk_idx(xp: Any, score: Any, k: int) -> Any:
    """Indices (B, k) of the ``k`` largest entries of each row of ``score``."""
    if hasattr(score, "topk"):  # torch
        return score.topk(k, dim=-1).indices
    import numpy as np

    if k >= score.shape[-1]:
        return np.broadcast_to(np.arange(score.shape[-1]), score.shape).copy()
    return np.argpartition(-score, k - 1, axis=-1)[:, :k]


def _bmv(MbT: Any, x: Any) -> Any:
    """Per-problem ``A_b x_b`` for sub-dictionaries stored transposed, (B, k, m) x (B, k)."""
    return (x[:, None, :] @ MbT)[:, 0, :]


def _bmv_t(MbT: Any, r: Any) -> Any:
    """Per-problem ``A_b^T r_b``: (B, k, m) x (B, m) -> (B, k)."""
    return (MbT @ r[:, :, None])[:, :, 0]


def _rows(v: Any, xp: Any, sel: Any) -> Any:
    """``v[sel]`` along the batch axis (python floats pass through)."""
    return v if isinstance(v, float) else xp.take(v, sel, axis=0)


def _restricted_gap(xp: Any, MbT: Any, x: Any, bU: Any, Y: Any, yy: Any, lam: Any,
                    positivity: bool) -> Any:
    """Duality gap of the restricted problems (rows of the batch), rescaled dual point."""
    Rr = Y - _bmv(MbT, x)
    cU = _bmv_t(MbT, Rr)
    cm = xp.max(cU if positivity else xp.abs(cU), axis=-1)
    lam_safe = lam if isinstance(lam, float) else xp.clip(lam, min=1e-300)
    su = expand(xp.clip(cm / lam_safe, min=1.0), 1)
    Pu = 0.5 * xp.sum(Rr * Rr, axis=-1) + lam * xp.sum(xp.abs(x), axis=-1)
    Yt = Y - Rr / su
    return Pu - (0.5 * yy - 0.5 * xp.sum(Yt * Yt, axis=-1))


def _ws_inner(xp: Any, MbT: Any, x: Any, bU: Any, Y: Any, yy: Any, lam: Any, step: Any,
              act: Any, thr: Any, positivity: bool, max_iter: int) -> tuple[Any, int]:
    """FISTA with adaptive restart on the restricted problems of a working set.

    Only unconverged problems are iterated: every 10 iterations the restricted duality gaps are
    checked, converged rows are written back and the batch is compacted when a quarter of it has
    converged, so that the cost per iteration follows the number of unconverged problems.
    """
    Bn = x.shape[0]
    rdt = real_dtype(x.dtype)
    out = x
    rows = xp.arange(Bn, **_dev(x))
    sel = xp.nonzero(act)[0]
    if sel.shape[0] == 0:
        return out, 0
    if sel.shape[0] < Bn:
        rows = sel
        MbT, x, bU, Y, yy, step = (xp.take(a, sel, axis=0) for a in (MbT, x, bU, Y, yy, step))
        lam, thr = _rows(lam, xp, sel), xp.take(thr, sel, axis=0)
    lam_c = lam if isinstance(lam, float) else expand(lam, 1)
    v = x
    t = xp.ones((x.shape[0],), dtype=rdt, **_dev(x))
    act = xp.ones((x.shape[0],), dtype=xp.bool, **_dev(x))
    n_it = 0
    for it in range(max_iter):
        z = v - step * (_bmv_t(MbT, _bmv(MbT, v)) - bU)
        if positivity:
            z = xp.clip(z, min=0.0)
        lt = lam_c * step
        x_new = z - xp.clip(z, min=-lt, max=lt)
        d = x_new - x
        t_new = (1.0 + xp.sqrt(1.0 + 4.0 * t * t)) / 2.0
        beta = (t - 1.0) / t_new
        cond = xp.sum((v - x_new) * d, axis=-1) > 0
        t_new = xp.where(cond, xp.ones_like(t_new), t_new)
        beta = xp.where(cond, xp.zeros_like(beta), beta)
        v = x_new + expand(beta, 1) * d
        x, t = x_new, t_new
        n_it += 1
        if (it + 1) % 10 != 0 and it + 1 < max_iter:
            continue
        gap = _restricted_gap(xp, MbT, x, bU, Y, yy, lam, positivity)
        act = gap > thr
        n_act = int(xp.sum(xp.astype(act, xp.int64)))
        if n_act == act.shape[0]:
            continue
        # write back the converged rows, compact the batch
        if n_act <= 0.75 * act.shape[0] or n_act == 0:
            done = xp.nonzero(~act)[0]
            out = _put_rows(xp, out, xp.take(rows, done, axis=0), xp.take(x, done, axis=0))
            if n_act == 0:
                return out, n_it
            keep = xp.nonzero(act)[0]
            rows = xp.take(rows, keep, axis=0)
            MbT, x, v, t, bU, Y, yy, step, thr = (xp.take(a, keep, axis=0)
                                                  for a in (MbT, x, v, t, bU, Y, yy, step, thr))
            lam = _rows(lam, xp, keep)
            lam_c = lam if isinstance(lam, float) else expand(lam, 1)
            act = xp.ones((x.shape[0],), dtype=xp.bool, **_dev(x))
        # rows converged since the last compaction keep iterating (their gap only improves)
    return _put_rows(xp, out, rows, x), n_it


def _put_rows(xp: Any, out: Any, rows: Any, vals: Any) -> Any:
    if hasattr(out, "index_copy"):
        return out.index_copy(0, rows, vals)
    out = out.copy()
    out[rows] = vals
    return out


def _thread_budget() -> int:
    """Threads the BLAS libraries may use here (the user's ``threadpoolctl``/``OMP_NUM_THREADS``
    limits, else the CPUs this process may run on)."""
    import os

    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    try:
        from threadpoolctl import threadpool_info

        blas = [d["num_threads"] for d in threadpool_info() if d.get("user_api") == "blas"]
        if blas:
            return max(1, min(cpus, min(blas)))
    except ImportError:  # pragma: no cover - threadpoolctl is optional
        pass
    return max(1, cpus)


def _lasso_homotopy_rows(xp: Any, M: Any, Y: Any, lam: Any, positivity: bool, X: Any,
                         n_jobs: int | None = None) -> tuple[Any, int]:
    """Homotopy solutions of the rows of ``Y`` (host numpy), in chunks of rows bounded in memory,
    the chunks spread over ``n_jobs`` threads (numpy releases the GIL in its kernels)."""
    import numpy as np

    from ._lasso_active_set import lasso_homotopy, slots_for

    tt = None
    if hasattr(Y, "detach"):  # torch: solve on the host
        tt = Y
        M, Y = M.detach().cpu().numpy(), Y.detach().cpu().numpy()
        lam = lam if isinstance(lam, float) else lam.detach().cpu().numpy()
    m, n = M.shape
    Bn = Y.shape[0]
    lam_np = np.broadcast_to(np.asarray(lam, dtype=np.float64), (Bn,))
    smax = slots_for(m, n)
    jobs = _thread_budget() if n_jobs is None else int(n_jobs)
    jobs = max(1, min(jobs, Bn // 4 if Bn >= 8 else 1))  # at least 4 rows per thread
    per_row = 8 * smax * (smax + m + 24) + 32 * n  # (+ the shared Gram matrix, _GRAM_BYTES)
    ch = max(1, int(_HOMOTOPY_BYTES // jobs // per_row))
    ch = min(ch, -(-Bn // jobs))
    Xh = np.zeros((Bn, n), dtype=np.float64)
    try:  # the path is a sequence of small batched products: extra BLAS threads only spin
        from threadpoolctl import threadpool_limits

        limit: Any = threadpool_limits(1, user_api="blas")
    except ImportError:  # pragma: no cover - threadpoolctl is optional
        import contextlib

        limit = contextlib.nullcontext()

    def solve(c0: int) -> int:
        Xc, _, st = lasso_homotopy(M, Y[c0:c0 + ch], lam_np[c0:c0 + ch], positivity, smax=smax)
        Xh[c0:c0 + ch] = Xc
        return st

    with limit:
        starts = range(0, Bn, ch)
        if jobs > 1 and len(starts) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=jobs) as ex:
                steps = max(ex.map(solve, starts))
        else:
            steps = max(solve(c0) for c0 in starts)
    if tt is not None:
        import torch

        return torch.as_tensor(Xh, dtype=X.dtype, device=X.device), steps
    return xp.asarray(Xh, dtype=X.dtype), steps


def lasso(A: LinearOperator | Any, y: Any, lam: Any = 1.0, *, tol: float = 1e-4,
          max_iter: int = 50, inner_max_iter: int = 5000, positivity: bool = False,
          working_set: bool = True, ws_min_size: int = 64, method: str = "auto",
          n_jobs: int | None = None, callback: Callable[[SolverState], bool | None] | None = None,
          verbose: bool = False) -> SolverResult:
    r"""Batched Lasso :math:`\min_x \tfrac12\|Ax - y\|_2^2 + \lambda\|x\|_1` with working sets
    and duality-gap stopping.

    Parameters
    ----------
    A : Matrix or 2-D array
        Dense real dictionary of shape ``(m, n)``.  Other operators (and complex data) are
        passed on to :func:`fista`.
    y : array of shape ``(*batch, m)``
    lam : float or array
        :math:`\lambda \ge 0`, scalar or per problem.  scikit-learn's ``Lasso(alpha)`` is
        ``lam = n_samples * alpha``.
    tol : float, default 1e-4
        Per-problem stopping rule on the duality gap, :math:`\mathrm{gap} \le \mathrm{tol}\,
        \|y\|_2^2` (scikit-learn's rule in this scaling).
    max_iter : int, default 50
        Maximum number of outer (working-set) iterations.
    inner_max_iter : int, default 5000
        Maximum FISTA iterations per restricted problem.
    positivity : bool
        Add :math:`x \ge 0`.
    working_set : bool, default True
        ``False`` solves on all columns (plain FISTA on the Gram matrix, for small ``n``).
    ws_min_size : int, default 64
        Minimum working-set size per problem.
    method : {"auto", "homotopy", "fista"}, default "auto"
        ``"homotopy"``: exact batched homotopy (LARS-Lasso) path from :math:`\lambda_{\max}`
        down to each problem's :math:`\lambda`, then certified by the duality gap (problems it
        could not finish continue with the working-set FISTA from its point).  ``"fista"``: the
        working-set FISTA alone.  ``"auto"``: homotopy for numpy data, FISTA for torch tensors
        (``"homotopy"`` with torch tensors runs the path on the host and returns tensors).
    n_jobs : int, optional
        Threads for the homotopy: the batch is split into that many blocks of problems (at
        least 4 each) solved concurrently, each with one BLAS thread.  Default: the BLAS thread
        budget (``threadpoolctl`` limits / ``OMP_NUM_THREADS``, else the CPUs available), so
        ``threadpool_limits(1)`` gives a single-threaded solve.
    callback, verbose
        See :class:`~sparserec.solvers.result.ConvergenceMonitor` (called per outer iteration).

    Returns
    -------
    SolverResult
        ``x`` of shape ``(*batch, n)``; history ``objective``, ``duality_gap``, ``n_nonzero``,
        ``ws_size`` per outer iteration; ``extras['inner_iterations']``.

    Notes
    -----
    Working-set strategy (as in Celer/skglm, batched): each outer iteration computes the full
    correlations :math:`c = A^T(y - Ax)` (one product with :math:`A` for the whole batch), the
    duality gap with the rescaled residual :math:`\theta = r/\max(1, \|c\|_\infty/\lambda)`,

    .. math:: \mathrm{gap} = P(x) - \tfrac12\|y\|^2 + \tfrac12\|y - \theta\|^2,

    and keeps, per problem, the current support plus the most violating features
    (:math:`|c_j|` largest), at least twice the support size (the same size :math:`k` for every
    problem).  The restricted problems are solved together by FISTA with adaptive restart on
    per-problem sub-dictionaries :math:`A_{W_b}` gathered into one ``(batch, k, m)`` array
    (batched matrix-vector products, cost :math:`2mk` per problem and iteration), each with
    its own step :math:`1/L_b` (power estimate of :math:`\|A_{W_b}\|^2`, inflated by 10 % and
    capped by :math:`\|A\|^2`), until their own duality gap is below
    ``0.3 * tol * ||y||^2``.  Only the unconverged problems enter the inner loop; the gaps are
    checked every 10 inner iterations, and the batch is compacted (converged rows written back
    and dropped) as soon as a quarter of it has converged, so the cost of an inner iteration
    follows the number of problems still running rather than the slowest one.  Rows are
    processed in chunks whose sub-dictionaries total at most 16 MiB.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.solvers.convex import lasso
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((50, 400))
    >>> x = np.zeros(400); x[[5, 50, 300]] = [3.0, -2.0, 4.0]
    >>> res = lasso(A, np.stack([A @ x, -(A @ x)]), lam=5.0, tol=1e-8)
    >>> [sorted(np.flatnonzero(np.abs(r) > 0.5).tolist()) for r in res.x]
    [[5, 50, 300], [5, 50, 300]]

    Homotopy (default for numpy data): every problem follows its own piecewise-linear solution
    path, one event (a feature enters or leaves the support) per step, all problems advancing
    together; the inverse Gram matrices of the active sets are updated by rank-one formulas
    (bordering, Schur complement; accumulated and applied in blocks of 16) and the correlations
    of all features by one shared product with :math:`A` per step.  The number of steps is about
    the support size, independently of the conditioning of the restricted problems, which is
    what makes it much faster than first-order methods when the solution has nearly as many
    non-zeros as samples.  Paths that cannot finish (active set as large as ``min(m, n, 1024)``,
    degenerate pivot) are completed by the working-set FISTA; the result is always certified by
    the duality gap.
    """
    from ...operators import Matrix
    from ...prox.penalties import L1

    A = as_operator(A)
    xp, y, batch, dt = prepare_data(A, y, "lasso")
    if method not in ("auto", "homotopy", "fista"):
        raise ValueError(f"lasso: method must be 'auto', 'homotopy' or 'fista', got {method!r}")
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1):
        raise ValueError(f"lasso: n_jobs must be a positive integer or None, got {n_jobs!r}")
    dense = isinstance(A, Matrix) and A._kind == "dense" and len(A.in_shape) == 1
    if not dense or is_complex_dtype(dt) or (isinstance(lam, (int, float)) and lam == 0):
        return fista(A, y, L1(), lam, tol=tol, positivity=positivity, verbose=verbose,
                     callback=callback)
    tol = check_tol(tol)
    max_iter = check_max_iter(max_iter)
    inner_max_iter = check_max_iter(inner_max_iter)
    lam_b = broadcast_lam(lam, batch, y)
    M = A._coef(dt)
    m, n = M.shape
    Bn = 1
    for b in batch:
        Bn *= b
    Y = xp.reshape(y, (Bn, m))
    lam_v = lam_b if isinstance(lam_b, float) else xp.reshape(lam_b, (Bn,))
    yy = xp.sum(Y * Y, axis=-1)
    thr = tol * yy
    X = xp.zeros((Bn, n), dtype=dt, **_dev(y))
    Aty = Y @ M
    hom_steps = 0
    from ..._backend import is_torch

    if method == "homotopy" or (method == "auto" and not is_torch(Y)):
        X, hom_steps = _lasso_homotopy_rows(xp, M, Y, lam_v, positivity, X, n_jobs)
    MT = None
    L_full = None  # ||A||^2, only needed if some problem is left to the working-set FISTA
    mon = ConvergenceMonitor(batch, y, max_iter, tol, 1, 1, callback, verbose, "lasso")
    inner_total = 0
    inf = float("inf")
    while True:
        # ---- full correlations, duality gap
        if mon.iteration == 0 and hom_steps == 0:
            C = Aty
            R = Y
        else:
            sup = xp.any(X != 0, axis=0)
            idx = xp.nonzero(sup)[0]
            R = Y - xp.take(X, idx, axis=1) @ xp.take(M, idx, axis=1).T
            C = R @ M
        l1 = xp.sum(xp.abs(X), axis=-1)
        P = 0.5 * xp.sum(R * R, axis=-1) + lam_v * l1
        cmax = xp.max(C if positivity else xp.abs(C), axis=-1)
        lam_safe = lam_v if isinstance(lam_v, float) else xp.clip(lam_v, min=1e-300)
        s = xp.clip(cmax / lam_safe, min=1.0)
        Yt = Y - R / expand(s, 1)
        D = 0.5 * yy - 0.5 * xp.sum(Yt * Yt, axis=-1)
        gap = P - D
        nnz = xp.sum(xp.astype(X != 0, xp.int64), axis=-1)
        crit = gap / xp.clip(yy, min=1e-300)
        if working_set:
            k = int(min(n, max(ws_min_size, 2 * int(xp.max(nnz)))))
        else:
            k = n
        stop = mon.step(xp.reshape(crit, batch), xp.reshape(X, batch + (n,)),
                        objective=xp.reshape(P, batch),
                        duality_gap=xp.reshape(gap, batch),
                        n_nonzero=xp.reshape(nnz, batch), ws_size=k)
        if stop:
            break
        score = (C if positivity else xp.abs(C)) / expand(lam_safe, 1)
        score = xp.where(X != 0, xp.full_like(score, inf), score)
        idx = _topk_idx(xp, score, k)
        if L_full is None:
            MT = xp.asarray(M.T, copy=True)
            L_full = lipschitz(A, y)
        # ---- restricted problems of the unconverged rows: per-problem sub-dictionaries
        # (rows, k, m), batched matvecs, in chunks of rows whose sub-dictionaries stay
        # cache-resident (the inner iterations stream them twice per iteration)
        sel_all = xp.nonzero(xp.reshape(mon.active, (Bn,)))[0]
        n_sel = int(sel_all.shape[0])
        ch = max(1, min(n_sel, int(_WS_CHUNK_BYTES // max(1, k * m * 8))))
        n_in_max = 0
        for c0 in range(0, n_sel, ch):
            sel = sel_all[c0:c0 + ch]
            na = int(sel.shape[0])
            idx_a = xp.take(idx, sel, axis=0)
            MbT = xp.reshape(xp.take(MT, xp.reshape(idx_a, (-1,)), axis=0), (na, k, m))
            x = xp.take_along_axis(xp.take(X, sel, axis=0), idx_a, axis=1)
            bU = xp.take_along_axis(xp.take(Aty, sel, axis=0), idx_a, axis=1)
            # per-problem Lipschitz constant: power iteration, inflated, capped by ||A||^2
            w = xp.ones((na, k), dtype=dt, **_dev(y))
            for _ in range(30):
                w = _bmv_t(MbT, _bmv(MbT, w))
                w = w / expand(xp.clip(xp.sqrt(xp.sum(w * w, axis=-1)), min=1e-300), 1)
            est = xp.sqrt(xp.sum(_bmv_t(MbT, _bmv(MbT, w)) ** 2, axis=-1))
            Lb = xp.clip(1.1 * est, max=L_full, min=1e-300)
            step = expand(1.0 / Lb, 1)
            x, n_in = _ws_inner(xp, MbT, x, bU, xp.take(Y, sel, axis=0), xp.take(yy, sel, axis=0),
                                _rows(lam_v, xp, sel), step, xp.ones((na,), dtype=xp.bool, **_dev(y)),
                                0.3 * xp.take(thr, sel, axis=0), positivity, inner_max_iter)
            n_in_max = max(n_in_max, n_in)
            Xa = xp.zeros((na, n), dtype=dt, **_dev(y))
            if hasattr(Xa, "scatter"):
                Xa = Xa.scatter(1, idx_a, x)
            else:
                __import__("numpy").put_along_axis(Xa, idx_a, x, axis=1)
            X = _put_rows(xp, X, sel, Xa)
        inner_total += n_in_max
    params = {"lam": lam_b, "tol": tol, "max_iter": max_iter, "positivity": positivity,
              "working_set": working_set, "method": method}
    return mon.result(xp.reshape(X, batch + (n,)), params=params,
                      extras={"inner_iterations": inner_total, "homotopy_steps": hom_steps,
                              "duality_gap": xp.reshape(gap, batch)})
