"""Solver results as xarray Datasets / NetCDF4 files / HDF5 groups, with provenance."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._deps import require

__all__ = ["result_to_xarray", "result_variables", "write_result"]

#: status code written for problems of a chunk that was skipped (``on_error = "skip"``)
SKIPPED = -1


def _as_dict(result: Any) -> dict[str, Any]:
    if hasattr(result, "to_dict"):
        return result.to_dict()
    if isinstance(result, dict):
        return result
    raise TypeError(f"expected a SolverResult or its to_dict(), got {type(result).__name__}")


def result_variables(result: Any) -> dict[str, tuple[str, np.ndarray]]:
    """The arrays of a result that the I/O layer stores, keyed by variable name.

    Parameters
    ----------
    result : SolverResult or dict
        A result or its :meth:`~sparserec.solvers.result.SolverResult.to_dict`.

    Returns
    -------
    dict
        ``name -> (kind, array)`` with ``kind`` ``"state"`` (shape ``(*batch, *in_shape)``) or
        ``"batch"`` (shape ``batch``).  Always ``estimate``, ``status`` (int8 :class:`Status`
        codes), ``converged`` (uint8) and ``n_iter`` (int32); ``history_<key>`` holds the last
        recorded value of each per-problem history metric; extras whose shape matches the
        estimate (e.g. SBL ``posterior_var``, ``gamma``) or the batch are kept under their own
        name.  Complex arrays are split into ``<name>_real`` and ``<name>_imag``.
    """
    d = _as_dict(result)
    x = np.asarray(d["x"])
    conv = np.asarray(d["converged"])
    bshape = conv.shape
    out: dict[str, tuple[str, np.ndarray]] = {
        "estimate": ("state", x),
        "status": ("batch", np.asarray(d["problem_status"]).astype(np.int8)),
        "converged": ("batch", conv.astype(np.uint8)),
        "n_iter": ("batch", np.asarray(d["n_iter"]).astype(np.int32)),
    }
    for k, v in d.get("history", {}).items():
        v = np.asarray(v)
        if v.ndim >= 1 and v.shape[0] > 0 and v.shape[1:] == bshape and bshape != ():
            out[f"history_{k}"] = ("batch", v[-1])
    for k, v in d.get("extras", {}).items():
        if not hasattr(v, "shape") or k in out:
            continue
        a = np.asarray(v)
        if a.shape == x.shape and a.ndim > len(bshape):
            out[k] = ("state", a)
        elif a.shape == bshape and bshape != ():
            out[k] = ("batch", a)
    final: dict[str, tuple[str, np.ndarray]] = {}
    for k, (kind, a) in out.items():
        if np.iscomplexobj(a):
            final[f"{k}_real"] = (kind, np.ascontiguousarray(a.real))
            final[f"{k}_imag"] = (kind, np.ascontiguousarray(a.imag))
        elif a.dtype == bool:
            final[k] = (kind, a.astype(np.uint8))
        else:
            final[k] = (kind, a)
    return final


def _names(prefix: str, given: Sequence[str] | None, n: int, what: str) -> tuple[str, ...]:
    if given is None:
        return tuple(f"{prefix}_{i}" for i in range(n))
    g = tuple(str(s) for s in given)
    if len(g) != n:
        raise ValueError(f"{what} needs {n} names, got {g}")
    return g


def result_to_xarray(result: Any, batch_dims: Sequence[str] | None = None,
                     state_dims: Sequence[str] | None = None,
                     attrs: dict[str, Any] | None = None) -> Any:
    """A result as an ``xarray.Dataset`` with the variables of :func:`result_variables`.

    Parameters
    ----------
    result : SolverResult or dict
    batch_dims, state_dims : sequence of str, optional
        Names of the batch and solution dimensions (default ``batch_i`` / ``state_i``).
    attrs : dict, optional
        Dataset attributes, typically :func:`~sparserec.io.provenance`.

    Returns
    -------
    xarray.Dataset
    """
    xr = require("xarray")
    d = _as_dict(result)
    nb = np.asarray(d["converged"]).ndim
    x = np.asarray(d["x"])
    bd = _names("batch", batch_dims, nb, "batch_dims")
    sd = _names("state", state_dims, x.ndim - nb, "state_dims")
    data = {k: ((bd + sd) if kind == "state" else bd, a) for k, (kind, a) in result_variables(d).items()}
    base = {"solver": d.get("solver", ""), "status": d.get("status", "")}
    base.update(attrs or {})
    return xr.Dataset(data, attrs=base)


def write_result(path: str | os.PathLike, result: Any, *, batch_dims: Sequence[str] | None = None,
                 state_dims: Sequence[str] | None = None, attrs: dict[str, Any] | None = None,
                 format: str = "netcdf", group: str | None = None, overwrite: bool = False) -> str:
    """Write a result with provenance to a NetCDF4 file or an HDF5 group.

    Parameters
    ----------
    path : str or path-like
    result : SolverResult or dict
    batch_dims, state_dims : sequence of str, optional
    attrs : dict, optional
        Provenance (see :func:`~sparserec.io.provenance`).
    format : {"netcdf", "hdf5"}
        ``"netcdf"``: xarray/h5netcdf (readable with ``xarray.open_dataset``); ``"hdf5"``: plain
        h5py datasets carrying ``DIMENSION_LABELS`` attributes.
    group : str, optional
        Group inside the file; with a group the file may already exist (mode ``"a"``).
    overwrite : bool
        Replace an existing file (whole-file writes only).

    Returns
    -------
    str
        The path written.

    Notes
    -----
    Whole-file writes go to ``path + ".tmp"`` first and are renamed into place, so a crash
    never leaves a half-written result under ``path``.
    """
    p = os.fspath(path)
    if group is None and os.path.exists(p) and not overwrite:
        raise FileExistsError(f"{p!r} exists; pass overwrite=True to replace it")
    ds = result_to_xarray(result, batch_dims, state_dims, attrs)
    target = p if group is not None else p + ".tmp"
    if format == "netcdf":
        mode = "a" if (group is not None and os.path.exists(p)) else "w"
        ds.to_netcdf(target, engine="h5netcdf", group=group, mode=mode)
    elif format == "hdf5":
        h5py = require("h5py")
        mode = "a" if (group is not None and os.path.exists(p)) else "w"
        with h5py.File(target, mode) as f:
            g = f.require_group(group) if group else f
            for k, v in ds.data_vars.items():
                if k in g:
                    del g[k]
                dset = g.create_dataset(k, data=np.asarray(v.values))
                dset.attrs["DIMENSION_LABELS"] = np.array([str(s) for s in v.dims], dtype=h5py.string_dtype())
            for k, v in ds.attrs.items():
                g.attrs[k] = v
    else:
        raise ValueError(f"format must be 'netcdf' or 'hdf5', got {format!r}")
    if group is None:
        os.replace(target, p)
    return p
