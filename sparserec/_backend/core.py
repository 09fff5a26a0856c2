"""Namespace and device resolution for numpy and torch arrays."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = [
    "asarray_like",
    "backend_name",
    "check_finite",
    "device_of",
    "devices_equal",
    "is_array",
    "is_numpy",
    "is_torch",
    "namespace",
    "to_backend",
    "to_numpy",
]


def is_torch(x: Any) -> bool:
    """Return True if ``x`` is a ``torch.Tensor`` (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def is_numpy(x: Any) -> bool:
    """Return True if ``x`` is a numpy ndarray or numpy scalar."""
    return isinstance(x, (np.ndarray, np.generic))


def is_array(x: Any) -> bool:
    """Return True if ``x`` is an array of a supported library (numpy or torch)."""
    return is_numpy(x) or is_torch(x)


def backend_name(x: Any) -> str:
    """Name of the array library of ``x``: ``"numpy"`` or ``"torch"``.

    Raises
    ------
    TypeError
        If ``x`` is not a numpy array or torch tensor.
    """
    if is_torch(x):
        return "torch"
    if is_numpy(x):
        return "numpy"
    raise TypeError(
        f"expected a numpy.ndarray or torch.Tensor, got {type(x).__name__}; "
        "convert lists and scalars with numpy.asarray(..., dtype=...) first"
    )


def device_of(x: Any) -> Any:
    """Device of an array: ``"cpu"`` for numpy, the ``torch.device`` for a tensor."""
    if is_torch(x):
        return x.device
    return "cpu"


def _device_key(dev: Any) -> tuple[str, int | None]:
    if isinstance(dev, str):
        if ":" in dev:
            kind, idx = dev.split(":", 1)
            return kind, int(idx)
        return dev, None
    kind = getattr(dev, "type", str(dev))
    idx = getattr(dev, "index", None)
    return kind, idx


def devices_equal(a: Any, b: Any) -> bool:
    """Compare two devices (strings or ``torch.device``), treating ``cuda`` as ``cuda:0``."""
    ka, kb = _device_key(a), _device_key(b)
    if ka[0] != kb[0]:
        return False
    ia = 0 if (ka[1] is None and ka[0] == "cuda") else ka[1]
    ib = 0 if (kb[1] is None and kb[0] == "cuda") else kb[1]
    return ia == ib or ia is None or ib is None


def namespace(*arrays: Any) -> Any:
    """Array-API namespace shared by ``arrays``.

    ``None`` entries and Python scalars are ignored.  All arrays must come from the same
    library and live on the same device; sparserec never moves data silently.

    Parameters
    ----------
    *arrays
        numpy arrays and/or torch tensors.

    Returns
    -------
    module
        ``array_api_compat.numpy`` or ``array_api_compat.torch``.

    Raises
    ------
    TypeError
        Mixed libraries (e.g. a numpy array and a torch tensor), or an unsupported array type.
    ValueError
        Tensors on different devices.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec._backend import namespace
    >>> xp = namespace(np.ones(3))
    >>> xp.sum(xp.ones(3, dtype=xp.float64))
    3.0
    """
    arrs = [a for a in arrays if a is not None and not isinstance(a, (int, float, complex, bool))]
    if not arrs:
        import array_api_compat.numpy as xnp

        return xnp
    names = {backend_name(a) for a in arrs}
    if len(names) > 1:
        kinds = ", ".join(sorted(f"{type(a).__module__}.{type(a).__name__}" for a in arrs))
        raise TypeError(
            f"mixed array libraries ({kinds}); sparserec never converts silently. "
            "Convert all inputs to one library (e.g. torch.as_tensor(x) or t.cpu().numpy()), "
            "or move the operator with op.to(device=..., backend=...)"
        )
    if "torch" in names:
        dev0 = arrs[0].device
        for a in arrs[1:]:
            if not devices_equal(a.device, dev0):
                raise ValueError(
                    f"arrays live on different devices ({dev0} and {a.device}); move them to one "
                    "device explicitly, e.g. x.to('cuda') or op.to(device='cuda')"
                )
        import array_api_compat.torch as xt

        return xt
    import array_api_compat.numpy as xnp

    return xnp


def to_numpy(x: Any) -> np.ndarray:
    """Copy ``x`` to a host numpy array (explicit, for I/O and tests)."""
    if is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def to_backend(x: Any, backend: str, device: Any = None, dtype: Any = None) -> Any:
    """Explicitly convert ``x`` to ``backend`` (``"numpy"``/``"torch"``) on ``device``.

    ``dtype`` may be a numpy dtype, a torch dtype or a dtype name; ``None`` keeps the dtype.
    """
    from .dtypes import resolve_dtype

    if backend == "numpy":
        if device is not None and _device_key(device)[0] != "cpu":
            raise ValueError(f"numpy arrays live on the CPU; cannot place them on {device}")
        out = to_numpy(x)
        if dtype is not None:
            out = out.astype(resolve_dtype(dtype, "numpy"), copy=False)
        return out
    if backend == "torch":
        import torch

        tdtype = resolve_dtype(dtype, "torch") if dtype is not None else None
        if is_torch(x):
            return x.to(device=device if device is not None else x.device, dtype=tdtype)
        arr = np.asarray(x)
        if not arr.flags.writeable or not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr).copy()
        t = torch.from_numpy(arr)
        return t.to(device=device if device is not None else "cpu", dtype=tdtype)
    raise ValueError(f"backend must be 'numpy' or 'torch', got {backend!r}")


def asarray_like(value: Any, like: Any, dtype: Any = None) -> Any:
    """Create an array from ``value`` in the namespace and on the device of ``like``.

    ``dtype`` defaults to the dtype of ``like``; it is never inferred from a Python float.
    """
    dt = like.dtype if dtype is None else dtype
    if is_torch(like):
        import torch

        from .dtypes import resolve_dtype

        if is_torch(value):
            return value.to(device=like.device, dtype=resolve_dtype(dt, "torch"))
        return torch.as_tensor(
            to_numpy(value) if is_numpy(value) else value,
            dtype=resolve_dtype(dt, "torch"),
            device=like.device,
        )
    from .dtypes import resolve_dtype

    if is_torch(value):
        raise TypeError("cannot create a numpy array from a torch tensor implicitly")
    return np.asarray(value, dtype=resolve_dtype(dt, "numpy"))


def check_finite(x: Any, name: str = "input") -> None:
    """Raise ``ValueError`` if ``x`` holds NaN or Inf (one reduction, one host sync).

    A NaN or an infinity makes the sum of all entries NaN or infinite, so a finite sum proves
    every entry finite; only when the sum is not finite (a bad entry, or an overflow of large
    finite ones) are the entries tested one by one.  The sum is one pass without a temporary
    (``torch.isfinite(x).all()`` on a 2000 x 10000 CPU tensor takes 250 ms, the sum 14 ms).
    """
    if is_torch(x):
        import torch

        with torch.no_grad():
            ok = bool(torch.isfinite(x.sum())) or bool(torch.isfinite(x).all())
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            ok = bool(np.isfinite(np.sum(x))) or bool(np.isfinite(x).all())
    if not ok:
        raise ValueError(f"{name} contains NaN or Inf values; clean or mask them before solving")
