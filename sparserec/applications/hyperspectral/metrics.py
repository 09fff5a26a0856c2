r"""Unmixing metrics (SAD, RMSE, aRMSE, eRMSE, SRE, reconstruction error, AAD) and Hungarian
alignment of estimated to true endmembers.

Conventions: endmembers ``(L, K)`` (columns), abundances ``(..., K)`` (batch-first, e.g. a
``(H, W, K)`` cube or ``(N, K)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._backend import to_numpy

__all__ = [
    "aad",
    "align",
    "armse",
    "ermse",
    "evaluate",
    "reconstruction_error",
    "rmse_per_map",
    "sad",
    "sre",
]


def _np(x: Any) -> np.ndarray:
    return np.asarray(to_numpy(x), dtype=np.float64)


def _ab2d(A: Any, K: int | None = None) -> np.ndarray:
    A = _np(A)
    return A.reshape(-1, A.shape[-1])


def sad(E_true: Any, E_est: Any, *, degrees: bool = True) -> np.ndarray:
    r"""Spectral angle distance per endmember pair (columns matched by position).

    :math:`\mathrm{SAD}_k = \arccos\bigl(m_k^T\hat m_k / (\|m_k\|\|\hat m_k\|)\bigr)`, cosine
    clipped to :math:`[-1, 1]`; scale-invariant.  1-D inputs are single spectra.
    """
    a, b = _np(E_true), _np(E_est)
    if a.ndim == 1:
        a, b = a[:, None], b[:, None]
    if a.shape != b.shape:
        raise ValueError(f"sad: shapes differ {a.shape} vs {b.shape}")
    num = np.sum(a * b, axis=0)
    den = np.linalg.norm(a, axis=0) * np.linalg.norm(b, axis=0)
    cos = np.clip(num / np.where(den > 0, den, 1.0), -1.0, 1.0)
    ang = np.arccos(cos)
    return np.degrees(ang) if degrees else ang


def rmse_per_map(A_true: Any, A_est: Any) -> np.ndarray:
    r"""RMSE of each abundance map: :math:`\sqrt{\tfrac1N\sum_n (A_{kn}-\hat A_{kn})^2}`."""
    a, b = _ab2d(A_true), _ab2d(A_est)
    if a.shape != b.shape:
        raise ValueError(f"rmse_per_map: shapes differ {a.shape} vs {b.shape}")
    return np.sqrt(np.mean((a - b) ** 2, axis=0))


def armse(A_true: Any, A_est: Any, *, percent: bool = False) -> float:
    r"""Global abundance RMSE over all :math:`K\cdot N` entries (x100 with ``percent=True``)."""
    a, b = _ab2d(A_true), _ab2d(A_est)
    if a.shape != b.shape:
        raise ValueError(f"armse: shapes differ {a.shape} vs {b.shape}")
    v = float(np.sqrt(np.mean((a - b) ** 2)))
    return 100.0 * v if percent else v


def ermse(E_true: Any, E_est: Any) -> float:
    r"""Endmember RMSE (HySUPP): :math:`100\sqrt{\mathrm{mean}((E-\hat E)^2)}` (scale-dependent)."""
    a, b = _np(E_true), _np(E_est)
    return float(100.0 * np.sqrt(np.mean((a - b) ** 2)))


def sre(X_true: Any, X_est: Any) -> float:
    r"""Signal-to-reconstruction error in dB, :math:`20\log_{10}(\|X\|_F/\|X-\hat X\|_F)`
    (``+inf`` for a perfect estimate, without a warning)."""
    a, b = _np(X_true), _np(X_est)
    num, den = np.linalg.norm(a), np.linalg.norm(a - b)
    if den == 0:
        return float("inf")
    if num == 0:
        return float("-inf")
    return float(20.0 * np.log10(num / den))


def reconstruction_error(Y: Any, E: Any, A: Any, *, relative: bool = True) -> float:
    r"""Reconstruction error of pixels ``Y (..., L)`` by ``A (..., K) @ E.T``:
    :math:`\|Y-\hat E\hat A\|_F/\|Y\|_F` (``relative``) or the RMSE
    :math:`\sqrt{\|Y-\hat E\hat A\|_F^2/(LN)}`."""
    Yn = _np(Y).reshape(-1, _np(Y).shape[-1])
    R = Yn - _ab2d(A) @ _np(E).T
    if relative:
        return float(np.linalg.norm(R) / max(np.linalg.norm(Yn), 1e-300))
    return float(np.sqrt(np.mean(R * R)))


def aad(A_true: Any, A_est: Any, *, degrees: bool = True) -> float:
    """Mean angle between true and estimated per-pixel abundance vectors."""
    return float(np.mean(sad(_ab2d(A_true).T, _ab2d(A_est).T, degrees=degrees)))


def align(E_true: Any, E_est: Any, A_true: Any = None, A_est: Any = None, *, by: str = "sad") -> np.ndarray:
    r"""Permutation matching estimated to true endmembers (Hungarian algorithm).

    Parameters
    ----------
    E_true, E_est : ``(L, K)``
    A_true, A_est : ``(..., K)``, needed for ``by="abundance"``
    by : {"sad", "abundance"}
        Cost: pairwise SAD between endmembers, or Euclidean distance between abundance maps
        (HySUPP's choice; the permutation is then applied to the endmembers too).

    Returns
    -------
    numpy.ndarray of int, shape ``(K,)``
        ``perm`` such that ``E_est[:, perm]`` and ``A_est[..., perm]`` are matched to the truth.
    """
    from scipy.optimize import linear_sum_assignment

    if by == "sad":
        a, b = _np(E_true), _np(E_est)
        an = a / np.maximum(np.linalg.norm(a, axis=0), 1e-300)
        bn = b / np.maximum(np.linalg.norm(b, axis=0), 1e-300)
        cost = np.arccos(np.clip(an.T @ bn, -1.0, 1.0))
    elif by == "abundance":
        if A_true is None or A_est is None:
            raise ValueError("align(by='abundance') needs A_true and A_est")
        a, b = _ab2d(A_true), _ab2d(A_est)
        cost = np.sqrt(((a[:, :, None] - b[:, None, :]) ** 2).sum(axis=0))
    else:
        raise ValueError(f"by must be 'sad' or 'abundance', got {by!r}")
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(cost.shape[0], dtype=np.int64)
    perm[rows] = cols
    return perm


def evaluate(E_true: Any, A_true: Any, E_est: Any, A_est: Any, Y: Any = None, *, by: str = "sad",
             bands: Any = None) -> dict[str, Any]:
    """All metrics after alignment.

    Parameters
    ----------
    by : {"sad", "abundance"}
        Alignment criterion (recorded as ``alignment`` in the output).
    bands : index array, optional
        Compute SAD on these bands only (e.g. the uncorrupted channels).

    Returns
    -------
    dict
        ``perm``, ``alignment``, ``sad`` (per endmember, degrees), ``mean_sad``, ``rmse`` (per map),
        ``mean_rmse``, ``armse``, ``aad`` and, with ``Y``, ``reconstruction_error`` (relative).
    """
    E_true, E_est = _np(E_true), _np(E_est)
    perm = align(E_true, E_est, A_true, A_est, by=by)
    Ee = E_est[:, perm]
    Ae = _ab2d(A_est)[:, perm]
    At = _ab2d(A_true)
    b = slice(None) if bands is None else np.asarray(bands)
    s = sad(E_true[b], Ee[b])
    r = rmse_per_map(At, Ae)
    out = {"perm": perm, "alignment": by, "sad": s, "mean_sad": float(np.mean(s)), "rmse": r,
           "mean_rmse": float(np.mean(r)), "armse": armse(At, Ae), "aad": aad(At, Ae)}
    if Y is not None:
        out["reconstruction_error"] = reconstruction_error(Y, E_est, A_est)
    return out
