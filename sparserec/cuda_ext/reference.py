r"""Pure array-API reference implementations of the ``cuda_ext`` kernels.

They run on numpy and on torch (any device) and define the semantics every accelerated kernel
must reproduce.  Layouts are batch-first: ``(B, N)`` for per-problem vectors, ``(B,)`` for
per-problem scalars.
"""

from __future__ import annotations

import math
from typing import Any

from .._backend import namespace

__all__ = [
    "PROX_KINDS",
    "chain_forward_backward",
    "markov_chain_messages",
    "mrf_messages",
    "prox_grad_step",
    "prox_scalar",
    "sbl_update",
]

#: penalties supported by the fused proximal-gradient step
PROX_KINDS = ("l1", "nonneg_l1", "l0", "l12", "l21")


def _col(v: Any, x: Any) -> Any:
    """Per-problem scalar(s) ``v`` broadcast as a column against ``x`` of shape (B, N...)."""
    xp = namespace(x)
    if isinstance(v, (int, float)):
        return v
    return xp.reshape(v, (v.shape[0],) + (1,) * (x.ndim - 1))


def prox_scalar(v: Any, tau: Any, kind: str) -> Any:
    r"""Elementwise prox of :math:`\tau\,g` for real ``v``.

    * ``l1``: :math:`\mathrm{sign}(v)\max(|v|-\tau, 0)`;
    * ``nonneg_l1`` (:math:`\tau x + \iota_{x\ge0}`): :math:`\max(v-\tau, 0)`;
    * ``l0`` (:math:`\tau\|x\|_0`): hard threshold at :math:`\sqrt{2\tau}` (ties set to 0);
    * ``l12`` (:math:`\tau |x|^{1/2}`): the half-thresholding closed form of Xu et al. (2012)
      with :math:`\lambda = 2\tau`: zero when :math:`|v| \le \tfrac{\sqrt[3]{54}}{4}\lambda^{2/3}`,
      else :math:`\tfrac{2}{3}v\,(1+\cos(\tfrac{2\pi}{3}-\tfrac{2}{3}\varphi))` with
      :math:`\varphi = \arccos(\tfrac{\lambda}{8}(|v|/3)^{-3/2})`.
    """
    xp = namespace(v)
    if kind == "l1":
        return xp.sign(v) * xp.maximum(xp.abs(v) - tau, xp.zeros_like(v))
    if kind == "nonneg_l1":
        return xp.maximum(v - tau, xp.zeros_like(v))
    if kind == "l0":
        return xp.where(v * v > 2 * tau, v, xp.zeros_like(v))
    if kind == "l12":
        lam = 2 * tau
        thr = (54.0 ** (1 / 3) / 4) * lam ** (2 / 3)
        a = xp.abs(v)
        safe = xp.where(a > 0, a, xp.ones_like(a))
        arg = xp.clip((lam / 8) * (safe / 3) ** (-1.5), -1.0, 1.0)
        phi = xp.acos(arg)
        val = (2.0 / 3.0) * v * (1 + xp.cos(2 * math.pi / 3 - (2.0 / 3.0) * phi))
        return xp.where(a > thr, val, xp.zeros_like(v))
    raise ValueError(f"unknown prox kind {kind!r}; expected one of {PROX_KINDS}")


def prox_grad_step(z: Any, grad: Any, x_prev: Any, step: Any, lam: Any, beta: Any, kind: str = "l1",
                   group_size: int = 1) -> tuple[Any, Any, Any, Any]:
    r"""One fused (accelerated) proximal-gradient step for a batch of problems.

    .. math::
        x^{+} = \mathrm{prox}_{t\lambda g}(z - t\,\nabla f(z)),\qquad
        z^{+} = x^{+} + \beta\,(x^{+} - x_{\text{prev}}),

    plus the per-problem reductions :math:`\|x^{+}-x_{\text{prev}}\|^2` and
    :math:`\|x^{+}\|^2` used by the stopping rule.

    Parameters
    ----------
    z, grad, x_prev : arrays (B, N), real
    step, lam, beta : arrays (B,) or floats
        Per-problem step :math:`t`, weight :math:`\lambda` and momentum :math:`\beta`.
    kind : str
        One of :data:`PROX_KINDS`.  ``l21`` is the group soft threshold over contiguous groups of
        ``group_size`` entries (``N`` must be a multiple of it).

    Returns
    -------
    x_new, z_next : arrays (B, N)
    diff2, norm2 : arrays (B,)
    """
    xp = namespace(z, grad, x_prev)
    v = z - _col(step, z) * grad
    tau = _col(step, z) * _col(lam, z)
    if kind == "l21":
        B, N = v.shape
        if N % group_size:
            raise ValueError(f"N={N} is not a multiple of group_size={group_size}")
        vg = xp.reshape(v, (B, N // group_size, group_size))
        nrm = xp.sqrt(xp.sum(vg * vg, axis=-1, keepdims=True))
        t3 = tau if isinstance(tau, (int, float)) else xp.reshape(tau, (B, 1, 1))
        scale = xp.maximum(1 - t3 / xp.where(nrm > 0, nrm, xp.ones_like(nrm)), xp.zeros_like(nrm))
        x_new = xp.reshape(vg * scale, (B, N))
    else:
        x_new = prox_scalar(v, tau, kind)
    z_next = x_new + _col(beta, z) * (x_new - x_prev)
    d = x_new - x_prev
    return x_new, z_next, xp.sum(d * d, axis=1), xp.sum(x_new * x_new, axis=1)


def chain_forward_backward(pi_in: Any, lam: Any, p_on: Any, p_off: Any) -> tuple[Any, Any]:
    r"""Forward and backward messages :math:`(\lambda^f, \lambda^b)`, each (B, Q), of the binary
    Markov chain (see :func:`markov_chain_messages` for the recursions).  Exposed so that support
    priors can form pairwise posteriors (for EM of the transition probabilities) from the same pass.
    """
    xp = namespace(pi_in)
    B, Q = pi_in.shape
    eps = _clip_eps(pi_in)
    pin = xp.clip(pi_in, eps, 1 - eps)

    def vec(v: Any) -> Any:
        if isinstance(v, (int, float)):
            return xp.full((B,), float(v), dtype=pi_in.dtype, **_dev(pi_in))
        return v

    lam_, pon, poff = vec(lam), vec(p_on), vec(p_off)
    p11, p00 = 1 - poff, 1 - pon
    lf = [lam_]
    for q in range(1, Q):
        a, f = pin[:, q - 1], lf[-1]
        num = pon * (1 - a) * (1 - f) + p11 * a * f
        den = (1 - a) * (1 - f) + a * f
        lf.append(num / den)
    lb = [xp.full((B,), 0.5, dtype=pi_in.dtype, **_dev(pi_in))]
    for q in range(Q - 2, -1, -1):
        a, b = pin[:, q + 1], lb[-1]
        num = poff * (1 - a) * (1 - b) + p11 * a * b
        den = (p00 + poff) * (1 - a) * (1 - b) + (p11 + pon) * a * b
        lb.append(num / den)
    LF = xp.stack(lf, axis=1)
    LB = xp.stack(lb[::-1], axis=1)
    return LF, LB


def markov_chain_messages(pi_in: Any, lam: Any, p_on: Any, p_off: Any) -> Any:
    r"""Module B of Turbo-VBI on a binary Markov chain: exact forward–backward (sum-product).

    Parameters
    ----------
    pi_in : array (B, Q)
        Incoming messages :math:`\pi^{in}_q` as probabilities (clipped to
        :math:`[10^{-10}, 1-10^{-10}]`).
    lam : array (B,) or float
        :math:`P(s_1 = 1)`.
    p_on, p_off : arrays (B,) or floats
        :math:`P(s_q=1 \mid s_{q-1}=0)` and :math:`P(s_q=0 \mid s_{q-1}=1)` (the paper's p01 and
        p10 — note Turbo-CS's opposite naming).

    Returns
    -------
    pi : array (B, Q)
        Outgoing messages (the local factor :math:`\pi^{in}_q` excluded):

    .. math::
        \lambda^f_q = \frac{p_{on}(1-\pi^{in}_{q-1})(1-\lambda^f_{q-1}) + p_{11}\pi^{in}_{q-1}
        \lambda^f_{q-1}}{(1-\pi^{in}_{q-1})(1-\lambda^f_{q-1}) + \pi^{in}_{q-1}\lambda^f_{q-1}},\quad
        \lambda^f_1 = \lambda,

        \lambda^b_q = \frac{p_{off}(1-\pi^{in}_{q+1})(1-\lambda^b_{q+1}) + p_{11}\pi^{in}_{q+1}
        \lambda^b_{q+1}}{(p_{00}+p_{off})(1-\pi^{in}_{q+1})(1-\lambda^b_{q+1}) + (p_{11}+p_{on})
        \pi^{in}_{q+1}\lambda^b_{q+1}},\quad \lambda^b_Q = \tfrac12,

        \pi_q = \frac{\lambda^f_q\lambda^b_q}{(1-\lambda^f_q)(1-\lambda^b_q) + \lambda^f_q\lambda^b_q}.

    The reference runs the recursion sequentially over ``Q`` with the whole batch vectorised.
    """
    LF, LB = chain_forward_backward(pi_in, lam, p_on, p_off)
    return LF * LB / ((1 - LF) * (1 - LB) + LF * LB)


def _clip_eps(x: Any) -> float:
    """Probability clip: 1e-10 in float64; 1e-6 in float32 (where 1 - 1e-10 rounds to 1)."""
    from .._backend import dtype_name

    return 1e-10 if dtype_name(x.dtype) == "float64" else 1e-6


def _dev(x: Any) -> dict[str, Any]:
    return {"device": x.device} if hasattr(x, "device") and not isinstance(x.device, str) else {}


def _softplus_diff(h: Any, psi: Any, xp: Any) -> Any:
    """log(psi[0,1] + psi[1,1] e^h) - log(psi[0,0] + psi[1,0] e^h), stable in h."""
    l01, l11, l00, l10 = (math.log(float(psi[0][1])), math.log(float(psi[1][1])),
                          math.log(float(psi[0][0])), math.log(float(psi[1][0])))
    return xp.logaddexp(xp.zeros_like(h) + l01, h + l11) - xp.logaddexp(xp.zeros_like(h) + l00, h + l10)


def mrf_messages(pi_in: Any, psi_h: Any, psi_v: Any, prior_logit: Any = None, sweeps: int = 10,
                 damping: float = 0.5, messages: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    r"""Module B on a 2-D grid MRF: damped flooding loopy belief propagation in the log domain.

    Parameters
    ----------
    pi_in : array (B, R, C)
        Incoming messages (probabilities of the active state), row-major grid.
    psi_h, psi_v : 2x2 nested sequences of positive floats
        Pairwise tables ``psi[s_i][s_j]`` (0 = inactive, 1 = active) with ``i`` the left
        (resp. upper) node and ``j`` the right (resp. lower) node.
    prior_logit : array (B, R, C), optional
        Log-odds of an optional prior unary :math:`u^0` (default 0).
    sweeps : int
        Synchronous sweeps.
    damping : float in [0, 1)
        New message = (1 - damping) · update + damping · old (log domain).
    messages : dict, optional
        Warm start: ``{"right", "left", "down", "up"}`` log-odds messages, each (B, R, C): the
        message arriving at node (r, c) from its left ("right"-going), right, upper ("down"-going)
        and lower neighbour.

    Returns
    -------
    pi : array (B, R, C)
        :math:`\pi_i \propto u^0_i(1)\prod_{k\in\partial i} m_{k\to i}(1)`, local factor excluded.
    messages : dict
        Final messages, for warm starts.

    Notes
    -----
    Binary messages are kept as log-odds :math:`m = \log m(1) - \log m(0)`; with
    :math:`h_{i\setminus j} = \mathrm{logit}\,\pi^{in}_i + \mathrm{logit}\,u^0_i +
    \sum_{k\in\partial i\setminus j} m_{k\to i}` the update is
    :math:`m_{i\to j} = \log(\psi_{01} + \psi_{11}e^{h}) - \log(\psi_{00} + \psi_{10}e^{h})`.
    A 1 x Q grid with :math:`\psi^h(s_{q-1}, s_q) = P(s_q\mid s_{q-1})` and prior log-odds
    :math:`\mathrm{logit}\,\lambda` on the first node is exactly the Markov chain.
    """
    xp = namespace(pi_in)
    if not 0 <= damping < 1:
        raise ValueError(f"damping must be in [0, 1), got {damping}")
    for nm, psi in (("psi_h", psi_h), ("psi_v", psi_v)):
        if any(float(psi[a][b]) <= 0 for a in (0, 1) for b in (0, 1)):
            raise ValueError(f"{nm} entries must be positive")
    eps = _clip_eps(pi_in)
    p = xp.clip(pi_in, eps, 1 - eps)
    base = xp.log(p) - xp.log(1 - p)
    if prior_logit is not None:
        base = base + prior_logit
    prior = prior_logit if prior_logit is not None else xp.zeros_like(base)
    z = xp.zeros_like(base)
    m = dict(messages) if messages is not None else {k: z for k in ("right", "left", "down", "up")}
    psi_hT = [[psi_h[0][0], psi_h[1][0]], [psi_h[0][1], psi_h[1][1]]]
    psi_vT = [[psi_v[0][0], psi_v[1][0]], [psi_v[0][1], psi_v[1][1]]]
    for _ in range(int(sweeps)):
        total = base + m["right"] + m["left"] + m["down"] + m["up"]
        # message node (r,c) -> (r,c+1): excludes what (r,c+1) sent to (r,c) i.e. m["left"] at (r,c)
        h = total - m["left"]
        new_right = xp.concat([z[:, :, :1], _softplus_diff(h[:, :, :-1], psi_h, xp)], axis=2)
        h = total - m["right"]
        new_left = xp.concat([_softplus_diff(h[:, :, 1:], psi_hT, xp), z[:, :, :1]], axis=2)
        h = total - m["up"]
        new_down = xp.concat([z[:, :1, :], _softplus_diff(h[:, :-1, :], psi_v, xp)], axis=1)
        h = total - m["down"]
        new_up = xp.concat([_softplus_diff(h[:, 1:, :], psi_vT, xp), z[:, :1, :]], axis=1)
        d = damping
        m = {"right": (1 - d) * new_right + d * m["right"], "left": (1 - d) * new_left + d * m["left"],
             "down": (1 - d) * new_down + d * m["down"], "up": (1 - d) * new_up + d * m["up"]}
    out = prior + m["right"] + m["left"] + m["down"] + m["up"]
    return 1 / (1 + xp.exp(-out)), m


def sbl_update(mu: Any, sigma_diag: Any, gamma: Any, rule: str = "em", prune: float = 0.0) -> tuple[Any, Any, Any]:
    r"""Elementwise/reduction part of the SBL M-step for a batch.

    * ``rule="em"``: :math:`\gamma_n \leftarrow |\mu_n|^2 + \Sigma_{nn}`;
    * ``rule="mackay"``: :math:`\gamma_n \leftarrow |\mu_n|^2 / (1 - \Sigma_{nn}/\gamma_n)`.

    Entries with :math:`\gamma_n < \mathrm{prune}\cdot\max_m \gamma_m` (per problem) are set to 0.

    Returns ``(gamma_new, dof, gamma_max)`` where ``dof`` :math:`= \sum_n (1 - \Sigma_{nn}/\gamma_n)`
    over active entries (used by the noise-variance update) and ``gamma_max`` the per-problem
    maximum, all per problem.
    """
    xp = namespace(mu, sigma_diag, gamma)
    a2 = xp.real(mu * xp.conj(mu)) if xp.isdtype(mu.dtype, "complex floating") else mu * mu
    active = gamma > 0
    safe = xp.where(active, gamma, xp.ones_like(gamma))
    ratio = xp.where(active, sigma_diag / safe, xp.ones_like(gamma))
    if rule == "em":
        g = a2 + sigma_diag
    elif rule == "mackay":
        g = a2 / xp.maximum(1 - ratio, xp.full_like(ratio, 1e-12))
    else:
        raise ValueError(f"rule must be 'em' or 'mackay', got {rule!r}")
    g = xp.where(active, g, xp.zeros_like(g))
    gmax = xp.max(g, axis=1)
    if prune > 0:
        g = xp.where(g < prune * gmax[:, None], xp.zeros_like(g), g)
    dof = xp.sum(xp.where(active, 1 - ratio, xp.zeros_like(ratio)), axis=1)
    return g, dof, gmax
