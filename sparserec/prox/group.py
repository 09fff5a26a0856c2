r"""Non-separable norms: group ℓ2,1 (row/column groups or a group index array) and the nuclear
norm (singular value thresholding), with the projections onto their dual balls."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import asarray_like, is_complex_dtype, namespace, real_dtype, to_numpy
from ._utils import as_param, check_array

__all__ = ["project_group_ball", "project_spectral_ball", "prox_group_l21", "prox_nuclear"]


class _Groups:
    """One-hot membership matrix of a group index array (cached per namespace/device/dtype)."""

    def __init__(self, groups: Any) -> None:
        g = np.asarray(to_numpy(groups)).reshape(-1)
        if g.size == 0 or not np.issubdtype(g.dtype, np.integer):
            raise TypeError("groups must be a non-empty integer array of group labels")
        _, inv = np.unique(g, return_inverse=True)
        self.labels = inv
        self.n = g.size
        self.n_groups = int(inv.max()) + 1
        self.sizes = np.bincount(inv)
        self._cache: dict[Any, Any] = {}

    def matrix(self, like: Any) -> Any:
        key = (type(like).__module__, str(getattr(like, "device", "cpu")), str(real_dtype(like.dtype)))
        if key not in self._cache:
            M = np.zeros((self.n, self.n_groups))
            M[np.arange(self.n), self.labels] = 1.0
            self._cache[key] = asarray_like(M, like, dtype=real_dtype(like.dtype))
        return self._cache[key]


def _group_norms(x: Any, axis: int | None, groups: _Groups | None) -> Any:
    """Group norms: keepdims along ``axis``, or shape ``(..., n_groups)`` for index groups."""
    xp = namespace(x)
    sq = xp.real(x * xp.conj(x)) if is_complex_dtype(x.dtype) else x * x
    if groups is None:
        return xp.sqrt(xp.sum(sq, axis=axis, keepdims=True))
    return xp.sqrt(sq @ groups.matrix(x))


def _scale_groups(x: Any, scale: Any, groups: _Groups | None) -> Any:
    xp = namespace(x)
    if groups is not None:
        scale = scale @ xp.permute_dims(groups.matrix(x), (1, 0))
    return x * (xp.astype(scale, x.dtype) if is_complex_dtype(x.dtype) else scale)


def _group_soft(x: Any, t: Any, axis: int | None, groups: _Groups | None) -> Any:
    xp = namespace(x)
    nrm = _group_norms(x, axis, groups)
    safe = xp.where(nrm > 0, nrm, xp.ones_like(nrm))
    scale = xp.clip(1.0 - t / safe, min=0.0)
    return _scale_groups(x, scale, groups)


def _group_ball(x: Any, r: Any, axis: int | None, groups: _Groups | None) -> Any:
    xp = namespace(x)
    nrm = _group_norms(x, axis, groups)
    safe = xp.where(nrm > r, nrm, xp.ones_like(nrm))
    scale = xp.where(nrm > r, r / safe, xp.ones_like(nrm))
    return _scale_groups(x, scale, groups)


def _resolve(axis: int | None, groups: Any, x: Any) -> tuple[int | None, _Groups | None]:
    if groups is not None:
        g = groups if isinstance(groups, _Groups) else _Groups(groups)
        if x.shape[-1] != g.n:
            raise ValueError(f"groups has {g.n} labels but x has {x.shape[-1]} entries on its last axis")
        return None, g
    return (-1 if axis is None else int(axis)), None


def _group_thresh(t: Any, weights: Any, x: Any, g: _Groups | None) -> Any:
    if weights is None:
        return t
    w = as_param(weights, x, "weights")
    return t * w


def prox_group_l21(x: Any, thresh: Any, axis: int | None = -1, groups: Any = None,
                   weights: Any = None) -> Any:
    r"""Group soft thresholding: prox of :math:`t\sum_g w_g \|x_g\|_2`.

    Parameters
    ----------
    x : array
        Real or complex input.
    thresh : float or array
        :math:`t \ge 0`, broadcastable against the group norms (keepdims along ``axis``; for
        ``groups``, shape ``(..., n_groups)``), e.g. ``(*batch, 1, 1)``.
    axis : int, default -1
        Axis along which the entries of a group lie: for a matrix ``X`` of shape ``(n, k)``,
        ``axis=-1`` groups each row (the row-sparse ℓ2,1 norm of multi-task / MMV problems) and
        ``axis=-2`` each column.
    groups : array of int, optional
        Group label of each entry of the last axis (arbitrary, non-contiguous groups); overrides
        ``axis``.
    weights : array, optional
        Per-group weights :math:`w_g` (e.g. :math:`\sqrt{|g|}`).

    Notes
    -----
    :math:`\mathrm{prox}(x)_g = \max(1 - t w_g/\|x_g\|_2, 0)\,x_g`.  Index groups use one
    matrix product with a one-hot membership matrix for the norms and one for the scales.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.prox import prox_group_l21
    >>> prox_group_l21(np.array([[3.0, 4.0], [0.3, 0.4]]), 1.0)
    array([[2.4, 3.2],
           [0. , 0. ]])
    """
    check_array(x)
    ax, g = _resolve(axis, groups, x)
    t = _group_thresh(as_param(thresh, x, "thresh"), weights, x, g)
    return _group_soft(x, t, ax, g)


def project_group_ball(x: Any, radius: Any = 1.0, axis: int | None = -1, groups: Any = None) -> Any:
    r"""Projection onto :math:`\{\max_g \|x_g\|_2 \le r\}` (the dual ball of the group ℓ2,1 norm)."""
    check_array(x)
    ax, g = _resolve(axis, groups, x)
    return _group_ball(x, as_param(radius, x, "radius"), ax, g)


def _svd_apply(x: Any, fn: Any) -> Any:
    xp = namespace(x)
    U, S, Vh = xp.linalg.svd(x, full_matrices=False)
    S2 = fn(S)
    S2 = xp.astype(S2, x.dtype) if is_complex_dtype(x.dtype) else S2
    return (U * S2[..., None, :]) @ Vh


def _thresh_for_sv(t: Any) -> Any:
    """Thresholds broadcastable to ``x`` (..., m, n) -> broadcastable to singular values (..., k)."""
    if isinstance(t, float) or t.ndim < 2:
        return t
    return t[..., 0]


def prox_nuclear(x: Any, thresh: Any) -> Any:
    r"""Singular value thresholding: prox of :math:`t\|X\|_*`, batched over leading axes.

    Parameters
    ----------
    x : array of shape ``(..., m, n)``
        Real or complex matrices.
    thresh : float or array
        :math:`t \ge 0`: a scalar, or an array broadcastable against ``x`` (e.g. shape
        ``(*batch, 1, 1)``) for per-matrix thresholds.

    Notes
    -----
    :math:`X = U\,\mathrm{diag}(s)V^H \mapsto U\,\mathrm{diag}(\max(s - t, 0))V^H`, one batched
    thin SVD.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.prox import prox_nuclear
    >>> prox_nuclear(np.diag([3.0, 0.5]), 1.0)
    array([[2., 0.],
           [0., 0.]])
    """
    check_array(x)
    if x.ndim < 2:
        raise ValueError(f"prox_nuclear expects matrices (..., m, n), got shape {tuple(x.shape)}")
    t = _thresh_for_sv(as_param(thresh, x, "thresh"))
    xp = namespace(x)
    return _svd_apply(x, lambda s: xp.clip(s - t, min=0.0))


def project_spectral_ball(x: Any, radius: Any = 1.0) -> Any:
    r"""Projection onto :math:`\{\|X\|_2 \le r\}` (clip singular values; dual ball of
    :math:`\|\cdot\|_*`)."""
    check_array(x)
    r = _thresh_for_sv(as_param(radius, x, "radius"))
    xp = namespace(x)
    return _svd_apply(x, lambda s: xp.minimum(s, r + xp.zeros_like(s)))
