r"""Finite differences and the discrete gradient (for total variation)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .._backend import namespace
from .base import LinearOperator, _as_shape

__all__ = ["FiniteDifference", "Gradient"]

_KINDS = ("forward", "backward", "centered")
_BOUNDARIES = ("periodic", "neumann")


def _sl(ax: int, s: slice) -> tuple[Any, ...]:
    """Index selecting ``s`` along negative axis ``ax`` (``-1`` is the last axis)."""
    return (Ellipsis, s) + (slice(None),) * (-ax - 1)


def _zero_slab(x: Any, ax: int) -> Any:
    """Zeros shaped like ``x`` with length 1 along (negative) axis ``ax``."""
    xp = namespace(x)
    return xp.zeros_like(x[_sl(ax, slice(0, 1))])


def _fwd(x: Any, ax: int, periodic: bool) -> Any:
    xp = namespace(x)
    if periodic:
        return xp.roll(x, -1, axis=x.ndim + ax) - x
    d = x[_sl(ax, slice(1, None))] - x[_sl(ax, slice(0, -1))]
    return xp.concat([d, _zero_slab(x, ax)], axis=x.ndim + ax)


def _fwd_adj(y: Any, ax: int, periodic: bool) -> Any:
    xp = namespace(y)
    if periodic:
        return xp.roll(y, 1, axis=y.ndim + ax) - y
    z = xp.concat([y[_sl(ax, slice(0, -1))], _zero_slab(y, ax)], axis=y.ndim + ax)
    shifted = xp.concat([_zero_slab(y, ax), z[_sl(ax, slice(0, -1))]], axis=y.ndim + ax)
    return shifted - z


def _bwd(x: Any, ax: int, periodic: bool) -> Any:
    xp = namespace(x)
    if periodic:
        return x - xp.roll(x, 1, axis=x.ndim + ax)
    d = x[_sl(ax, slice(1, None))] - x[_sl(ax, slice(0, -1))]
    return xp.concat([_zero_slab(x, ax), d], axis=x.ndim + ax)


def _bwd_adj(y: Any, ax: int, periodic: bool) -> Any:
    xp = namespace(y)
    if periodic:
        return y - xp.roll(y, -1, axis=y.ndim + ax)
    z = xp.concat([_zero_slab(y, ax), y[_sl(ax, slice(1, None))]], axis=y.ndim + ax)
    shifted = xp.concat([z[_sl(ax, slice(1, None))], _zero_slab(y, ax)], axis=y.ndim + ax)
    return z - shifted


def _diff(x: Any, ax: int, kind: str, periodic: bool, adjoint: bool) -> Any:
    if kind == "forward":
        return (_fwd_adj if adjoint else _fwd)(x, ax, periodic)
    if kind == "backward":
        return (_bwd_adj if adjoint else _bwd)(x, ax, periodic)
    if adjoint:
        return 0.5 * (_fwd_adj(x, ax, periodic) + _bwd_adj(x, ax, periodic))
    return 0.5 * (_fwd(x, ax, periodic) + _bwd(x, ax, periodic))


def _check(kind: str, boundary: str) -> None:
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    if boundary not in _BOUNDARIES:
        raise ValueError(f"boundary must be one of {_BOUNDARIES}, got {boundary!r}")


def _bound(kind: str, n: int) -> float:
    """Closed-form bound on the norm of one difference along an axis of length ``n``."""
    if n <= 1:
        return 0.0
    return 1.0 if kind == "centered" else 2.0


def _norm_axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for a shape with {ndim} dimensions")
    return axis - ndim if axis >= 0 else axis


class FiniteDifference(LinearOperator):
    r"""First-order finite difference along one axis of an n-D array.

    Parameters
    ----------
    shape : int or tuple of int
        Shape of one input (in_shape = out_shape = ``shape``).
    axis : int, default -1
        Axis of ``shape`` (not counting batch dimensions) to differentiate along.
    kind : {"forward", "backward", "centered"}, default "forward"
    boundary : {"periodic", "neumann"}, default "neumann"

    Notes
    -----
    Along the axis, with :math:`n` samples:

    * forward: :math:`(Dx)_i = x_{i+1} - x_i`;
    * backward: :math:`(Dx)_i = x_i - x_{i-1}`;
    * centered: :math:`(Dx)_i = (x_{i+1} - x_{i-1}) / 2`.

    ``"periodic"`` wraps indices modulo :math:`n`.  ``"neumann"`` (zero normal derivative)
    sets the forward difference to 0 at :math:`i = n-1` and the backward difference to 0 at
    :math:`i = 0`; the centered one is the mean of the two, i.e. one-sided halves at both
    ends.  The adjoint of the forward difference is minus the backward divergence,
    :math:`(D^H y)_i = y_{i-1} - y_i` (with the boundary rows above).  Norm bounds:
    :math:`\|D\|_2 \le 2` for forward/backward (exact for periodic, even :math:`n`),
    :math:`\le 1` for centered (every row and every column has absolute sum
    :math:`\le 1`: Schur's test).  The operator holds no coefficients and follows the
    input's backend, device and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import FiniteDifference
    >>> D = FiniteDifference(4, kind="forward", boundary="neumann")
    >>> D @ np.array([1.0, 2.0, 4.0, 8.0])
    array([1., 2., 4., 0.])
    """

    def __init__(self, shape: int | Sequence[int], axis: int = -1, kind: str = "forward",
                 boundary: str = "neumann") -> None:
        shp = _as_shape(shape)
        _check(kind, boundary)
        super().__init__(shp, shp, None)
        self.axis = _norm_axis(int(axis), len(shp))
        self.kind = kind
        self.boundary = boundary

    def _apply(self, x: Any) -> Any:
        return _diff(x, self.axis, self.kind, self.boundary == "periodic", adjoint=False)

    def _adjoint(self, y: Any) -> Any:
        return _diff(y, self.axis, self.kind, self.boundary == "periodic", adjoint=True)

    def opnorm_bound(self) -> float:
        return _bound(self.kind, self.in_shape[self.axis])


class Gradient(LinearOperator):
    r"""Discrete gradient :math:`\nabla x = (D_1 x, \dots, D_K x)` over several axes (for TV).

    Parameters
    ----------
    shape : int or tuple of int
        Shape of one input image/volume.
    axes : sequence of int, optional
        Axes of ``shape`` to differentiate along (default: all).
    kind : {"forward", "backward", "centered"}, default "forward"
    boundary : {"periodic", "neumann"}, default "neumann"

    Notes
    -----
    out_shape is ``(len(axes), *shape)``: component ``k`` is the
    :class:`FiniteDifference` along ``axes[k]``.  The adjoint is minus the discrete
    divergence, :math:`\nabla^H p = \sum_k D_k^H p_k = -\mathrm{div}\, p` (see
    :meth:`divergence`).  The isotropic TV of :math:`x` is
    :math:`\sum_i \|(\nabla x)_{:, i}\|_2`.  Norm bound:
    :math:`\|\nabla\|_2 \le (\sum_k \|D_k\|_2^2)^{1/2} = \sqrt{4K}` for forward differences
    (exact with periodic boundaries and even sizes).

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import Gradient
    >>> G = Gradient((3, 3))
    >>> x = np.arange(9.0).reshape(3, 3)
    >>> G(x)[0]
    array([[3., 3., 3.],
           [3., 3., 3.],
           [0., 0., 0.]])
    >>> G.opnorm_bound()
    2.8284271247461903
    """

    def __init__(self, shape: int | Sequence[int], axes: Sequence[int] | None = None,
                 kind: str = "forward", boundary: str = "neumann") -> None:
        shp = _as_shape(shape)
        _check(kind, boundary)
        if axes is None:
            axes = tuple(range(len(shp)))
        ax = tuple(_norm_axis(int(a), len(shp)) for a in axes)
        if len(set(ax)) != len(ax):
            raise ValueError(f"repeated axes in {tuple(axes)}")
        if not ax:
            raise ValueError("Gradient needs at least one axis")
        super().__init__(shp, (len(ax),) + shp, None)
        self.axes = ax
        self.kind = kind
        self.boundary = boundary
        self._ops = [FiniteDifference(shp, a, kind, boundary) for a in ax]

    def _apply(self, x: Any) -> Any:
        xp = namespace(x)
        nb = x.ndim - len(self.in_shape)
        return xp.stack([o._apply(x) for o in self._ops], axis=nb)

    def _adjoint(self, y: Any) -> Any:
        nb = y.ndim - len(self.out_shape)
        out = None
        for k, o in enumerate(self._ops):
            v = o._adjoint(y[(slice(None),) * nb + (k,)])
            out = v if out is None else out + v
        return out

    def divergence(self, p: Any) -> Any:
        r"""Discrete divergence :math:`\mathrm{div}\,p = -\nabla^H p` of a field
        ``p`` of shape ``(*batch, len(axes), *shape)``."""
        return -self.adjoint(p)

    def opnorm_bound(self) -> float:
        return float(math.sqrt(sum(o.opnorm_bound() ** 2 for o in self._ops)))
