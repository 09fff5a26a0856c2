"""Forward models a pipeline can build from datasets: matrix, kronecker, psf, endmembers, presets."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..operators.base import LinearOperator

__all__ = ["MODEL_TYPES", "PRESETS", "CircularConvolve", "ForwardModel", "build_model"]

MODEL_TYPES = ("matrix", "kronecker", "psf", "endmembers", "preset")

#: application presets, reserved: name -> (module, attribute providing ``pipeline_preset``)
PRESETS: dict[str, tuple[str, str]] = {
    "unmix": ("sparserec.applications.hyperspectral.pipeline", "pipeline_preset"),
    "deconvolve": ("sparserec.applications.astronomy.pipeline", "pipeline_preset"),
    "estimate_channel": ("sparserec.applications.irs_mimo.pipeline", "pipeline_preset"),
    "tokenize": ("sparserec.applications.scatac.pipeline", "pipeline_preset"),
}


class PresetNotAvailableError(ValueError):
    """An application preset named in a pipeline does not exist in this installation yet."""


@dataclass
class ForwardModel:
    """An operator plus what the pipeline needs to lay out its solution.

    Attributes
    ----------
    operator : LinearOperator
    state_dims : tuple of str
        Names of the solution's dimensions (``operator.in_shape``).
    default_solver : str or None
        Solver used when the configuration names none (presets only).
    """

    operator: LinearOperator
    state_dims: tuple[str, ...]
    default_solver: str | None = None


class CircularConvolve(LinearOperator):
    r"""n-D circular convolution with a PSF (FFT), same size in and out.

    Private stand-in for the PSF model until ``sparserec.operators.FFTConvolve`` is available.
    The PSF's centre (index ``s // 2`` on each axis) is the origin.

    Notes
    -----
    :math:`A x = \mathcal F^{-1}(\hat h \odot \mathcal F x)`, :math:`A^H y =
    \mathcal F^{-1}(\overline{\hat h} \odot \mathcal F y)`, :math:`\|A\|_2 = \max|\hat h|`.
    """

    def __init__(self, psf: np.ndarray, shape: tuple[int, ...]) -> None:
        psf = np.asarray(psf)
        if psf.ndim != len(shape) or any(p > s for p, s in zip(psf.shape, shape)):
            raise ValueError(f"PSF of shape {psf.shape} does not fit images of shape {shape}")
        super().__init__(shape, shape, psf.dtype)
        k = np.zeros(shape, dtype=psf.dtype)
        k[tuple(slice(0, p) for p in psf.shape)] = psf
        k = np.roll(k, [-(p // 2) for p in psf.shape], axis=tuple(range(len(shape))))
        self.axes = tuple(range(-len(shape), 0))
        self.h = np.fft.fftn(k, axes=self.axes)
        self.real = not np.iscomplexobj(psf)

    def _conv(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        out = np.fft.ifftn(np.fft.fftn(x, axes=self.axes) * h, axes=self.axes)
        return out.real if (self.real and not np.iscomplexobj(x)) else out

    def _apply(self, x: Any) -> Any:
        return self._conv(np.asarray(x), self.h)

    def _adjoint(self, y: Any) -> Any:
        return self._conv(np.asarray(y), np.conj(self.h))

    def opnorm_bound(self) -> float:
        return float(np.abs(self.h).max())


def _psf_operator(psf: np.ndarray, shape: tuple[int, ...]) -> LinearOperator:
    return CircularConvolve(psf, shape)


def build_model(model: dict[str, Any], read: Callable[[str, str | None], np.ndarray],
                data_shape: tuple[int, ...] | None = None) -> ForwardModel:
    """Build the forward model described by a pipeline's ``[model]`` table.

    Parameters
    ----------
    model : dict
        The validated ``[model]`` table (see :doc:`/pipelines`).
    read : callable
        ``read(dataset, file_or_None) -> ndarray`` reads an operator dataset (read-only).
    data_shape : tuple of int, optional
        Shape of one measurement (needed by ``psf``: the image size).

    Returns
    -------
    ForwardModel
    """
    from ..operators import Kronecker, Matrix

    kind = model["type"]
    f = model.get("file")
    sd = model.get("state_dims")
    if kind == "matrix":
        A = read(model["dataset"], f)
        if A.ndim != 2:
            raise ValueError(f"model matrix {model['dataset']!r} must be 2-D, got shape {A.shape}")
        A = A.T if model.get("transpose", False) else A
        return ForwardModel(Matrix(np.ascontiguousarray(A)), tuple(sd or ("atom",)))
    if kind == "endmembers":
        E = read(model["dataset"], f)
        if E.ndim != 2:
            raise ValueError(f"endmember matrix {model['dataset']!r} must be 2-D, got shape {E.shape}")
        layout = model.get("layout", "auto")
        nb = int(np.prod(data_shape)) if data_shape is not None else None
        if layout == "auto":
            # (n_bands, n_endmembers) like the matrix of the linear mixing model, or its transpose
            layout = "endmembers_first" if (nb is not None and E.shape[0] != nb and E.shape[1] == nb) \
                else "bands_first"
        if layout not in ("bands_first", "endmembers_first"):
            raise ValueError(f"endmember layout must be 'auto', 'bands_first' or 'endmembers_first', "
                             f"got {layout!r}")
        E = E.T if layout == "endmembers_first" else E
        return ForwardModel(Matrix(np.ascontiguousarray(E)), tuple(sd or ("endmember",)))
    if kind == "kronecker":
        facs = [read(name, f) for name in model["factors"]]
        for name, a in zip(model["factors"], facs):
            if a.ndim != 2:
                raise ValueError(f"Kronecker factor {name!r} must be 2-D, got shape {a.shape}")
        K = Kronecker([np.ascontiguousarray(a) for a in facs], flat=bool(model.get("flat", False)))
        n = len(K.in_shape)
        return ForwardModel(K, tuple(sd or tuple(f"state_{i}" for i in range(n))))
    if kind == "psf":
        psf = read(model["psf"], f)
        shape = tuple(model.get("image_shape") or data_shape or psf.shape)
        op = _psf_operator(psf, tuple(int(s) for s in shape))
        return ForwardModel(op, tuple(sd or tuple(f"state_{i}" for i in range(len(shape)))))
    if kind == "preset":
        name = model["preset"]
        if name not in PRESETS:
            raise ValueError(f"unknown application preset {name!r}; presets: {', '.join(PRESETS)}")
        mod, attr = PRESETS[name]
        try:
            fn = getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as e:
            raise PresetNotAvailableError(
                f"application preset {name!r} is not available yet ({mod}.{attr} does not exist in "
                "this installation); use a built-in model (matrix, kronecker, psf, endmembers) "
                "meanwhile") from e
        op, state_dims, solver = fn(name, dict(model), read)
        return ForwardModel(op, tuple(sd or state_dims), solver)
    raise ValueError(f"unknown model type {kind!r}; one of {', '.join(MODEL_TYPES)}")
