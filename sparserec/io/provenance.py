"""Provenance attributes attached to every result written by sparserec."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import socket
from typing import Any

import numpy as np

__all__ = ["file_sha256", "jsonable", "now_iso", "provenance"]


def file_sha256(path: str | os.PathLike, block: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in blocks (read-only, constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(block)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def now_iso() -> str:
    """Current UTC time as ISO 8601 with seconds."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def jsonable(v: Any) -> Any:
    """Convert numpy scalars/arrays and nested containers into JSON-serialisable values."""
    if isinstance(v, dict):
        return {str(k): jsonable(w) for k, w in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(w) for w in v]
    if isinstance(v, np.ndarray):
        return v.tolist() if v.size <= 64 else f"<array shape={v.shape} dtype={v.dtype}>"
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, complex):
        return [v.real, v.imag]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if hasattr(v, "shape") and hasattr(v, "dtype"):  # torch tensor or other array
        return f"<array shape={tuple(v.shape)} dtype={v.dtype}>"
    return repr(v)


def provenance(solver: str, params: dict[str, Any] | None = None, *,
               input_file: str | os.PathLike | None = None, input_dataset: str | None = None,
               input_sha256: str | None = None, start_time: str | None = None,
               end_time: str | None = None, **extra: Any) -> dict[str, Any]:
    """Provenance attributes (flat, HDF5/NetCDF-compatible values).

    Parameters
    ----------
    solver : str
        Solver name.
    params : dict, optional
        Resolved solver parameters, stored as JSON in ``solver_params``.
    input_file, input_dataset : optional
        Where the data came from; the file's SHA-256 is computed if ``input_sha256`` is not given.
    start_time, end_time : str, optional
        ISO 8601 times (``end_time`` defaults to now).
    **extra
        Further attributes; non-scalar values are stored as JSON.

    Returns
    -------
    dict
        ``sparserec_version``, ``solver``, ``solver_params``, ``input_file``, ``input_dataset``,
        ``input_sha256``, ``start_time``, ``end_time``, ``host``, ``python``, plus ``extra``.
    """
    from .._version import __version__

    attrs: dict[str, Any] = {
        "sparserec_version": __version__,
        "solver": str(solver),
        "solver_params": json.dumps(jsonable(params or {}), sort_keys=True),
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    if input_file is not None:
        attrs["input_file"] = os.path.abspath(os.fspath(input_file))
        attrs["input_sha256"] = input_sha256 or file_sha256(input_file)
    if input_dataset is not None:
        attrs["input_dataset"] = str(input_dataset)
    attrs["start_time"] = start_time or now_iso()
    attrs["end_time"] = end_time or now_iso()
    for k, v in extra.items():
        scalar = isinstance(v, (str, int, float, np.integer, np.floating)) and not isinstance(v, bool)
        attrs[k] = v if scalar else json.dumps(jsonable(v), sort_keys=True)
    return attrs
