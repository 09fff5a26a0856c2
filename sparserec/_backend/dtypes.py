"""dtype helpers shared by numpy and torch: names, real/complex pairs, promotion, tolerances."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = [
    "SUPPORTED_DTYPES",
    "complex_dtype",
    "default_tol",
    "dtype_name",
    "eps",
    "is_complex_dtype",
    "is_floating_dtype",
    "real_dtype",
    "resolve_dtype",
    "result_dtype",
]

#: dtypes every operator and solver supports.
SUPPORTED_DTYPES: tuple[str, ...] = ("float32", "float64", "complex64", "complex128")

_REAL_OF = {"float32": "float32", "float64": "float64", "complex64": "float32",
            "complex128": "float64", "float16": "float16", "bfloat16": "bfloat16"}
_COMPLEX_OF = {"float32": "complex64", "float64": "complex128", "complex64": "complex64",
               "complex128": "complex128"}


def dtype_name(dtype: Any) -> str:
    """Canonical name (``"float32"``, ``"complex128"``, ...) of a numpy or torch dtype or a name."""
    if dtype is None:
        raise TypeError("dtype is None")
    if isinstance(dtype, str):
        return str(np.dtype(dtype)) if dtype != "bfloat16" else dtype
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(dtype, torch.dtype):
        return str(dtype).replace("torch.", "")
    if hasattr(dtype, "dtype") and not isinstance(dtype, type):
        return dtype_name(dtype.dtype)
    return str(np.dtype(dtype))


def _is_torch_dtype(dtype: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(dtype, torch.dtype)


def resolve_dtype(dtype: Any, backend: str) -> Any:
    """The ``backend`` (``"numpy"`` or ``"torch"``) dtype object for ``dtype`` (object or name)."""
    name = dtype_name(dtype)
    if backend == "torch":
        import torch

        return getattr(torch, name)
    return np.dtype(name)


def _same_library(name: str, like: Any) -> Any:
    return resolve_dtype(name, "torch" if _is_torch_dtype(like) else "numpy")


def is_complex_dtype(dtype: Any) -> bool:
    """True for complex64/complex128 (numpy or torch)."""
    return dtype_name(dtype).startswith("complex")


def is_floating_dtype(dtype: Any) -> bool:
    """True for real floating dtypes (numpy or torch)."""
    n = dtype_name(dtype)
    return n.startswith("float") or n == "bfloat16"


def real_dtype(dtype: Any) -> Any:
    """Real dtype of the same precision and library (complex128 -> float64)."""
    name = dtype_name(dtype)
    if name not in _REAL_OF:
        raise TypeError(f"unsupported dtype {name}; expected one of {SUPPORTED_DTYPES}")
    return _same_library(_REAL_OF[name], dtype)


def complex_dtype(dtype: Any) -> Any:
    """Complex dtype of the same precision and library (float32 -> complex64)."""
    name = dtype_name(dtype)
    if name not in _COMPLEX_OF:
        raise TypeError(f"unsupported dtype {name}; expected one of {SUPPORTED_DTYPES}")
    return _same_library(_COMPLEX_OF[name], dtype)


def result_dtype(*dtypes: Any) -> Any:
    """Promoted dtype of ``dtypes`` (``None`` entries ignored; ``None`` if all are ``None``).

    Promotion follows numpy rules among the supported floating dtypes; the returned object
    belongs to the library of the first torch dtype if any, else numpy.
    """
    ds = [d for d in dtypes if d is not None]
    if not ds:
        return None
    names = [dtype_name(d) for d in ds]
    out = np.result_type(*[np.dtype(n) for n in names])
    torch_like = next((d for d in ds if _is_torch_dtype(d)), None)
    return _same_library(str(out), torch_like if torch_like is not None else ds[0])


def eps(dtype: Any) -> float:
    """Machine epsilon of the real part of ``dtype``."""
    return float(np.finfo(np.dtype(dtype_name(real_dtype(dtype)))).eps)


def default_tol(dtype: Any) -> float:
    """Default relative tolerance for checks in ``dtype``: 1e-4 for 32-bit, 1e-10 for 64-bit."""
    return 1e-4 if dtype_name(real_dtype(dtype)) == "float32" else 1e-10
