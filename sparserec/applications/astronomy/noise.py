r"""Noise: MAD estimates per starlet scale, multiresolution support, Poisson + Gaussian models.

For unit white Gaussian noise the starlet plane :math:`j` has standard deviation
:math:`e_j = \|\psi_j\|_2` (:meth:`~sparserec.operators.Starlet.noise_factors`); the noise
standard deviation of an image is estimated robustly from its finest scale,
:math:`\hat\sigma = 1.4826\,\mathrm{median}|w_1 - \mathrm{median}\,w_1| / e_1`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._checks import check_image, check_positive_scalar, check_psf

__all__ = [
    "add_noise",
    "estimate_sigma",
    "mad_std",
    "mr_support",
    "noise_variance",
    "starlet_noise_levels",
    "threshold_factors",
]

MAD_TO_STD = 1.482602218505602  # 1 / Phi^{-1}(3/4)


def mad_std(x: Any, axis: int | tuple[int, ...] | None = None) -> Any:
    r"""Robust standard deviation :math:`1.4826\,\mathrm{median}(|x - \mathrm{median}(x)|)`."""
    a = np.asarray(x, dtype=float)
    med = np.median(a, axis=axis, keepdims=True)
    out = MAD_TO_STD * np.median(np.abs(a - med), axis=axis)
    return out


def estimate_sigma(image: Any, *, n_scales: int = 1, generation: int = 1) -> Any:
    r"""Standard deviation of white Gaussian noise in ``(*batch, H, W)`` images, from the MAD of
    the finest starlet scale divided by its noise factor :math:`e_1` (0.8908 for generation 1).

    Returns a float for one image, an array of shape ``batch`` otherwise.  Robust to the signal
    (sparse in :math:`w_1`) and to a few outliers.
    """
    from ...operators import Starlet

    a = check_image(image)
    W = Starlet(a.shape[-2:], n_scales=max(1, int(n_scales)), generation=generation)
    w1 = W.apply(a)[..., 0, :, :]
    s = mad_std(w1.reshape(*w1.shape[:-2], -1), axis=-1) / W.noise_factors()[0]
    return float(s) if np.ndim(s) == 0 else s


def starlet_noise_levels(shape: Sequence[int], n_scales: int = 4, *, sigma: Any = 1.0,
                         psf: Any = None, generation: int = 1) -> np.ndarray:
    r"""Per-scale noise standard deviations :math:`\sigma_j` of a starlet transform.

    Without ``psf``: :math:`\sigma_j = \sigma e_j` (white noise in the image).  With ``psf``:
    :math:`\sigma_j = \sigma\,\|W_j H^T\delta\|_2`, the noise propagated through the adjoint PSF
    (the gradient :math:`H^T(Hx - y)` carries noise :math:`H^T n`), as pysap-astro's weights.

    Returns
    -------
    numpy.ndarray of shape ``(*batch, n_scales + 1)`` (``batch`` from ``sigma``); the last entry
    is the coarse scale.
    """
    from ...operators import Starlet

    shp = tuple(int(s) for s in shape[-2:])
    W = Starlet(shp, n_scales=int(n_scales), generation=generation)
    if psf is None:
        e = W.noise_factors()
    else:
        h = check_psf(psf, shp)
        # impulse at the centre, correlated with the PSF (adjoint of the circular convolution)
        from .psf import psf_to_otf

        d = np.zeros(shp)
        d[shp[0] // 2, shp[1] // 2] = 1.0
        Ht = np.fft.irfft2(np.fft.rfft2(d) * np.conj(psf_to_otf(h, shp)), shp)
        e = np.sqrt(np.sum(W.apply(Ht) ** 2, axis=(-2, -1)))
    s = np.asarray(sigma, dtype=float)
    if np.any(~np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"sigma must be finite and non-negative, got {sigma}")
    return s[..., None] * e


def threshold_factors(n_scales: int, k: float | Sequence[float] = 3.0, k_finest: float | None = 4.0) -> np.ndarray:
    """Per-scale factors :math:`k_j` of length ``n_scales + 1`` (coarse scale 0: unpenalised);
    ``k`` scalar or one per detail scale; ``k_finest`` overrides the finest scale (None: keep)."""
    ks = np.broadcast_to(np.asarray(k, dtype=float), (int(n_scales),)).copy()
    if np.any(ks < 0) or not np.all(np.isfinite(ks)):
        raise ValueError(f"threshold factors k must be finite and non-negative, got {k}")
    if k_finest is not None:
        if k_finest < 0:
            raise ValueError(f"k_finest must be non-negative, got {k_finest}")
        ks[0] = float(k_finest)
    return np.concatenate([ks, [0.0]])


def mr_support(coeffs: Any, sigma_j: Any, k: float | Sequence[float] = 3.0,
               k_finest: float | None = 4.0) -> np.ndarray:
    r"""Multiresolution support :math:`M_j(p) = [\,|w_j(p)| \ge k_j\sigma_j\,]` of starlet
    coefficients ``(*batch, J + 1, H, W)``; the coarse plane is always active."""
    c = np.asarray(coeffs, dtype=float)
    J = c.shape[-3] - 1
    kj = threshold_factors(J, k, k_finest)
    thr = kj * np.asarray(sigma_j, dtype=float)
    M = np.abs(c) >= thr[..., :, None, None]
    M[..., J, :, :] = True
    return M


def noise_variance(image: Any, sigma: float = 0.0, gain: float | None = None) -> np.ndarray:
    r"""Per-pixel variance of the Poisson + Gaussian model, :math:`\sigma^2 + \max(x, 0)/g`
    (``gain`` :math:`g` in electrons per image unit; None: Gaussian only)."""
    x = check_image(image)
    var = np.full(x.shape, check_positive_scalar(sigma, "sigma", allow_zero=True) ** 2)
    if gain is not None:
        var = var + np.clip(x, 0.0, None) / check_positive_scalar(gain, "gain")
    return var


def add_noise(image: Any, sigma: Any = 0.0, *, gain: float | None = None,
              rng: np.random.Generator | int | None = None) -> np.ndarray:
    r"""Poisson + Gaussian noise: :math:`y = \mathcal P(g\,x_+)/g + \mathcal N(0, \sigma^2)`.

    Parameters
    ----------
    image : array ``(*batch, H, W)``
        Noise-free image (image units).
    sigma : float or array broadcasting to ``batch``
        Gaussian (read-out + sky) standard deviation.
    gain : float, optional
        Electrons per image unit for the photon noise of the source; None: no Poisson part.
    rng : Generator or int seed
    """
    x = check_image(image)
    g = np.random.default_rng(rng)
    s = np.asarray(sigma, dtype=float)
    if np.any(~np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"sigma must be finite and non-negative, got {sigma}")
    y = x.copy()
    if gain is not None:
        gv = check_positive_scalar(gain, "gain")
        xp = np.clip(x, 0.0, None)
        y = g.poisson(xp * gv) / gv + (x - xp)
    return y + s[..., None, None] * g.standard_normal(x.shape)
