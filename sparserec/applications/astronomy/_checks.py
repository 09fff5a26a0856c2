"""Input validation shared by the astronomy module (clear errors on bad input)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_image", "check_psf", "check_positive_scalar"]


def check_image(image: Any, name: str = "image", *, allow_batch: bool = True,
                allow_nan: bool = False) -> np.ndarray:
    """Return ``image`` as a float64 array of shape ``(*batch, H, W)`` after checks.

    Raises
    ------
    ValueError
        If the image is not 2-D (or ``(*batch, H, W)`` when ``allow_batch``), is empty, or holds
        NaN/Inf values (unless ``allow_nan``).
    """
    a = np.asarray(image)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    if a.ndim < 2 or (a.ndim > 2 and not allow_batch):
        want = "(*batch, H, W)" if allow_batch else "(H, W)"
        raise ValueError(f"{name} must be a 2-D image of shape {want}, got shape {a.shape}")
    if a.shape[-1] < 2 or a.shape[-2] < 2:
        raise ValueError(f"{name} must have at least 2 pixels per axis, got shape {a.shape}")
    if not allow_nan and not np.all(np.isfinite(a)):
        n = int(np.sum(~np.isfinite(a)))
        raise ValueError(f"{name} contains {n} NaN/Inf pixel(s); mask or inpaint them first "
                         "(e.g. replace by the local background) before deconvolving")
    return a


def check_psf(psf: Any, image_shape: tuple[int, ...] | None = None, *, name: str = "psf",
              normalize: bool = True) -> np.ndarray:
    """Return a finite 2-D PSF with positive sum (normalised to unit sum if ``normalize``).

    Raises
    ------
    ValueError
        If the PSF is not 2-D, holds NaN/Inf, sums to zero or a negative value, or is larger
        than the image on some axis.
    """
    p = np.asarray(psf)
    if p.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real numeric array, got dtype {p.dtype}")
    p = p.astype(np.float64, copy=False)
    if p.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} contains NaN or Inf values")
    s = float(p.sum())
    if not s > 0:
        raise ValueError(f"{name} must sum to a positive value (got sum {s:g}); a PSF is a "
                         "non-negative response with positive total flux")
    if image_shape is not None:
        hw = tuple(image_shape[-2:])
        if p.shape[0] > hw[0] or p.shape[1] > hw[1]:
            raise ValueError(f"{name} of shape {p.shape} is larger than the image {hw}; crop the "
                             "PSF (psf_utils: crop_psf) or pad the image (pad_image)")
    return p / s if normalize else p


def check_positive_scalar(v: Any, name: str, *, allow_zero: bool = False) -> float:
    """A finite float ``> 0`` (or ``>= 0``)."""
    try:
        f = float(v)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be a number, got {type(v).__name__}") from e
    if not np.isfinite(f) or f < 0 or (f == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'} and finite, "
                         f"got {v!r}")
    return f
