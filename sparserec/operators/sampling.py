r"""Sampling operators: :class:`Restriction` (select entries) and :class:`Mask` (zero entries)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._backend import dtype_name, is_array, is_torch, namespace, result_dtype, to_numpy
from .base import LinearOperator, _as_shape
from .basic import _cast

__all__ = ["Mask", "Restriction"]


def _index_on(idx: np.ndarray, like: Any, cache: dict[str, Any]) -> Any:
    """The host index array ``idx`` in the namespace/device of ``like`` (cached per device)."""
    if not is_torch(like):
        return idx
    key = str(like.device)
    if key not in cache:
        import torch

        cache[key] = torch.as_tensor(idx, device=like.device)
    return cache[key]


class Restriction(LinearOperator):
    r"""Selection of entries :math:`y = x_\Omega` (sub-sampling, inpainting, compressed sensing).

    Parameters
    ----------
    in_shape : int or tuple of int
        Shape of one input.
    indices : array-like of int
        Either flat (C-order) indices, a 1-D integer array of length ``M``, or multi-dimensional
        indices: a tuple of ``len(in_shape)`` integer arrays of length ``M`` (as returned by
        ``np.nonzero``) or an integer array of shape ``(M, len(in_shape))``.  Negative indices
        count from the end.  Repeated indices are allowed.

    Attributes
    ----------
    flat_indices : numpy.ndarray of int64, shape (M,)
        Host copy of the flat indices (operator metadata, not data: it is placed on the device
        of the input when applied, and cached there).

    Notes
    -----
    :math:`A = R_\Omega` has out_shape ``(M,)``.  The adjoint scatters:
    :math:`(A^H y)_i = \sum_{k : \Omega_k = i} y_k`, zero elsewhere.  For distinct indices the
    rows of :math:`A` are orthonormal, so :math:`\|A\|_2 = 1` (``0`` if :math:`M = 0`); with
    repeated indices the norm is :math:`\sqrt{\max_i \#\{k: \Omega_k = i\}}`, which
    ``opnorm_bound`` returns.  The operator holds no floating-point coefficients: it works on
    any backend, device and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import Restriction
    >>> R = Restriction((2, 3), [0, 4])
    >>> x = np.arange(6.0).reshape(2, 3)
    >>> R @ x
    array([0., 4.])
    >>> R.H @ np.array([1.0, 2.0])
    array([[1., 0., 0.],
           [0., 2., 0.]])
    """

    def __init__(self, in_shape: int | Sequence[int], indices: Any) -> None:
        shape = _as_shape(in_shape)
        n = math.prod(shape)
        if isinstance(indices, tuple):
            if len(indices) != len(shape):
                raise ValueError(
                    f"multi-dimensional indices need {len(shape)} index arrays, got {len(indices)}")
            arrs = [np.asarray(to_numpy(i) if is_array(i) else i).reshape(-1) for i in indices]
            self._check_int(arrs)
            arrs = [np.where(a < 0, a + s, a).astype(np.int64) for a, s in zip(arrs, shape)]
            flat = np.ravel_multi_index(tuple(arrs), shape)
        else:
            a = np.asarray(to_numpy(indices) if is_array(indices) else indices)
            if a.size == 0:
                a = a.reshape(-1).astype(np.int64)
            self._check_int([a])
            if a.ndim == 2 and len(shape) > 1 and a.shape[1] == len(shape):
                sh = np.asarray(shape, dtype=np.int64)
                if ((a >= sh) | (a < -sh)).any():
                    raise IndexError(f"index out of bounds for in_shape {shape}")
                a = np.where(a < 0, a + sh, a)
                flat = np.ravel_multi_index(tuple(a[:, j] for j in range(len(shape))), shape)
            elif a.ndim <= 1:
                flat = a.reshape(-1).astype(np.int64)
                if flat.size and (flat.max() >= n or flat.min() < -n):
                    raise IndexError(f"flat index out of bounds for in_shape {shape} (size {n})")
                flat = np.where(flat < 0, flat + n, flat)
            else:
                raise ValueError(
                    f"indices of shape {a.shape}: expected flat indices (M,), a tuple of index "
                    f"arrays or an (M, {len(shape)}) array")
        flat = np.ascontiguousarray(flat, dtype=np.int64)
        super().__init__(shape, (int(flat.size),), None)
        self.flat_indices = flat
        self._dev_cache: dict[str, Any] = {}
        counts = np.bincount(flat, minlength=1) if flat.size else np.zeros(1, np.int64)
        self._max_mult = int(counts.max())
        self.is_orthogonal = bool(flat.size == n and self._max_mult == 1)

    @staticmethod
    def _check_int(arrs: list[np.ndarray]) -> None:
        for a in arrs:
            if a.size and not np.issubdtype(a.dtype, np.integer):
                raise TypeError(f"indices must be integers, got dtype {a.dtype}")

    def _apply(self, x: Any) -> Any:
        xp = namespace(x)
        d = len(self.in_shape)
        b = tuple(x.shape[: x.ndim - d])
        xf = xp.reshape(x, b + (math.prod(self.in_shape),))
        return xp.take(xf, _index_on(self.flat_indices, x, self._dev_cache), axis=len(b))

    def _adjoint(self, y: Any) -> Any:
        xp = namespace(y)
        b = tuple(y.shape[:-1])
        n = math.prod(self.in_shape)
        idx = _index_on(self.flat_indices, y, self._dev_cache)
        if is_torch(y):
            import torch

            out = torch.zeros(b + (n,), dtype=y.dtype, device=y.device)
            out.index_add_(len(b), idx, y)
        else:
            out = np.zeros(b + (n,), dtype=y.dtype)
            if self._max_mult <= 1:
                out[..., idx] = y
            else:
                yt = np.moveaxis(y, -1, 0)
                ot = np.moveaxis(out, -1, 0)
                np.add.at(ot, idx, yt)
        return xp.reshape(out, b + self.in_shape)

    def opnorm_bound(self) -> float:
        return 0.0 if self.flat_indices.size == 0 else math.sqrt(self._max_mult)


class Mask(LinearOperator):
    r"""Elementwise masking :math:`y = m \odot x` with a boolean mask :math:`m`.

    Parameters
    ----------
    mask : boolean array (numpy or torch)
        ``True`` keeps an entry, ``False`` zeroes it.  in_shape = out_shape = ``mask.shape``.
        The mask's backend and device are the operator's.

    Notes
    -----
    :math:`A = \mathrm{diag}(m)` with :math:`m_i \in \{0, 1\}` is an orthogonal projection:
    :math:`A^H = A = A^H A`, :math:`\|A\|_2 = 1` unless the mask is all ``False`` (then 0).
    Output dtype follows the input (the mask carries no precision).

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import Mask
    >>> M = Mask(np.array([True, False, True]))
    >>> M @ np.array([1.0, 2.0, 3.0])
    array([1., 0., 3.])
    """

    _array_attrs = ("mask",)

    def __init__(self, mask: Any) -> None:
        if not is_array(mask):
            raise TypeError(f"Mask expects a boolean numpy array or torch tensor, got {type(mask).__name__}")
        if dtype_name(mask.dtype) != "bool":
            raise TypeError(
                f"Mask expects a boolean mask, got dtype {dtype_name(mask.dtype)}; use mask != 0 "
                "or Diagonal for real weights")
        super().__init__(tuple(mask.shape), tuple(mask.shape), None)
        self.mask = mask

    def _after_to(self) -> None:
        # ``to(dtype=...)`` casts every array attribute; a mask stays boolean
        if dtype_name(self.mask.dtype) != "bool":
            self.mask = self.mask != 0

    def _mul(self, x: Any) -> Any:
        if self.dtype is not None:
            x = _cast(x, result_dtype(self.dtype, x.dtype))
        xp = namespace(x, self.mask)
        return xp.where(self.mask, x, xp.zeros_like(x))

    def _apply(self, x: Any) -> Any:
        return self._mul(x)

    def _adjoint(self, y: Any) -> Any:
        return self._mul(y)

    def _normal(self, x: Any) -> Any:
        return self._mul(x)

    def opnorm_bound(self) -> float:
        xp = namespace(self.mask)
        return 1.0 if bool(xp.any(self.mask)) else 0.0

    def _diag(self) -> Any:
        xp = namespace(self.mask)
        return xp.astype(self.mask, xp.float64)
