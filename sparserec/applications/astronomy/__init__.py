r"""Astronomical image deconvolution: PSF handling, FITS I/O, noise, starlet sparse deconvolution,
Tikhonov/Wiener baselines, learned (Tikhonov + Swin-U-Net) deconvolution and metrics.

Importing this package needs only numpy/scipy: FITS functions import astropy on first use
(extra ``astro``) and the learned method imports torch on first use (extra ``torch``).

Main entry point: :func:`deconvolve`.
"""

from __future__ import annotations

import importlib
from typing import Any

from .deconv import (
    DeconvolutionResult,
    convolution_operator,
    debias,
    deconvolve,
    laplacian_transfer,
    starlet_deconvolve,
    tikhonov,
    wiener,
)
from .fitsio import read_image, read_psf, write_image
from .metrics import ellipticity, flux_error, half_light_radius, nmse, psnr, second_moments, shape_error, ssim
from .noise import add_noise, estimate_sigma, mad_std, mr_support, noise_variance, starlet_noise_levels
from .psf import (
    center_psf,
    centroid,
    crop_psf,
    fwhm,
    gaussian_psf,
    kolmogorov_psf,
    moffat_psf,
    normalize_psf,
    pad_image,
    psf_to_otf,
    resample,
    shift_image,
    von_karman_structure_function,
)
from .simulate import real_galaxy_setting, sersic_galaxy, shipped_ground_setting, simulate_pairs

_LAZY = {"LearnedDeconvolver": "learned", "SwinUNet": "learned", "learned_deconvolve": "learned",
         "load_model": "learned"}

__all__ = [
    "DeconvolutionResult",
    "add_noise",
    "center_psf",
    "centroid",
    "convolution_operator",
    "crop_psf",
    "debias",
    "deconvolve",
    "ellipticity",
    "estimate_sigma",
    "flux_error",
    "fwhm",
    "gaussian_psf",
    "half_light_radius",
    "kolmogorov_psf",
    "laplacian_transfer",
    "mad_std",
    "moffat_psf",
    "mr_support",
    "nmse",
    "noise_variance",
    "normalize_psf",
    "pad_image",
    "psf_to_otf",
    "psnr",
    "read_image",
    "read_psf",
    "real_galaxy_setting",
    "resample",
    "second_moments",
    "sersic_galaxy",
    "shape_error",
    "shift_image",
    "shipped_ground_setting",
    "simulate_pairs",
    "ssim",
    "starlet_deconvolve",
    "starlet_noise_levels",
    "tikhonov",
    "von_karman_structure_function",
    "wiener",
    "write_image",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
