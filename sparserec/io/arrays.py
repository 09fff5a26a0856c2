"""Lazy, read-only access to HDF5 datasets and NetCDF4 variables with named dimensions."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._deps import require

__all__ = ["DimMap", "LazyArray", "detect_format", "map_dims", "open_array", "read_array"]

_DIM_ATTRS = ("dims", "dimensions", "DIMENSION_LABELS", "_ARRAY_DIMENSIONS")


class InputError(ValueError):
    """A problem with an input file or one of its datasets (missing, unreadable, wrong shape)."""


def _open_h5(path: str | os.PathLike) -> Any:
    """Open ``path`` read-only with h5py, turning every failure into a clear :class:`InputError`."""
    h5py = require("h5py")
    p = os.fspath(path)
    if not os.path.exists(p):
        raise InputError(f"input file {p!r} does not exist")
    if not os.access(p, os.R_OK):
        raise InputError(f"input file {p!r} is not readable (permission denied)")
    try:
        return h5py.File(p, "r")
    except OSError as e:
        raise InputError(f"cannot read {p!r} as HDF5/NetCDF4: {e} "
                         "(truncated or not an HDF5 file?)") from e


def detect_format(path: str | os.PathLike) -> str:
    """``"netcdf"`` for NetCDF4 files (HDF5 with netCDF conventions), ``"hdf5"`` otherwise.

    Raises
    ------
    InputError
        The file is missing, unreadable, truncated or not HDF5-based.
    """
    with _open_h5(path) as f:
        if "_NCProperties" in f.attrs:
            return "netcdf"
        found: list[bool] = []

        def visit(name: str, obj: Any) -> Any:
            if hasattr(obj, "shape") and ("_Netcdf4Dimid" in obj.attrs or "_Netcdf4Coordinates" in obj.attrs):
                found.append(True)
                return True
            return None

        f.visititems(visit)
        return "netcdf" if found else "hdf5"


def _decode(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _h5_dim_names(ds: Any) -> tuple[str, ...]:
    names: list[str | None] = []
    for d in ds.dims:
        label = d.label or None
        if label is None:
            try:
                if len(d):
                    label = d[0].name.rsplit("/", 1)[-1] or None
            except Exception:  # noqa: BLE001 - broken scale: fall back to attributes
                label = None
        names.append(label)
    if any(n is None for n in names):
        for key in _DIM_ATTRS:
            if key in ds.attrs:
                v = ds.attrs[key]
                if isinstance(v, (str, bytes)):
                    items = [s.strip() for s in _decode(v).split(",")]
                else:
                    items = [_decode(s).strip() for s in np.asarray(v).ravel().tolist()]
                if len(items) == ds.ndim:
                    names = list(items)
                    break
    return tuple(n if n else f"dim_{i}" for i, n in enumerate(names))


class LazyArray:
    """A dataset in a file, opened lazily and read-only, with named dimensions.

    Only metadata are read on construction; :meth:`read_block` reads one hyperslab.  The object
    pickles as ``(path, name, format)`` so that worker processes reopen the file themselves.

    Parameters
    ----------
    path : str or path-like
        HDF5 or NetCDF4 file.
    name : str
        Dataset path (HDF5, e.g. ``"/group/cube"``) or variable name (NetCDF4).
    format : {"auto", "hdf5", "netcdf"}
        ``"hdf5"`` reads with h5py; ``"netcdf"`` with xarray (engine ``h5netcdf``).
    dims : sequence of str, optional
        Dimension names to use instead of the names stored in the file.

    Attributes
    ----------
    dims : tuple of str
    shape : tuple of int
    dtype : numpy.dtype
    attrs : dict
    """

    def __init__(self, path: str | os.PathLike, name: str, format: str = "auto",
                 dims: Sequence[str] | None = None) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self.name = str(name)
        fmt = detect_format(self.path) if format == "auto" else format
        if fmt not in ("hdf5", "netcdf"):
            raise ValueError(f"format must be 'auto', 'hdf5' or 'netcdf', got {format!r}")
        self.format = fmt
        self._handle: Any = None
        self._obj: Any = None
        self._open()
        if dims is not None:
            dims = tuple(str(d) for d in dims)
            if len(dims) != len(self.shape):
                raise InputError(f"{self.location()}: {len(dims)} dimension names {dims} given for a "
                                 f"{len(self.shape)}-D dataset of shape {self.shape}")
            self.dims = dims

    # -------------------------------------------------------------- opening
    def _open(self) -> None:
        if self.format == "hdf5":
            f = _open_h5(self.path)
            key = self.name if self.name.startswith("/") else "/" + self.name
            if key not in f or not hasattr(f[key], "shape"):
                avail = _list_datasets(f)
                f.close()
                raise InputError(f"dataset {self.name!r} not found in {self.path!r}; "
                                 f"datasets there: {', '.join(avail) or '(none)'}")
            ds = f[key]
            self._handle, self._obj = f, ds
            self.shape = tuple(int(s) for s in ds.shape)
            self.dtype = np.dtype(ds.dtype)
            self.attrs = {k: _attr_value(v) for k, v in ds.attrs.items()
                          if k not in ("DIMENSION_LIST", "REFERENCE_LIST")}
            self.dims = _h5_dim_names(ds)
        else:
            xr = require("xarray")
            require("h5netcdf")
            if not os.path.exists(self.path):
                raise InputError(f"input file {self.path!r} does not exist")
            try:
                dset = xr.open_dataset(self.path, engine="h5netcdf", cache=False, chunks=None)
            except Exception as e:  # noqa: BLE001 - any backend failure is an input problem
                raise InputError(f"cannot open {self.path!r} as NetCDF4: {e}") from e
            name = self.name.lstrip("/")
            if name not in dset.variables:
                avail = sorted(str(v) for v in dset.data_vars)
                dset.close()
                raise InputError(f"variable {self.name!r} not found in {self.path!r}; "
                                 f"variables there: {', '.join(avail) or '(none)'}")
            var = dset[name]
            self._handle, self._obj = dset, var
            self.shape = tuple(int(s) for s in var.shape)
            self.dtype = np.dtype(var.dtype)
            self.attrs = {k: _attr_value(v) for k, v in var.attrs.items()}
            self.dims = tuple(str(d) for d in var.dims)

    def _ensure_open(self) -> None:
        if self._obj is None:
            dims = self.dims
            self._open()
            self.dims = dims

    def close(self) -> None:
        """Close the file handle (it is reopened on the next read)."""
        if self._handle is not None:
            try:
                self._handle.close()
            finally:
                self._handle = self._obj = None

    def __enter__(self) -> LazyArray:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["_handle"] = d["_obj"] = None
        return d

    def __repr__(self) -> str:
        dims = ", ".join(f"{d}: {s}" for d, s in zip(self.dims, self.shape))
        return f"LazyArray({self.path!r}, {self.name!r}, format={self.format!r}, ({dims}), {self.dtype})"

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def location(self, dim: str | None = None, start: int | None = None, stop: int | None = None) -> str:
        """``file:dataset[dim start:stop]``, for error messages."""
        where = f"{self.path}:{self.name}"
        if dim is not None:
            where += f"[{dim} {start}:{stop}]"
        return where

    # -------------------------------------------------------------- reading
    def read_block(self, dim: str, start: int, stop: int,
                   order: Sequence[str] | None = None) -> np.ndarray:
        """Read ``[start, stop)`` along ``dim`` (every index of the other dimensions).

        Parameters
        ----------
        dim : str
            The dimension to slice.
        start, stop : int
        order : sequence of str, optional
            Dimension order of the returned array (a permutation of :attr:`dims`).

        Returns
        -------
        numpy.ndarray

        Raises
        ------
        OSError
            The stored bytes cannot be read/decoded (corrupt or truncated file).
        """
        if dim not in self.dims:
            raise InputError(f"dimension {dim!r} not in {self.location()} (dims {self.dims})")
        ax = self.dims.index(dim)
        self._ensure_open()
        if self.format == "hdf5":
            idx = tuple(slice(start, stop) if i == ax else slice(None) for i in range(self.ndim))
            out = np.asarray(self._obj[idx])
        else:
            fdim = self._obj.dims[ax]  # the file's own name (``dims`` may rename)
            out = np.asarray(self._obj.isel({fdim: slice(start, stop)}).values)
        if order is not None:
            perm = [self.dims.index(d) for d in order]
            if perm != list(range(self.ndim)):
                out = np.transpose(out, perm)
        return np.ascontiguousarray(out)

    def read(self) -> np.ndarray:
        """The whole array (only for small datasets: matrices, PSFs, endmembers)."""
        self._ensure_open()
        if self.format == "hdf5":
            return np.asarray(self._obj[()])
        return np.asarray(self._obj.values)


def _attr_value(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if isinstance(v, np.ndarray) and v.dtype.kind in "SOU":
        items = [_decode(s) for s in v.ravel().tolist()]
        return items[0] if v.size == 1 else items
    if isinstance(v, np.ndarray) and v.size == 1:
        return v.reshape(()).item()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _list_datasets(f: Any) -> list[str]:
    out: list[str] = []

    def visit(name: str, obj: Any) -> None:
        if hasattr(obj, "shape"):
            out.append("/" + name)

    f.visititems(visit)
    return out


def open_array(path: str | os.PathLike, name: str, format: str = "auto",
               dims: Sequence[str] | None = None) -> LazyArray:
    """Open a dataset/variable lazily and read-only.

    Parameters
    ----------
    path : str or path-like
    name : str
        HDF5 dataset path or NetCDF4 variable name.
    format : {"auto", "hdf5", "netcdf"}
    dims : sequence of str, optional
        Dimension names overriding those stored in the file.

    Returns
    -------
    LazyArray

    Examples
    --------
    >>> import numpy as np, h5py, tempfile, os
    >>> from sparserec.io import open_array
    >>> p = os.path.join(tempfile.mkdtemp(), "a.h5")
    >>> with h5py.File(p, "w") as f:
    ...     f["y"] = np.zeros((4, 3))
    >>> a = open_array(p, "y", dims=("pixel", "band"))
    >>> a.read_block("pixel", 1, 3).shape
    (2, 3)
    >>> a.close()
    """
    return LazyArray(path, name, format=format, dims=dims)


def read_array(path: str | os.PathLike, name: str, format: str = "auto") -> np.ndarray:
    """Read a (small) dataset in full, read-only."""
    with LazyArray(path, name, format=format) as a:
        try:
            return a.read()
        except OSError as e:
            raise InputError(f"cannot read {a.location()}: {e}") from e


@dataclass(frozen=True)
class DimMap:
    """How the dimensions of a stored array map onto a batch of operator outputs.

    Attributes
    ----------
    batch_dims : tuple of str
        Dimensions that enumerate problems; the first one is sliced into chunks.
    data_dims : tuple of str
        Dimensions of one measurement, in the order matching the operator's ``out_shape``.
    batch_shape : tuple of int
    data_shape : tuple of int
        Stored sizes of ``data_dims``.
    out_shape : tuple of int
        The operator's ``out_shape`` (same number of elements as ``data_shape``).
    """

    batch_dims: tuple[str, ...]
    data_dims: tuple[str, ...]
    batch_shape: tuple[int, ...]
    data_shape: tuple[int, ...]
    out_shape: tuple[int, ...]

    @property
    def chunk_dim(self) -> str:
        """The dimension sliced into chunks (the first batch dimension)."""
        return self.batch_dims[0]

    @property
    def order(self) -> tuple[str, ...]:
        return self.batch_dims + self.data_dims

    @property
    def n_problems(self) -> int:
        return math.prod(self.batch_shape)

    def to_operator_layout(self, block: np.ndarray) -> np.ndarray:
        """Reshape a block read in :attr:`order` to ``(n, *batch_shape[1:], *out_shape)``."""
        nb = len(self.batch_dims)
        return block.reshape(block.shape[:nb] + self.out_shape)


def map_dims(dims: Sequence[str], shape: Sequence[int], batch_dims: str | Sequence[str],
             out_shape: Sequence[int], data_dims: Sequence[str] | None = None,
             where: str = "input") -> DimMap:
    """Map the named dimensions of a stored array onto batch axes and an operator's ``out_shape``.

    Parameters
    ----------
    dims, shape : sequence
        Names and sizes of the stored array's dimensions.
    batch_dims : str or sequence of str
        Dimension(s) enumerating independent problems.  Chunks slice the first one.
    out_shape : sequence of int
        The operator's output shape.
    data_dims : sequence of str, optional
        Dimensions of one measurement, in operator order; default the remaining dimensions in
        stored order.
    where : str
        Used in error messages.

    Returns
    -------
    DimMap

    Raises
    ------
    InputError
        A named dimension does not exist, a dimension is used twice or left over, or the
        measurement size does not match ``out_shape``.
    """
    dims = tuple(str(d) for d in dims)
    shape = tuple(int(s) for s in shape)
    out_shape = tuple(int(s) for s in out_shape)
    bd = (batch_dims,) if isinstance(batch_dims, str) else tuple(batch_dims)
    if not bd:
        raise InputError(f"{where}: at least one batch dimension is needed")
    for d in bd:
        if d not in dims:
            raise InputError(f"{where}: batch dimension {d!r} not found (dimensions: {dims})")
    if len(set(bd)) != len(bd):
        raise InputError(f"{where}: batch dimensions {bd} repeat a name")
    rest = tuple(d for d in dims if d not in bd)
    dd = rest if data_dims is None else tuple(str(d) for d in data_dims)
    for d in dd:
        if d not in dims:
            raise InputError(f"{where}: data dimension {d!r} not found (dimensions: {dims})")
        if d in bd:
            raise InputError(f"{where}: dimension {d!r} is both a batch and a data dimension")
    if set(dd) != set(rest) or len(dd) != len(rest):
        raise InputError(f"{where}: dimensions {tuple(d for d in rest if d not in dd)} are neither "
                         f"batch nor data dimensions (data_dims={dd})")
    size = dict(zip(dims, shape))
    bshape = tuple(size[d] for d in bd)
    dshape = tuple(size[d] for d in dd)
    if math.prod(dshape) != math.prod(out_shape) or (len(dshape) == len(out_shape) and dshape != out_shape):
        raise InputError(
            f"{where}: data dimensions {dict(zip(dd, dshape))} do not fit the forward model's output "
            f"shape {out_shape}")
    return DimMap(bd, dd, bshape, dshape, out_shape)
