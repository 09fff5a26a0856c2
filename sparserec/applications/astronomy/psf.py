r"""PSF utilities: normalisation, centring, sub-pixel shifts, flux-conserving resampling,
Gaussian / Moffat / Kolmogorov (von Kármán) models, FWHM, and padding for FFT convolution.

Centring convention (used everywhere in this module): the centre of a PSF array of shape
``(n0, n1)`` is the pixel ``(n0 // 2, n1 // 2)`` (the middle pixel for odd sizes).  That is the
index that :func:`numpy.fft.ifftshift` moves to ``(0, 0)``, so :func:`psf_to_otf` needs no extra
shift, and it is the ``center`` that :class:`~sparserec.operators.FFTConvolve` uses by default in
``"circular"`` mode.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._checks import check_image, check_positive_scalar, check_psf

__all__ = [
    "center_psf",
    "centroid",
    "crop_psf",
    "fwhm",
    "gaussian_psf",
    "kolmogorov_psf",
    "moffat_psf",
    "normalize_psf",
    "pad_image",
    "psf_to_otf",
    "resample",
    "shift_image",
    "von_karman_structure_function",
]

_FWHM_GAUSS = 2.0 * math.sqrt(2.0 * math.log(2.0))


# ---------------------------------------------------------------------- basics
def normalize_psf(psf: Any, *, clip_negative: bool = False, pedestal: float = 0.0) -> np.ndarray:
    r"""Subtract a pedestal, optionally clip negative wings, and normalise to unit sum.

    Parameters
    ----------
    psf : array (H, W)
    clip_negative : bool, default False
        Set negative pixels (noise in the wings of a measured PSF) to 0 before normalising.
    pedestal : float, default 0
        Constant "soft bias" to subtract first (1000 for SDSS PSF reconstructions).

    Returns
    -------
    numpy.ndarray
        :math:`h / \sum h` (float64).

    Raises
    ------
    ValueError
        Not 2-D, non-finite, or non-positive sum.

    Examples
    --------
    >>> import numpy as np
    >>> normalize_psf(np.array([[0.0, 1.0], [1.0, 2.0]])).sum()
    np.float64(1.0)
    """
    p = check_psf(psf, normalize=False) - float(pedestal)
    if clip_negative:
        p = np.clip(p, 0.0, None)
    return check_psf(p)


def centroid(image: Any) -> np.ndarray:
    r"""Flux-weighted centroid :math:`(\sum_p p\,I_p / \sum_p I_p)` of ``(*batch, H, W)`` images,
    as ``(*batch, 2)`` (row, column) in 0-based pixel coordinates."""
    a = check_image(image)
    s = a.sum(axis=(-2, -1))
    if np.any(s == 0):
        raise ValueError("centroid: an image has zero total flux")
    r = np.arange(a.shape[-2], dtype=float)
    c = np.arange(a.shape[-1], dtype=float)
    cr = (a.sum(axis=-1) * r).sum(axis=-1) / s
    cc = (a.sum(axis=-2) * c).sum(axis=-1) / s
    return np.stack([cr, cc], axis=-1)


def shift_image(image: Any, shift: Sequence[float] | Any) -> np.ndarray:
    r"""Sub-pixel (circular) translation by ``shift = (dy, dx)`` pixels via the Fourier shift theorem.

    :math:`\hat I'(k) = \hat I(k)\,e^{-2\pi i (k_y d_y/N_y + k_x d_x/N_x)}`.  The total flux is
    preserved exactly (the zero frequency is unchanged); integer shifts equal :func:`numpy.roll`.
    The Nyquist frequency of even axes is handled by taking the real part (symmetric split).
    """
    a = check_image(image)
    d = np.asarray(shift, dtype=float)
    if d.shape[-1:] != (2,):
        raise ValueError(f"shift must have a trailing axis of length 2 (dy, dx), got shape {d.shape}")
    ny, nx = a.shape[-2:]
    ky = np.fft.fftfreq(ny)[:, None]
    kx = np.fft.fftfreq(nx)[None, :]
    dy = d[..., 0][..., None, None]
    dx = d[..., 1][..., None, None]
    ph = np.exp(-2j * np.pi * (ky * dy + kx * dx))
    return np.real(np.fft.ifft2(np.fft.fft2(a) * ph))


def center_psf(psf: Any, method: str = "centroid", *, normalize: bool = True) -> np.ndarray:
    r"""Move the PSF so that its centre lies on pixel ``(n0 // 2, n1 // 2)``.

    Parameters
    ----------
    psf : array (H, W)
    method : {"centroid", "peak", "none"}
        ``"centroid"``: sub-pixel Fourier shift of the flux centroid (computed on the positive part,
        so that noisy wings do not bias it); ``"peak"``: integer roll of the brightest pixel.
    normalize : bool, default True
        Normalise to unit sum afterwards.

    Returns
    -------
    numpy.ndarray
    """
    p = check_psf(psf, normalize=False)
    target = np.array([p.shape[0] // 2, p.shape[1] // 2], dtype=float)
    if method == "none":
        out = p
    elif method == "peak":
        pk = np.unravel_index(int(np.argmax(p)), p.shape)
        out = np.roll(p, (int(target[0] - pk[0]), int(target[1] - pk[1])), axis=(0, 1))
    elif method == "centroid":
        c = centroid(np.clip(p, 0.0, None))
        out = shift_image(p, target - c)
    else:
        raise ValueError(f"method must be 'centroid', 'peak' or 'none', got {method!r}")
    return out / out.sum() if normalize else out


def crop_psf(psf: Any, shape: int | Sequence[int]) -> np.ndarray:
    """Crop a centred PSF to ``shape`` around its centre pixel (odd shapes keep the centre in the
    middle) and renormalise to unit sum."""
    p = check_psf(psf, normalize=False)
    shp = (int(shape), int(shape)) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)  # type: ignore[arg-type]
    if any(s < 1 or s > n for s, n in zip(shp, p.shape)):
        raise ValueError(f"crop shape {shp} must be between 1 and the PSF shape {p.shape}")
    sl = tuple(slice(n // 2 - s // 2, n // 2 - s // 2 + s) for s, n in zip(shp, p.shape))
    return check_psf(p[sl])


def pad_image(image: Any, pad: int | Sequence[int], mode: str = "reflect") -> np.ndarray:
    """Pad the two trailing axes by ``pad`` pixels on each side (``numpy.pad`` modes), to reduce
    wrap-around in circular (FFT) deconvolution; crop back with ``x[..., p:-p, q:-q]``."""
    a = check_image(image)
    p = (int(pad), int(pad)) if np.ndim(pad) == 0 else tuple(int(v) for v in pad)  # type: ignore[arg-type]
    if any(v < 0 for v in p):
        raise ValueError(f"pad must be non-negative, got {pad}")
    width = [(0, 0)] * (a.ndim - 2) + [(p[0], p[0]), (p[1], p[1])]
    return np.pad(a, width, mode=mode)


def psf_to_otf(psf: Any, shape: Sequence[int], *, real: bool = True) -> np.ndarray:
    r"""Optical transfer function on a ``shape`` grid: the centred PSF zero-padded to ``shape``
    (centre pixel ``n // 2`` of the PSF placed at ``N // 2``), ``ifftshift``-ed so that the centre
    is at ``(0, 0)``, then FFT-ed (``rfft2`` when ``real``).

    The circular convolution of an image ``x`` of shape ``shape`` with the PSF is
    ``irfft2(rfft2(x) * otf, shape)``; for a unit-sum PSF, ``otf[0, 0] = 1``.
    """
    p = check_psf(psf, tuple(shape), normalize=False)
    N = tuple(int(s) for s in shape)
    big = np.zeros(N)
    o = tuple(Nn // 2 - n // 2 for Nn, n in zip(N, p.shape))
    big[o[0]:o[0] + p.shape[0], o[1]:o[1] + p.shape[1]] = p
    big = np.fft.ifftshift(big)
    return np.fft.rfft2(big) if real else np.fft.fft2(big)


# ---------------------------------------------------------------------- models
def _grid(shape: Sequence[int], center: Sequence[float] | None) -> tuple[np.ndarray, np.ndarray]:
    n0, n1 = (int(s) for s in shape)
    c = (n0 // 2, n1 // 2) if center is None else tuple(float(v) for v in center)
    yy, xx = np.meshgrid(np.arange(n0) - c[0], np.arange(n1) - c[1], indexing="ij")
    return yy, xx


def _elliptical_r2(yy: np.ndarray, xx: np.ndarray, e1: float, e2: float) -> np.ndarray:
    """Squared radius in the sheared frame (|e| < 1, e = (1 - q^2)/(1 + q^2) distortion convention
    replaced by the simpler reduced-shear matrix [[1 - g1, -g2], [-g2, 1 + g1]] / sqrt(1 - g^2))."""
    g2t = e1 * e1 + e2 * e2
    if g2t >= 1.0:
        raise ValueError(f"ellipticity |e| must be < 1, got {math.sqrt(g2t):g}")
    # inverse shear applied to coordinates (x, y) with x the column axis
    u = ((1 - e1) * xx - e2 * yy)
    v = (-e2 * xx + (1 + e1) * yy)
    return (u * u + v * v) / (1.0 - g2t)


def _render(profile: Any, shape: Sequence[int], center: Sequence[float] | None, oversample: int,
            e1: float, e2: float) -> np.ndarray:
    if int(oversample) < 1:
        raise ValueError(f"oversample must be a positive integer, got {oversample}")
    os_ = int(oversample)
    yy, xx = _grid(shape, center)
    if os_ == 1:
        img = profile(_elliptical_r2(yy, xx, e1, e2))
    else:
        off = (np.arange(os_) + 0.5) / os_ - 0.5
        img = np.zeros(yy.shape)
        for dy in off:
            for dx in off:
                img += profile(_elliptical_r2(yy + dy, xx + dx, e1, e2))
    return img / img.sum()


def gaussian_psf(shape: int | Sequence[int], fwhm: float, *, e1: float = 0.0, e2: float = 0.0,
                 center: Sequence[float] | None = None, oversample: int = 1) -> np.ndarray:
    r"""Unit-sum (elliptical) Gaussian PSF, :math:`\exp(-r^2/2s^2)`, :math:`s = \mathrm{FWHM}/(2\sqrt{2\ln 2})`.

    Parameters
    ----------
    shape : int or (int, int)
    fwhm : float
        Full width at half maximum in pixels (of the round profile; along the principal axes
        an ellipticity changes it by the shear factors).
    e1, e2 : float
        Reduced-shear ellipticity components.
    center : (float, float), optional
        Centre in pixels (default the centre pixel ``n // 2``).
    oversample : int, default 1
        Integrate over each pixel with ``oversample**2`` sub-samples (1: point sampling).

    Examples
    --------
    >>> p = gaussian_psf(25, 3.0)
    >>> round(float(p.sum()), 12), p.shape
    (1.0, (25, 25))
    """
    shp = (int(shape), int(shape)) if np.ndim(shape) == 0 else tuple(shape)  # type: ignore[arg-type]
    s = check_positive_scalar(fwhm, "fwhm") / _FWHM_GAUSS
    return _render(lambda r2: np.exp(-0.5 * r2 / (s * s)), shp, center, oversample, e1, e2)


def moffat_psf(shape: int | Sequence[int], fwhm: float, beta: float = 4.765, *, e1: float = 0.0,
               e2: float = 0.0, center: Sequence[float] | None = None, oversample: int = 1) -> np.ndarray:
    r"""Unit-sum (elliptical) Moffat PSF :math:`(1 + r^2/\alpha^2)^{-\beta}`.

    :math:`\alpha = \mathrm{FWHM} / (2\sqrt{2^{1/\beta} - 1})`; the default
    :math:`\beta = 4.765` is Trujillo et al. (2001)'s fit to Kolmogorov seeing; :math:`\beta = 2.5`
    (IRAF) has broader wings.  Other parameters as :func:`gaussian_psf`.

    Examples
    --------
    >>> p = moffat_psf(31, 4.0, beta=2.5)
    >>> abs(fwhm(p) - 4.0) < 0.1
    True
    """
    shp = (int(shape), int(shape)) if np.ndim(shape) == 0 else tuple(shape)  # type: ignore[arg-type]
    f = check_positive_scalar(fwhm, "fwhm")
    b = check_positive_scalar(beta, "beta")
    if b <= 1.0:
        raise ValueError(f"beta must exceed 1 (finite flux), got {beta}")
    alpha = f / (2.0 * math.sqrt(2.0 ** (1.0 / b) - 1.0))
    return _render(lambda r2: (1.0 + r2 / (alpha * alpha)) ** (-b), shp, center, oversample, e1, e2)


def von_karman_structure_function(rho: Any, outer_scale: float = math.inf) -> np.ndarray:
    r"""Phase structure function :math:`D(\rho)` (in rad²) for separations ``rho`` in units of the
    Fried parameter :math:`r_0`, Kolmogorov (``outer_scale = inf``) or von Kármán.

    Notes
    -----
    Kolmogorov: :math:`D(\rho) = 6.88\,\rho^{5/3}`.  Von Kármán: the phase spectrum
    :math:`\Phi(f) = 0.023\,(f^2 + L_0^{-2})^{-11/6}` (lengths in units of :math:`r_0`) is
    integrated numerically,
    :math:`D(\rho) = 4\pi\int_0^\infty [1 - J_0(2\pi f\rho)]\,\Phi(f)\,f\,df`, on a log-spaced grid
    (relative accuracy about 1e-3; for large :math:`L_0` the leading correction to Kolmogorov is
    about :math:`-1.485\,(\rho/L_0)^{1/3}`, relative).  The outer scale lowers the large-separation phase variance
    and so narrows the long-exposure PSF (Tokovinin 2002).
    """
    from scipy.special import j0

    r = np.atleast_1d(np.asarray(rho, dtype=float))
    if math.isinf(outer_scale):
        return 6.88 * r ** (5.0 / 3.0)
    L0 = check_positive_scalar(outer_scale, "outer_scale")
    fmin = 1e-10
    f = np.logspace(np.log10(fmin), 4, 8000)
    phi = 0.023 * (f * f + L0 ** -2) ** (-11.0 / 6.0)
    integrand = (1.0 - j0(2.0 * np.pi * f[None, :] * r[:, None])) * phi[None, :] * f[None, :]
    # below fmin, 1 - J0(z) ~ z^2/4 and the spectrum is at most its Kolmogorov bound
    tail = np.pi ** 2 * r ** 2 * 0.023 * 3.0 * fmin ** (1.0 / 3.0)
    return 4.0 * np.pi * (np.trapezoid(integrand, f, axis=1) + tail)


def kolmogorov_psf(shape: int | Sequence[int], fwhm: float, *, outer_scale: float = math.inf,
                   oversample: int = 4) -> np.ndarray:
    r"""Long-exposure atmospheric seeing PSF (Kolmogorov, or von Kármán with an outer scale).

    Parameters
    ----------
    shape : int or (int, int)
    fwhm : float
        FWHM in pixels (the profile's scale is solved for to give exactly this FWHM).
    outer_scale : float, default inf
        :math:`L_0 / r_0` (von Kármán outer scale in units of the Fried parameter; a typical
        site has :math:`r_0 \approx 0.1`-0.2 m, :math:`L_0 \approx 20`-30 m, i.e. 100-300).
        ``inf`` gives the pure Kolmogorov PSF.
    oversample : int, default 4
        The transfer function is built on a grid ``oversample`` times larger, so that the
        wings are not aliased, and the PSF is block-summed back (pixel-integrated).

    Returns
    -------
    numpy.ndarray, unit sum, centre at ``n // 2``.

    Notes
    -----
    The long-exposure optical transfer function of the atmosphere (telescope diffraction
    ignored, i.e. a large aperture) is :math:`T(\nu) = \exp(-\tfrac12 D(\lambda\nu))` with the
    phase structure function :math:`D` of :func:`von_karman_structure_function`.  In pixel units
    :math:`T(\nu) = \exp(-\tfrac12 D(\nu/\nu_0))`, and :math:`\nu_0` is found by a scalar root
    search so that the FWHM equals ``fwhm``.  For Kolmogorov,
    :math:`T = \exp(-3.44\,(\nu/\nu_0)^{5/3})` and FWHM :math:`\approx 0.976\,\lambda/r_0`.
    The von Kármán case is an approximation in that the outer-scale spectrum
    :math:`(f^2 + L_0^{-2})^{-11/6}` is used with the Kolmogorov constant 0.023 and Gaussian
    phase statistics (the standard "von Kármán" long-exposure model, no inner scale).
    """
    from scipy.optimize import brentq

    shp = (int(shape), int(shape)) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)  # type: ignore[arg-type]
    f_target = check_positive_scalar(fwhm, "fwhm")
    os_ = int(oversample)
    if os_ < 1:
        raise ValueError(f"oversample must be a positive integer, got {oversample}")
    N = tuple(s * os_ for s in shp)
    ky = np.fft.fftfreq(N[0])[:, None]
    kx = np.fft.fftfreq(N[1])[None, :]
    nu = np.hypot(ky, kx) * os_  # cycles per (coarse) pixel
    # the structure function depends on u = nu / nu0 only: tabulate it once on a log grid
    ut = np.concatenate([[0.0], np.logspace(-4, 4.5, 600)])
    Dt = von_karman_structure_function(ut, outer_scale)

    def build(nu0: float) -> np.ndarray:
        Dv = np.interp(nu / nu0, ut, Dt)
        T = np.exp(-0.5 * Dv)
        fine = np.fft.fftshift(np.real(np.fft.ifft2(T)))
        # bring the fine centre N//2 onto the coarse centre pixel: fine pixel N//2 lies in
        # coarse pixel (N//2)//os_; shift so that it is the middle sub-pixel of shp//2
        shift = tuple((s // 2) * os_ + os_ // 2 - Nn // 2 for s, Nn in zip(shp, N))
        fine = np.roll(fine, shift, axis=(0, 1))
        coarse = fine.reshape(shp[0], os_, shp[1], os_).sum(axis=(1, 3))
        return coarse / coarse.sum()

    def g(lognu0: float) -> float:
        return _measure_fwhm(build(math.exp(lognu0))) - f_target

    lo, hi = math.log(1e-3), math.log(5.0)
    glo, ghi = g(lo), g(hi)
    if glo * ghi > 0:
        raise ValueError(f"kolmogorov_psf: cannot reach FWHM {f_target} px on a {shp} grid "
                         "(use a larger shape or a smaller fwhm)")
    nu0 = math.exp(brentq(g, lo, hi, xtol=1e-6))
    return build(nu0)


# ---------------------------------------------------------------------- measurement
def fwhm(psf: Any, upsample: int = 8) -> float:
    r"""FWHM (pixels) of a (roughly round) PSF from the area above half maximum,
    :math:`2\sqrt{A/\pi}`, measured on a cubic-spline up-sampled copy (``upsample`` per axis).
    Exact for a round profile up to interpolation error (~1 % for a 3-px Gaussian)."""
    from scipy.ndimage import zoom

    p = check_psf(psf, normalize=True)
    z = zoom(p, int(upsample), order=3, mode="nearest", grid_mode=True)
    area = float(np.count_nonzero(z >= 0.5 * z.max())) / (upsample * upsample)
    return 2.0 * math.sqrt(area / math.pi)


def _measure_fwhm(p: np.ndarray) -> float:
    return fwhm(p)


# ---------------------------------------------------------------------- resampling
def _resample_matrix(n_in: int, scale_in: float, n_out: int, scale_out: float, kind: str) -> np.ndarray:
    """Matrix (n_out, n_in): flux of output pixels from the interpolated cumulative flux."""
    from scipy.interpolate import CubicSpline, PchipInterpolator

    # edges in physical units, both grids centred on 0
    e_in = (np.arange(n_in + 1) - n_in / 2.0) * scale_in
    e_out = (np.arange(n_out + 1) - n_out / 2.0) * scale_out
    eye = np.eye(n_in)
    C = np.vstack([np.zeros((1, n_in)), np.cumsum(eye, axis=0)])  # cumulative flux at e_in
    # extend flat beyond the input support (no flux outside)
    lo, hi = e_in[0], e_in[-1]
    ev = np.clip(e_out, lo, hi)
    if kind == "linear":
        F = np.stack([np.interp(ev, e_in, C[:, j]) for j in range(n_in)], axis=1)
    elif kind == "cubic":
        F = CubicSpline(e_in, C, axis=0, bc_type="clamped")(ev)
    elif kind == "pchip":
        F = PchipInterpolator(e_in, C, axis=0)(ev)
    else:
        raise ValueError(f"kind must be 'cubic', 'pchip' or 'linear', got {kind!r}")
    return np.diff(F, axis=0)


def resample(image: Any, scale_in: float, scale_out: float,
             out_shape: int | Sequence[int] | None = None, *, kind: str = "cubic") -> np.ndarray:
    r"""Resample ``(*batch, H, W)`` images between pixel scales, conserving flux.

    Parameters
    ----------
    image : array ``(*batch, H, W)``
        Pixel values are fluxes (sums over the pixel area), as in astronomical images.
    scale_in, scale_out : float
        Pixel scales (e.g. arcsec per pixel) of the input and output grids.
    out_shape : int or (int, int), optional
        Output shape; default ``ceil(n * scale_in / scale_out)`` (made odd when the input is
        odd so that a centred PSF stays centred), so that the output grid covers the input.  Both
        grids share their geometric centre.
    kind : {"cubic", "pchip", "linear"}
        Interpolant of the cumulative flux: ``"cubic"`` (smooth, may ring slightly),
        ``"pchip"`` (monotone: keeps non-negative images non-negative), ``"linear"``
        (area-weighted rebinning: piecewise-constant flux density).

    Returns
    -------
    numpy.ndarray ``(*batch, H', W')``

    Notes
    -----
    Per axis, the cumulative flux :math:`C(e_i) = \sum_{k<i} I_k` at the input pixel edges is
    interpolated, :math:`\tilde C`, and output pixel :math:`j` receives
    :math:`\tilde C(e'_{j+1}) - \tilde C(e'_j)` (edges clipped to the input support: no flux is
    invented outside).  The total is conserved exactly whenever the output grid covers the
    input, and integer binning (``scale_out = m * scale_in``) is an exact block sum.  The 2-D
    operator is the separable product of the two 1-D matrices (linear in the image).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((12, 12))
    >>> y = resample(x, 1.0, 3.0)      # 3x3 binning
    >>> bool(np.allclose(y, x.reshape(4, 3, 4, 3).sum(axis=(1, 3))))
    True
    """
    a = check_image(image)
    si = check_positive_scalar(scale_in, "scale_in")
    so = check_positive_scalar(scale_out, "scale_out")
    n0, n1 = a.shape[-2:]
    if out_shape is None:
        def nout(n: int) -> int:
            m = max(1, int(math.ceil(n * si / so - 1e-9)))
            return m + 1 if (n % 2 == 1 and m % 2 == 0) else m
        shp = (nout(n0), nout(n1))
    else:
        shp = (int(out_shape), int(out_shape)) if np.ndim(out_shape) == 0 else tuple(int(s) for s in out_shape)  # type: ignore[arg-type]
    R0 = _resample_matrix(n0, si, shp[0], so, kind)
    R1 = _resample_matrix(n1, si, shp[1], so, kind)
    return np.einsum("ij,...jk,lk->...il", R0, a, R1)
