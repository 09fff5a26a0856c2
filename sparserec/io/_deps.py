"""Lazy imports of the optional I/O libraries, with an error naming the extra to install."""

from __future__ import annotations

import importlib
from typing import Any

_EXTRA = {"h5py": "io", "xarray": "io", "h5netcdf": "io", "dask": "io", "distributed": "io",
          "tqdm": "io", "tomli": "io"}


def require(module: str) -> Any:
    """Import ``module`` or raise an ImportError telling which extra provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        extra = _EXTRA.get(top, "io")
        raise ImportError(f"{module} is needed here: pip install 'sparserec[{extra}]'") from e
