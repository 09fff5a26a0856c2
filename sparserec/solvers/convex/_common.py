r"""Validation and small helpers shared by the convex solvers.

Public to the other solver modules of :mod:`sparserec.solvers.convex` (greedy, PCP, ...):
operator/data validation, per-problem ``lam`` broadcasting, step checks and batched norms.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..._backend import (
    asarray_like,
    check_finite,
    dtype_name,
    is_array,
    is_complex_dtype,
    is_torch,
    namespace,
    real_dtype,
    result_dtype,
)
from ...operators.base import LinearOperator
from ..result import check_positive

__all__ = [
    "as_operator",
    "bdot",
    "bnorm",
    "broadcast_lam",
    "check_positive",
    "check_step",
    "expand",
    "lipschitz",
    "prepare_data",
    "prepare_x0",
    "step_slack",
]


def as_operator(A: Any, name: str = "A") -> LinearOperator:
    """Return ``A`` as a :class:`LinearOperator` (2-D arrays are wrapped in ``Matrix``)."""
    if isinstance(A, LinearOperator):
        return A
    if is_array(A) or hasattr(A, "tocsr"):
        from ...operators import Matrix

        return Matrix(A)
    raise TypeError(
        f"{name} must be a sparserec LinearOperator or a 2-D array/scipy.sparse matrix, "
        f"got {type(A).__name__}")


def prepare_data(A: LinearOperator, y: Any, solver: str, name: str = "y") -> tuple[Any, Any, tuple[int, ...], Any]:
    """Validate ``y`` of shape ``(*batch, *A.out_shape)``: array type, shape, finiteness.

    Returns ``(xp, y, batch_shape, dtype)`` with ``y`` cast to the promoted dtype of the
    operator and the data.
    """
    A._check_input(y, A.out_shape, solver)
    check_finite(y, f"{solver}: data {name}")
    xp = namespace(y)
    dt = result_dtype(A.dtype, y.dtype)
    if dtype_name(y.dtype) != dtype_name(dt):
        y = xp.astype(y, dt)
    batch = tuple(y.shape[: y.ndim - len(A.out_shape)])
    return xp, y, batch, dt


def prepare_x0(x0: Any, A: LinearOperator, batch: tuple[int, ...], like: Any, dt: Any,
               solver: str) -> Any:
    """Initial iterate: zeros, or ``x0`` of shape ``in_shape`` or ``(*batch, *in_shape)``."""
    xp = namespace(like)
    shape = batch + tuple(A.in_shape)
    if x0 is None:
        return xp.zeros(shape, dtype=dt, **({"device": like.device} if is_torch(like) else {}))
    if not is_array(x0):
        raise TypeError(f"{solver}: x0 must be an array like the data, got {type(x0).__name__}")
    namespace(x0, like)
    check_finite(x0, f"{solver}: x0")
    if tuple(x0.shape) == tuple(A.in_shape):
        x0 = xp.broadcast_to(x0, shape)
    if tuple(x0.shape) != shape:
        raise ValueError(f"{solver}: x0 must have shape {A.in_shape} or {shape}, got {tuple(x0.shape)}")
    x0 = xp.astype(x0, dt) if dtype_name(x0.dtype) != dtype_name(dt) else x0
    return xp.asarray(x0, copy=True)


def broadcast_lam(lam: Any, batch: tuple[int, ...], like: Any, name: str = "lam") -> Any:
    """Validate a regularisation weight: a finite non-negative scalar (returned as float) or
    an array broadcasting to ``batch`` (returned with shape ``batch`` in the real dtype of
    ``like``)."""
    if isinstance(lam, bool):
        raise TypeError(f"{name} must be a number or an array, got a bool")
    if isinstance(lam, (int, float, np.integer, np.floating)):
        v = float(lam)
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be finite and non-negative, got {lam!r}")
        return v
    if not is_array(lam):
        try:
            lam = np.asarray(lam, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{name} must be a number or an array, got {type(lam).__name__}") from e
    if is_complex_dtype(lam.dtype):
        raise TypeError(f"{name} must be real")
    lam_np = np.asarray(lam.detach().cpu().numpy() if hasattr(lam, "detach") else lam, dtype=np.float64)
    if not np.all(np.isfinite(lam_np)) or np.any(lam_np < 0):
        raise ValueError(f"{name} must be finite and non-negative (per problem)")
    try:
        lam_np = np.broadcast_to(lam_np, batch)
    except ValueError as e:
        raise ValueError(
            f"{name} of shape {lam_np.shape} does not broadcast to the batch shape {batch}; give "
            "a scalar or one value per problem") from e
    if lam_np.ndim == 0:
        return float(lam_np)
    return asarray_like(np.array(lam_np, copy=True), like, dtype=real_dtype(like.dtype))


def expand(v: Any, nd: int) -> Any:
    """Append ``nd`` singleton axes to a per-problem array (floats pass through)."""
    if isinstance(v, float):
        return v
    return namespace(v).reshape(v, tuple(v.shape) + (1,) * nd)


def check_step(step: Any, L: float, limit: float, solver: str, rule: str, slack: float = 1e-4) -> float:
    """Validate a user step: positive and at most ``limit / L`` (``rule`` names the rule).

    ``slack`` tolerates the inflation of :math:`L` by a closed-form bound (relative ``1e-4``) or
    by a power estimate (pass ``0.03``: estimates carry a 1 % safety factor, squared).
    """
    s = check_positive(step, "step")
    if L > 0 and s > limit / L * (1 + slack):
        raise ValueError(
            f"{solver}: step={s:g} exceeds {rule} = {limit / L:g} (L = ||A||^2 = {L:g}); the "
            "iteration may diverge. Use a smaller step, step=None (1/L) or backtracking=True")
    return s


def lipschitz(A: LinearOperator, like: Any) -> float:
    r""":math:`L = \|A\|_2^2` from the closed-form bound, else the cached power estimate."""
    return float(A.opnorm(like=like)) ** 2


def step_slack(A: LinearOperator) -> float:
    """Relative slack for user steps (see :func:`check_step`)."""
    return 1e-4 if A.opnorm_bound() is not None else 0.03


def bnorm(xp: Any, a: Any, nd: int) -> Any:
    """Per-problem Euclidean norm over the last ``nd`` axes."""
    axes = tuple(range(a.ndim - nd, a.ndim))
    if is_complex_dtype(a.dtype):
        return xp.sqrt(xp.sum(xp.real(a * xp.conj(a)), axis=axes))
    return xp.sqrt(xp.sum(a * a, axis=axes))


def bdot(xp: Any, a: Any, b: Any, nd: int) -> Any:
    r"""Per-problem real inner product :math:`\mathrm{Re}\langle a, b\rangle` over the last ``nd``
    axes."""
    axes = tuple(range(a.ndim - nd, a.ndim))
    if is_complex_dtype(a.dtype):
        return xp.sum(xp.real(xp.conj(a) * b), axis=axes)
    return xp.sum(a * b, axis=axes)
