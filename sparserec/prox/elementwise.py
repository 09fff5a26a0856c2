r"""Separable proximal maps: L1 (weighted), Lp (0 < p < 1), L0 and CEL0.

Every function acts elementwise on arrays of any shape, on numpy and torch alike; thresholds
are scalars or arrays that broadcast against ``x`` (e.g. shape ``(*batch, 1, ..., 1)`` for a
per-problem threshold).  For complex ``x`` the modulus is shrunk and the phase kept.

Convention: ``prox_f(x, t)`` solves :math:`\arg\min_z \tfrac12\|z-x\|_2^2 + t\,f(z)`.
"""

from __future__ import annotations

from typing import Any

from .._backend import is_complex_dtype, namespace
from ._utils import as_param, check_array, with_modulus

__all__ = ["prox_cel0", "prox_l0", "prox_l1", "prox_lp", "lp_threshold"]


# --------------------------------------------------------------------------- kernels (unchecked)
def _soft(x: Any, t: Any) -> Any:
    """Soft thresholding without validation (``t`` real, broadcastable, >= 0)."""
    xp = namespace(x)
    if is_complex_dtype(x.dtype):
        mag = xp.abs(x)
        return with_modulus(x, mag, xp.clip(mag - t, min=0.0))
    return x - xp.clip(x, min=-t, max=t)


def _hard(x: Any, t: Any) -> Any:
    xp = namespace(x)
    mag2 = xp.real(x * xp.conj(x)) if is_complex_dtype(x.dtype) else x * x
    return xp.where(mag2 > 2.0 * t, x, xp.zeros_like(x))


def lp_threshold(t: Any, p: float) -> Any:
    r"""Threshold :math:`\tau` of the Lp prox: :math:`\mathrm{prox}(a) = 0 \iff |a| \le \tau`.

    .. math:: \tau = \frac{2-p}{2(1-p)}\,\bigl(2t(1-p)\bigr)^{1/(2-p)}, \qquad 0 < p < 1.
    """
    return (2.0 - p) / (2.0 * (1.0 - p)) * (2.0 * t * (1.0 - p)) ** (1.0 / (2.0 - p))


def _lp_mag(a: Any, t: Any, p: float, n_newton: int = 60) -> Any:
    """Prox of ``t |.|^p`` on the non-negative magnitudes ``a`` (0 < p < 1)."""
    xp = namespace(a)
    tau = lp_threshold(t, p)
    keep = a > tau
    if p == 0.5:
        # depressed cubic in w = sqrt(z): w^3 - a w + t/2 = 0, largest root (trigonometric)
        safe = xp.where(keep, a, xp.ones_like(a))
        u = 0.75 * t * (3.0 / safe) ** 0.5 / safe
        phi = xp.acos(xp.clip(-u, min=-1.0, max=1.0))
        z = (2.0 / 3.0) * safe * (1.0 + xp.cos(2.0 * phi / 3.0))
        return xp.where(keep, z, xp.zeros_like(a))
    if abs(p - 2.0 / 3.0) < 1e-12:
        # quartic in w = z^(1/3): w^4 - a w + 2t/3 = 0, solved by Ferrari's resolvent cubic
        lam = 2.0 * t
        safe = xp.where(keep, a, xp.ones_like(a))
        arg = 27.0 * safe**2 / (16.0 * lam**1.5)
        phi = xp.acosh(xp.clip(arg, min=1.0))
        Aabs = (2.0 / 3.0**0.5) * lam**0.25 * xp.sqrt(xp.cosh(phi / 3.0))
        inner = xp.clip(2.0 * safe / Aabs - Aabs**2, min=0.0)
        z = ((Aabs + xp.sqrt(inner)) / 2.0) ** 3
        return xp.where(keep, z, xp.zeros_like(a))
    # general p: larger root of g(z) = z + t p z^(p-1) - a, by Newton from z = a (g convex and
    # increasing on the bracket, so the iterates decrease monotonically to the root)
    z = xp.where(keep, a, xp.ones_like(a))
    tt = t if isinstance(t, float) else xp.broadcast_to(t, a.shape)
    for _ in range(n_newton):
        g = z + tt * p * z ** (p - 1.0) - a
        dg = 1.0 + tt * p * (p - 1.0) * z ** (p - 2.0)
        z_new = xp.where(keep, z - g / dg, z)
        z_new = xp.clip(z_new, min=0.0)
        done = bool(xp.all(xp.abs(z_new - z) <= 1e-15 * xp.abs(z) + 1e-300))
        z = z_new
        if done:
            break
    return xp.where(keep, z, xp.zeros_like(a))


def _lp(x: Any, t: Any, p: float) -> Any:
    xp = namespace(x)
    if p == 1.0:
        return _soft(x, t)
    mag = xp.abs(x)
    return with_modulus(x, mag, _lp_mag(mag, t, p))


def _cel0(x: Any, step: Any, lam: Any, a: Any) -> Any:
    r"""CEL0 prox kernel (unchecked); ``a`` are the column norms (broadcastable)."""
    xp = namespace(x)
    u = xp.abs(x)
    a = xp.clip(a, min=1e-300) if not isinstance(a, float) else max(a, 1e-300)
    theta = (2.0 * lam) ** 0.5 / a
    ga2 = step * a * a
    denom = 1.0 - ga2
    safe_den = xp.where(denom > 0, denom, xp.ones_like(denom)) if not isinstance(denom, float) \
        else (denom if denom > 0 else 1.0)
    c2 = xp.clip((u - ga2 * theta) / safe_den, min=0.0)
    c2 = xp.minimum(c2, theta + xp.zeros_like(u))
    if not isinstance(denom, float):
        c2 = xp.where(denom > 0, c2, theta + xp.zeros_like(u))
    elif denom <= 0:
        c2 = theta + xp.zeros_like(u)
    c3 = xp.maximum(u, theta + xp.zeros_like(u))

    def obj(z: Any) -> Any:
        pen = xp.where(z < theta, a * (2.0 * lam) ** 0.5 * z - 0.5 * a * a * z * z,
                       lam + xp.zeros_like(z))
        return 0.5 * (z - u) ** 2 + step * pen

    f1, f2, f3 = 0.5 * u * u, obj(c2), obj(c3)
    best = xp.where(f2 < f1, c2, xp.zeros_like(u))
    fbest = xp.minimum(f1, f2)
    best = xp.where(f3 < fbest, c3, best)
    return with_modulus(x, u, best)


# --------------------------------------------------------------------------- public, validated
def prox_l1(x: Any, thresh: Any, weights: Any = None) -> Any:
    r"""Soft thresholding: prox of :math:`t\,\|w \odot x\|_1`.

    Parameters
    ----------
    x : array
        Real or complex input of any shape.
    thresh : float or array
        Threshold :math:`t \ge 0`, broadcastable against ``x``.
    weights : array, optional
        Non-negative per-coefficient weights :math:`w` (weighted L1).

    Returns
    -------
    array
        :math:`\mathrm{sign}(x)\max(|x| - t w, 0)` (the phase is kept for complex ``x``).

    Notes
    -----
    For real ``x`` this is computed as :math:`x - \mathrm{clip}(x, -tw, tw)` (two passes).

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.prox import prox_l1
    >>> prox_l1(np.array([-2.0, 0.5, 3.0]), 1.0)
    array([-1.,  0.,  2.])
    """
    check_array(x)
    t = as_param(thresh, x, "thresh")
    if weights is not None:
        t = t * as_param(weights, x, "weights")
    return _soft(x, t)


def prox_l0(x: Any, thresh: Any) -> Any:
    r"""Hard thresholding: prox of :math:`t\,\|x\|_0`.

    Keeps :math:`x_i` when :math:`|x_i| > \sqrt{2t}` and sets it to zero otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.prox import prox_l0
    >>> prox_l0(np.array([-2.0, 0.5, 1.5]), 1.0)
    array([-2. ,  0. ,  1.5])
    """
    check_array(x)
    return _hard(x, as_param(thresh, x, "thresh"))


def _check_p(p: Any) -> float:
    try:
        p = float(p)
    except (TypeError, ValueError) as e:
        raise TypeError(f"p must be a number in (0, 1], got {p!r}") from e
    if not (0.0 < p <= 1.0):
        raise ValueError(f"p must lie in (0, 1], got {p}")
    return p


def prox_lp(x: Any, thresh: Any, p: float) -> Any:
    r"""Prox of :math:`t\sum_i |x_i|^p` for :math:`0 < p \le 1` (exact, elementwise).

    Parameters
    ----------
    x : array
        Real or complex input (the modulus is thresholded, the phase kept).
    thresh : float or array
        :math:`t \ge 0`, broadcastable against ``x``.
    p : float
        Exponent in ``(0, 1]``.

    Notes
    -----
    With :math:`a = |x_i|`, the prox is 0 for :math:`a \le \tau`, with

    .. math:: \tau = \frac{2-p}{2(1-p)}\bigl(2t(1-p)\bigr)^{1/(2-p)},

    and otherwise the largest root :math:`z` of :math:`z + t p z^{p-1} = a`.

    * :math:`p = 1/2` ("half thresholding"): with :math:`w = \sqrt z`,
      :math:`w^3 - a w + t/2 = 0`, whose largest root gives
      :math:`z = \tfrac{2a}{3}\bigl(1 + \cos\tfrac{2\varphi}{3}\bigr)`,
      :math:`\varphi = \arccos\bigl(-\tfrac{3t}{4a}\sqrt{3/a}\bigr)`; :math:`\tau = \tfrac32 t^{2/3}`.
    * :math:`p = 2/3`: with :math:`w = z^{1/3}`, :math:`w^4 - a w + 2t/3 = 0` is solved by
      Ferrari's method: with :math:`\lambda = 2t`,
      :math:`|A| = \tfrac{2}{\sqrt3}\lambda^{1/4}\sqrt{\cosh(\phi/3)}`,
      :math:`\phi = \operatorname{arccosh}\bigl(\tfrac{27 a^2}{16\lambda^{3/2}}\bigr)` and
      :math:`z = \bigl((|A| + \sqrt{2a/|A| - A^2})/2\bigr)^3`.
    * other :math:`p`: Newton's method on :math:`g(z) = z + t p z^{p-1} - a` started at
      :math:`z = a`; :math:`g` is convex and increasing on the bracket, so the iterates
      decrease monotonically to the root (quadratic convergence, a few iterations).

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.prox import prox_lp
    >>> z = prox_lp(np.array([0.5, 3.0]), 1.0, 0.5)
    >>> bool(z[0] == 0.0 and 2.0 < z[1] < 3.0)
    True
    """
    check_array(x)
    p = _check_p(p)
    return _lp(x, as_param(thresh, x, "thresh"), p)


def prox_cel0(x: Any, step: Any, lam: Any, col_norms: Any) -> Any:
    r"""Prox of :math:`\gamma\,\Phi_{\mathrm{CEL0}}` (continuous exact ℓ0 penalty).

    Parameters
    ----------
    x : array
        Real or complex input (modulus thresholded, phase kept).
    step : float or array
        :math:`\gamma > 0`, the prox step.
    lam : float or array
        The ℓ0 weight :math:`\lambda \ge 0` of the problem
        :math:`\tfrac12\|Ax-y\|^2 + \lambda\|x\|_0` that CEL0 relaxes.
    col_norms : float or array
        Column norms :math:`\|a_i\|_2` of the dictionary :math:`A`, broadcastable against ``x``.

    Notes
    -----
    CEL0 (Soubies, Blanc-Féraud and Aubert, 2015) replaces :math:`\lambda\|x\|_0` by

    .. math::
        \Phi(x) = \sum_i \lambda - \frac{\|a_i\|^2}{2}
        \Bigl(|x_i| - \frac{\sqrt{2\lambda}}{\|a_i\|}\Bigr)^2
        \mathbb{1}\Bigl\{|x_i| \le \frac{\sqrt{2\lambda}}{\|a_i\|}\Bigr\},

    which keeps the global minimisers of the ℓ0 problem.  With :math:`u = |x_i|`,
    :math:`a = \|a_i\|`, :math:`\theta = \sqrt{2\lambda}/a`, for :math:`\gamma a^2 < 1` the prox is

    .. math::
        \mathrm{prox}_{\gamma\Phi}(x_i) = \mathrm{sign}(x_i)\,\min\Bigl(u,\,
        \max\Bigl(0, \frac{u - \gamma a\sqrt{2\lambda}}{1 - \gamma a^2}\Bigr)\Bigr).

    It is computed as the best of the three candidates :math:`0`, the clipped stationary point
    in :math:`[0, \theta]` and :math:`\max(u, \theta)`, which is exact for every
    :math:`\gamma` (also :math:`\gamma a^2 \ge 1`, where the prox is set-valued at ties).

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.prox import prox_cel0
    >>> prox_cel0(np.array([0.1, 3.0]), 0.5, 1.0, 1.0)
    array([0., 3.])
    """
    check_array(x)
    g = as_param(step, x, "step")
    lam = as_param(lam, x, "lam")
    a = as_param(col_norms, x, "col_norms")
    return _cel0(x, g, lam, a)
