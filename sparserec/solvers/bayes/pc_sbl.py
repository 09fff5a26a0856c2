r"""Pattern-coupled sparse Bayesian learning (PC-SBL, Fang et al., IEEE TSP 2015).

Block-sparse signals with unknown block boundaries: the prior precision of :math:`x_j` couples
its neighbours along the (vectorised) index,

.. math:: x_j \sim \mathcal{CN}\big(0,\ (\alpha_j + \eta(\alpha_{j-1} + \alpha_{j+1}))^{-1}\big),

and the hyperparameters are updated by the approximate EM rule of the authors' configuration
(spec §4): :math:`\alpha_j \leftarrow (a + \tfrac12)/(b + \omega_j/2)`,
:math:`\omega_j = \mathbb{E}|x_j|^2 + \eta(\mathbb{E}|x_{j-1}|^2 + \mathbb{E}|x_{j+1}|^2)`, with
:math:`a = 0.5`, :math:`b = 10^{-4}`, :math:`\eta = 0.9`; any :math:`\alpha_j > 10^3\min\alpha`
is pruned (set to :math:`10^{10}`).  The E-step is the measurement-space (Woodbury) form shared
with :func:`~sparserec.solvers.bayes.sbl`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._backend import check_finite, namespace, real_dtype
from ..result import ConvergenceMonitor, SolverResult, check_check_every, check_max_iter, check_tol
from ._common import estep_measurement

__all__ = ["pc_sbl"]


def _neighbours(xp: Any, v: Any) -> Any:
    z = xp.zeros_like(v[..., :1])
    return xp.concat([z, v[..., :-1]], axis=-1) + xp.concat([v[..., 1:], z], axis=-1)


def pc_sbl(A: Any, y: Any, *, noise_var: Any, eta: float = 0.9, a: float = 0.5, b: float = 1e-4,
           prune_ratio: float = 1e3, max_iter: int = 150, tol: float = 1e-4, learn_noise: bool = False,
           record_every: int = 1, check_every: int = 1) -> SolverResult:
    r"""PC-SBL for :math:`y = A x + n` with neighbour coupling along the index of ``x``.

    Parameters
    ----------
    A : array (M, N)
        Dense dictionary shared by the batch (numpy or torch).
    y : array ``(*batch, M)``
    noise_var : float or array of shape batch
        Noise variance(s) (> 0); learned by EM from this start if ``learn_noise``.
    eta : float in [0, 1]
        Coupling strength η.
    a, b : float
        Gamma hyper-prior parameters of the precision update.
    prune_ratio : float
        Precisions above ``prune_ratio * min(alpha)`` are pruned.
    max_iter, tol
        Stop when :math:`\|\mu_k - \mu_{k-1}\| / \|\mu_k\| <` ``tol`` or after ``max_iter``.
    record_every, check_every : int
        History recording and convergence-check periods (the check is the only host sync; with
        torch tensors the iterations in between run entirely on the device).  ``check_every``
        must be a positive integer.

    Returns
    -------
    SolverResult
        ``x`` the posterior mean; ``extras``: ``alpha``, ``posterior_var`` (full length),
        ``noise_var``, ``support``.
    """
    if not 0 <= eta <= 1:
        raise ValueError(f"eta must be in [0, 1], got {eta}")
    if a <= 0 or b <= 0 or prune_ratio <= 1:
        raise ValueError("need a > 0, b > 0 and prune_ratio > 1")
    max_iter = check_max_iter(max_iter)
    tol = check_tol(tol)
    check_every = check_check_every(check_every)
    xp = namespace(A, y)
    if len(A.shape) != 2 or y.shape[-1] != A.shape[0]:
        raise ValueError(f"y must have shape (*batch, {A.shape[0]}) for A of shape {tuple(A.shape)}, "
                         f"got {tuple(y.shape)}")
    check_finite(y, "y")
    batch = tuple(y.shape[:-1])
    B = int(np.prod(batch)) if batch else 1
    M, N = A.shape
    rdt = real_dtype(y.dtype)
    dt = y.dtype if xp.isdtype(y.dtype, "complex floating") or not xp.isdtype(A.dtype, "complex floating") \
        else A.dtype
    Y = xp.reshape(xp.astype(y, dt), (B, M, 1))
    Ad = xp.astype(A, dt)
    kw = {"device": y.device} if hasattr(y, "device") and not isinstance(y.device, str) else {}
    nv = xp.astype(xp.reshape(xp.asarray(noise_var, **kw) * xp.ones(batch, dtype=rdt, **kw), (B,)), rdt)
    if bool(xp.any(nv <= 0)):
        raise ValueError("noise_var must be positive")
    alpha = xp.ones((B, N), dtype=rdt, **kw)
    mu_prev = xp.zeros((B, N), dtype=dt, **kw)
    mon = ConvergenceMonitor(batch, y, max_iter, tol, record_every, check_every, None, False, "pc_sbl")
    big = 1e10
    while True:
        prec = alpha + eta * _neighbours(xp, alpha)
        gamma = xp.where(alpha >= big, xp.zeros_like(prec), 1.0 / prec)
        post = estep_measurement(Ad, Y, gamma, nv, want_cost=False)
        mu = post["mean"][..., 0]
        var = post["var"]
        e2 = xp.real(mu * xp.conj(mu)) + var
        omega = e2 + eta * _neighbours(xp, e2)
        new_alpha = (a + 0.5) / (b + omega / 2)
        amin = xp.min(new_alpha, axis=1, keepdims=True)
        new_alpha = xp.where((new_alpha > prune_ratio * amin) | (alpha >= big),
                             xp.full_like(new_alpha, big), new_alpha)
        act = xp.reshape(mon.active, (B, 1))
        alpha = xp.where(act, new_alpha, alpha)
        if learn_noise:
            r = Y[..., 0] - mu @ xp.astype(Ad, dt).mT
            dof = xp.sum(post["dof"], axis=1)
            nv_new = (xp.sum(xp.real(r * xp.conj(r)), axis=1) + nv * dof) / M
            nv = xp.where(xp.reshape(mon.active, (B,)), nv_new, nv)
        mu = xp.where(act, mu, mu_prev)
        d = mu - mu_prev
        rel = xp.sqrt(xp.sum(xp.real(d * xp.conj(d)), axis=1)) / xp.maximum(
            xp.sqrt(xp.sum(xp.real(mu * xp.conj(mu)), axis=1)), xp.full((B,), 1e-300, dtype=rdt, **kw))
        mu_prev = mu
        nnz = xp.sum(xp.astype(alpha < big, rdt), axis=1)
        if mon.step(xp.reshape(rel, batch), mu, rel_change=xp.reshape(rel, batch),
                    n_nonzero=xp.reshape(nnz, batch)):
            break
    shape = batch + (N,)
    return mon.result(xp.reshape(mu, shape), params={"eta": eta, "a": a, "b": b, "prune_ratio": prune_ratio,
                                                      "max_iter": max_iter, "tol": tol,
                                                      "check_every": check_every},
                      extras={"alpha": xp.reshape(alpha, shape), "posterior_var": xp.reshape(var, shape),
                              "noise_var": xp.reshape(nv, batch), "support": xp.reshape(alpha < big, shape)})
