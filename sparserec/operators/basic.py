r"""Elementary operators: Identity, Zero, Diagonal, Matrix (dense and sparse), FunctionOperator."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._backend import (
    device_of,
    dtype_name,
    is_array,
    is_torch,
    namespace,
    resolve_dtype,
    result_dtype,
)
from .base import LinearOperator, _as_shape

__all__ = ["Diagonal", "FunctionOperator", "Identity", "Matrix", "Zero"]


def _cast(x: Any, dtype: Any) -> Any:
    """Cast ``x`` to ``dtype`` (same library) if needed."""
    if dtype is None or dtype_name(x.dtype) == dtype_name(dtype):
        return x
    if is_torch(x):
        return x.to(resolve_dtype(dtype, "torch"))
    return x.astype(resolve_dtype(dtype, "numpy"))


class Identity(LinearOperator):
    r"""Identity :math:`I` on arrays of shape ``shape``.

    Parameters
    ----------
    shape : int or tuple of int
    dtype : dtype, optional

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import Identity
    >>> Identity(3).apply(np.ones(3))
    array([1., 1., 1.])
    """

    is_orthogonal = True
    is_tight_frame = True
    frame_constant = 1.0

    def __init__(self, shape: int | Sequence[int], dtype: Any = None) -> None:
        super().__init__(shape, shape, dtype)

    def _apply(self, x: Any) -> Any:
        return _cast(x, result_dtype(self.dtype, x.dtype))

    def _adjoint(self, y: Any) -> Any:
        return _cast(y, result_dtype(self.dtype, y.dtype))

    def _normal(self, x: Any) -> Any:
        return _cast(x, result_dtype(self.dtype, x.dtype))

    def opnorm_bound(self) -> float:
        return 1.0

    def _diag(self) -> Any:
        return np.ones(self.in_shape, dtype=dtype_name(self.dtype) if self.dtype else "float64")


class Zero(LinearOperator):
    """Zero operator from ``in_shape`` to ``out_shape``."""

    def __init__(self, in_shape: int | Sequence[int], out_shape: int | Sequence[int] | None = None,
                 dtype: Any = None) -> None:
        super().__init__(in_shape, in_shape if out_shape is None else out_shape, dtype)

    def _zeros(self, x: Any, nd: int, shape: tuple[int, ...]) -> Any:
        xp = namespace(x)
        b = tuple(x.shape[: x.ndim - nd])
        dt = resolve_dtype(result_dtype(self.dtype, x.dtype), "torch" if is_torch(x) else "numpy")
        return xp.zeros(b + shape, dtype=dt, device=device_of(x) if is_torch(x) else None)

    def _apply(self, x: Any) -> Any:
        return self._zeros(x, len(self.in_shape), self.out_shape)

    def _adjoint(self, y: Any) -> Any:
        return self._zeros(y, len(self.out_shape), self.in_shape)

    def opnorm_bound(self) -> float:
        return 0.0

    def _diag(self) -> Any:
        return np.zeros(self.in_shape, dtype=dtype_name(self.dtype) if self.dtype else "float64")


class Diagonal(LinearOperator):
    r"""Elementwise multiplication :math:`x \mapsto d \odot x`.

    Parameters
    ----------
    d : array of shape ``in_shape``
        Diagonal entries (real or complex).  ``d`` may also carry leading batch dimensions that
        broadcast against the batch of the input (per-problem diagonals).
    in_shape : tuple of int, optional
        Shape of one input; defaults to ``d.shape``.

    Notes
    -----
    :math:`A^H y = \bar d \odot y` and :math:`\|A\|_2 = \max_i |d_i|`.
    """

    _array_attrs = ("d",)

    def __init__(self, d: Any, in_shape: Sequence[int] | None = None) -> None:
        if not is_array(d):
            raise TypeError("Diagonal expects a numpy array or torch tensor of diagonal entries")
        shape = tuple(d.shape) if in_shape is None else _as_shape(in_shape)
        if tuple(d.shape[d.ndim - len(shape):]) != shape:
            raise ValueError(f"diagonal of shape {tuple(d.shape)} does not end with in_shape {shape}")
        super().__init__(shape, shape, d.dtype)
        self.d = d

    def _apply(self, x: Any) -> Any:
        return self.d * x

    def _adjoint(self, y: Any) -> Any:
        return namespace(self.d).conj(self.d) * y

    def _normal(self, x: Any) -> Any:
        return namespace(self.d).abs(self.d) ** 2 * x

    def opnorm_bound(self) -> float:
        xp = namespace(self.d)
        return float(xp.max(xp.abs(self.d))) if math.prod(self.d.shape) else 0.0

    def _diag(self) -> Any:
        return self.d


class Matrix(LinearOperator):
    r"""A matrix :math:`A \in \mathbb{F}^{m \times n}` acting on the last axis.

    Parameters
    ----------
    A : array of shape (m, n), scipy.sparse matrix/array, or torch sparse CSR tensor
        The coefficients.  Dense numpy/torch arrays, scipy sparse matrices (numpy backend) and
        torch sparse CSR tensors (torch backend, any device) are supported.

    Notes
    -----
    For a batch ``x`` of shape ``(*batch, n)`` the product is computed as one matrix-matrix
    product ``x @ A.T`` (never a loop over the batch).  The adjoint applies
    :math:`A^H = \bar A^T`.  ``opnorm_bound`` is the Frobenius norm only for small matrices;
    otherwise the cached power-iteration estimate is used (see :meth:`opnorm`).

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import Matrix
    >>> A = Matrix(np.array([[1.0, 2.0], [3.0, 4.0]]))
    >>> A @ np.array([1.0, 1.0])
    array([3., 7.])
    """

    _array_attrs = ("A",)

    def __init__(self, A: Any) -> None:
        self._kind = "dense"
        if hasattr(A, "tocsr") and not is_array(A):  # scipy.sparse
            A = A.tocsr()
            self._kind = "scipy"
        elif is_torch(A) and A.layout != __import__("torch").strided:
            A = A.to_sparse_csr() if A.layout != __import__("torch").sparse_csr else A
            self._kind = "torch_sparse"
        elif not is_array(A):
            raise TypeError(
                f"Matrix expects a numpy/torch array or a scipy.sparse matrix, got {type(A).__name__}")
        if len(A.shape) != 2:
            raise ValueError(f"Matrix expects a 2-D array, got shape {tuple(A.shape)}")
        dt = A.dtype
        name = dtype_name(dt)
        if not (name.startswith("float") or name.startswith("complex")):
            raise TypeError(f"Matrix coefficients must be floating or complex, got {name}")
        m, n = (int(s) for s in A.shape)
        super().__init__((n,), (m,), dt)
        self.A = A
        self._cache: dict[str, Any] = {}

    def _own_arrays(self) -> list[Any]:
        if self._kind == "scipy":
            return [np.empty(0, dtype=self.A.dtype)]
        return [self.A]

    def _after_to(self) -> None:
        self._cache = {}

    def to(self, device: Any = None, dtype: Any = None, backend: str | None = None) -> Matrix:
        if self._kind == "scipy" and (backend == "torch" or (device is not None and str(device) != "cpu")):
            import torch

            csr = self.A
            dt = resolve_dtype(dtype if dtype is not None else csr.dtype, "torch")
            t = torch.sparse_csr_tensor(
                torch.as_tensor(csr.indptr, dtype=torch.int64),
                torch.as_tensor(csr.indices, dtype=torch.int64),
                torch.as_tensor(csr.data, dtype=dt), size=csr.shape)
            return Matrix(t.to(device) if device is not None else t)
        if self._kind == "torch_sparse" and backend == "numpy":
            import scipy.sparse as sp

            t = self.A.cpu()
            csr = sp.csr_array((t.values().numpy(), t.col_indices().numpy(),
                                t.crow_indices().numpy()), shape=tuple(t.shape))
            if dtype is not None:
                csr = csr.astype(resolve_dtype(dtype, "numpy"))
            return Matrix(csr)
        if self._kind == "scipy":
            return Matrix(self.A.astype(resolve_dtype(dtype, "numpy")) if dtype is not None else self.A)
        if self._kind == "torch_sparse":
            A = self.A
            if dtype is not None:
                A = A.to(resolve_dtype(dtype, "torch"))
            return Matrix(A.to(device) if device is not None else A)
        return super().to(device=device, dtype=dtype, backend=backend)  # type: ignore[return-value]

    def _coef(self, dt: Any, conj: bool = False) -> Any:
        key = f"{dtype_name(dt)}:{conj}"
        if key not in self._cache:
            A = _cast(self.A, dt) if self._kind != "scipy" else self.A.astype(dtype_name(dt))
            if conj:
                A = A.conj() if self._kind != "torch_sparse" else A.conj().resolve_conj()
            self._cache[key] = A
        return self._cache[key]

    def _matmul(self, x: Any, conj: bool, transpose_A: bool) -> Any:
        # computes rows of x @ op(A) where op(A) = A.T (apply) or conj(A) (adjoint)
        dt = result_dtype(self.dtype, x.dtype)
        x = _cast(x, dt)
        A = self._coef(dt, conj)
        b = tuple(x.shape[:-1])
        X = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
        if self._kind == "scipy":
            out = (A @ X.T).T if transpose_A else (A.T @ X.T).T
            out = np.asarray(out)
        elif self._kind == "torch_sparse":
            if transpose_A:
                out = (A @ X.T).T
            else:
                import torch

                # adjoint: conj(A)^T X^T, via the transpose of a CSR as CSC -> CSR
                key = f"T:{dtype_name(dt)}:{conj}"
                if key not in self._cache:
                    self._cache[key] = A.t().to_sparse_csr() if A.layout == torch.sparse_csr else A.t()
                out = (self._cache[key] @ X.T).T
        else:
            out = X @ (A.T if transpose_A else A)
        nrow = out.shape[-1]
        return out.reshape(b + (nrow,))

    def _apply(self, x: Any) -> Any:
        return self._matmul(x, conj=False, transpose_A=True)

    def _adjoint(self, y: Any) -> Any:
        return self._matmul(y, conj=True, transpose_A=False)

    def _diag(self) -> Any:
        if self._kind == "dense":
            xp = namespace(self.A)
            return xp.linalg.diagonal(self.A) if hasattr(xp, "linalg") else self.A.diagonal()
        if self._kind == "scipy":
            return self.A.diagonal()
        return self.A.to_dense().diagonal()

    def opnorm_bound(self) -> float | None:
        # exact 2-norm for small dense matrices (cheap), else None -> power iteration
        if self._kind == "dense" and self.shape[0] * self.shape[1] <= 256 * 256:
            if "opnorm" not in self._cache:  # one SVD, cached (cleared by to())
                if is_torch(self.A):
                    import torch

                    nrm = float(torch.linalg.matrix_norm(self.A, ord=2))
                else:
                    nrm = float(np.linalg.norm(self.A, 2))
                self._cache["opnorm"] = nrm * (1 + 1e-6)
            return self._cache["opnorm"]
        return None

    def todense(self, like: Any = None) -> Any:
        if self._kind == "dense":
            return self.A
        if self._kind == "scipy":
            return self.A.toarray()
        return self.A.to_dense()


class FunctionOperator(LinearOperator):
    r"""An operator defined by user callables.

    Parameters
    ----------
    apply, adjoint : callable
        ``apply(x)`` maps ``(*batch, *in_shape)`` to ``(*batch, *out_shape)`` and ``adjoint(y)``
        the reverse.  Both must accept arbitrary leading batch dimensions.
    in_shape, out_shape : int or tuple of int
    dtype : dtype, optional
    normal : callable, optional
        :math:`A^H A x`, if cheaper than ``adjoint(apply(x))``.
    opnorm_bound : float, optional
        A known upper bound of :math:`\|A\|_2`.

    Notes
    -----
    Check a user operator with :func:`sparserec.operators.testing.check_operator` before use.
    """

    def __init__(self, apply: Callable[[Any], Any], adjoint: Callable[[Any], Any],
                 in_shape: int | Sequence[int], out_shape: int | Sequence[int], dtype: Any = None,
                 normal: Callable[[Any], Any] | None = None, opnorm_bound: float | None = None) -> None:
        if not callable(apply) or not callable(adjoint):
            raise TypeError("FunctionOperator needs callables for apply and adjoint")
        super().__init__(in_shape, out_shape, dtype)
        self._f = apply
        self._fh = adjoint
        self._fn = normal
        self._bound = None if opnorm_bound is None else float(opnorm_bound)

    def _apply(self, x: Any) -> Any:
        return self._f(x)

    def _adjoint(self, y: Any) -> Any:
        return self._fh(y)

    def _normal(self, x: Any) -> Any:
        return self._fn(x) if self._fn is not None else self._fh(self._f(x))

    def opnorm_bound(self) -> float | None:
        return self._bound


