"""Random-number helper that draws in the namespace and on the device the caller asks for."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from .dtypes import dtype_name, is_complex_dtype, real_dtype, resolve_dtype

__all__ = ["Generator", "default_rng"]


class Generator:
    """A seeded source of random arrays for numpy or torch.

    Wraps a ``numpy.random.Generator`` or a ``torch.Generator``.  Draws are made in the
    wrapped library; :meth:`normal` and :meth:`uniform` return arrays of the library and
    device given by ``like`` (or the generator's own), never silently moving data.

    Parameters
    ----------
    source : int, numpy.random.Generator, torch.Generator or None
        Seed or generator.  ``None`` draws fresh OS entropy (avoid it in tests).
    """

    def __init__(self, source: Any = None) -> None:
        torch = sys.modules.get("torch")
        if isinstance(source, Generator):
            self._np, self._torch = source._np, source._torch
        elif torch is not None and isinstance(source, torch.Generator):
            self._np = None
            self._torch = source
        elif isinstance(source, np.random.Generator):
            self._np, self._torch = source, None
        elif source is None or isinstance(source, (int, np.integer)):
            self._np, self._torch = np.random.default_rng(source), None
        else:
            raise TypeError(
                "rng/seed must be an int, numpy.random.Generator, torch.Generator or None, "
                f"got {type(source).__name__}"
            )

    def _draw(self, kind: str, shape: tuple[int, ...], dtype: Any, like: Any) -> Any:
        shape = tuple(int(s) for s in shape)
        torch_out = like is not None and type(like).__module__.startswith("torch")
        dt = dtype if dtype is not None else (like.dtype if like is not None else np.float64)
        complex_ = is_complex_dtype(dt)
        rdt = real_dtype(dt)
        if self._torch is not None:
            import torch

            dev = self._torch.device
            tdt = resolve_dtype(rdt, "torch")
            f = torch.randn if kind == "normal" else torch.rand
            parts = [f(shape, generator=self._torch, dtype=tdt, device=dev)
                     for _ in range(2 if complex_ else 1)]
            out = torch.complex(parts[0], parts[1]) / np.sqrt(2.0) if complex_ else parts[0]
            if torch_out:
                return out.to(like.device)
            return out.cpu().numpy()
        f = self._np.standard_normal if kind == "normal" else self._np.random
        parts = [f(shape) for _ in range(2 if complex_ else 1)]
        out = (parts[0] + 1j * parts[1]) / np.sqrt(2.0) if complex_ else parts[0]
        out = out.astype(dtype_name(dt))
        if torch_out:
            import torch

            return torch.as_tensor(out, device=like.device)
        return out

    def normal(self, shape: tuple[int, ...], dtype: Any = None, like: Any = None) -> Any:
        """Standard normal draws (circular complex normal with unit variance for complex dtypes)."""
        return self._draw("normal", shape, dtype, like)

    def uniform(self, shape: tuple[int, ...], dtype: Any = None, like: Any = None) -> Any:
        """Uniform draws on [0, 1) (real dtypes)."""
        return self._draw("uniform", shape, dtype, like)

    @property
    def numpy(self) -> np.random.Generator:
        """The wrapped numpy Generator (a new one seeded from the torch generator otherwise)."""
        if self._np is None:
            seed = int(self._torch.initial_seed()) % (2**63)
            self._np = np.random.default_rng(seed)
        return self._np


def default_rng(seed: Any = None) -> Generator:
    """Build a :class:`Generator` from a seed, a numpy Generator or a torch Generator."""
    return Generator(seed)
