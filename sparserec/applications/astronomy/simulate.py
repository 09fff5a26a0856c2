r"""Simulated and semi-real deconvolution problems.

* :func:`sersic_galaxy`: analytic Sérsic profiles (elliptical, pixel-integrated), our own renderer
  (GalSim is not required).
* :func:`simulate_pairs`: batches of (observation, truth) pairs for training and testing learned
  deconvolution: bulge + disc (+ clumps) Sérsic galaxies convolved with a real (SDSS) or Moffat
  PSF, Gaussian noise at a random SNR.
* :func:`real_galaxy_setting`: the real HST COSMOS galaxy brought to ground-based resolution with
  the real SDSS PSF (the acceptance setting of the module).
* :func:`shipped_ground_setting`: the shipped 0.396"/px ground rendering (spec tests C.26-C.27).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._checks import check_positive_scalar
from .psf import center_psf, crop_psf, gaussian_psf, moffat_psf, psf_to_otf, resample

__all__ = ["ground_psf", "real_galaxy_setting", "sersic_galaxy", "shipped_ground_setting", "simulate_pairs"]

#: pixel scale (arcsec/px) of the real-galaxy acceptance setting: 4x4-binned HST (0.03"/px)
WORK_SCALE = 0.12


def _b_n(n: float) -> float:
    from scipy.special import gammaincinv

    return float(gammaincinv(2.0 * n, 0.5))


def sersic_galaxy(shape: int | Sequence[int], *, n: float = 1.0, r_e: float = 4.0, flux: float = 1.0,
                  e1: float = 0.0, e2: float = 0.0, center: Sequence[float] | None = None,
                  oversample: int = 3, r_max: float = 8.0) -> np.ndarray:
    r"""Elliptical Sérsic profile :math:`I(r) \propto \exp(-b_n[(r/r_e)^{1/n} - 1])`, pixel-integrated.

    Parameters
    ----------
    shape : int or (int, int)
    n : float
        Sérsic index (0.5 Gaussian, 1 exponential disc, 4 de Vaucouleurs).
    r_e : float
        Half-light radius (pixels) of the round profile; :math:`b_n` solves
        :math:`\gamma(2n, b_n) = \Gamma(2n)/2` (regularised incomplete gamma = 1/2).
    flux : float
        Total flux of the (untruncated, before cropping by the stamp) profile; the rendered
        stamp is normalised to this flux.
    e1, e2 : float
        Reduced-shear ellipticity.
    center : (float, float), optional
        Centre (pixels); default ``(n0 // 2, n1 // 2)``.
    oversample : int
        Sub-samples per pixel axis.
    r_max : float
        Truncation radius in units of :math:`r_e`.
    """
    from .psf import _render

    shp = (int(shape), int(shape)) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)  # type: ignore[arg-type]
    nn = check_positive_scalar(n, "n")
    re = check_positive_scalar(r_e, "r_e")
    b = _b_n(nn)

    def prof(r2: np.ndarray) -> np.ndarray:
        r = np.sqrt(r2) / re
        return np.where(r < r_max, np.exp(-b * (r ** (1.0 / nn) - 1.0)), 0.0)

    return float(flux) * _render(prof, shp, center, oversample, e1, e2)


def _conv(x: np.ndarray, psf: np.ndarray) -> np.ndarray:
    shp = x.shape[-2:]
    return np.fft.irfft2(np.fft.rfft2(x) * psf_to_otf(psf, shp), shp)


def ground_psf(pixel_scale: float = WORK_SCALE, size: int = 41) -> np.ndarray:
    """The real SDSS PSF (shipped), soft bias removed, negative wings clipped, resampled from
    0.396"/px to ``pixel_scale`` (flux-conserving), centred on its centroid, cropped to
    ``size`` and normalised."""
    from ...datasets import load_hst_galaxy

    d = load_hst_galaxy()
    p = resample(np.clip(d["sdss_psf"], 0.0, None), d["sdss_psf_pixel_scale"], pixel_scale, kind="pchip")
    p = center_psf(np.clip(p, 0.0, None))
    return crop_psf(p, min(size, p.shape[0] - (1 - p.shape[0] % 2)))


def _random_galaxy(rng: np.random.Generator, shape: tuple[int, int], r_scale: float) -> np.ndarray:
    """Bulge + disc (+ up to 3 clumps) with random shapes; unit total flux before noise."""
    c = np.array(shape, dtype=float) // 2 + rng.uniform(-2, 2, 2)
    e = rng.uniform(0, 0.6)
    phi = rng.uniform(0, np.pi)
    e1, e2 = e * math.cos(2 * phi), e * math.sin(2 * phi)
    r_d = r_scale * rng.uniform(0.5, 1.6)
    disc = sersic_galaxy(shape, n=rng.uniform(0.6, 1.5), r_e=r_d, e1=e1, e2=e2, center=c, oversample=1)
    bulge = sersic_galaxy(shape, n=rng.uniform(2.0, 4.0), r_e=r_d * rng.uniform(0.15, 0.5),
                          e1=0.3 * e1, e2=0.3 * e2, center=c, oversample=1)
    bt = rng.uniform(0.05, 0.6)
    img = (1 - bt) * disc + bt * bulge
    for _ in range(int(rng.integers(0, 4))):
        off = c + rng.normal(0, r_d, 2)
        img += rng.uniform(0.02, 0.1) * gaussian_psf(shape, rng.uniform(1.0, 2.5), center=off)
    return img / img.sum()


def simulate_pairs(n: int, shape: int | Sequence[int] = 64, *, psf: Any = "sdss", snr: Any = (20.0, 100.0),
                   r_scale: float = 6.0, flux: float = 1000.0, target_fwhm: float | None = None,
                   rng: np.random.Generator | int | None = 0) -> dict[str, np.ndarray]:
    r"""Simulated (observation, truth) pairs on one pixel grid.

    Parameters
    ----------
    n : int
        Number of pairs.
    shape : int or (int, int), default 64
    psf : "sdss", "mixed" or array
        ``"sdss"``: the real SDSS PSF at 0.12"/px (:func:`ground_psf`); ``"mixed"``: for each
        image either that PSF or a Moffat (FWHM 7-11 px, β 2.5-4.8, small ellipticity); an
        array: this PSF for all.
    snr : float or (low, high), default (20, 100)
        Peak SNR :math:`\max(h \circledast x)/\sigma`, log-uniform in the range.
    r_scale : float
        Typical disc half-light radius (pixels).
    flux : float
        Total flux of each galaxy.
    target_fwhm : float, optional
        If given, the truth is convolved with a Gaussian of this FWHM (finite target resolution).
    rng : Generator or int

    Returns
    -------
    dict
        ``y`` (n, H, W) observations, ``x`` (n, H, W) truths, ``psf`` (n, h, h) PSFs, ``sigma`` (n,).
    """
    g = np.random.default_rng(rng)
    shp = (int(shape), int(shape)) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)  # type: ignore[arg-type]
    sd = ground_psf() if (isinstance(psf, str)) else None
    psize = sd.shape[0] if sd is not None else np.asarray(psf).shape[0]
    lo, hi = (float(snr), float(snr)) if np.ndim(snr) == 0 else (float(snr[0]), float(snr[1]))  # type: ignore[index]
    X, Y, P, S = [], [], [], []
    for _ in range(int(n)):
        x = flux * _random_galaxy(g, shp, r_scale)
        if isinstance(psf, str):
            if psf == "sdss" or (psf == "mixed" and g.random() < 0.5):
                h = sd
            elif psf in ("mixed",):
                e = g.uniform(0, 0.08)
                ph = g.uniform(0, np.pi)
                h = moffat_psf(psize, g.uniform(7.0, 11.0), g.uniform(2.5, 4.8), e1=e * math.cos(2 * ph),
                               e2=e * math.sin(2 * ph), oversample=2)
            else:
                raise ValueError(f"psf must be 'sdss', 'mixed' or an array, got {psf!r}")
        else:
            h = np.asarray(psf, dtype=float) / np.sum(psf)
        yc = _conv(x, h)
        s = yc.max() / math.exp(g.uniform(math.log(lo), math.log(hi)))
        Y.append(yc + s * g.standard_normal(shp))
        X.append(x if target_fwhm is None else _conv(x, gaussian_psf(min(shp), target_fwhm)))
        P.append(h)
        S.append(s)
    return {"y": np.stack(Y), "x": np.stack(X), "psf": np.stack(P), "sigma": np.asarray(S)}


@functools.lru_cache(maxsize=4)
def _real_clean(pixel_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Truth and noise-free observation of :func:`real_galaxy_setting` (cached, read-only)."""
    from ...datasets import load_hst_galaxy

    d = load_hst_galaxy()
    hst = d["image"][1:541, 1:541]
    m = int(round(pixel_scale / d["pixel_scale"]))
    if m < 1 or abs(m * d["pixel_scale"] - pixel_scale) > 1e-9:
        raise ValueError("pixel_scale must be an integer multiple of the HST scale 0.03")
    n = hst.shape[0] // m
    hst = hst[: n * m, : n * m]
    x_true = hst.reshape(n, m, n, m).sum(axis=(1, 3))
    # SDSS PSF at the HST scale for the simulation
    sd = np.clip(d["sdss_psf"], 0.0, None)
    p_hst = center_psf(np.clip(resample(sd, d["sdss_psf_pixel_scale"], d["pixel_scale"], kind="pchip"), 0.0, None))
    p_hst = crop_psf(p_hst, 401)  # 12" wide: > 10 FWHM
    pad = p_hst.shape[0]
    big = np.pad(hst, pad)
    blurred = np.fft.irfft2(np.fft.rfft2(big) * psf_to_otf(p_hst, big.shape), big.shape)[pad:-pad, pad:-pad]
    clean = blurred.reshape(n, m, n, m).sum(axis=(1, 3))
    x_true.flags.writeable = False
    clean.flags.writeable = False
    return x_true, clean


def real_galaxy_setting(snr: float = 50.0, *, seed: int = 0, pixel_scale: float = WORK_SCALE,
                        psf_size: int = 41, target_fwhm: float = 2.0) -> dict[str, Any]:
    r"""Real-data deconvolution problem built from the shipped HST galaxy and SDSS PSF.

    1. Truth: the HST/ACS F814W COSMOS stamp (543² at 0.03"/px) cropped to 540² and binned 4x4
       to ``pixel_scale`` = 0.12"/px (135², exact flux conservation).
    2. Observation: the HST stamp convolved (zero-padded, linear convolution), at 0.03"/px, with
       the real SDSS PSF resampled to 0.03"/px (flux-conserving, cropped to 12"), then binned 4x4;
       plus Gaussian noise of standard deviation
       :math:`\sigma = \max(h\circledast x)/\mathrm{SNR}` (``seed``).  The deconvolution PSF is
       the SDSS PSF resampled directly to 0.12"/px and cropped to ``psf_size`` (so the model is
       not identical to the simulation: no inverse crime).
    3. Reference at the target resolution: the truth convolved with a Gaussian of FWHM
       ``target_fwhm`` pixels (0.24" by default), to which ``target_psf`` applies.

    Returns
    -------
    dict
        ``y``, ``x_true``, ``psf``, ``sigma``, ``target_psf``, ``x_target`` (= target_psf ⊛ x_true),
        ``pixel_scale``, ``snr``.
    """
    x_true, clean = _real_clean(float(pixel_scale))
    sigma = float(clean.max() / check_positive_scalar(snr, "snr"))
    y = clean + sigma * np.random.default_rng(seed).standard_normal(clean.shape)
    h = ground_psf(pixel_scale, psf_size)
    g = gaussian_psf(15, target_fwhm)
    return {"y": y, "x_true": x_true.copy(), "clean": clean.copy(), "psf": h, "sigma": sigma, "target_psf": g,
            "x_target": _conv(x_true, g), "pixel_scale": pixel_scale, "snr": float(snr)}


def shipped_ground_setting(snr: float | None = 50.0, *, seed: int = 0) -> dict[str, Any]:
    r"""The shipped ground-based rendering as a semi-real problem (spec tests C.26-C.27).

    The 60x60 stamp (0.396"/px) minus its 1000 pedestal is embedded in 64x64 with a 2-pixel
    zero border; the SDSS PSF minus 1000 is clipped at 0 and normalised.  Truth
    ``x = clip(stamp, 0)``, observation ``y = h ⊛ x + n`` (periodic), :math:`\sigma = \max(h\circledast x)/\mathrm{SNR}`
    (``snr=None``: no noise).
    """
    from ...datasets import load_hst_galaxy

    d = load_hst_galaxy(raw=True)
    stamp = np.pad(d["ground_image"] - 1000.0, 2)
    h = np.clip(d["sdss_psf"] - 1000.0, 0.0, None)
    h = h / h.sum()
    x = np.clip(stamp, 0.0, None)
    clean = _conv(x, h)
    sigma = 0.0 if snr is None else float(clean.max() / snr)
    y = clean + sigma * np.random.default_rng(seed).standard_normal(clean.shape)
    return {"stamp": stamp, "x_true": x, "y": y, "clean": clean, "psf": h, "sigma": sigma,
            "pixel_scale": 0.396}
