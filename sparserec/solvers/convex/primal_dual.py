r"""Condat–Vũ primal-dual splitting for analysis priors (e.g. starlet ℓ1 with positivity)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..._backend import is_complex_dtype
from ...operators.base import LinearOperator
from ...prox.penalties import L1, get_penalty
from ...prox.projections import _linf_ball
from ..result import ConvergenceMonitor, SolverResult, SolverState, check_max_iter, check_tol
from ._common import (
    as_operator,
    bnorm,
    broadcast_lam,
    check_positive,
    expand,
    lipschitz,
    prepare_data,
    prepare_x0,
)

__all__ = ["condat_vu"]


def condat_vu(A: LinearOperator | Any, y: Any, W: LinearOperator | Any, lam: Any = 1.0, *,
              weights: Any = None, penalty: Any = "l1", positivity: bool = False,
              tau: float | None = None, sigma: float | None = None, relaxation: float = 1.0,
              x0: Any = None, max_iter: int = 1000, tol: float = 1e-6, record_every: int = 10,
              check_every: int = 1, callback: Callable[[SolverState], bool | None] | None = None,
              verbose: bool = False) -> SolverResult:
    r"""Condat–Vũ for :math:`\min_x \tfrac12\|Ax-y\|^2 + \|\Lambda\odot Wx\|_1
    \;[+\,\iota_{\ge0}(x)]`, batched.

    Parameters
    ----------
    A : LinearOperator or 2-D array
        Forward operator (e.g. a PSF convolution).
    y : array of shape ``(*batch, *A.out_shape)``
    W : LinearOperator
        Analysis operator (e.g. :class:`~sparserec.operators.Starlet`,
        :class:`~sparserec.operators.Gradient`); any frame, redundant or not.
    lam : float or array
        Global weight :math:`\lambda` (scalar or per problem).
    weights : array, optional
        Per-coefficient weights of shape ``W.out_shape`` (or broadcasting to it), e.g. per-scale
        thresholds :math:`k\sigma_j` with 0 on the coarse scale; :math:`\Lambda = \lambda \cdot
        \mathrm{weights}`.
    penalty : Penalty or str, default ``"l1"``
        :math:`h` applied to :math:`Wx`.  For ℓ1 the dual prox is the exact clip onto
        :math:`[-\Lambda, \Lambda]`; other penalties (e.g. ``GroupL21(axis=0)`` on a
        :class:`~sparserec.operators.Gradient` for isotropic TV) use Moreau's identity
        :math:`\mathrm{prox}_{\sigma h^*}(v) = v - \sigma\,\mathrm{prox}_{h/\sigma}(v/\sigma)`.
    positivity : bool
        Add :math:`\iota_{\ge 0}(x)` (real data).
    tau, sigma : float, optional
        Primal and dual steps.  Default :math:`\sigma = \sqrt L/\|W\|` and
        :math:`\tau = 1/(L/2 + \sigma\|W\|^2)`; with one given, the other is set on the
        boundary of the rule.  Given steps must satisfy
        :math:`\tau(L/2 + \sigma\|W\|^2) \le 1` (``ValueError`` otherwise).
    relaxation : float, default 1
        Relaxation :math:`\rho \in (0, 1]` (1: no relaxation).
    x0 : array, optional
    max_iter : int, default 1000
    tol : float, default 1e-6
        Stop when the relative changes of both the primal and the dual iterates are at most
        ``tol``.
    record_every, check_every, callback, verbose
        See :class:`~sparserec.solvers.result.ConvergenceMonitor`.

    Returns
    -------
    SolverResult
        ``x``; ``extras['dual']`` (:math:`u`, shape ``(*batch, *W.out_shape)``), ``tau``,
        ``sigma``, ``objective``.

    Notes
    -----
    With :math:`f = \tfrac12\|A\cdot-y\|^2` (:math:`L = \|A\|^2`), :math:`g = \iota_{\ge0}`
    and :math:`h = \|\Lambda\odot\cdot\|_1` (Condat, 2013; Vũ, 2013):

    .. math::
        \tilde x &= \mathrm{prox}_{\tau g}\bigl(x_k - \tau(A^H(Ax_k - y) + W^H u_k)\bigr)\\
        \tilde u &= \mathrm{prox}_{\sigma h^*}\bigl(u_k + \sigma W(2\tilde x - x_k)\bigr)
            = \mathrm{clip}\bigl(u_k + \sigma W(2\tilde x - x_k), -\Lambda, \Lambda\bigr)\\
        (x_{k+1}, u_{k+1}) &= \rho(\tilde x, \tilde u) + (1-\rho)(x_k, u_k),

    converging for :math:`\tau(L/2 + \sigma\|W\|^2) \le 1`.  Per iteration: one
    :math:`A^HA`, one :math:`W`, one :math:`W^H`.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import Gradient, Identity
    >>> from sparserec.solvers.convex import condat_vu
    >>> y = np.array([0.0, 0.1, -0.1, 1.0, 1.1, 0.9])
    >>> res = condat_vu(Identity(6), y, Gradient((6,)), lam=0.2, tol=1e-10, max_iter=5000)
    >>> np.round(res.x, 3)   # total-variation denoising
    array([0.067, 0.067, 0.067, 0.933, 0.933, 0.933])
    """
    A = as_operator(A)
    W = as_operator(W, "W")
    xp, y, batch, dt = prepare_data(A, y, "condat_vu")
    if W.in_shape != A.in_shape:
        raise ValueError(f"condat_vu: W.in_shape {W.in_shape} differs from A.in_shape {A.in_shape}")
    max_iter = check_max_iter(max_iter)
    tol = check_tol(tol)
    relaxation = check_positive(relaxation, "relaxation")
    if relaxation > 1.0:
        raise ValueError("condat_vu: relaxation must lie in (0, 1]")
    if positivity and is_complex_dtype(dt):
        raise TypeError("condat_vu: positivity=True needs real data and operator, got complex")
    pen = get_penalty(penalty)
    if pen.real_only and is_complex_dtype(dt):
        raise TypeError(f"condat_vu: penalty {pen!r} is defined for real data only")
    lam_b = broadcast_lam(lam, batch, y)
    nin, nw = len(A.in_shape), len(W.out_shape)
    lam_e = expand(lam_b, nw)
    wts = None
    if weights is not None:
        from ...prox._utils import as_param

        wts = as_param(weights, y, "weights")
    is_l1 = type(pen) is L1 and pen.weights is None
    if wts is not None and not is_l1:
        raise ValueError("condat_vu: per-coefficient weights are supported with the l1 penalty; "
                         "pass L1(weights=...) or a weighted penalty instead")
    Lam = lam_e if wts is None else lam_e * wts
    # ---- steps
    L = lipschitz(A, y)
    nW2 = float(W.opnorm(like=y)) ** 2
    if nW2 <= 0:
        raise ValueError("condat_vu: W has zero norm")
    if tau is None and sigma is None:
        # balanced default: sigma = sqrt(L)/||W|| and tau on the boundary of the rule
        sigma_v = (L**0.5 if L > 0 else 1.0) / nW2**0.5
        tau_v = 1.0 / (L / 2.0 + sigma_v * nW2)
    elif tau is None:
        sigma_v = check_positive(sigma, "sigma")
        tau_v = 1.0 / (L / 2.0 + sigma_v * nW2)
    elif sigma is None:
        tau_v = check_positive(tau, "tau")
        if tau_v * L / 2.0 >= 1.0:
            raise ValueError(f"condat_vu: tau={tau_v:g} must be below 2/L = {2.0 / L:g}")
        sigma_v = (1.0 / tau_v - L / 2.0) / nW2
    else:
        tau_v, sigma_v = check_positive(tau, "tau"), check_positive(sigma, "sigma")
        if tau_v * (L / 2.0 + sigma_v * nW2) > 1.0 + 1e-6:
            raise ValueError(
                f"condat_vu: steps violate tau (L/2 + sigma ||W||^2) <= 1 (value "
                f"{tau_v * (L / 2.0 + sigma_v * nW2):g}, L = {L:g}, ||W||^2 = {nW2:g})")
    # ---- iterations
    Aty = A._adjoint(y)
    x = prepare_x0(x0, A, batch, y, dt, "condat_vu")
    u = xp.zeros_like(W._apply(x))

    def dual_prox(v: Any) -> Any:
        if is_l1:
            return _linf_ball(v, Lam)
        return v - sigma_v * pen._prox(v / sigma_v, 1.0 / sigma_v, lam_e)

    def objective(xc: Any) -> Any:
        f = 0.5 * bnorm(xp, A._apply(xc) - y, len(A.out_shape)) ** 2
        Wx = W._apply(xc)
        if is_l1:
            red = tuple(range(Wx.ndim - nw, Wx.ndim))
            return f + xp.sum(Lam * xp.abs(Wx), axis=red)
        return f + pen._value(Wx, lam_b, nw)

    mon = ConvergenceMonitor(batch, y, max_iter, tol, record_every, check_every, callback,
                             verbose, "condat_vu")
    all_active = True
    while True:
        rec = mon.record_every > 0 and (mon.iteration + 1) % mon.record_every == 0
        xt = x - tau_v * (A._normal(x) - Aty + W._adjoint(u))
        if positivity:
            xt = xp.clip(xt, min=0.0)
        ut = dual_prox(u + sigma_v * W._apply(2.0 * xt - x))
        if relaxation != 1.0:
            xt = relaxation * xt + (1.0 - relaxation) * x
            ut = relaxation * ut + (1.0 - relaxation) * u
        if not all_active:
            xt = xp.where(mon.mask(xt), xt, x)
            ut = xp.where(mon.mask(ut), ut, u)
        dx = bnorm(xp, xt - x, nin) / xp.clip(bnorm(xp, xt, nin), min=1e-30)
        du = bnorm(xp, ut - u, nw) / xp.clip(bnorm(xp, ut, nw), min=1e-30)
        x, u = xt, ut
        crit = xp.maximum(dx, du)
        metrics: dict[str, Any] = {"rel_change": dx, "dual_rel_change": du}
        if rec:
            metrics["objective"] = objective(x)
        if mon.step(crit, x, **metrics):
            break
        if all_active and mon.iteration % mon.check_every == 0:
            all_active = bool(xp.all(mon.active))
    params = {"lam": lam_b, "tau": tau_v, "sigma": sigma_v, "relaxation": relaxation,
              "positivity": positivity, "max_iter": max_iter, "tol": tol, "lipschitz": L,
              "W_norm_sq": nW2, "penalty": repr(pen)}
    return mon.result(x, params=params, extras={"dual": u, "tau": tau_v, "sigma": sigma_v,
                                                "objective": objective(x)})
