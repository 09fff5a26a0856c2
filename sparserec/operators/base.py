r"""The :class:`LinearOperator` base class and the operator algebra.

An operator maps arrays of shape ``(*batch, *in_shape)`` to ``(*batch, *out_shape)``.  The
primitive is a batched apply: subclasses implement :meth:`LinearOperator._apply` and
:meth:`LinearOperator._adjoint` on whole batches, never a loop over right-hand sides.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._backend import (
    backend_name,
    device_of,
    devices_equal,
    dtype_name,
    is_array,
    is_complex_dtype,
    is_torch,
    namespace,
    result_dtype,
    to_backend,
)

__all__ = [
    "AdjointOperator",
    "LinearOperator",
    "PowerOperator",
    "ProductOperator",
    "ReshapedOperator",
    "ScaledOperator",
    "SumOperator",
    "TransposeOperator",
]

Shape = tuple[int, ...]


def _as_shape(shape: int | Sequence[int]) -> Shape:
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    out = tuple(int(s) for s in shape)
    if any(s < 0 for s in out):
        raise ValueError(f"shape entries must be non-negative, got {out}")
    return out


class LinearOperator:
    r"""Abstract linear operator :math:`A : \mathbb{F}^{\text{in\_shape}} \to
    \mathbb{F}^{\text{out\_shape}}` applied to batches.

    Subclasses call ``super().__init__(in_shape, out_shape, dtype)`` and implement
    ``_apply(x)`` (``x`` of shape ``(*batch, *in_shape)``) and ``_adjoint(y)`` (``y`` of shape
    ``(*batch, *out_shape)``).  Optional hooks: ``_normal`` (:math:`A^H A x`),
    ``opnorm_bound`` (closed-form bound on :math:`\|A\|_2`), ``_diag``.

    Parameters
    ----------
    in_shape, out_shape : int or tuple of int
        Shapes of one input and one output (without batch dimensions).
    dtype : numpy or torch dtype, optional
        dtype of the operator's coefficients.  ``None`` means the operator has no coefficients
        of its own (e.g. :class:`~sparserec.operators.Identity`) and follows its input.

    Attributes
    ----------
    in_shape, out_shape : tuple of int
    shape : tuple of int
        ``(prod(out_shape), prod(in_shape))``, the shape of the equivalent matrix.
    dtype : dtype or None
    is_orthogonal : bool
        :math:`A^H A = A A^H = I`.
    is_tight_frame : bool
        :math:`A^H A = c I` for a known ``c`` (see ``frame_constant``) .
    is_real_linear_only : bool
        True for operators that are only :math:`\mathbb{R}`-linear (e.g. involve a complex
        conjugate); their adjoint uses the real inner product :math:`\mathrm{Re}\langle\cdot,
        \cdot\rangle`.

    Notes
    -----
    The adjoint is defined by :math:`\langle A x, y\rangle = \langle x, A^H y\rangle` with the
    Hermitian inner product :math:`\langle u, v\rangle = \sum \bar u_i v_i`.  The batch
    dimensions are arbitrary leading dimensions; no operator mixes them.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import Matrix
    >>> A = Matrix(np.arange(6.0).reshape(2, 3))
    >>> A.shape
    (2, 3)
    >>> (A.H @ A).apply(np.ones((4, 3))).shape
    (4, 3)
    """

    #: names of array attributes converted by :meth:`to`
    _array_attrs: tuple[str, ...] = ()
    #: names of operator attributes (or lists/tuples of operators) converted by :meth:`to`
    _operator_attrs: tuple[str, ...] = ()

    is_orthogonal: bool = False
    is_tight_frame: bool = False
    frame_constant: float | None = None
    is_real_linear_only: bool = False

    def __init__(self, in_shape: int | Sequence[int], out_shape: int | Sequence[int],
                 dtype: Any = None) -> None:
        self.in_shape: Shape = _as_shape(in_shape)
        self.out_shape: Shape = _as_shape(out_shape)
        if dtype is not None:
            name = dtype_name(dtype)
            if not (name.startswith("float") or name.startswith("complex")):
                raise TypeError(
                    f"operator dtype must be floating or complex, got {name}; "
                    "cast the coefficients with .astype(np.float64) or similar"
                )
        self.dtype = dtype
        self._adjoint_op: LinearOperator | None = None
        self._opnorm_cache: float | None = None

    # ------------------------------------------------------------------ structure
    @property
    def shape(self) -> tuple[int, int]:
        """Shape of the equivalent matrix, ``(prod(out_shape), prod(in_shape))``."""
        return (math.prod(self.out_shape), math.prod(self.in_shape))

    @property
    def is_square(self) -> bool:
        """``in_shape == out_shape``."""
        return self.in_shape == self.out_shape

    def _own_arrays(self) -> list[Any]:
        out = []
        for name in self._array_attrs:
            v = getattr(self, name, None)
            if isinstance(v, (list, tuple)):
                out.extend(a for a in v if is_array(a))
            elif is_array(v):
                out.append(v)
            elif v is not None and hasattr(v, "tocsr"):  # scipy sparse
                out.append(np.empty(0))
        return out

    def _children(self) -> list[LinearOperator]:
        out: list[LinearOperator] = []
        for name in self._operator_attrs:
            v = getattr(self, name, None)
            if isinstance(v, LinearOperator):
                out.append(v)
            elif isinstance(v, (list, tuple)):
                for w in v:
                    if isinstance(w, LinearOperator):
                        out.append(w)
                    elif isinstance(w, (list, tuple)):
                        out.extend(u for u in w if isinstance(u, LinearOperator))
        return out

    @property
    def backend(self) -> str | None:
        """``"numpy"``, ``"torch"`` or ``None`` (operator holds no arrays: works on any)."""
        arrs = self._own_arrays()
        if arrs:
            return backend_name(arrs[0])
        for c in self._children():
            b = c.backend
            if b is not None:
                return b
        return None

    @property
    def device(self) -> Any:
        """Device of the operator's coefficients (``None`` when it holds none)."""
        arrs = self._own_arrays()
        if arrs:
            return device_of(arrs[0])
        for c in self._children():
            d = c.device
            if d is not None:
                return d
        return None

    def _check_children_compatible(self, ops: Sequence[LinearOperator]) -> None:
        backs = {(o.backend, str(o.device)) for o in ops if o.backend is not None}
        if len({b for b, _ in backs}) > 1:
            raise TypeError(
                "cannot combine operators holding arrays of different libraries "
                f"({sorted(b for b, _ in backs)}); convert them with op.to(backend=...)"
            )
        devs = [d for _, d in backs]
        if len(devs) > 1 and not all(devices_equal(devs[0], d) for d in devs[1:]):
            raise ValueError(f"cannot combine operators on different devices {devs}; use op.to(device=...)")

    # ------------------------------------------------------------------ validation
    def _check_input(self, x: Any, shape: Shape, what: str) -> Any:
        if not is_array(x):
            raise TypeError(
                f"{type(self).__name__}.{what} expects a numpy.ndarray or torch.Tensor, got "
                f"{type(x).__name__}; wrap lists with numpy.asarray(..., dtype=float)"
            )
        name = dtype_name(x.dtype)
        if not (name.startswith("float") or name.startswith("complex")):
            raise TypeError(
                f"{type(self).__name__}.{what} expects a floating or complex array, got dtype "
                f"{name}; cast it first, e.g. x.astype(np.float64)"
            )
        nd = len(shape)
        if tuple(x.shape[x.ndim - nd:]) != shape or x.ndim < nd:
            raise ValueError(
                f"{type(self).__name__}.{what}: expected an array of shape (*batch, "
                f"{', '.join(map(str, shape))}), got {tuple(x.shape)}"
            )
        b = self.backend
        if b is not None:
            xb = backend_name(x)
            if xb != b:
                raise TypeError(
                    f"{type(self).__name__} holds {b} arrays but the input is a {xb} array; "
                    f"convert the input or move the operator with op.to(backend='{xb}')"
                )
            if not devices_equal(device_of(x), self.device):
                raise ValueError(
                    f"{type(self).__name__} lives on {self.device} but the input is on "
                    f"{device_of(x)}; move one of them explicitly (op.to(device=...))"
                )
        return x

    # ------------------------------------------------------------------ public apply
    def apply(self, x: Any) -> Any:
        """Apply the operator: ``(*batch, *in_shape) -> (*batch, *out_shape)``."""
        return self._apply(self._check_input(x, self.in_shape, "apply"))

    def adjoint(self, y: Any) -> Any:
        """Apply the adjoint: ``(*batch, *out_shape) -> (*batch, *in_shape)``."""
        return self._adjoint(self._check_input(y, self.out_shape, "adjoint"))

    def normal(self, x: Any) -> Any:
        r"""Apply :math:`A^H A` to ``x`` (uses a structured ``_normal`` when there is one)."""
        return self._normal(self._check_input(x, self.in_shape, "normal"))

    def __call__(self, x: Any) -> Any:
        return self.apply(x)

    def _apply(self, x: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not implement _apply")

    def _adjoint(self, y: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not implement _adjoint")

    def _normal(self, x: Any) -> Any:
        return self._adjoint(self._apply(x))

    # ------------------------------------------------------------------ norms
    def opnorm_bound(self) -> float | None:
        r"""Closed-form upper bound on :math:`\|A\|_2`, or ``None`` if none is known."""
        return None

    def opnorm_estimate(self, n_iter: int = 100, tol: float = 1e-6, n_vectors: int = 4,
                        seed: int = 0, like: Any = None) -> float:
        r"""Estimate :math:`\|A\|_2` by batched power iteration on :math:`A^H A` (cached).

        ``n_vectors`` random starts are iterated together as one batch; the largest Rayleigh
        quotient is returned.  The result is cached on the operator.

        Parameters
        ----------
        n_iter : int
            Maximum number of iterations.
        tol : float
            Stop when the relative change of the estimate falls below ``tol``.
        n_vectors : int
            Number of random start vectors iterated at once.
        seed : int
            Seed of the start vectors.
        like : array, optional
            Array giving the namespace/device/dtype for data-free operators.
        """
        if self._opnorm_cache is not None:
            return self._opnorm_cache
        x = self._random_input((n_vectors,), seed, like)
        xp = namespace(x)
        red = tuple(range(1, x.ndim))
        est_prev = 0.0
        est = 0.0
        for _ in range(n_iter):
            nrm = xp.sqrt(xp.sum(xp.abs(x) ** 2, axis=red))
            nrm = xp.where(nrm > 0, nrm, xp.ones_like(nrm))
            x = x / xp.reshape(nrm, (-1,) + (1,) * len(self.in_shape))
            z = self._normal(x)
            rq = xp.real(xp.sum(xp.conj(x) * z, axis=red))
            est = float(xp.max(rq))
            x = z
            if est_prev > 0 and abs(est - est_prev) <= tol * est:
                break
            est_prev = est
        val = math.sqrt(max(est, 0.0))
        self._opnorm_cache = val
        return val

    def opnorm(self, **kwargs: Any) -> float:
        r""":math:`\|A\|_2` for step sizes: the closed-form bound if any, else ``1.01 *`` the
        power-iteration estimate."""
        b = self.opnorm_bound()
        if b is not None:
            return float(b)
        return 1.01 * self.opnorm_estimate(**kwargs)

    def _random_input(self, batch: Shape, seed: int, like: Any = None) -> Any:
        from .._backend import default_rng

        dt = result_dtype(self.dtype, like.dtype if like is not None else None)
        if dt is None:
            dt = np.float64
        ref = like
        if ref is None and self.backend == "torch":
            import torch

            ref = torch.empty(0, device=self.device)
        x = default_rng(seed).normal(batch + self.in_shape, dtype=dtype_name(dt), like=ref)
        if is_torch(x) and self.device is not None:
            x = x.to(self.device)
        return x

    # ------------------------------------------------------------------ dense / diag
    def diag(self) -> Any:
        """Main diagonal of a square operator, shape ``in_shape`` (only where cheap)."""
        if not self.is_square:
            raise ValueError(f"diag() needs a square operator, shape is {self.shape}")
        return self._diag()

    def _diag(self) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__} has no cheap diagonal; use todense() on small operators"
        )

    def todense(self, like: Any = None) -> Any:
        """The equivalent ``(prod(out_shape), prod(in_shape))`` matrix (small operators only).

        ``like`` gives namespace/device/dtype for operators without coefficients (default: a
        numpy float64 array).
        """
        n = self.shape[1]
        dt = result_dtype(self.dtype, like.dtype if like is not None else None)
        if dt is None:
            dt = np.float64
        backend = self.backend or (backend_name(like) if like is not None else "numpy")
        device = self.device if self.device is not None else (
            device_of(like) if like is not None else None)
        eye = to_backend(np.eye(n, dtype=dtype_name(dt)), backend, device=device)
        xp = namespace(eye)
        cols = self._apply(xp.reshape(eye, (n,) + self.in_shape))
        return xp.reshape(cols, (n, self.shape[0])).T

    # ------------------------------------------------------------------ conversion
    def to(self, device: Any = None, dtype: Any = None, backend: str | None = None) -> LinearOperator:
        """Copy of the operator with its coefficients on ``device`` / in ``dtype`` / ``backend``.

        ``backend`` defaults to the current one, or ``"torch"`` when a non-CPU device is given.
        The original operator is unchanged.  This is the only way operators change device.
        """
        if backend is None:
            backend = self.backend or "numpy"
            if device is not None and str(getattr(device, "type", device)).split(":")[0] != "cpu":
                backend = "torch"
        new = copy.copy(self)
        new._adjoint_op = None
        new._opnorm_cache = self._opnorm_cache
        def conv(a: Any) -> Any:
            # only floating/complex coefficients take the new dtype; index/bool arrays keep theirs
            name = dtype_name(a.dtype)
            numeric = name.startswith("float") or name.startswith("complex")
            return to_backend(a, backend, device, dtype if numeric else None)

        for name in self._array_attrs:
            v = getattr(self, name, None)
            if isinstance(v, (list, tuple)):
                setattr(new, name, type(v)(conv(a) if is_array(a) else a for a in v))
            elif is_array(v):
                setattr(new, name, conv(v))
        for name in self._operator_attrs:
            v = getattr(self, name, None)
            if isinstance(v, LinearOperator):
                setattr(new, name, v.to(device=device, dtype=dtype, backend=backend))
            elif isinstance(v, (list, tuple)):
                setattr(new, name, type(v)(
                    w.to(device=device, dtype=dtype, backend=backend) if isinstance(w, LinearOperator)
                    else (type(w)(u.to(device=device, dtype=dtype, backend=backend)
                                  if isinstance(u, LinearOperator) else u for u in w)
                          if isinstance(w, (list, tuple)) else w)
                    for w in v))
        if self.dtype is not None or dtype is not None:
            src = dtype if dtype is not None else self.dtype
            from .._backend import resolve_dtype

            new.dtype = resolve_dtype(src, backend)
        new._after_to()
        return new

    def _after_to(self) -> None:
        """Hook for subclasses that cache derived arrays (rebuilt after :meth:`to`)."""

    # ------------------------------------------------------------------ algebra
    @property
    def H(self) -> LinearOperator:
        """Lazy adjoint operator; ``A.H.H is A``."""
        if self._adjoint_op is None:
            self._adjoint_op = AdjointOperator(self)
        return self._adjoint_op

    @property
    def T(self) -> LinearOperator:
        """Transpose (no conjugation): :math:`A^T x = \\overline{A^H \\bar x}`."""
        return TransposeOperator(self)

    def reshape(self, in_shape: int | Sequence[int] | None = None,
                out_shape: int | Sequence[int] | None = None) -> LinearOperator:
        """View of the operator with other in/out shapes of the same sizes."""
        return ReshapedOperator(self, in_shape, out_shape)

    def __matmul__(self, other: Any) -> Any:
        if isinstance(other, LinearOperator):
            return ProductOperator(self, other)
        if is_array(other):
            return self.apply(other)
        return NotImplemented

    def __rmatmul__(self, other: Any) -> Any:
        return NotImplemented

    def __add__(self, other: Any) -> LinearOperator:
        if isinstance(other, LinearOperator):
            return SumOperator(self, other)
        return NotImplemented

    def __sub__(self, other: Any) -> LinearOperator:
        if isinstance(other, LinearOperator):
            return SumOperator(self, ScaledOperator(other, -1.0))
        return NotImplemented

    def __neg__(self) -> LinearOperator:
        return ScaledOperator(self, -1.0)

    def __mul__(self, c: Any) -> LinearOperator:
        if isinstance(c, (int, float, complex, np.number)):
            return ScaledOperator(self, c)
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, c: Any) -> LinearOperator:
        if isinstance(c, (int, float, complex, np.number)):
            return ScaledOperator(self, 1.0 / c)
        return NotImplemented

    def __pow__(self, k: int) -> LinearOperator:
        return PowerOperator(self, k)

    def __repr__(self) -> str:
        if not hasattr(self, "in_shape"):  # __init__ failed before the base initialiser ran
            return f"<{type(self).__name__} (uninitialised)>"
        dt = dtype_name(self.dtype) if getattr(self, "dtype", None) is not None else "any"
        try:
            back = self.backend or "any"
        except Exception:  # pragma: no cover - partially built subclass
            back = "?"
        return (f"<{type(self).__name__} {self.shape[0]}x{self.shape[1]} "
                f"in={self.in_shape} out={self.out_shape} dtype={dt} backend={back}>")


# ---------------------------------------------------------------------- composites
class AdjointOperator(LinearOperator):
    """Lazy adjoint :math:`A^H` of an operator (use ``A.H``)."""

    _operator_attrs = ("op",)

    def __init__(self, op: LinearOperator) -> None:
        super().__init__(op.out_shape, op.in_shape, op.dtype)
        self.op = op
        self._adjoint_op = op
        self.is_orthogonal = op.is_orthogonal
        self.is_real_linear_only = op.is_real_linear_only

    def _apply(self, x: Any) -> Any:
        return self.op._adjoint(x)

    def _adjoint(self, y: Any) -> Any:
        return self.op._apply(y)

    def opnorm_bound(self) -> float | None:
        return self.op.opnorm_bound()

    def _diag(self) -> Any:
        d = self.op._diag()
        return namespace(d).conj(d)

    def _after_to(self) -> None:
        self._adjoint_op = self.op
        self.op._adjoint_op = self


class TransposeOperator(LinearOperator):
    r"""Transpose :math:`A^T = \overline{A^H}` without conjugation (``A.T``)."""

    _operator_attrs = ("op",)

    def __init__(self, op: LinearOperator) -> None:
        super().__init__(op.out_shape, op.in_shape, op.dtype)
        self.op = op
        self.is_real_linear_only = op.is_real_linear_only

    def _apply(self, x: Any) -> Any:
        if self.op.dtype is not None and not is_complex_dtype(self.op.dtype) \
                and not self.op.is_real_linear_only:
            return self.op._adjoint(x)
        xp = namespace(x)
        return xp.conj(self.op._adjoint(xp.conj(x)))

    def _adjoint(self, y: Any) -> Any:
        if self.op.dtype is not None and not is_complex_dtype(self.op.dtype) \
                and not self.op.is_real_linear_only:
            return self.op._apply(y)
        xp = namespace(y)
        return xp.conj(self.op._apply(xp.conj(y)))

    def opnorm_bound(self) -> float | None:
        return self.op.opnorm_bound()


class ProductOperator(LinearOperator):
    """Composition :math:`A B` (``A @ B``); applies ``B`` then ``A``."""

    _operator_attrs = ("ops",)

    def __init__(self, *ops: LinearOperator) -> None:
        flat: list[LinearOperator] = []
        for o in ops:
            flat.extend(o.ops if isinstance(o, ProductOperator) else [o])
        for a, b in zip(flat[:-1], flat[1:]):
            if a.in_shape != b.out_shape:
                raise ValueError(
                    f"cannot compose {a!r} @ {b!r}: in_shape {a.in_shape} of the left operator "
                    f"differs from out_shape {b.out_shape} of the right one"
                )
        self._check_children_compatible(flat)
        super().__init__(flat[-1].in_shape, flat[0].out_shape, result_dtype(*(o.dtype for o in flat)))
        self.ops = tuple(flat)
        self.is_orthogonal = all(o.is_orthogonal for o in flat)
        self.is_real_linear_only = any(o.is_real_linear_only for o in flat)

    def _apply(self, x: Any) -> Any:
        for o in reversed(self.ops):
            x = o._apply(x)
        return x

    def _adjoint(self, y: Any) -> Any:
        for o in self.ops:
            y = o._adjoint(y)
        return y

    def opnorm_bound(self) -> float | None:
        bs = [o.opnorm_bound() for o in self.ops]
        if any(b is None for b in bs):
            return None
        return float(math.prod(bs))


class SumOperator(LinearOperator):
    """Sum :math:`A + B` (``A + B``)."""

    _operator_attrs = ("ops",)

    def __init__(self, *ops: LinearOperator) -> None:
        flat: list[LinearOperator] = []
        for o in ops:
            flat.extend(o.ops if isinstance(o, SumOperator) else [o])
        for o in flat[1:]:
            if (o.in_shape, o.out_shape) != (flat[0].in_shape, flat[0].out_shape):
                raise ValueError(
                    f"cannot add operators with shapes in={flat[0].in_shape}/out={flat[0].out_shape}"
                    f" and in={o.in_shape}/out={o.out_shape}"
                )
        self._check_children_compatible(flat)
        super().__init__(flat[0].in_shape, flat[0].out_shape, result_dtype(*(o.dtype for o in flat)))
        self.ops = tuple(flat)
        self.is_real_linear_only = any(o.is_real_linear_only for o in flat)

    def _apply(self, x: Any) -> Any:
        out = self.ops[0]._apply(x)
        for o in self.ops[1:]:
            out = out + o._apply(x)
        return out

    def _adjoint(self, y: Any) -> Any:
        out = self.ops[0]._adjoint(y)
        for o in self.ops[1:]:
            out = out + o._adjoint(y)
        return out

    def opnorm_bound(self) -> float | None:
        bs = [o.opnorm_bound() for o in self.ops]
        if any(b is None for b in bs):
            return None
        return float(sum(bs))

    def _diag(self) -> Any:
        out = self.ops[0]._diag()
        for o in self.ops[1:]:
            out = out + o._diag()
        return out


class ScaledOperator(LinearOperator):
    """Scalar multiple :math:`c A` (``c * A``)."""

    _operator_attrs = ("op",)

    def __init__(self, op: LinearOperator, c: complex | float) -> None:
        c = complex(c) if isinstance(c, complex) or np.iscomplexobj(c) else float(c)
        if isinstance(c, complex) and c.imag == 0:
            c = c.real
        dt = op.dtype
        if isinstance(c, complex) and c.imag != 0:
            from .._backend import complex_dtype

            dt = complex_dtype(dt if dt is not None else np.float64)
        super().__init__(op.in_shape, op.out_shape, dt)
        self.op = op
        self.c = c
        self.is_real_linear_only = op.is_real_linear_only

    def _apply(self, x: Any) -> Any:
        return self.c * self.op._apply(x)

    def _adjoint(self, y: Any) -> Any:
        c = self.c.conjugate() if isinstance(self.c, complex) else self.c
        return c * self.op._adjoint(y)

    def _normal(self, x: Any) -> Any:
        return (abs(self.c) ** 2) * self.op._normal(x)

    def opnorm_bound(self) -> float | None:
        b = self.op.opnorm_bound()
        return None if b is None else abs(self.c) * b

    def _diag(self) -> Any:
        return self.c * self.op._diag()


class PowerOperator(LinearOperator):
    """Power :math:`A^k` of a square operator (``A ** k``, ``k >= 0``)."""

    _operator_attrs = ("op",)

    def __init__(self, op: LinearOperator, k: int) -> None:
        if not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"operator power needs a non-negative integer, got {k!r}")
        if not op.is_square:
            raise ValueError(f"operator power needs a square operator, got shape {op.shape}")
        super().__init__(op.in_shape, op.out_shape, op.dtype)
        self.op = op
        self.k = int(k)
        self.is_real_linear_only = op.is_real_linear_only

    def _apply(self, x: Any) -> Any:
        for _ in range(self.k):
            x = self.op._apply(x)
        return x

    def _adjoint(self, y: Any) -> Any:
        for _ in range(self.k):
            y = self.op._adjoint(y)
        return y

    def opnorm_bound(self) -> float | None:
        b = self.op.opnorm_bound()
        return None if b is None else b ** self.k


class ReshapedOperator(LinearOperator):
    """The same operator seen with other (same-size) in/out shapes (``A.reshape(...)``)."""

    _operator_attrs = ("op",)

    def __init__(self, op: LinearOperator, in_shape: Any = None, out_shape: Any = None) -> None:
        ins = op.in_shape if in_shape is None else _as_shape(in_shape)
        outs = op.out_shape if out_shape is None else _as_shape(out_shape)
        if math.prod(ins) != math.prod(op.in_shape) or math.prod(outs) != math.prod(op.out_shape):
            raise ValueError(
                f"cannot reshape operator with in/out shapes {op.in_shape}/{op.out_shape} "
                f"to {ins}/{outs}: sizes differ"
            )
        super().__init__(ins, outs, op.dtype)
        self.op = op
        self.is_orthogonal = op.is_orthogonal
        self.is_tight_frame = op.is_tight_frame
        self.frame_constant = op.frame_constant
        self.is_real_linear_only = op.is_real_linear_only

    def _apply(self, x: Any) -> Any:
        xp = namespace(x)
        b = tuple(x.shape[: x.ndim - len(self.in_shape)])
        y = self.op._apply(xp.reshape(x, b + self.op.in_shape))
        return xp.reshape(y, b + self.out_shape)

    def _adjoint(self, y: Any) -> Any:
        xp = namespace(y)
        b = tuple(y.shape[: y.ndim - len(self.out_shape)])
        x = self.op._adjoint(xp.reshape(y, b + self.op.out_shape))
        return xp.reshape(x, b + self.in_shape)

    def _normal(self, x: Any) -> Any:
        xp = namespace(x)
        b = tuple(x.shape[: x.ndim - len(self.in_shape)])
        z = self.op._normal(xp.reshape(x, b + self.op.in_shape))
        return xp.reshape(z, b + self.in_shape)

    def opnorm_bound(self) -> float | None:
        return self.op.opnorm_bound()

    def _diag(self) -> Any:
        if self.op.in_shape != self.op.out_shape:
            return super()._diag()
        d = self.op._diag()
        return namespace(d).reshape(d, self.in_shape)
