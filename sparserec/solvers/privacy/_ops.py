"""Private array helpers for the privacy solvers (numpy and torch, batched over leading axes).

The sparsity projections come from :mod:`sparserec.prox`: :func:`~sparserec.prox.project_l0_ball`
(keep the ``k`` largest magnitudes, ties to the smaller index) and
:func:`~sparserec.prox.project_l1_ball`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._backend import check_finite, is_torch, namespace
from ..result import check_positive

__all__ = [
    "check_budget",
    "check_data",
    "check_k",
    "check_positive",
    "shrink",
    "sym_from_upper",
    "triu_index",
    "upper",
]


# ----------------------------------------------------------------------------- validation
def check_budget(epsilon: Any, delta: Any = None, *, require_delta: bool = True) -> tuple[float, float]:
    """Validate a privacy budget: ``epsilon`` finite and > 0, ``delta`` in the open interval (0, 1)."""
    eps = check_positive(epsilon, "epsilon")
    if delta is None:
        if require_delta:
            raise ValueError("delta is required for (epsilon, delta)-LDP mechanisms; give 0 < delta < 1")
        return eps, 0.0
    try:
        dl = float(delta)
    except (TypeError, ValueError) as e:
        raise TypeError(f"delta must be a number, got {delta!r}") from e
    if not (0.0 < dl < 1.0):
        raise ValueError(f"delta must lie in the open interval (0, 1), got {delta!r}")
    return eps, dl


def check_k(k: Any, d: int, name: str = "k") -> int:
    """Validate a sparsity level ``1 <= k <= d``."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {k!r}")
    if not 1 <= int(k) <= d:
        raise ValueError(f"{name} must satisfy 1 <= {name} <= d = {d}, got {k}")
    return int(k)


def check_data(X: Any, y: Any) -> tuple[Any, Any]:
    """Check shapes ``X: (*batch, n, d)``, ``y: (*batch, n)``, same library, finite values."""
    if isinstance(X, (list, tuple)):
        X = np.asarray(X, dtype=np.float64)
    if isinstance(y, (list, tuple)):
        y = np.asarray(y, dtype=np.float64)
    namespace(X, y)  # same library / device, else TypeError / ValueError
    if X.ndim < 2:
        raise ValueError(f"X must have shape (*batch, n_users, n_features), got shape {tuple(X.shape)}")
    if tuple(y.shape) != tuple(X.shape[:-1]):
        raise ValueError(f"y must have shape {tuple(X.shape[:-1])} to match X, got {tuple(y.shape)}")
    if X.shape[-2] < 1 or X.shape[-1] < 1:
        raise ValueError("X needs at least one user and one feature")
    check_finite(X, "X")
    check_finite(y, "y")
    return X, y


# ----------------------------------------------------------------------------- array ops
def shrink(x: Any, tau: float) -> Any:
    r"""Coordinate-wise shrinkage (clipping) :math:`\operatorname{sign}(x)\min(|x|, \tau)`."""
    xp = namespace(x)
    return xp.clip(x, -tau, tau)


def triu_index(d: int, like: Any = None) -> tuple[Any, Any]:
    """Row and column indices of the upper triangle (diagonal included), row-major order."""
    iu, ju = np.triu_indices(d)
    if like is not None and is_torch(like):
        import torch

        return (torch.as_tensor(iu, device=like.device), torch.as_tensor(ju, device=like.device))
    return iu, ju


def upper(M: Any) -> Any:
    """Upper triangle of ``M`` (``(*batch, d, d)``) as a vector ``(*batch, d(d+1)/2)``."""
    iu, ju = triu_index(M.shape[-1], M)
    return M[..., iu, ju]


def sym_from_upper(v: Any, d: int) -> Any:
    """Symmetric ``(*batch, d, d)`` matrix from its upper-triangle vector ``(*batch, d(d+1)/2)``."""
    xp = namespace(v)
    iu, ju = triu_index(d, v)
    kw = {"device": v.device} if is_torch(v) else {}
    M = xp.zeros(tuple(v.shape[:-1]) + (d, d), dtype=v.dtype, **kw)
    M[..., iu, ju] = v
    M[..., ju, iu] = v
    return M


def hard(v: Any, lam: Any) -> Any:
    """Hard thresholding: keep entries with ``|v| > lam``."""
    xp = namespace(v)
    return xp.where(xp.abs(v) > lam, v, xp.zeros_like(v))
