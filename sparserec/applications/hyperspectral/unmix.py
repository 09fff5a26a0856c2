r"""``unmix``: one entry point from a cube to abundance maps (an ``xarray.Dataset``), and
``stream_fcls``: chunked FCLS over cubes that do not fit in memory (HDF5 datasets, memmaps)."""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

__all__ = ["METHODS", "stream_fcls", "unmix"]

#: methods accepted by :func:`unmix`
METHODS = ("auto", "fcls", "vca+fcls", "sunsal", "clsunsal", "nmf", "l12nmf", "robust")


def _as_cube(cube: Any) -> tuple[np.ndarray, Any]:
    """numpy ``(H, W, L)`` from an array, an ``(N, L)`` matrix or an xarray DataArray (dims y, x, band)."""
    wl = None
    if hasattr(cube, "dims") and hasattr(cube, "transpose") and hasattr(cube, "values"):
        dims = tuple(str(d) for d in cube.dims)
        if set(dims) >= {"y", "x", "band"}:
            cube = cube.transpose("y", "x", "band")
            if "band" in cube.coords and np.issubdtype(cube["band"].dtype, np.number):
                wl = np.asarray(cube["band"].values)
            cube = cube.values
        else:
            raise ValueError(f"unmix: DataArray dims {dims} must include y, x, band")
    from ..._backend import to_numpy

    a = np.asarray(to_numpy(cube), dtype=np.float64)
    if a.ndim == 2:
        a = a[None, :, :]
    if a.ndim != 3:
        raise ValueError(f"unmix: expected a cube (H, W, L) or pixels (N, L), got shape {a.shape}")
    return a, wl


def _check_negative(Y: np.ndarray, valid: np.ndarray, negative: str) -> tuple[np.ndarray, int]:
    neg = int(np.count_nonzero(Y[valid] < 0))
    if neg == 0:
        return Y, 0
    msg = f"{neg} negative reflectance value(s) in the cube"
    if negative == "raise":
        raise ValueError(msg + " (negative='raise')")
    if negative == "clip":
        warnings.warn(msg + "; clipped to 0 (negative='clip')", UserWarning, stacklevel=3)
        Y = np.where(Y < 0, 0.0, Y)
    elif negative == "warn":
        warnings.warn(msg + "; kept as they are (negative='warn')", UserWarning, stacklevel=3)
    else:
        raise ValueError(f"negative must be 'clip', 'warn' or 'raise', got {negative!r}")
    return Y, neg


def unmix(cube: Any, n_endmembers: int | None = None, *, endmembers: Any = None, method: str = "auto",
          negative: str = "clip", random_state: Any = 0, materials: Any = None, **solver_kw: Any) -> Any:
    r"""Unmix a hyperspectral cube; returns an ``xarray.Dataset``.

    Parameters
    ----------
    cube : array ``(H, W, L)`` or ``(N, L)``, or ``xarray.DataArray`` with dims ``y, x, band``
    n_endmembers : int, optional
        Number of endmembers (blind methods).
    endmembers : array ``(L, K)``, optional
        Known endmembers (``fcls``, ``robust`` supervised) or a library (``sunsal``, ``clsunsal``).
    method : str, default "auto"
        ``"fcls"`` (needs ``endmembers``), ``"vca+fcls"``, ``"sunsal"``, ``"clsunsal"``, ``"nmf"``,
        ``"l12nmf"``, ``"robust"`` (:func:`~sparserec.solvers.unmixing.rrlbs_style`, blind or
        supervised).  ``"auto"``: ``fcls`` when ``endmembers`` is given, else ``robust``.
    negative : {"clip", "warn", "raise"}, default "clip"
        Negative reflectances (noise, bad calibration): clipped to 0 with a warning, kept with a
        warning, or an error.  The count is stored in ``attrs["n_negative"]``.
    random_state : seed for VCA and the blind methods (default 0).
    materials : list of str, optional
        Names for the ``endmember`` coordinate.
    **solver_kw
        Passed to the solver (e.g. ``max_iter``, ``lam``).

    Returns
    -------
    xarray.Dataset
        ``abundances (y, x, endmember)``, ``endmembers (band, endmember)``,
        ``reconstruction_rmse (y, x)``, ``valid (y, x)``; ``guidance_map (y, x)`` for the robust
        method.  NaN/Inf pixels are masked: excluded from the fit, NaN in the outputs, counted in
        ``attrs["n_masked"]``.  Attributes carry provenance (version, method, parameters, times).

    Raises
    ------
    ValueError
        Band-count mismatch between cube and endmembers, ``n_endmembers`` larger than the number
        of bands, neither ``n_endmembers`` nor ``endmembers`` given, unknown method, all pixels
        masked.
    """
    import xarray as xr

    from ...io.provenance import now_iso, provenance
    from ...solvers import unmixing as um

    t_start = now_iso()
    t0 = time.perf_counter()
    if method not in METHODS:
        raise ValueError(f"unmix: unknown method {method!r}; choose from {METHODS}")
    Y, wl = _as_cube(cube)
    H, W, L = Y.shape
    E_in = None
    if endmembers is not None:
        E_in = np.asarray(endmembers, dtype=np.float64)
        if E_in.ndim != 2:
            raise ValueError(f"unmix: endmembers must be (n_bands, n_endmembers), got shape {E_in.shape}")
        if E_in.shape[0] != L:
            raise ValueError(f"unmix: band-count mismatch: the cube has {L} bands but endmembers has "
                             f"{E_in.shape[0]} rows (expected (n_bands, n_endmembers))")
        if n_endmembers is not None and n_endmembers != E_in.shape[1] and method not in ("sunsal", "clsunsal"):
            raise ValueError(f"unmix: n_endmembers={n_endmembers} but endmembers has {E_in.shape[1]} columns")
    if n_endmembers is not None:
        if isinstance(n_endmembers, bool) or not isinstance(n_endmembers, (int, np.integer)) or n_endmembers < 1:
            raise ValueError(f"unmix: n_endmembers must be a positive integer, got {n_endmembers!r}")
        if n_endmembers > L:
            raise ValueError(f"unmix: n_endmembers={n_endmembers} exceeds the number of bands ({L})")
    if method == "auto":
        method = "fcls" if E_in is not None else "robust"
    if method in ("fcls", "sunsal", "clsunsal") and E_in is None:
        raise ValueError(f"unmix: method {method!r} needs endmembers (L, K)")
    if method in ("vca+fcls", "nmf", "l12nmf") and n_endmembers is None and E_in is None:
        raise ValueError(f"unmix: method {method!r} needs n_endmembers")
    if method == "robust" and n_endmembers is None and E_in is None:
        raise ValueError("unmix: give n_endmembers (blind) or endmembers (supervised)")
    Y2 = Y.reshape(-1, L)
    valid = np.isfinite(Y2).all(axis=1)
    n_masked = int((~valid).sum())
    if n_masked == Y2.shape[0]:
        raise ValueError("unmix: every pixel contains NaN/Inf")
    if n_masked:
        warnings.warn(f"unmix: {n_masked} pixel(s) with NaN/Inf masked (NaN in the outputs)", UserWarning,
                      stacklevel=2)
    Yv, n_neg = _check_negative(Y2[valid], np.ones(int(valid.sum()), dtype=bool), negative)
    extras: dict[str, Any] = {}
    kw = dict(solver_kw)
    if method == "fcls":
        res = um.fcls(E_in, Yv, **kw)
        E_hat, A_hat = E_in, np.asarray(res.x)
    elif method == "vca+fcls":
        K = int(n_endmembers if n_endmembers is not None else E_in.shape[1])
        ext = um.vca(Yv, K, random_state=random_state)
        E_hat = np.asarray(ext.x)
        res = um.fcls(np.clip(E_hat, 0, None), Yv, **kw)
        A_hat = np.asarray(res.x)
        extras["vca_indices"] = ext.extras["indices"]
    elif method in ("sunsal", "clsunsal"):
        fn = um.sunsal if method == "sunsal" else um.clsunsal
        res = fn(E_in, Yv, **kw)
        E_hat, A_hat = E_in, np.asarray(res.x)
    else:
        fn = {"nmf": um.nmf, "l12nmf": um.l12_nmf, "robust": um.rrlbs_style}[method]
        res = fn(Yv, n_endmembers if E_in is None else None, endmembers=E_in, random_state=random_state, **kw)
        E_hat, A_hat = np.asarray(res.extras["endmembers"]), np.asarray(res.x)
        if "guidance_map" in res.extras and method == "robust":
            extras["guidance_map"] = np.asarray(res.extras["guidance_map"])
    K = E_hat.shape[1]
    A_full = np.full((H * W, K), np.nan)
    A_full[valid] = A_hat
    R = Yv - A_hat @ E_hat.T
    rm = np.full(H * W, np.nan)
    rm[valid] = np.sqrt(np.mean(R * R, axis=1))
    names = list(materials) if materials is not None else [f"em{k}" for k in range(K)]
    if len(names) != K:
        raise ValueError(f"unmix: {len(names)} material names for {K} endmembers")
    coords: dict[str, Any] = {"endmember": names}
    if wl is not None:
        coords["band"] = wl
    data = {
        "abundances": (("y", "x", "endmember"), A_full.reshape(H, W, K)),
        "endmembers": (("band", "endmember"), E_hat),
        "reconstruction_rmse": (("y", "x"), rm.reshape(H, W)),
        "valid": (("y", "x"), valid.reshape(H, W)),
    }
    if "guidance_map" in extras:
        g = np.full(H * W, np.nan)
        g[valid] = extras["guidance_map"]
        data["guidance_map"] = (("y", "x"), g.reshape(H, W))
    n_iter = int(np.max(res.n_iter)) if np.size(res.n_iter) else 0
    params = {k: v for k, v in res.params.items() if isinstance(v, (int, float, str, bool, type(None)))}
    attrs = provenance(res.solver, params, start_time=t_start, method=method, n_masked=n_masked,
                       n_negative=n_neg, negative_policy=negative, converged=int(bool(np.all(res.converged))),
                       n_iter=n_iter, wall_time_s=float(time.perf_counter() - t0),
                       random_state=str(random_state), pixel_order="row-major (n = i*W + j)")
    return xr.Dataset(data, coords=coords, attrs=attrs)


def stream_fcls(E: Any, source: Any, out: Any = None, *, chunk_pixels: int = 65536, dtype: Any = np.float64,
                **fcls_kw: Any) -> dict[str, Any]:
    r"""Chunked FCLS over a cube too large for memory (fixed working memory).

    Parameters
    ----------
    E : array ``(L, K)``
    source : array-like ``(H, W, L)`` or ``(N, L)`` supporting slicing on the first axis
        E.g. an ``h5py.Dataset``, a ``numpy.memmap`` or a numpy array.
    out : array-like ``(H, W, K)`` / ``(N, K)``, optional
        Where abundances go (e.g. an ``h5py.Dataset``); allocated in memory if None.
    chunk_pixels : int, default 65536
        Pixels per chunk (whole rows of a cube); memory is
        :math:`O(\text{chunk\_pixels}\cdot(L + K^2))`, independent of the cube size.
    dtype : computation dtype (float64 by default; float32 roughly doubles throughput).
    **fcls_kw : passed to :func:`~sparserec.solvers.unmixing.fcls`.

    Returns
    -------
    dict
        ``out``, ``n_pixels``, ``n_chunks``, ``seconds``, ``pixels_per_s``, ``n_masked`` (pixels with
        NaN/Inf, left NaN), ``max_kkt_violation``.
    """
    from ...solvers.unmixing import fcls

    E = np.asarray(E, dtype=dtype)
    shp = tuple(source.shape)
    if shp[-1] != E.shape[0]:
        raise ValueError(f"stream_fcls: band-count mismatch: source has {shp[-1]} bands, E has {E.shape[0]} rows")
    K = E.shape[1]
    cube = len(shp) == 3
    row_px = shp[1] if cube else 1
    step = max(1, int(chunk_pixels) // row_px)
    if out is None:
        out = np.empty(shp[:-1] + (K,), dtype=dtype)
    t0 = time.perf_counter()
    n_chunks = n_masked = 0
    kkt = 0.0
    for s in range(0, shp[0], step):
        blk = np.asarray(source[s:s + step], dtype=dtype)
        flat = blk.reshape(-1, shp[-1])
        ok = np.isfinite(flat).all(axis=1)
        A = np.full((flat.shape[0], K), np.nan, dtype=dtype)
        if ok.all():
            r = fcls(E, flat, chunk_size=None, **fcls_kw)
            A = np.asarray(r.x)
        elif ok.any():
            r = fcls(E, flat[ok], chunk_size=None, **fcls_kw)
            A[ok] = np.asarray(r.x)
        else:
            r = None
        if r is not None:
            kkt = max(kkt, float(r.extras["kkt_violation"]))
        n_masked += int((~ok).sum())
        out[s:s + step] = A.reshape(blk.shape[:-1] + (K,))
        n_chunks += 1
    sec = time.perf_counter() - t0
    n = int(np.prod(shp[:-1]))
    return {"out": out, "n_pixels": n, "n_chunks": n_chunks, "seconds": sec, "pixels_per_s": n / max(sec, 1e-12),
            "n_masked": n_masked, "max_kkt_violation": kkt}
