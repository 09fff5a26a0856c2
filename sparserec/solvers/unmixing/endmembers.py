r"""Endmember extraction: VCA (vertex component analysis, seeded) and SPA (successive projections).

Both take pixels ``Y`` of shape ``(*batch, L)`` and return a :class:`SolverResult` whose ``x`` is
the endmember matrix ``(L, K)`` (columns are selected pixels) and ``extras["indices"]`` the flat
pixel indices.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..._backend import to_numpy
from ..result import SolverResult, Status

__all__ = ["estimate_snr", "spa", "vca"]


def _check_k(n_endmembers: int, L: int, N: int, solver: str) -> int:
    if isinstance(n_endmembers, bool) or not isinstance(n_endmembers, (int, np.integer)) or n_endmembers < 1:
        raise ValueError(f"{solver}: n_endmembers must be a positive integer, got {n_endmembers!r}")
    if n_endmembers > L:
        raise ValueError(f"{solver}: n_endmembers={n_endmembers} exceeds the number of bands ({L}); "
                         "the linear mixing model cannot separate more endmembers than bands")
    if n_endmembers > N:
        raise ValueError(f"{solver}: n_endmembers={n_endmembers} exceeds the number of pixels ({N})")
    return int(n_endmembers)


def _result(Y2: Any, idx: np.ndarray, solver: str, params: dict, extras: dict) -> SolverResult:
    E = Y2[idx].T  # (L, K)
    extras = dict(extras, indices=idx)
    return SolverResult(x=E, status=Status.CONVERGED, problem_status=np.zeros((), dtype=np.int64),
                        converged=np.ones((), dtype=bool), n_iter=np.ones((), dtype=np.int64),
                        params=params, extras=extras, solver=solver)


def estimate_snr(Y: Any, n_endmembers: int) -> float:
    r"""VCA's signal-to-noise estimate (dB) of pixels ``Y (N, L)`` for ``n_endmembers`` materials.

    Notes
    -----
    With :math:`P_y = \|Y\|_F^2/N`, :math:`X_p` the centred data projected on its top
    :math:`K` principal directions and :math:`\bar y` the mean pixel,
    :math:`P_x = \|X_p\|_F^2/N + \|\bar y\|^2` and
    :math:`\mathrm{SNR} = 10\log_{10}\bigl((P_x - (K/L)P_y)/(P_y - P_x)\bigr)` (``inf`` when the
    data lie exactly in a :math:`K`-dimensional affine subspace).
    """
    Y = np.asarray(to_numpy(Y), dtype=np.float64).reshape(-1, np.shape(Y)[-1])
    N, L = Y.shape
    ybar = Y.mean(axis=0)
    Yc = Y - ybar
    _, _, Vt = np.linalg.svd(Yc.T @ Yc / N)
    Xp = Yc @ Vt[:n_endmembers].T
    Py = float(np.sum(Y * Y)) / N
    Px = float(np.sum(Xp * Xp)) / N + float(ybar @ ybar)
    num, den = Px - n_endmembers / L * Py, Py - Px
    if den <= 1e-12 * Py:
        return math.inf
    if num <= 0:
        return -math.inf
    return 10.0 * math.log10(num / den)


def vca(Y: Any, n_endmembers: int, *, snr: float | None = None, projected: bool = False,
        random_state: Any = None) -> SolverResult:
    r"""Vertex component analysis (Nascimento & Bioucas-Dias, 2005), seeded.

    Parameters
    ----------
    Y : array of shape ``(*batch, L)``
        Pixels (bands last).  Computations run in numpy float64; ``x`` is returned in the input
        library.
    n_endmembers : int
        :math:`K \le L`.
    snr : float, optional
        Signal-to-noise ratio in dB; estimated with :func:`estimate_snr` when omitted.
    projected : bool, default False
        Return the selected pixels projected on the estimated signal subspace (denoised, as
        HySUPP's port does) instead of the raw pixels.
    random_state : int or numpy.random.Generator, optional
        Seed of the random directions (Gaussian, drawn with the NumPy Generator API).

    Returns
    -------
    SolverResult
        ``x``: endmembers ``(L, K)``, the selected pixels (raw, or projected); ``extras``: ``indices`` (flat
        pixel indices), ``snr`` and ``branch`` (``"projective"`` or ``"centred"``).

    Notes
    -----
    If the SNR exceeds :math:`15 + 10\log_{10}K` dB the uncentred data are projected on the top-
    :math:`K` singular subspace of :math:`YY^T/N` and each projected pixel is divided by its inner
    product with the projected mean (projective scaling); otherwise the centred data are projected
    on :math:`K-1` principal directions and a constant coordinate equal to the largest projected
    norm is appended.  Vertices are then selected one at a time: with :math:`B` the matrix of the
    vertices found so far (initially :math:`e_K e_1^T`), a Gaussian direction :math:`w` is projected
    on the orthogonal complement of :math:`\operatorname{range}(B)`, and the pixel maximising
    :math:`|f^T y_{\text{proj}}|` becomes the next vertex.  Unlike some ports, the raw pixels (not
    their subspace projections) are returned, so noise-free pure pixels are recovered exactly.
    """
    t0 = time.perf_counter()
    Yin = Y
    Yn = np.asarray(to_numpy(Y), dtype=np.float64)
    Yn = Yn.reshape(-1, Yn.shape[-1])
    if not np.isfinite(Yn).all():
        raise ValueError("vca: Y contains NaN or Inf; mask those pixels first")
    N, L = Yn.shape
    K = _check_k(n_endmembers, L, N, "vca")
    rng = np.random.default_rng(random_state)
    s = estimate_snr(Yn, K) if snr is None else float(snr)
    thresh = 15.0 + 10.0 * math.log10(K)
    if s > thresh:
        branch = "projective"
        U, _, _ = np.linalg.svd(Yn.T @ Yn / N)
        X = Yn @ U[:, :K]  # (N, K)
        u = X.mean(axis=0)
        den = X @ u
        den = np.where(np.abs(den) < 1e-300, 1e-300, den)
        Yp = X / den[:, None]
    else:
        branch = "centred"
        ybar = Yn.mean(axis=0)
        Yc = Yn - ybar
        U, _, _ = np.linalg.svd(Yc.T @ Yc / N)
        Xc = Yc @ U[:, :K - 1]
        c = float(np.sqrt((Xc * Xc).sum(axis=1)).max()) if K > 1 else 1.0
        Yp = np.concatenate([Xc, np.full((N, 1), c)], axis=1)
    B = np.zeros((K, K))
    B[K - 1, 0] = 1.0
    idx = np.zeros(K, dtype=np.int64)
    for i in range(K):
        w = rng.standard_normal(K)
        f = w - B @ (np.linalg.pinv(B) @ w)
        nf = np.linalg.norm(f)
        f = f / (nf if nf > 0 else 1.0)
        v = Yp @ f
        j = int(np.argmax(np.abs(v)))
        idx[i] = j
        B[:, i] = Yp[j]
    xp_like = _as_like(Yin, Yn)
    if projected:
        if branch == "projective":
            Ep = (Yn[idx] @ U[:, :K]) @ U[:, :K].T
        else:
            Ep = ybar + ((Yn[idx] - ybar) @ U[:, :K - 1]) @ U[:, :K - 1].T
        from ..._backend import is_torch

        if is_torch(Yin):
            import torch

            Ep = torch.as_tensor(Ep, dtype=Yin.dtype, device=Yin.device)
        res = _result(Ep, np.arange(K), "vca", {"n_endmembers": K, "snr": snr, "projected": True,
                                                  "random_state": str(random_state)},
                      {"snr": s, "branch": branch, "time": time.perf_counter() - t0})
        res.extras["indices"] = idx
        return res
    return _result(xp_like, idx, "vca", {"n_endmembers": K, "snr": snr, "random_state": str(random_state)},
                   {"snr": s, "branch": branch, "time": time.perf_counter() - t0})


def _as_like(Yin: Any, Yn: np.ndarray) -> Any:
    """Return the flattened input in its own library (for ``x``), else the numpy copy."""
    from ..._backend import is_torch

    if is_torch(Yin):
        return Yin.reshape(-1, Yin.shape[-1])
    return np.asarray(Yin).reshape(-1, Yn.shape[1]) if isinstance(Yin, np.ndarray) else Yn


def spa(Y: Any, n_endmembers: int, *, normalize: bool = True, random_state: Any = None) -> SolverResult:
    r"""Successive projection algorithm (deterministic endmember extraction).

    Parameters
    ----------
    Y : array of shape ``(*batch, L)``
    n_endmembers : int
    normalize : bool, default True
        Divide every pixel by the sum of its entries first (pixels then lie on the sum-to-one
        hyperplane, which removes the pull of bright outlier pixels on plain SPA; pixels with
        non-positive sum are ignored).
    random_state : ignored
        Accepted for API uniformity.

    Notes
    -----
    Repeat :math:`K` times: pick the pixel of largest residual norm, :math:`j = \arg\max_n
    \|r_n\|`, then project every residual on the orthogonal complement of :math:`r_j`.  The
    selected raw pixels are returned.
    """
    t0 = time.perf_counter()
    Yn = np.asarray(to_numpy(Y), dtype=np.float64)
    Yn = Yn.reshape(-1, Yn.shape[-1])
    if not np.isfinite(Yn).all():
        raise ValueError("spa: Y contains NaN or Inf; mask those pixels first")
    N, L = Yn.shape
    K = _check_k(n_endmembers, L, N, "spa")
    R = Yn.copy()
    if normalize:
        s = R.sum(axis=1)
        ok = s > 0
        R[ok] /= s[ok, None]
        R[~ok] = 0.0
    idx = np.zeros(K, dtype=np.int64)
    for i in range(K):
        nr = np.einsum("ij,ij->i", R, R)
        j = int(np.argmax(nr))
        idx[i] = j
        u = R[j] / math.sqrt(max(nr[j], 1e-300))
        R = R - np.outer(R @ u, u)
    return _result(_as_like(Y, Yn), idx, "spa", {"n_endmembers": K, "normalize": normalize},
                   {"time": time.perf_counter() - t0})

