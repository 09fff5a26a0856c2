r"""``unmix`` preset for HDF5 pipelines: pixels ``(n_pixels, bands)`` unmixed with FCLS (default)
or any unmixing solver against an endmember matrix stored in the file::

    [model]
    type = "preset"
    preset = "unmix"
    [model.params]
    endmembers = "E"       # dataset (bands, n_endmembers)
    [solver]
    name = "fcls"          # default; "sparserec.solvers.unmixing:sunsal" etc. also work
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["pipeline_preset"]


def pipeline_preset(name: str, model: dict[str, Any], read: Any) -> tuple[Any, tuple[str, ...], str]:
    """Endmember matrix operator for the ``unmix`` preset."""
    from ...operators import Matrix

    p = dict(model.get("params", {}))
    unknown = set(p) - {"endmembers"}
    if unknown:
        raise ValueError(f"[model.params] unknown keys for unmix: {sorted(unknown)}")
    E = np.asarray(read(p.get("endmembers", "endmembers"), model.get("file")), dtype=np.float64)
    if E.ndim != 2:
        raise ValueError(f"endmembers must be a (bands, n_endmembers) matrix, got shape {E.shape}")
    if not np.all(np.isfinite(E)):
        raise ValueError("endmembers contain NaN or Inf")
    return Matrix(E), ("endmember",), "fcls"
