"""Kernel registry: operations the Array API lacks, keyed by (operation, namespace, device type).

Each operation has a pure reference implementation (registered with ``namespace="any"``) and may
have specialised kernels for a namespace/device (e.g. a Triton kernel for ``("torch", "cuda")``).
Setting ``SPARSEREC_FORCE_REFERENCE=1`` makes :func:`get_kernel` return the reference always.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from .core import backend_name, device_of

__all__ = ["get_kernel", "list_kernels", "register_kernel"]

_REGISTRY: dict[tuple[str, str, str], Callable[..., Any]] = {}


def register_kernel(operation: str, namespace: str = "any", device: str = "any"):
    """Decorator registering ``fn`` for ``operation`` on ``namespace``/``device`` type.

    ``namespace="any", device="any"`` registers the reference implementation, which must exist
    before any specialised kernel is registered.
    """

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if (namespace, device) != ("any", "any") and (operation, "any", "any") not in _REGISTRY:
            raise ValueError(f"register the reference implementation of {operation!r} first")
        _REGISTRY[(operation, namespace, device)] = fn
        return fn

    return deco


def get_kernel(operation: str, like: Any = None) -> Callable[..., Any]:
    """Implementation of ``operation`` for arrays like ``like`` (most specific entry wins)."""
    if (operation, "any", "any") not in _REGISTRY:
        raise KeyError(f"no kernel registered for operation {operation!r}")
    if like is None or os.environ.get("SPARSEREC_FORCE_REFERENCE", "") not in ("", "0"):
        return _REGISTRY[(operation, "any", "any")]
    ns = backend_name(like)
    dev = device_of(like)
    dtype_ = getattr(dev, "type", str(dev))
    for key in ((operation, ns, dtype_), (operation, ns, "any")):
        if key in _REGISTRY:
            return _REGISTRY[key]
    return _REGISTRY[(operation, "any", "any")]


def list_kernels() -> list[tuple[str, str, str]]:
    """All registered (operation, namespace, device) keys."""
    return sorted(_REGISTRY)
