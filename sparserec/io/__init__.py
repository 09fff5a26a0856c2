"""HDF5 and xarray adapters: named dimensions to operator shapes, results with provenance.

Everything here imports h5py / xarray lazily (inside functions), so ``import sparserec.io`` stays
cheap; a missing library raises an ImportError naming the ``io`` extra.

Main entry points
-----------------
:func:`open_array`
    Open a dataset (HDF5, h5py) or a variable (NetCDF4/HDF5, xarray with the h5netcdf engine)
    lazily and **read-only**, with named dimensions (:class:`LazyArray`).
:func:`read_array`
    Read a small dataset (an operator's matrix, a PSF, endmembers) in full.
:func:`map_dims`
    Map named dimensions onto an operator's ``out_shape`` and the batch axes.
:func:`result_to_xarray`, :func:`write_result`
    A :class:`~sparserec.solvers.result.SolverResult` as an ``xarray.Dataset`` / NetCDF4 file or
    an HDF5 group, with provenance attributes (:func:`provenance`).
:func:`describe`
    A human-readable summary of a file (used by ``sparserec inspect``).
"""

from __future__ import annotations

from .arrays import DimMap, LazyArray, detect_format, map_dims, open_array, read_array
from .inspect import describe
from .provenance import file_sha256, provenance
from .results import result_to_xarray, result_variables, write_result

__all__ = [
    "DimMap",
    "LazyArray",
    "describe",
    "detect_format",
    "file_sha256",
    "map_dims",
    "open_array",
    "provenance",
    "read_array",
    "result_to_xarray",
    "result_variables",
    "write_result",
]
