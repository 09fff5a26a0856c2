r"""Penalty objects: a function :math:`f` with its prox and its value, as solvers consume them.

A :class:`Penalty` represents :math:`\lambda f(x)`.  Calling it, ``pen(x, step, lam)``, returns
:math:`\mathrm{prox}_{\mathrm{step}\cdot\lambda f}(x)`; ``pen.value(x, lam, ndim)`` returns
:math:`\lambda f(x)` per problem (summed over the last ``ndim`` axes).  ``step`` and ``lam`` are
scalars or arrays broadcasting against ``x`` (per-problem values have shape
``(*batch, 1, ..., 1)`` for the prox, ``batch`` for :meth:`Penalty.value`).

The abstraction is deliberately small: a subclass implements ``_prox_t(x, t)`` (homogeneous
penalties, where only :math:`t = \mathrm{step}\,\lambda` matters) or ``_prox(x, step, lam)``,
and ``_elementwise(x)`` (separable penalties) or ``_value(x, lam, ndim)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._backend import namespace
from ._utils import as_param, check_array, check_real, expand_to, sum_last
from .elementwise import _cel0, _check_p, _hard, _lp, _soft
from .group import _group_norms, _group_soft, _Groups, _resolve, _svd_apply, _thresh_for_sv
from .projections import _linf_ball, _simplex_last
from .tv import gradient_nd, prox_tv

__all__ = [
    "CEL0",
    "L0",
    "L1",
    "Box",
    "GroupL21",
    "Lp",
    "NonNegative",
    "NuclearNorm",
    "Penalty",
    "Simplex",
    "SumTo",
    "TotalVariation",
    "ZeroPenalty",
    "get_penalty",
]


def _lam_for(x: Any, lam: Any, ndim: int | None) -> Any:
    """Expand a per-problem ``lam`` (shape ``batch``) so that it broadcasts against ``x``."""
    if isinstance(lam, float) or ndim is None:
        return lam
    return expand_to(lam, lam.ndim, lam.ndim + ndim) if lam.ndim == x.ndim - ndim else lam


class Penalty:
    """Base class of penalties :math:`\\lambda f` (see the module docstring).

    Attributes
    ----------
    separable : bool
        ``f`` is a sum of functions of single coefficients.
    real_only : bool
        ``f`` is only defined for real arrays (indicators of real sets).
    homogeneous : bool
        :math:`\\mathrm{prox}_{\\gamma\\lambda f}` depends on :math:`\\gamma\\lambda` only.
    positivity_compatible : bool
        :math:`\\mathrm{prox}_{\\gamma f + \\iota_{\\ge 0}}(x) = \\mathrm{prox}_{\\gamma f}(\\max(x, 0))`
        (true for even, coordinatewise-monotone penalties: L1, Lp, L0, CEL0, group norms).
    """

    separable: bool = True
    real_only: bool = False
    homogeneous: bool = True
    positivity_compatible: bool = True
    is_indicator: bool = False

    # -- public, validated --------------------------------------------------------------
    def __call__(self, x: Any, step: Any = 1.0, lam: Any = 1.0) -> Any:
        return self.prox(x, step, lam)

    def prox(self, x: Any, step: Any = 1.0, lam: Any = 1.0) -> Any:
        r""":math:`\mathrm{prox}_{\mathrm{step}\cdot\lambda f}(x)` (validated inputs)."""
        check_array(x)
        if self.real_only:
            check_real(x, type(self).__name__)
        s = as_param(step, x, "step")
        lm = as_param(lam, x, "lam")
        return self._prox(x, s, lm)

    def value(self, x: Any, lam: Any = 1.0, ndim: int | None = None) -> Any:
        r""":math:`\lambda f(x)`, summed over the last ``ndim`` axes (all when None)."""
        check_array(x)
        lm = as_param(lam, x, "lam")
        return self._value(x, lm, ndim)

    # -- internal, unchecked (used by solvers in their loops) -----------------------------
    def _prox(self, x: Any, step: Any, lam: Any) -> Any:
        return self._prox_t(x, step * lam)

    def _prox_t(self, x: Any, t: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _elementwise(self, x: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _value(self, x: Any, lam: Any, ndim: int | None) -> Any:
        return sum_last(_lam_for(x, lam, ndim) * self._elementwise(x), ndim)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ZeroPenalty(Penalty):
    """:math:`f = 0` (plain least squares); the prox is the identity."""

    def _prox(self, x: Any, step: Any, lam: Any) -> Any:
        return x

    def _elementwise(self, x: Any) -> Any:
        return namespace(x).zeros_like(namespace(x).real(x))


class L1(Penalty):
    r""":math:`f(x) = \|w \odot x\|_1` (weighted when ``weights`` is given).

    Parameters
    ----------
    weights : array, optional
        Non-negative weights broadcasting against one problem's ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.prox import L1
    >>> pen = L1()
    >>> pen(np.array([-2.0, 0.5]), step=0.5, lam=2.0)
    array([-1.,  0.])
    >>> float(pen.value(np.array([-2.0, 0.5]), lam=2.0))
    5.0
    """

    def __init__(self, weights: Any = None) -> None:
        self.weights = weights
        self._w_cache: dict[Any, Any] = {}

    def _w(self, x: Any) -> Any:
        if self.weights is None:
            return None
        key = (type(x).__module__, str(getattr(x, "device", "cpu")), str(x.dtype))
        if key not in self._w_cache:
            self._w_cache[key] = as_param(self.weights, x, "weights")
        return self._w_cache[key]

    def _prox_t(self, x: Any, t: Any) -> Any:
        w = self._w(x)
        return _soft(x, t if w is None else t * w)

    def _elementwise(self, x: Any) -> Any:
        w = self._w(x)
        a = namespace(x).abs(x)
        return a if w is None else w * a

    def __repr__(self) -> str:
        return "L1()" if self.weights is None else "L1(weights=...)"


class L0(Penalty):
    r""":math:`f(x) = \|x\|_0`; the prox is hard thresholding at :math:`\sqrt{2t}`."""

    def _prox_t(self, x: Any, t: Any) -> Any:
        return _hard(x, t)

    def _elementwise(self, x: Any) -> Any:
        xp = namespace(x)
        return xp.astype(x != 0, xp.real(x).dtype)


class Lp(Penalty):
    r""":math:`f(x) = \sum_i |x_i|^p`, :math:`0 < p \le 1` (see :func:`~sparserec.prox.prox_lp`)."""

    def __init__(self, p: float) -> None:
        self.p = _check_p(p)

    def _prox_t(self, x: Any, t: Any) -> Any:
        return _lp(x, t, self.p)

    def _elementwise(self, x: Any) -> Any:
        return namespace(x).abs(x) ** self.p

    def __repr__(self) -> str:
        return f"Lp(p={self.p})"


class CEL0(Penalty):
    r"""Continuous exact ℓ0 penalty of Soubies, Blanc-Féraud and Aubert (2015).

    ``lam`` is the ℓ0 weight :math:`\lambda` (the penalty is not :math:`\lambda` times a fixed
    function); see :func:`~sparserec.prox.prox_cel0` for the formula.

    Parameters
    ----------
    col_norms : array or float
        Column norms :math:`\|a_i\|_2` of the dictionary (shape of one problem's ``x``).
        :meth:`from_operator` computes them.
    """

    homogeneous = False

    def __init__(self, col_norms: Any) -> None:
        self.col_norms = col_norms
        self._cache: dict[Any, Any] = {}

    @classmethod
    def from_operator(cls, A: Any) -> CEL0:
        """Build from an operator (``Matrix`` or any small operator, via its dense form)."""
        from ..operators import Matrix

        if isinstance(A, Matrix) and A._kind == "dense":
            M = A.A
        else:
            M = A.todense()
        xp = namespace(M)
        nrm = xp.sqrt(xp.sum(xp.abs(M) ** 2, axis=0))
        return cls(xp.reshape(nrm, A.in_shape))

    def _a(self, x: Any) -> Any:
        key = (type(x).__module__, str(getattr(x, "device", "cpu")), str(x.dtype))
        if key not in self._cache:
            self._cache[key] = as_param(self.col_norms, x, "col_norms")
        return self._cache[key]

    def _prox(self, x: Any, step: Any, lam: Any) -> Any:
        return _cel0(x, step, lam, self._a(x))

    def _value(self, x: Any, lam: Any, ndim: int | None) -> Any:
        xp = namespace(x)
        lm = _lam_for(x, lam, ndim)
        a = self._a(x)
        u = xp.abs(x)
        theta = (2.0 * lm) ** 0.5 / a
        pen = lm - 0.5 * a * a * xp.clip(theta - u, min=0.0) ** 2
        return sum_last(pen, ndim)


class GroupL21(Penalty):
    r""":math:`f(x) = \sum_g w_g\|x_g\|_2` (see :func:`~sparserec.prox.prox_group_l21`)."""

    separable = False

    def __init__(self, axis: int = -1, groups: Any = None, weights: Any = None) -> None:
        self.axis = axis
        self.groups = None if groups is None else _Groups(groups)
        self.weights = weights

    def _wt(self, x: Any, t: Any) -> Any:
        return t if self.weights is None else t * as_param(self.weights, x, "weights", check=False)

    def _prox_t(self, x: Any, t: Any) -> Any:
        ax, g = _resolve(self.axis, self.groups, x)
        return _group_soft(x, self._wt(x, t), ax, g)

    def _value(self, x: Any, lam: Any, ndim: int | None) -> Any:
        ax, g = _resolve(self.axis, self.groups, x)
        nrm = self._wt(x, _group_norms(x, ax, g))
        tot = sum_last(nrm, ndim)
        return lam * tot


class NuclearNorm(Penalty):
    r""":math:`f(X) = \|X\|_*` on the last two axes (singular value thresholding)."""

    separable = False
    positivity_compatible = False

    def _prox_t(self, x: Any, t: Any) -> Any:
        xp = namespace(x)
        tt = _thresh_for_sv(t)
        return _svd_apply(x, lambda s: xp.clip(s - tt, min=0.0))

    def _value(self, x: Any, lam: Any, ndim: int | None) -> Any:
        xp = namespace(x)
        s = xp.linalg.svdvals(x)
        v = xp.sum(s, axis=-1)
        if ndim is None:
            v = xp.sum(v)
        elif ndim > 2:
            v = sum_last(v, ndim - 2)
        return lam * v


class TotalVariation(Penalty):
    r""":math:`f(x) = \mathrm{TV}(x)` over the last ``ndim`` axes (see
    :func:`~sparserec.prox.prox_tv`)."""

    separable = False
    positivity_compatible = False

    def __init__(self, ndim: int = 2, isotropic: bool = True, n_iter: int = 50,
                 tol: float = 1e-6) -> None:
        self.ndim, self.isotropic, self.n_iter, self.tol = int(ndim), bool(isotropic), int(n_iter), tol

    def _prox_t(self, x: Any, t: Any) -> Any:
        return prox_tv(x, t, ndim=self.ndim, isotropic=self.isotropic, n_iter=self.n_iter,
                       tol=self.tol)

    def _value(self, x: Any, lam: Any, ndim: int | None) -> Any:
        xp = namespace(x)
        g = gradient_nd(x, self.ndim)
        ax = g.ndim - self.ndim - 1
        if self.isotropic:
            m = xp.sqrt(xp.sum(xp.abs(g) ** 2, axis=ax))
        else:
            m = xp.sum(xp.abs(g), axis=ax)
        return lam * sum_last(m, ndim)


# ----------------------------------------------------------------------------- indicators
class _Indicator(Penalty):
    is_indicator = True
    real_only = True
    atol: float = 1e-6

    def _prox(self, x: Any, step: Any, lam: Any) -> Any:
        return self._project(x)

    def _project(self, x: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _value(self, x: Any, lam: Any, ndim: int | None) -> Any:
        xp = namespace(x)
        d = xp.abs(self._project(x) - x)
        bad = sum_last(xp.astype(d > self.atol * (1.0 + xp.abs(x)), xp.real(x).dtype), ndim)
        return xp.where(bad > 0, xp.full_like(bad, float("inf")), xp.zeros_like(bad))


class NonNegative(_Indicator):
    r"""Indicator of :math:`\{x \ge 0\}`."""

    def _project(self, x: Any) -> Any:
        return namespace(x).clip(x, min=0.0)


class Box(_Indicator):
    r"""Indicator of :math:`\{l \le x \le u\}` (``None`` for an open side)."""

    def __init__(self, lower: Any = None, upper: Any = None) -> None:
        self.lower, self.upper = lower, upper

    def _project(self, x: Any) -> Any:
        lo = None if self.lower is None else as_param(self.lower, x, "lower", nonneg=False, check=False)
        hi = None if self.upper is None else as_param(self.upper, x, "upper", nonneg=False, check=False)
        return namespace(x).clip(x, min=lo, max=hi)


class Simplex(_Indicator):
    r"""Indicator of :math:`\{x \ge 0, \sum x = r\}` over the last axis (``equality=False``:
    :math:`\sum x \le r`)."""

    separable = False
    positivity_compatible = False

    def __init__(self, radius: float = 1.0, equality: bool = True) -> None:
        self.radius, self.equality = float(radius), bool(equality)

    def _project(self, x: Any) -> Any:
        z = _simplex_last(x, self.radius)
        if not self.equality:
            xp = namespace(x)
            pos = xp.clip(x, min=0.0)
            z = xp.where(xp.sum(pos, axis=-1, keepdims=True) <= self.radius, pos, z)
        return z


class SumTo(_Indicator):
    r"""Indicator of the hyperplane :math:`\{\sum x = s\}` over the last axis."""

    separable = False
    positivity_compatible = False
    real_only = False

    def __init__(self, total: float = 1.0) -> None:
        self.total = float(total)

    def _project(self, x: Any) -> Any:
        xp = namespace(x)
        return x - (xp.sum(x, axis=-1, keepdims=True) - self.total) / x.shape[-1]


class _LinfBall(_Indicator):
    real_only = False

    def __init__(self, radius: Any = 1.0) -> None:
        self.radius = radius

    def _project(self, x: Any) -> Any:
        return _linf_ball(x, as_param(self.radius, x, "radius", check=False))


class _CallablePenalty(Penalty):
    """Wraps a user prox ``fn(x, thresh)``; its value is unknown (NaN in histories)."""

    def __init__(self, fn: Callable[[Any, Any], Any], value: Callable[[Any], Any] | None = None):
        self.fn, self.value_fn = fn, value

    def _prox_t(self, x: Any, t: Any) -> Any:
        return self.fn(x, t)

    def _value(self, x: Any, lam: Any, ndim: int | None) -> Any:
        xp = namespace(x)
        if self.value_fn is None:
            base = sum_last(xp.zeros_like(xp.real(x)), ndim)
            return base + float("nan")
        return lam * self.value_fn(x)


_NAMES: dict[str, Callable[[], Penalty]] = {
    "l1": L1,
    "lasso": L1,
    "l0": L0,
    "hard": L0,
    "zero": ZeroPenalty,
    "none": ZeroPenalty,
    "nonneg": NonNegative,
    "simplex": Simplex,
    "nuclear": NuclearNorm,
    "tv": TotalVariation,
    "group": GroupL21,
    "l21": GroupL21,
}


def get_penalty(spec: Any) -> Penalty:
    """Resolve a penalty: a :class:`Penalty`, a name (``"l1"``, ``"l0"``, ``"l21"``, ``"lp:0.5"``,
    ``"nuclear"``, ``"tv"``, ``"nonneg"``, ``"simplex"``, ``"zero"``), ``None`` (zero) or a callable
    ``prox(x, thresh)``."""
    if spec is None:
        return ZeroPenalty()
    if isinstance(spec, Penalty):
        return spec
    if isinstance(spec, str):
        key = spec.lower().strip()
        if key.startswith("lp"):
            _, _, p = key.partition(":")
            if not p:
                raise ValueError("give the exponent with the name, e.g. 'lp:0.5', or pass Lp(p)")
            return Lp(float(p))
        if key not in _NAMES:
            raise ValueError(f"unknown penalty {spec!r}; known: {sorted(_NAMES)} and 'lp:<p>'")
        return _NAMES[key]()
    if callable(spec):
        return _CallablePenalty(spec)
    raise TypeError(f"penalty must be a Penalty, a name or a callable prox(x, thresh), got {spec!r}")
