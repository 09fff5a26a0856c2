r"""Validation and small helpers shared by the unmixing solvers.

Layout conventions (batch-first, as everywhere in sparserec):

* endmember matrix ``E`` (the spec's :math:`M`): shape ``(L, K)``, bands by materials;
* pixels ``Y``: shape ``(*batch, L)``, one spectrum per trailing vector (a cube ``H x W x L`` is a
  batch of ``H x W`` pixels);
* abundances: shape ``(*batch, K)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._backend import is_array, is_torch, namespace

__all__ = ["as_dense_endmembers", "check_pixels", "dev_kw", "float_dtype"]


def dev_kw(x: Any) -> dict[str, Any]:
    """``{"device": x.device}`` for torch tensors, ``{}`` for numpy."""
    return {"device": x.device} if is_torch(x) else {}


def float_dtype(xp: Any, *arrays: Any) -> Any:
    """Floating dtype for computations: the inputs' promoted dtype, integers promoted to float64."""
    dts = [a.dtype for a in arrays]
    dt = dts[0]
    for d in dts[1:]:
        dt = xp.result_type(dt, d)
    if not xp.isdtype(dt, "real floating"):
        if xp.isdtype(dt, "complex floating"):
            raise TypeError("unmixing needs real data, got a complex dtype")
        dt = xp.float64
    return dt


def as_dense_endmembers(E: Any, name: str = "E") -> Any:
    """Return ``E`` as a dense 2-D array; accepts arrays and ``sparserec.operators.Matrix``-like
    operators (anything with ``todense()`` and a 1-D ``in_shape``)."""
    if not is_array(E):
        if hasattr(E, "todense") and hasattr(E, "in_shape"):
            if len(E.in_shape) != 1 or len(E.out_shape) != 1:
                raise ValueError(f"{name}: operator must map 1-D abundances to 1-D spectra")
            E = E.todense()
        else:
            raise TypeError(f"{name} must be a 2-D numpy array / torch tensor (bands x endmembers) or a "
                            f"Matrix operator, got {type(E).__name__}")
    if E.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_bands, n_endmembers), got shape {tuple(E.shape)}")
    if E.shape[1] < 1:
        raise ValueError(f"{name} has no endmember columns")
    return E


def check_pixels(E: Any, Y: Any, solver: str, *, finite: bool = True) -> tuple[Any, Any, Any, tuple[int, ...]]:
    """Validate ``E (L, K)`` and ``Y (*batch, L)``; return ``(xp, E, Y2d, batch_shape)``.

    ``Y2d`` is ``Y`` reshaped to ``(N, L)`` (a view when possible), both cast to one float dtype.

    Raises
    ------
    ValueError
        Band-count mismatch, NaN/Inf in the data (with ``finite=True``).
    TypeError
        Mixed array libraries (numpy and torch) or complex data.
    """
    E = as_dense_endmembers(E)
    if not is_array(Y):
        raise TypeError(f"{solver}: Y must be a numpy array or torch tensor, got {type(Y).__name__}")
    xp = namespace(E, Y)
    if Y.ndim < 1:
        raise ValueError(f"{solver}: Y must have at least one dimension (bands last)")
    L = E.shape[0]
    if Y.shape[-1] != L:
        raise ValueError(
            f"{solver}: band-count mismatch: Y has {Y.shape[-1]} bands (last axis) but the endmember matrix "
            f"has {L} rows; pass Y as (..., n_bands) and E as (n_bands, n_endmembers)")
    dt = float_dtype(xp, E, Y)
    E = xp.astype(E, dt, copy=False)
    batch = tuple(Y.shape[:-1])
    Y2 = xp.reshape(xp.astype(Y, dt, copy=False), (-1, L))
    if finite:
        if is_torch(Y2):
            ok = bool(xp.all(xp.isfinite(Y2)))
        else:
            ok = bool(np.isfinite(Y2).all())
        if not ok:
            raise ValueError(f"{solver}: Y contains NaN or Inf; mask those pixels first "
                             "(sparserec.applications.hyperspectral.unmix masks and reports them)")
        if not bool(xp.all(xp.isfinite(E))):
            raise ValueError(f"{solver}: E contains NaN or Inf")
    return xp, E, Y2, batch
