"""Array-namespace layer: the only place in sparserec that knows which array library is in use.

Numerical code asks :func:`namespace` for the Array-API namespace of its inputs and writes
against that namespace.  numpy and torch (CPU and CUDA) are supported through
``array-api-compat``.  The data decide the backend and the device; there is no global switch.

Also here: dtype helpers (:mod:`sparserec._backend.dtypes`), random-number helpers
(:mod:`sparserec._backend.random`) and the kernel registry (:mod:`sparserec._backend.registry`).
"""

from __future__ import annotations

from .core import (
    asarray_like,
    backend_name,
    check_finite,
    device_of,
    devices_equal,
    is_array,
    is_numpy,
    is_torch,
    namespace,
    to_backend,
    to_numpy,
)
from .dtypes import (
    SUPPORTED_DTYPES,
    complex_dtype,
    default_tol,
    dtype_name,
    eps,
    is_complex_dtype,
    is_floating_dtype,
    real_dtype,
    resolve_dtype,
    result_dtype,
)
from .random import Generator, default_rng
from .registry import get_kernel, list_kernels, register_kernel

__all__ = [
    "SUPPORTED_DTYPES",
    "Generator",
    "asarray_like",
    "backend_name",
    "check_finite",
    "complex_dtype",
    "default_rng",
    "default_tol",
    "device_of",
    "devices_equal",
    "dtype_name",
    "eps",
    "get_kernel",
    "is_array",
    "is_complex_dtype",
    "is_floating_dtype",
    "is_numpy",
    "is_torch",
    "list_kernels",
    "namespace",
    "real_dtype",
    "register_kernel",
    "resolve_dtype",
    "result_dtype",
    "to_backend",
    "to_numpy",
]
