r"""Interoperability with SciPy and PyLops linear operators.

scipy and pylops are imported lazily inside the functions: ``import sparserec`` imports
neither.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from .._backend import dtype_name, is_array, result_dtype
from .base import LinearOperator

__all__ = ["PylopsOperator", "ScipyOperator", "aslinearoperator", "asoperator", "from_pylops",
           "from_scipy"]


def _numpy_dtype(dt: Any) -> np.dtype:
    return np.dtype(dtype_name(dt))


def aslinearoperator(op: LinearOperator, dtype: Any = None) -> Any:
    r"""View a sparserec operator as a :class:`scipy.sparse.linalg.LinearOperator`.

    Parameters
    ----------
    op : LinearOperator
        A numpy-backed (or coefficient-free) sparserec operator.
    dtype : dtype, optional
        dtype announced to scipy; default the operator's dtype, or float64 when it has none.

    Returns
    -------
    scipy.sparse.linalg.LinearOperator
        Of shape ``op.shape = (prod(out_shape), prod(in_shape))`` acting on flattened (C-order)
        vectors.  ``matmat`` on an ``(n, k)`` block is **one** batched ``op.apply`` on a
        ``(k, *in_shape)`` batch; ``rmatvec``/``rmatmat`` use ``op.adjoint``.

    Raises
    ------
    TypeError
        If ``op`` holds torch tensors (scipy works on numpy arrays; use ``op.to(backend="numpy")``).

    Notes
    -----
    scipy's ``rmatvec`` is the Hermitian adjoint, which is sparserec's :attr:`LinearOperator.H`.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.sparse.linalg import lsqr
    >>> from sparserec.operators import Matrix, aslinearoperator
    >>> A = Matrix(np.array([[2.0, 0.0], [0.0, 4.0], [0.0, 0.0]]))
    >>> L = aslinearoperator(A)
    >>> np.round(lsqr(L, np.array([2.0, 4.0, 0.0]), atol=1e-12, btol=1e-12)[0], 8)
    array([1., 1.])
    """
    import scipy.sparse.linalg as spla

    if not isinstance(op, LinearOperator):
        raise TypeError(f"aslinearoperator expects a sparserec LinearOperator, got {type(op).__name__}")
    if op.backend == "torch":
        raise TypeError(
            "aslinearoperator needs a numpy-backed operator; scipy cannot use torch tensors. "
            "Convert it with op.to(backend='numpy')")
    dt = dtype if dtype is not None else (op.dtype if op.dtype is not None else np.float64)
    dt = _numpy_dtype(dt)

    class _SparserecLinearOperator(spla.LinearOperator):
        def __init__(self) -> None:
            super().__init__(dtype=dt, shape=op.shape)
            self.op = op

        def _matmat(self, X: Any) -> Any:
            X = np.asarray(X)
            k = X.shape[1]
            Y = op.apply(np.ascontiguousarray(X.T).reshape((k,) + op.in_shape))
            return np.asarray(Y).reshape(k, op.shape[0]).T

        def _rmatmat(self, Y: Any) -> Any:
            Y = np.asarray(Y)
            k = Y.shape[1]
            X = op.adjoint(np.ascontiguousarray(Y.T).reshape((k,) + op.out_shape))
            return np.asarray(X).reshape(k, op.shape[1]).T

        def _matvec(self, x: Any) -> Any:
            x = np.asarray(x).reshape(op.in_shape)
            return np.asarray(op.apply(x)).reshape(-1)

        def _rmatvec(self, y: Any) -> Any:
            y = np.asarray(y).reshape(op.out_shape)
            return np.asarray(op.adjoint(y)).reshape(-1)

        def _adjoint(self) -> Any:
            return aslinearoperator(op.H, dtype=dt)

    return _SparserecLinearOperator()


class _NumpyOnly(LinearOperator):
    """Operator wrapping a numpy-only foreign object: refuses torch inputs clearly."""

    @property
    def backend(self) -> str:  # type: ignore[override]
        return "numpy"

    @property
    def device(self) -> Any:  # type: ignore[override]
        return "cpu"

    def to(self, device: Any = None, dtype: Any = None, backend: str | None = None) -> LinearOperator:
        if backend not in (None, "numpy") or (device is not None and str(device) != "cpu"):
            raise TypeError(
                f"{type(self).__name__} wraps a numpy-only operator and cannot move to "
                f"{backend or device}; apply it on numpy arrays")
        return super().to(device=None, dtype=dtype, backend="numpy")

    def _check_input(self, x: Any, shape: tuple[int, ...], what: str) -> Any:
        if is_array(x) and not isinstance(x, np.ndarray | np.generic):
            raise TypeError(
                f"{type(self).__name__} wraps a numpy-only operator; pass numpy arrays "
                "(e.g. t.cpu().numpy()), or use a native sparserec operator for torch/GPU data")
        return super()._check_input(x, shape, what)

    def _batched(self, fn: Any, x: Any, nin: tuple[int, ...], nout: tuple[int, ...]) -> Any:
        b = tuple(x.shape[: x.ndim - len(nin)])
        k = math.prod(b)
        dt = result_dtype(self.dtype, x.dtype)
        X = np.asarray(x, dtype=dtype_name(dt)).reshape(k, math.prod(nin)).T
        Y = np.asarray(fn(X))
        if dtype_name(Y.dtype) != dtype_name(dt) and dtype_name(result_dtype(Y.dtype, dt)) == dtype_name(dt):
            Y = Y.astype(dtype_name(dt))
        return np.ascontiguousarray(Y.T).reshape(b + nout)


class ScipyOperator(_NumpyOnly):
    r"""A :class:`scipy.sparse.linalg.LinearOperator` as a sparserec operator (numpy only).

    Parameters
    ----------
    linop : scipy.sparse.linalg.LinearOperator
    dtype : dtype, optional
        Overrides ``linop.dtype``.
    in_shape, out_shape : tuple of int, optional
        n-D views of the flat domain/range (default ``(n,)`` and ``(m,)``).

    Notes
    -----
    A batch ``(*batch, n)`` is passed to ``linop.matmat`` as one ``(n, k)`` block and the
    adjoint to ``linop.rmatmat``; scipy (or the wrapped object) decides how to evaluate it.
    """

    def __init__(self, linop: Any, dtype: Any = None, in_shape: Any = None, out_shape: Any = None) -> None:
        m, n = (int(s) for s in linop.shape)
        dt = dtype if dtype is not None else getattr(linop, "dtype", None)
        if dt is None:
            dt = np.float64
        ins = (n,) if in_shape is None else tuple(in_shape)
        outs = (m,) if out_shape is None else tuple(out_shape)
        if math.prod(ins) != n or math.prod(outs) != m:
            raise ValueError(f"in_shape {ins} / out_shape {outs} do not match the operator shape {(m, n)}")
        super().__init__(ins, outs, _numpy_dtype(dt))
        self.linop = linop

    def _apply(self, x: Any) -> Any:
        return self._batched(self.linop.matmat, x, self.in_shape, self.out_shape)

    def _adjoint(self, y: Any) -> Any:
        return self._batched(self.linop.rmatmat, y, self.out_shape, self.in_shape)


class PylopsOperator(_NumpyOnly):
    r"""A PyLops operator as a sparserec operator (numpy only).

    Parameters
    ----------
    op : pylops.LinearOperator
        Its ``dims`` / ``dimsd`` become ``in_shape`` / ``out_shape``.

    Notes
    -----
    A batch is flattened to an ``(n, k)`` block and passed to ``op.matmat`` (adjoint:
    ``op.rmatmat``) in a single call.
    """

    def __init__(self, op: Any) -> None:
        ins = tuple(int(s) for s in np.atleast_1d(getattr(op, "dims", (op.shape[1],))))
        outs = tuple(int(s) for s in np.atleast_1d(getattr(op, "dimsd", (op.shape[0],))))
        dt = getattr(op, "dtype", None)
        if dt is None:
            dt = np.float64
        super().__init__(ins, outs, _numpy_dtype(dt))
        self.pylops_op = op

    def _apply(self, x: Any) -> Any:
        return self._batched(self.pylops_op.matmat, x, self.in_shape, self.out_shape)

    def _adjoint(self, y: Any) -> Any:
        return self._batched(self.pylops_op.rmatmat, y, self.out_shape, self.in_shape)


def from_scipy(linop: Any, dtype: Any = None) -> LinearOperator:
    r"""Wrap a scipy linear operator, sparse matrix or dense array as a sparserec operator.

    Parameters
    ----------
    linop : scipy.sparse.linalg.LinearOperator, scipy sparse matrix/array or 2-D numpy array
    dtype : dtype, optional
        Overrides the dtype reported by ``linop`` (LinearOperator case).

    Returns
    -------
    LinearOperator
        :class:`~sparserec.operators.Matrix` for sparse/dense matrices, else
        :class:`ScipyOperator` with ``in_shape = (n,)`` and ``out_shape = (m,)``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.sparse.linalg import aslinearoperator as sp_aslinop
    >>> from sparserec.operators import from_scipy
    >>> A = from_scipy(sp_aslinop(np.eye(3) * 2.0))
    >>> A @ np.ones((2, 3))
    array([[2., 2., 2.],
           [2., 2., 2.]])
    """
    from .basic import Matrix

    if hasattr(linop, "tocsr") and not is_array(linop):
        return Matrix(linop if dtype is None else linop.astype(_numpy_dtype(dtype)))
    if isinstance(linop, np.ndarray):
        return Matrix(linop if dtype is None else linop.astype(_numpy_dtype(dtype)))
    import scipy.sparse.linalg as spla

    if not isinstance(linop, spla.LinearOperator):
        raise TypeError(
            f"from_scipy expects a scipy LinearOperator, sparse matrix or numpy array, got "
            f"{type(linop).__name__}")
    return ScipyOperator(linop, dtype=dtype)


def from_pylops(op: Any) -> LinearOperator:
    r"""Wrap a PyLops operator as a sparserec operator (see :class:`PylopsOperator`).

    Examples
    --------
    >>> import numpy as np
    >>> import pylops
    >>> from sparserec.operators import from_pylops
    >>> P = pylops.Diagonal(np.arange(1.0, 7.0).reshape(2, 3))
    >>> A = from_pylops(P)
    >>> A.in_shape, A.out_shape
    ((2, 3), (2, 3))
    >>> (A @ np.ones((4, 2, 3))).shape
    (4, 2, 3)
    """
    import pylops

    if not isinstance(op, pylops.LinearOperator):
        raise TypeError(f"from_pylops expects a pylops.LinearOperator, got {type(op).__name__}")
    return PylopsOperator(op)


def _is_pylops(obj: Any) -> bool:
    pylops = sys.modules.get("pylops")
    return pylops is not None and isinstance(obj, pylops.LinearOperator)


def asoperator(obj: Any) -> LinearOperator:
    r"""Convert anything operator-like to a sparserec :class:`LinearOperator`.

    Parameters
    ----------
    obj : LinearOperator, numpy/torch 2-D array, scipy sparse matrix, scipy LinearOperator or
        pylops LinearOperator

    Returns
    -------
    LinearOperator
        ``obj`` itself, a :class:`~sparserec.operators.Matrix`, a :class:`ScipyOperator` or a
        :class:`PylopsOperator`.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import asoperator
    >>> asoperator(np.eye(2)).shape
    (2, 2)
    """
    from .basic import Matrix

    if isinstance(obj, LinearOperator):
        return obj
    if is_array(obj):
        if obj.ndim != 2:
            raise ValueError(f"asoperator: arrays must be 2-D matrices, got shape {tuple(obj.shape)}")
        return Matrix(obj)
    if hasattr(obj, "tocsr"):
        return Matrix(obj)
    if _is_pylops(obj):
        return from_pylops(obj)
    spla = sys.modules.get("scipy.sparse.linalg")
    if spla is not None and isinstance(obj, spla.LinearOperator):
        return from_scipy(obj)
    raise TypeError(
        f"cannot convert {type(obj).__name__} to a sparserec operator; expected a LinearOperator, "
        "a 2-D numpy/torch array, a scipy sparse matrix, a scipy LinearOperator or a pylops operator")
