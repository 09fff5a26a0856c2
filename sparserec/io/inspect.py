"""Human-readable description of an HDF5/NetCDF4 file (``sparserec inspect``)."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from .arrays import _attr_value, _h5_dim_names, _open_h5

__all__ = ["describe"]

_PROVENANCE_KEYS = ("sparserec_version", "solver", "solver_params", "input_file", "input_dataset",
                    "input_sha256", "config_sha256", "start_time", "end_time", "host")


def _short(v: Any, width: int = 100) -> str:
    s = str(_attr_value(v))
    return s if len(s) <= width else s[: width - 3] + "..."


def describe(path: str | os.PathLike, max_attrs: int = 12) -> str:
    """Describe the groups, datasets (dims, shape, dtype) and attributes of a file.

    For sparserec result files (root attribute ``sparserec_version``) the provenance and the
    completion record (chunks done / skipped) are listed as well.  The file is opened read-only.

    Parameters
    ----------
    path : str or path-like
    max_attrs : int
        Attributes shown per object.

    Returns
    -------
    str
    """
    lines: list[str] = []
    with _open_h5(path) as f:
        root_attrs = {k: f.attrs[k] for k in f.attrs}
        kind = "NetCDF4/HDF5" if "_NCProperties" in root_attrs else "HDF5"
        lines.append(f"{os.path.abspath(os.fspath(path))}  ({kind}, {os.path.getsize(path):,} bytes)")

        def visit(name: str, obj: Any) -> None:
            depth = name.count("/")
            pad = "  " * (depth + 1)
            if hasattr(obj, "shape"):
                if "CLASS" in obj.attrs and _attr_value(obj.attrs["CLASS"]) == "DIMENSION_SCALE" \
                        and "_Netcdf4Dimid" in obj.attrs and obj.dtype.kind == "f" and obj.shape \
                        and "NAME" in obj.attrs and "This is a netCDF dimension but not a netCDF variable" \
                        in _attr_value(obj.attrs["NAME"]):
                    lines.append(f"{pad}dimension {name.rsplit('/', 1)[-1]} = {obj.shape[0]}")
                    return
                dims = _h5_dim_names(obj) if obj.ndim else ()
                dd = ", ".join(f"{d}: {s}" for d, s in zip(dims, obj.shape))
                extra = f" chunks={obj.chunks}" if obj.chunks else ""
                extra += f" {obj.compression}" if obj.compression else ""
                lines.append(f"{pad}{name.rsplit('/', 1)[-1]}  ({dd})  {obj.dtype}{extra}")
            else:
                lines.append(f"{pad}{name.rsplit('/', 1)[-1]}/  (group)")
            shown = [k for k in obj.attrs if k not in ("DIMENSION_LIST", "REFERENCE_LIST", "CLASS",
                                                       "NAME", "_Netcdf4Dimid", "_Netcdf4Coordinates",
                                                       "DIMENSION_LABELS")]
            for k in shown[:max_attrs]:
                lines.append(f"{pad}  @{k} = {_short(obj.attrs[k])}")
            if len(shown) > max_attrs:
                lines.append(f"{pad}  ... {len(shown) - max_attrs} more attributes")

        lines.append("contents:")
        f.visititems(visit)
        if "sparserec_version" in root_attrs:
            lines.append("sparserec result provenance:")
            for k in _PROVENANCE_KEYS:
                if k in root_attrs:
                    lines.append(f"  {k}: {_short(root_attrs[k], 200)}")
            if "chunk_status" in f:
                st = np.asarray(f["chunk_status"][()])
                n_ok, n_skip = int((st == 0).sum()), int((st == 1).sum())
                complete = int(_attr_value(root_attrs.get("complete", 0)))
                lines.append(f"completion: {n_ok} chunk(s) ok, {n_skip} skipped, of {st.size}; "
                             f"{'complete' if complete else 'INCOMPLETE'}")
                if "chunk_errors" in root_attrs:
                    errs = json.loads(_attr_value(root_attrs["chunk_errors"]))
                    for e in errs[:10]:
                        lines.append(f"  skipped chunk {e['chunk']}: {e['error']}")
        else:
            other = [k for k in root_attrs if k != "_NCProperties"]
            for k in other[:max_attrs]:
                lines.append(f"  @{k} = {_short(root_attrs[k])}")
    return "\n".join(lines)
