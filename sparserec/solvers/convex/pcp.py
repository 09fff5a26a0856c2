r"""Robust PCA by principal component pursuit (inexact ALM) and the IPI small-target model.

:func:`pcp` splits a batch of matrices :math:`D = L + S` into a low-rank part :math:`L` and a
sparse part :math:`S`; :func:`ipi` applies it to the patch-image of an infrared image to
separate a smooth background from small targets.  Both solve a whole batch at once (batched
SVDs) on numpy or torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..._backend import check_finite, is_complex_dtype, is_floating_dtype, is_torch, namespace, to_numpy
from ..result import ConvergenceMonitor, SolverResult, SolverState, check_max_iter, check_tol

__all__ = ["image_to_patches", "ipi", "patch_positions", "patches_to_image", "pcp"]


def _dev(x: Any) -> dict[str, Any]:
    return {"device": x.device} if is_torch(x) else {}


def _soft(xp: Any, z: Any, tau: Any) -> Any:
    """Entrywise soft threshold (complex: shrink the modulus, keep the phase)."""
    if xp.isdtype(z.dtype, "complex floating"):
        mag = xp.abs(z)
        scale = xp.where(mag > tau, 1 - tau / xp.where(mag > 0, mag, xp.ones_like(mag)),
                         xp.zeros_like(mag))
        return z * xp.astype(scale, z.dtype)
    return xp.sign(z) * xp.where(xp.abs(z) > tau, xp.abs(z) - tau, xp.zeros_like(z))


def _svt(xp: Any, M: Any, tau: Any) -> tuple[Any, Any]:
    """Batched singular value thresholding; ``tau`` of shape ``batch + (1,)``; returns (L, rank)."""
    U, s, Vh = xp.linalg.svd(M, full_matrices=False)
    s2 = xp.where(s > tau, s - tau, xp.zeros_like(s))
    L = (U * xp.astype(s2, U.dtype)[..., None, :]) @ Vh
    rank = xp.sum(xp.astype(s2 > 0, xp.int64), axis=-1)
    return L, rank


def _per_problem(value: Any, batch: tuple[int, ...], name: str) -> np.ndarray:
    v = np.asarray(to_numpy(value), dtype=np.float64)
    try:
        return np.broadcast_to(v, batch).copy()
    except ValueError as e:
        raise ValueError(f"{name} of shape {v.shape} does not broadcast to the batch shape {batch}") from e


def pcp(D: Any, lam: float | Any = None, mu: float | Any = None, rho: float = 1.5, tol: float = 1e-7,
        max_iter: int = 1000, *, mu_max_factor: float = 1e7, record_every: int = 1,
        check_every: int = 1, callback: Callable[[SolverState], bool | None] | None = None,
        verbose: bool = False) -> SolverResult:
    r"""Robust PCA by principal component pursuit, solved by the inexact augmented Lagrangian method.

    Parameters
    ----------
    D : array of shape ``(*batch, m, n)``
        Data matrices (real or complex); every matrix of the batch is split at once.
    lam : float or array broadcastable to ``batch``, optional
        Weight of the :math:`\ell_1` term; default :math:`1/\sqrt{\max(m, n)}` (Candès et al.).
    mu : float or array broadcastable to ``batch``, optional
        Initial penalty :math:`\mu_0`; default :math:`1.25/\|D\|_2` per problem.
    rho : float, default 1.5
        Growth factor of the penalty, :math:`\mu_{k+1} = \min(\rho\mu_k, \bar\mu)`.
    tol : float, default 1e-7
        Stop a problem when :math:`\|D - L - S\|_F / \|D\|_F \le` ``tol``.  The tolerance
        used is ``max(tol, 10 * eps)`` of the data's precision (1.2e-6 in float32), which
        float32 arithmetic can reach.
    max_iter : int, default 1000
    mu_max_factor : float, default 1e7
        :math:`\bar\mu = ` ``mu_max_factor`` :math:`\cdot\mu_0`.
    record_every, check_every, callback, verbose
        See :class:`~sparserec.solvers.result.ConvergenceMonitor`.

    Returns
    -------
    SolverResult
        ``x`` is the **low-rank part** :math:`L` (shape of ``D``); ``extras['sparse']`` is
        :math:`S`, ``extras['rank']`` the numerical rank of :math:`L` per problem,
        ``extras['dual']`` the multiplier :math:`Y`, ``extras['residual']`` the final relative
        residual.  ``history`` holds ``residual`` (relative), ``rank``, ``n_nonzero`` (of
        :math:`S`) and ``mu`` per iteration.

    Notes
    -----
    PCP solves :math:`\min_{L,S} \|L\|_* + \lambda\|S\|_1` subject to :math:`L + S = D`.
    Inexact ALM (Lin, Chen & Ma 2010) iterates, with :math:`Y_0 = D/J(D)`,
    :math:`J(D) = \max(\|D\|_2, \max_{ij}|D_{ij}|/\lambda)` (the largest *entry*, not the
    matrix :math:`\infty`-norm), :math:`S_0 = 0`:

    .. math::
        S_{k+1} &= \mathrm{soft}_{\lambda/\mu_k}(D - L_k + Y_k/\mu_k), \\
        L_{k+1} &= \mathrm{SVT}_{1/\mu_k}(D - S_{k+1} + Y_k/\mu_k), \\
        Y_{k+1} &= Y_k + \mu_k (D - L_{k+1} - S_{k+1}), \qquad
        \mu_{k+1} = \min(\rho\mu_k, \bar\mu),

    where SVT shrinks the singular values by :math:`1/\mu_k`.  Each problem of a batch has its
    own :math:`\lambda`, :math:`\mu_k` and stopping test; converged problems are frozen.  The
    SVD is a full batched ``linalg.svd`` (no partial SVD).

    Accuracy: with the default :math:`\rho = 1.5` the penalty grows geometrically and
    :math:`\sum_k 1/\mu_k` is small, so the iterates become feasible (residual ``tol``) very
    fast; on matrices that satisfy the PCP recovery conditions (planted low rank + sparse) this
    is the exact solution, but on arbitrary data the feasible point can be sub-optimal
    (about 0.1 % in objective on a random 12x10 matrix).  For an optimal solution of
    arbitrary data use a slowly growing penalty, e.g. ``rho=1.05`` (objective within 1e-9 of
    CVXPY on that example).

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.solvers.convex.pcp import pcp
    >>> rng = np.random.default_rng(0)
    >>> L0 = rng.standard_normal((60, 2)) @ rng.standard_normal((2, 60))
    >>> S0 = np.where(rng.random((60, 60)) < 0.05, 10.0, 0.0)
    >>> res = pcp(L0 + S0)
    >>> bool(np.linalg.norm(res.x - L0) / np.linalg.norm(L0) < 1e-5)
    True
    """
    if not (hasattr(D, "shape") and hasattr(D, "dtype")):
        raise TypeError(f"pcp: D must be a numpy array or torch tensor, got {type(D).__name__}")
    if D.ndim < 2:
        raise ValueError(f"pcp: D must have shape (*batch, m, n), got {tuple(D.shape)}")
    if not (is_floating_dtype(D.dtype) or is_complex_dtype(D.dtype)):
        raise TypeError(f"pcp: D must be floating or complex, got dtype {D.dtype}")
    check_finite(D, "D")
    xp = namespace(D)
    m, n = int(D.shape[-2]), int(D.shape[-1])
    batch = tuple(int(s) for s in D.shape[:-2])
    tol = check_tol(tol)
    max_iter = check_max_iter(max_iter)
    if not (math.isfinite(rho) and rho >= 1):
        raise ValueError(f"pcp: rho must be >= 1, got {rho!r}")
    lam_np = _per_problem(1.0 / math.sqrt(max(m, n)) if lam is None else lam, batch, "lam")
    if not np.all(np.isfinite(lam_np)) or np.any(lam_np < 0):
        raise ValueError(f"pcp: lam must be finite and non-negative, got {lam!r}")
    rdt = xp.real(D[..., :1, :1]).dtype
    kw = _dev(D)
    tol = max(tol, 10 * float(np.finfo(np.dtype(str(rdt).replace("torch.", ""))).eps))

    def bvec(v: np.ndarray) -> Any:  # per-problem host values -> (*batch, 1, 1) array
        return xp.reshape(xp.asarray(np.asarray(v, dtype=np.float64), **kw), batch + (1, 1))

    fro = xp.sqrt(xp.sum(xp.abs(D) ** 2, axis=(-2, -1)))
    norm2 = xp.linalg.matrix_norm(D, ord=2)
    norm2_np = to_numpy(norm2).astype(np.float64)
    fro_np = to_numpy(fro).astype(np.float64)
    maxabs_np = to_numpy(xp.max(xp.abs(D), axis=(-2, -1))).astype(np.float64)
    safe2 = np.where(norm2_np > 0, norm2_np, 1.0)
    if mu is None:
        mu_np = 1.25 / safe2
    else:
        mu_np = _per_problem(mu, batch, "mu")
        if not np.all(np.isfinite(mu_np)) or np.any(mu_np <= 0):
            raise ValueError(f"pcp: mu must be positive, got {mu!r}")
    mu_bar = mu_max_factor * mu_np
    with np.errstate(divide="ignore", invalid="ignore"):
        J = np.maximum(safe2, np.where(lam_np > 0, maxabs_np / np.where(lam_np > 0, lam_np, 1), 0.0))
    J = np.where(J > 0, J, 1.0)
    Y = D / xp.astype(bvec(J), rdt)
    S = xp.zeros_like(D)
    L = xp.zeros_like(D)
    lam_b = xp.astype(bvec(lam_np), rdt)
    fro_safe = xp.astype(xp.reshape(xp.asarray(np.where(fro_np > 0, fro_np, 1.0), **kw), batch), rdt)
    mon = ConvergenceMonitor(batch, fro, max_iter, tol, record_every, check_every, callback, verbose,
                             "pcp")
    mu_cur = mu_np.copy()
    rank = xp.zeros(batch, dtype=xp.int64, **kw)
    resid = xp.zeros(batch, dtype=rdt, **kw)
    if fro_np.size and np.all(fro_np == 0):
        mon.step(xp.zeros(batch, dtype=rdt, **kw), L, residual=resid)
    else:
        # mu lives on the device during the iterations: no host synchronisation per iteration
        mu_dev = xp.astype(xp.reshape(bvec(mu_cur), batch), rdt)
        mu_bar_dev = xp.astype(xp.reshape(bvec(mu_bar), batch), rdt)
        while True:
            mub = xp.reshape(mu_dev, batch + (1, 1))
            act = mon.mask(D)
            S_new = _soft(xp, D - L + Y / xp.astype(mub, D.dtype), lam_b / mub)
            L_new, rank_new = _svt(xp, D - S_new + Y / xp.astype(mub, D.dtype), 1.0 / mub[..., 0])
            Z = D - L_new - S_new
            Y_new = Y + xp.astype(mub, D.dtype) * Z
            S = xp.where(act, S_new, S)
            L = xp.where(act, L_new, L)
            Y = xp.where(act, Y_new, Y)
            rank = xp.where(mon.active, rank_new, rank)
            res_new = xp.sqrt(xp.sum(xp.abs(Z) ** 2, axis=(-2, -1))) / fro_safe
            resid = xp.where(mon.active, res_new, resid)
            mu_dev = xp.where(mon.active, xp.minimum(rho * mu_dev, mu_bar_dev), mu_dev)
            nnz = xp.sum(xp.astype(S != 0, xp.int64), axis=(-2, -1))
            if mon.step(resid, L, residual=resid, rank=rank, n_nonzero=nnz, mu=mu_dev):
                break
        mu_cur = to_numpy(mu_dev).astype(np.float64).reshape(batch)
    params = {"lam": lam_np, "mu0": mu_np, "rho": rho, "tol": tol, "max_iter": max_iter,
              "mu_max_factor": mu_max_factor}
    extras = {"sparse": S, "rank": to_numpy(rank).reshape(batch), "dual": Y,
              "residual": to_numpy(resid).reshape(batch), "mu": mu_cur}
    out = mon.result(L, params=params, extras=extras)
    return out


# ------------------------------------------------------------------------------------- IPI
def patch_positions(size: int, patch_size: int, stride: int) -> np.ndarray:
    """Top-left offsets of the windows along one axis, with an extra window flush with the end.

    ``range(0, size - patch_size + 1, stride)`` leaves the last ``(size - patch_size) % stride``
    pixels uncovered; a last window starting at ``size - patch_size`` is then added so that
    every pixel is covered.
    """
    if patch_size > size:
        raise ValueError(f"patch_size {patch_size} is larger than the image axis ({size})")
    pos = list(range(0, size - patch_size + 1, stride))
    if pos[-1] != size - patch_size:
        pos.append(size - patch_size)
    return np.asarray(pos, dtype=np.int64)


def _check_patch_args(patch_size: int, stride: int) -> None:
    for name, v in (("patch_size", patch_size), ("stride", stride)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def _patch_index(H: int, W: int, patch_size: int, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat pixel index of every patch entry, shape (P, ps*ps), and the window positions."""
    r = patch_positions(H, patch_size, stride)
    c = patch_positions(W, patch_size, stride)
    off = np.arange(patch_size)
    rows = (r[:, None, None, None] + off[None, None, :, None])          # (R, 1, ps, 1)
    cols = (c[None, :, None, None] + off[None, None, None, :])          # (1, C, 1, ps)
    flat = rows * W + cols                                               # (R, C, ps, ps)
    return flat.reshape(len(r) * len(c), patch_size * patch_size), r, c


def image_to_patches(image: Any, patch_size: int = 50, stride: int = 10) -> Any:
    r"""Patch-image of an image: every ``patch_size``\ :sup:`2` window as a column.

    Parameters
    ----------
    image : array of shape ``(*batch, H, W)``
    patch_size, stride : int
        Window side and step.  Windows start at ``0, stride, 2 stride, ...`` along each axis,
        plus a last window flush with the border when the grid does not reach it (see
        :func:`patch_positions`).  Windows are ordered row-major over (row, column) offsets.

    Returns
    -------
    array of shape ``(*batch, patch_size**2, n_patches)``
        Column ``p`` is the C-order vectorisation of window ``p``.
    """
    _check_patch_args(patch_size, stride)
    xp = namespace(image)
    H, W = int(image.shape[-2]), int(image.shape[-1])
    flat, _, _ = _patch_index(H, W, patch_size, stride)
    batch = tuple(image.shape[:-2])
    img = xp.reshape(image, batch + (H * W,))
    idx = xp.asarray(flat.reshape(-1), **_dev(image))
    P = xp.reshape(img[..., idx], batch + flat.shape)                    # (*batch, P, ps^2)
    nb = len(batch)
    return xp.permute_dims(P, tuple(range(nb)) + (nb + 1, nb))


def patches_to_image(patches: Any, shape: tuple[int, int], patch_size: int = 50, stride: int = 10,
                     aggregate: str = "median") -> Any:
    r"""Reassemble an image from its patch-image, aggregating overlapping estimates per pixel.

    Parameters
    ----------
    patches : array of shape ``(*batch, patch_size**2, n_patches)``
    shape : (H, W)
    patch_size, stride : int
        As in :func:`image_to_patches`.
    aggregate : {"median", "mean"}
        Pixel-wise median of the overlapping estimates (IPI, Gao et al. 2013) or their mean.
        The median of an even number of values is the average of the two middle ones.

    Returns
    -------
    array of shape ``(*batch, H, W)``
    """
    _check_patch_args(patch_size, stride)
    if aggregate not in ("median", "mean"):
        raise ValueError(f"aggregate must be 'median' or 'mean', got {aggregate!r}")
    xp = namespace(patches)
    H, W = (int(s) for s in shape)
    flat, _, _ = _patch_index(H, W, patch_size, stride)
    Pn = flat.shape[0]
    if tuple(patches.shape[-2:]) != (patch_size * patch_size, Pn):
        raise ValueError(f"patches must have shape (*batch, {patch_size**2}, {Pn}) for an image of "
                         f"shape {(H, W)}, got {tuple(patches.shape)}")
    batch = tuple(patches.shape[:-2])
    nb = len(batch)
    # slot of each patch: distinct for overlapping patches (greedy on the host, static)
    cnt = np.zeros(H * W, dtype=np.int64)
    slot = np.empty(Pn, dtype=np.int64)
    for p in range(Pn):
        s = int(cnt[flat[p]].max())
        slot[p] = s
        cnt[flat[p]] = s + 1
    nslot = int(cnt.max())
    cover = np.zeros(H * W, dtype=np.int64)
    np.add.at(cover, flat.reshape(-1), 1)
    vals = xp.permute_dims(patches, tuple(range(nb)) + (nb + 1, nb))     # (*batch, P, ps^2)
    kw = _dev(patches)
    dt = patches.dtype
    if aggregate == "mean":
        acc = xp.zeros(batch + (H * W,), dtype=dt, **kw)
        # sum the estimates slot by slot (no duplicate indices inside one slot)
        for s in range(nslot):
            ps_ = np.nonzero(slot == s)[0]
            idx = xp.asarray(flat[ps_].reshape(-1), **kw)
            acc[..., idx] = acc[..., idx] + xp.reshape(vals[..., xp.asarray(ps_, **kw), :], batch + (-1,))
        cov = xp.asarray(np.maximum(cover, 1).astype(np.float64), **kw)
        out = acc / xp.astype(cov, acc.dtype)
        return xp.reshape(out, batch + (H, W))
    big = xp.asarray(np.inf, dtype=xp.real(vals[..., :1, :1]).dtype, **kw)
    stack = xp.full(batch + (H * W * nslot,), big, dtype=xp.real(vals[..., :1, :1]).dtype, **kw) \
        if not xp.isdtype(dt, "complex floating") else None
    if stack is None:
        raise TypeError("median aggregation needs real patches; use aggregate='mean' for complex data")
    target = (flat * nslot + slot[:, None]).reshape(-1)
    stack[..., xp.asarray(target, **kw)] = xp.reshape(vals, batch + (-1,))
    stack = xp.sort(xp.reshape(stack, batch + (H * W, nslot)), axis=-1)
    lo = xp.asarray((cover - 1) // 2, **kw)[:, None]
    hi = xp.asarray(cover // 2, **kw)[:, None]
    lo = xp.broadcast_to(lo, batch + (H * W, 1))
    hi = xp.broadcast_to(hi, batch + (H * W, 1))
    med = (xp.take_along_axis(stack, lo, axis=-1) + xp.take_along_axis(stack, hi, axis=-1)) / 2
    return xp.reshape(med[..., 0], batch + (H, W))


def ipi(image: Any, patch_size: int = 50, stride: int = 10, lam: float | str | Any = None, *,
        aggregate: str = "median", normalize: bool = True, tol: float = 1e-7, max_iter: int = 500,
        **pcp_kwargs: Any) -> SolverResult:
    r"""Infrared patch-image (IPI) model: background / small-target separation by PCP.

    Parameters
    ----------
    image : array of shape ``(*batch, H, W)``
        Real images; a batch is processed at once (one batched PCP).
    patch_size, stride : int, default 50 and 10
        Sliding window (see :func:`image_to_patches`; the border is covered by an extra
        window flush with the edge).
    lam : float, array, "image" or None
        :math:`\lambda` of the PCP.  ``None``: :math:`1/\sqrt{\max(m, n)}` of the patch matrix
        (:math:`m = ` ``patch_size**2``, :math:`n` = number of patches); ``"image"``:
        :math:`1/\sqrt{\max(H, W)}`, the convention of the authors' MATLAB code.
    aggregate : {"median", "mean"}, default "median"
        Pixel-wise aggregation of overlapping patch estimates (median as in IPI).
    normalize : bool, default True
        Min-max normalise each image to [0, 1] before building the patch matrix (as the
        reference code); outputs are mapped back to the input scale.
    tol, max_iter, **pcp_kwargs
        Passed to :func:`pcp`.

    Returns
    -------
    SolverResult
        ``x`` is the **background** image (low-rank part), ``extras['target']`` (also
        ``extras['sparse']``) the target image (sparse part), both of shape ``(*batch, H, W)``;
        ``extras['patch_result']`` is the :func:`pcp` result on the patch matrix.
        ``converged``/``n_iter``/``history`` are those of the PCP.

    Notes
    -----
    The patch-image :math:`D` of a smooth background is approximately low rank (patches are
    strongly correlated) while small targets are sparse, so PCP
    :math:`\min \|B\|_* + \lambda\|T\|_1` s.t. :math:`B + T = D` separates them.  Gao et al.
    (IEEE TIP 2013) solve it by APG with continuation; here the exact-constraint inexact ALM of
    :func:`pcp` is used.  Patches are mapped back by the pixel-wise median of the overlapping
    estimates (``aggregate="median"``, as the reference code) or their mean.  Segmentation
    (e.g. threshold ``mean + k std`` of the target image) is left to the caller.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.solvers.convex.pcp import ipi
    >>> yy, xx = np.mgrid[:64, :64] / 64.0
    >>> img = 1 + 0.5 * xx + 0.3 * yy
    >>> img[30:32, 40:42] += 0.5
    >>> res = ipi(img, patch_size=16, stride=4)
    >>> tgt = res.extras['target']
    >>> bool(tgt[30:32, 40:42].mean() > 10 * np.abs(tgt).mean())
    True
    """
    _check_patch_args(patch_size, stride)
    if not (hasattr(image, "shape") and hasattr(image, "dtype")) or image.ndim < 2:
        raise ValueError("ipi: image must be an array of shape (*batch, H, W)")
    if not is_floating_dtype(image.dtype):
        raise TypeError(f"ipi: image must be real floating point, got dtype {image.dtype}")
    check_finite(image, "image")
    xp = namespace(image)
    H, W = int(image.shape[-2]), int(image.shape[-1])
    img = image
    if normalize:
        lo = xp.min(image, axis=(-2, -1), keepdims=True)
        hi = xp.max(image, axis=(-2, -1), keepdims=True)
        scale = xp.where(hi > lo, hi - lo, xp.ones_like(hi))
        img = (image - lo) / scale
    D = image_to_patches(img, patch_size, stride)
    if isinstance(lam, str):
        if lam != "image":
            raise ValueError(f"lam must be a number, an array, None or 'image', got {lam!r}")
        lam = 1.0 / math.sqrt(max(H, W))
    res = pcp(D, lam=lam, tol=tol, max_iter=max_iter, **pcp_kwargs)
    bg = patches_to_image(res.x, (H, W), patch_size, stride, aggregate)
    tg = patches_to_image(res.extras["sparse"], (H, W), patch_size, stride, aggregate)
    if normalize:
        bg = bg * scale + lo
        tg = tg * scale
    return SolverResult(
        x=bg, status=res.status, problem_status=res.problem_status, converged=res.converged,
        n_iter=res.n_iter, history=res.history,
        params={**res.params, "patch_size": patch_size, "stride": stride, "aggregate": aggregate,
                "normalize": normalize},
        extras={"target": tg, "sparse": tg, "patch_result": res}, solver="ipi")
