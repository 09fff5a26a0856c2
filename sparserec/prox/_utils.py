"""Shared helpers of the proximal library: parameter conversion and validation."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import asarray_like, dtype_name, is_array, is_complex_dtype, is_torch, namespace, real_dtype

__all__ = ["as_param", "check_array", "check_real", "dev_kw", "expand_to", "sum_last", "with_modulus"]


def check_array(x: Any, name: str = "x") -> Any:
    """Check that ``x`` is a floating or complex numpy array / torch tensor."""
    if not is_array(x):
        raise TypeError(
            f"{name} must be a numpy.ndarray or torch.Tensor, got {type(x).__name__}; "
            "wrap lists with numpy.asarray(..., dtype=float)")
    n = dtype_name(x.dtype)
    if not (n.startswith("float") or n.startswith("complex")):
        raise TypeError(f"{name} must have a floating or complex dtype, got {n}")
    return x


def check_real(x: Any, what: str) -> None:
    """Raise ``TypeError`` for complex ``x`` (projection onto a set of real vectors)."""
    if is_complex_dtype(x.dtype):
        raise TypeError(
            f"{what} is defined for real arrays only, got dtype {dtype_name(x.dtype)}; "
            "project the real part (x.real) or use a modulus-based prox instead")


def as_param(value: Any, like: Any, name: str, *, nonneg: bool = True, check: bool = True) -> Any:
    """Convert a scalar/array parameter to the real dtype, namespace and device of ``like``.

    Python scalars stay Python floats (cheapest broadcasting); arrays are converted explicitly
    (a numpy parameter may be given for torch data: it is small and copied once).
    """
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        v = float(value)
        if check and (not np.isfinite(v) or (nonneg and v < 0)):
            raise ValueError(f"{name} must be finite{' and non-negative' if nonneg else ''}, got {v}")
        return v
    if not is_array(value):
        try:
            value = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{name} must be a number or an array, got {type(value).__name__}") from e
    if is_complex_dtype(value.dtype):
        raise TypeError(f"{name} must be real, got dtype {dtype_name(value.dtype)}")
    v = asarray_like(value, like, dtype=real_dtype(like.dtype))
    if check:
        xp = namespace(v)
        if not bool(xp.all(xp.isfinite(v))):
            raise ValueError(f"{name} contains NaN or Inf")
        if nonneg and bool(xp.any(v < 0)):
            raise ValueError(f"{name} must be non-negative")
    return v


def expand_to(v: Any, ndim_batch: int, ndim_total: int) -> Any:
    """Append singleton axes to a per-problem array of shape ``batch`` so it broadcasts."""
    if isinstance(v, float) or getattr(v, "ndim", 0) == 0:
        return v
    xp = namespace(v)
    return xp.reshape(v, tuple(v.shape) + (1,) * (ndim_total - ndim_batch))


def sum_last(v: Any, ndim: int | None) -> Any:
    """Sum ``v`` over its last ``ndim`` axes (all axes when ``ndim`` is None)."""
    xp = namespace(v)
    if ndim is None:
        return xp.sum(v)
    if ndim == 0:
        return v
    return xp.sum(v, axis=tuple(range(v.ndim - ndim, v.ndim)))


def dev_kw(x: Any) -> dict[str, Any]:
    """``{"device": x.device}`` for torch tensors, ``{}`` for numpy (array creation helpers)."""
    return {"device": x.device} if is_torch(x) else {}


def real_abs(x: Any) -> Any:
    """``|x|`` (modulus for complex)."""
    return namespace(x).abs(x)


def with_modulus(x: Any, mag: Any, new_mag: Any) -> Any:
    """Array with the phase (sign) of ``x`` and modulus ``new_mag`` (``mag = |x|``)."""
    xp = namespace(x)
    if is_complex_dtype(x.dtype):
        safe = xp.where(mag > 0, mag, xp.ones_like(mag))
        scale = xp.where(mag > 0, new_mag / safe, xp.zeros_like(mag))
        return x * xp.astype(scale, x.dtype)
    return xp.sign(x) * new_mag
