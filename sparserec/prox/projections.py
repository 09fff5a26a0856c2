r"""Batched Euclidean projections: non-negative orthant, box, simplex, hyperplane, balls.

Projections act over the last axis (``axis`` selects another one) and batch over every other
axis.  Sets of real vectors (orthant, box, simplex) raise ``TypeError`` on complex input; the
ℓ∞, ℓ1 and ℓ0 balls are defined for complex vectors through the modulus.  The ℓ0 ball
(:func:`project_l0_ball`, keep the ``k`` largest magnitudes) is the hard-thresholding step of
IHT-type solvers; :func:`topk_mask` returns its support.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import asarray_like, dtype_name, is_array, is_complex_dtype, is_torch, namespace
from ._utils import as_param, check_array, check_real, dev_kw, with_modulus

__all__ = [
    "project_box",
    "project_l0_ball",
    "project_l1_ball",
    "project_linf_ball",
    "project_nonneg",
    "project_simplex",
    "project_sum_to",
    "topk_mask",
]


def _nonneg(x: Any) -> Any:
    return namespace(x).clip(x, min=0.0)


def project_nonneg(x: Any) -> Any:
    r"""Projection onto :math:`\{x \ge 0\}` (real arrays).

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.prox import project_nonneg
    >>> project_nonneg(np.array([-1.0, 2.0]))
    array([0., 2.])
    """
    check_array(x)
    check_real(x, "project_nonneg")
    return _nonneg(x)


def project_box(x: Any, lower: Any = None, upper: Any = None) -> Any:
    r"""Projection onto the box :math:`\{l \le x \le u\}` (real arrays; bounds broadcast).

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.prox import project_box
    >>> project_box(np.array([-2.0, 0.5, 3.0]), -1.0, 1.0)
    array([-1. ,  0.5,  1. ])
    """
    check_array(x)
    check_real(x, "project_box")
    lo = None if lower is None else as_param(lower, x, "lower", nonneg=False)
    hi = None if upper is None else as_param(upper, x, "upper", nonneg=False)
    if lo is not None and hi is not None:
        bad = lo > hi
        if bad if isinstance(bad, bool) else bool(namespace(bad).any(bad)):
            raise ValueError("project_box: lower must not exceed upper")
    return namespace(x).clip(x, min=lo, max=hi)


def _linf_ball(x: Any, r: Any) -> Any:
    xp = namespace(x)
    if is_complex_dtype(x.dtype):
        mag = xp.abs(x)
        return with_modulus(x, mag, xp.minimum(mag, r + xp.zeros_like(mag)))
    return xp.clip(x, min=-r, max=r)


def project_linf_ball(x: Any, radius: Any = 1.0) -> Any:
    r"""Projection onto :math:`\{\max_i |x_i| \le r\}` (elementwise; complex: modulus clip).

    This is the conjugate set of the ℓ1 norm: :math:`\mathrm{prox}_{t\|\cdot\|_1}(x) = x -
    P_{\{\|\cdot\|_\infty \le t\}}(x)` (Moreau).
    """
    check_array(x)
    return _linf_ball(x, as_param(radius, x, "radius"))


def _move(x: Any, axis: int) -> tuple[Any, bool]:
    if axis in (-1, x.ndim - 1):
        return x, False
    return namespace(x).moveaxis(x, axis, -1), True


def _back(x: Any, axis: int, moved: bool) -> Any:
    return namespace(x).moveaxis(x, -1, axis) if moved else x


def _expand_last(r: Any) -> Any:
    if isinstance(r, float) or r.ndim == 0:
        return r
    return namespace(r).reshape(r, tuple(r.shape) + (1,))


def _simplex_last(x: Any, r: Any) -> Any:
    """Sort-based projection onto {z >= 0, sum z = r} over the last axis.

    ``theta = max_k (sum_{j<=k} u_j - r) / k`` for ``u`` sorted in decreasing order.
    """
    xp = namespace(x)
    n = x.shape[-1]
    u = xp.sort(x, axis=-1, descending=True)
    css = xp.cumulative_sum(u, axis=-1) - r
    k = xp.arange(1, n + 1, dtype=x.dtype, **dev_kw(x))
    theta = xp.max(css / k, axis=-1, keepdims=True)
    return xp.clip(x - theta, min=0.0)


def project_simplex(x: Any, radius: Any = 1.0, axis: int = -1, equality: bool = True) -> Any:
    r"""Projection onto the simplex along ``axis`` (batched, sort-based).

    Parameters
    ----------
    x : real array
    radius : float or array
        :math:`r > 0` (scalar or one value per vector, shape ``x.shape`` without ``axis``).
    axis : int
        Axis holding the vectors.
    equality : bool, default True
        ``True``: :math:`\{z \ge 0, \sum z = r\}` (sum-to-one simplex for ``r = 1``);
        ``False``: :math:`\{z \ge 0, \sum z \le r\}`.

    Notes
    -----
    With :math:`u` the entries sorted in decreasing order,
    :math:`P(x) = \max(x - \theta, 0)` with
    :math:`\theta = \max_k \bigl(\sum_{j \le k} u_j - r\bigr)/k` (one sort, one cumulative sum
    and one reduction per vector, all batched).  For ``equality=False`` the orthant projection
    is kept when its sum is at most :math:`r`.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.prox import project_simplex
    >>> np.round(project_simplex(np.array([[0.4, 0.8, 0.0], [2.0, 0.0, 0.0]])), 6)
    array([[0.3, 0.7, 0. ],
           [1. , 0. , 0. ]])
    """
    check_array(x)
    check_real(x, "project_simplex")
    r = as_param(radius, x, "radius")
    xm, moved = _move(x, axis)
    r = _expand_last(r)
    z = _simplex_last(xm, r)
    if not equality:
        xp = namespace(x)
        pos = xp.clip(xm, min=0.0)
        inside = xp.sum(pos, axis=-1, keepdims=True) <= r
        z = xp.where(inside, pos, z)
    return _back(z, axis, moved)


def project_sum_to(x: Any, total: Any = 1.0, axis: int = -1) -> Any:
    r"""Projection onto the hyperplane :math:`\{z : \sum_i z_i = s\}` along ``axis``.

    :math:`P(x) = x - (\sum_i x_i - s)/n` (the affine sum-to-one constraint of unmixing for
    :math:`s = 1`).
    """
    check_array(x)
    s = _expand_last(as_param(total, x, "total", nonneg=False))
    xm, moved = _move(x, axis)
    xp = namespace(x)
    z = xm - (xp.sum(xm, axis=-1, keepdims=True) - s) / xm.shape[-1]
    return _back(z, axis, moved)


def project_l1_ball(x: Any, radius: Any = 1.0, axis: int = -1) -> Any:
    r"""Projection onto :math:`\{\|z\|_1 \le r\}` along ``axis`` (complex: on the modulus).

    :math:`P(x) = \mathrm{sign}(x)\,P_{\Delta_{\le r}}(|x|)`.  The ℓ∞ norm's prox follows by
    Moreau: :math:`\mathrm{prox}_{t\|\cdot\|_\infty}(x) = x - P_{\{\|\cdot\|_1 \le t\}}(x)`.
    """
    check_array(x)
    r = _expand_last(as_param(radius, x, "radius"))
    xm, moved = _move(x, axis)
    xp = namespace(x)
    mag = xp.abs(xm)
    inside = xp.sum(mag, axis=-1, keepdims=True) <= r
    proj_mag = xp.where(inside, mag, _simplex_last(mag, r))
    return _back(with_modulus(xm, mag, proj_mag), axis, moved)


def _check_k(k: Any, x: Any, batch_shape: tuple[int, ...]) -> Any:
    """Validate the sparsity level(s) of :func:`topk_mask`: an ``int`` or an integer array."""
    if isinstance(k, bool):
        raise TypeError(f"k must be an integer or an integer array, got {k!r}")
    if isinstance(k, (int, np.integer)):
        if k < 0:
            raise ValueError(f"k must be non-negative, got {k}")
        return int(k)
    if not is_array(k):
        raise TypeError(f"k must be an integer or an integer array, got {type(k).__name__}")
    name = dtype_name(k.dtype)
    if not (name.startswith("int") or name.startswith("uint")):
        raise TypeError(f"k must have an integer dtype, got {name}")
    try:
        shape = np.broadcast_shapes(tuple(k.shape), batch_shape)
    except ValueError:
        shape = None
    if shape != batch_shape:
        raise ValueError(f"k of shape {tuple(k.shape)} does not broadcast to the batch shape {batch_shape} "
                         "(x.shape without axis)")
    if is_torch(k):
        if not is_torch(x):
            raise TypeError("k is a torch tensor but x is a numpy array")
        import torch

        return k.to(device=x.device, dtype=torch.int64)
    if k.size and int(k.min()) < 0:
        raise ValueError("k must be non-negative")
    return asarray_like(k, x, dtype="int64")


def _scatter_last(shape: tuple[int, ...], order: Any, values: Any) -> Any:
    """Boolean array ``m`` of ``shape``, ``m[..., order[..., j]] = values[..., j]``, False elsewhere."""
    if is_torch(order):
        import torch

        src = torch.broadcast_to(torch.as_tensor(values, device=order.device), order.shape)
        return torch.zeros(shape, dtype=torch.bool, device=order.device).scatter(-1, order, src)
    out = np.zeros(shape, dtype=bool)
    np.put_along_axis(out, order, np.broadcast_to(values, order.shape), axis=-1)
    return out


def topk_mask(x: Any, k: Any, axis: int = -1, *, return_order: bool = False) -> Any:
    r"""Boolean mask of the ``k`` largest magnitudes along ``axis`` (batched).

    Parameters
    ----------
    x : array
        Real or complex numpy array or torch tensor; the magnitude is the modulus.
    k : int or integer array
        Number of entries kept per vector: one ``int`` for all, or an integer array (numpy or,
        for torch ``x``, a tensor on any device) that broadcasts to the batch shape ``x.shape``
        without ``axis`` (one level per vector).  ``k = 0`` keeps nothing, ``k >= n`` keeps
        everything.  A torch ``k`` is not read back to check its sign (that would synchronise
        the device); negative entries then act as 0.
    axis : int, default -1
        Axis holding the vectors.
    return_order : bool, default False
        Also return the indices sorting ``|x|`` in decreasing order along ``axis`` (the kept
        entries of a vector are the first ``k`` of its order).

    Returns
    -------
    mask : boolean array of the shape of ``x``
        ``True`` on the kept entries.
    order : integer array of the shape of ``x``
        Only with ``return_order=True``.

    Raises
    ------
    TypeError
        ``x`` not a floating / complex array; ``k`` neither an integer nor an integer array.
    ValueError
        Negative ``k`` (``int`` or numpy array), or a ``k`` array that does not broadcast to
        the batch shape.

    Notes
    -----
    Ties are broken in favour of the smaller index (stable sort of :math:`-|x|`), on numpy and
    torch alike, so the selection is deterministic and the same on both backends.  NaN
    magnitudes sort last.  Cost: one sort per vector, :math:`O(n \log n)`; nothing is read
    back to the host.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.prox import topk_mask
    >>> topk_mask(np.array([[0.5, -2.0, 1.0], [1.0, 1.0, 1.0]]), 2)
    array([[False,  True,  True],
           [ True,  True, False]])
    >>> topk_mask(np.array([[0.5, -2.0, 1.0], [1.0, 1.0, 1.0]]), np.array([1, 3]))
    array([[False,  True, False],
           [ True,  True,  True]])
    """
    check_array(x)
    if x.ndim < 1:
        raise ValueError("topk_mask needs an array with at least one axis")
    xm, moved = _move(x, axis)
    xp = namespace(x)
    n = xm.shape[-1]
    kk = _check_k(k, x, tuple(xm.shape[:-1]))
    order = xp.argsort(-xp.abs(xm), axis=-1, stable=True)
    if isinstance(kk, int):
        if kk >= n or kk == 0:
            mask = xp.full(xm.shape, kk > 0, dtype=xp.bool, **dev_kw(x))
        else:
            mask = _scatter_last(tuple(xm.shape), order[..., :kk], True)
    else:
        ranks = xp.arange(n, dtype=kk.dtype, **dev_kw(x))
        mask = _scatter_last(tuple(xm.shape), order, ranks < kk[..., None])
    mask = _back(mask, axis, moved)
    if return_order:
        return mask, _back(order, axis, moved)
    return mask


def project_l0_ball(x: Any, k: Any, axis: int = -1) -> Any:
    r"""Projection onto :math:`\{\|z\|_0 \le k\}` along ``axis``: keep the ``k`` largest magnitudes.

    This is hard thresholding to a fixed sparsity level (the ``H_k`` of IHT / HTP): the entries
    selected by :func:`topk_mask` are kept, all others set to zero.  The ℓ0 ball is not convex;
    where several magnitudes tie at the threshold the projection is not unique and the smaller
    indices are kept.

    Parameters
    ----------
    x : array
        Real or complex numpy array or torch tensor.
    k : int or integer array
        Sparsity level, one for all vectors or one per vector (see :func:`topk_mask`).
    axis : int, default -1
        Axis holding the vectors.

    Returns
    -------
    array of the shape and dtype of ``x``

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.prox import project_l0_ball
    >>> project_l0_ball(np.array([0.5, -2.0, 1.0]), 2)
    array([ 0., -2.,  1.])
    """
    mask = topk_mask(x, k, axis)
    xp = namespace(x)
    return xp.where(mask, x, xp.zeros_like(x))
