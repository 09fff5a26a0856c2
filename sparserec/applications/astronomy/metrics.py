r"""Metrics for deconvolved astronomical images: NMSE, PSNR, SSIM, flux error, second moments,
ellipticity / shape errors, half-light radius.  All accept ``(*batch, H, W)`` arrays and return
one value per image (a float for a single image)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import check_image

__all__ = ["ellipticity", "flux_error", "half_light_radius", "nmse", "psnr", "second_moments",
           "shape_error", "ssim"]


def _pair(x_hat: Any, x_true: Any) -> tuple[np.ndarray, np.ndarray]:
    a = check_image(x_hat, "x_hat")
    b = check_image(x_true, "x_true")
    if a.shape[-2:] != b.shape[-2:]:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    return a, b


def _out(v: Any) -> Any:
    v = np.asarray(v)
    return float(v) if v.ndim == 0 else v


def nmse(x_hat: Any, x_true: Any) -> Any:
    r"""Normalised (relative) mean square error :math:`\|\hat x - x\|_2^2 / \|x\|_2^2`."""
    a, b = _pair(x_hat, x_true)
    return _out(np.sum((a - b) ** 2, axis=(-2, -1)) / np.sum(b ** 2, axis=(-2, -1)))


def psnr(x_hat: Any, x_true: Any, data_range: float | None = None) -> Any:
    r"""Peak signal-to-noise ratio :math:`10\log_{10}(R^2/\mathrm{MSE})` in dB, with
    :math:`R = \max x - \min x` of the reference unless ``data_range`` is given."""
    a, b = _pair(x_hat, x_true)
    mse = np.mean((a - b) ** 2, axis=(-2, -1))
    R = (b.max(axis=(-2, -1)) - b.min(axis=(-2, -1))) if data_range is None else float(data_range)
    return _out(10.0 * np.log10(np.asarray(R) ** 2 / mse))


def ssim(x_hat: Any, x_true: Any, data_range: float | None = None, *, sigma: float = 1.5,
         k1: float = 0.01, k2: float = 0.03) -> Any:
    r"""Structural similarity (Wang et al. 2004) with a Gaussian window (σ = 1.5 px, truncated at
    3.5σ), :math:`C_1 = (k_1R)^2`, :math:`C_2 = (k_2R)^2`, mean over the image (edges mirrored).

    .. math:: \mathrm{SSIM} = \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
                                   {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)}
    """
    from scipy.ndimage import gaussian_filter

    a, b = _pair(x_hat, x_true)
    R = (b.max(axis=(-2, -1)) - b.min(axis=(-2, -1))) if data_range is None else np.asarray(float(data_range))
    R = np.asarray(R)[..., None, None]
    sig = [0.0] * (a.ndim - 2) + [sigma, sigma]

    def f(z: np.ndarray) -> np.ndarray:
        return gaussian_filter(z, sig, truncate=3.5, mode="reflect")

    mx, my = f(a), f(b)
    sxx = f(a * a) - mx * mx
    syy = f(b * b) - my * my
    sxy = f(a * b) - mx * my
    C1, C2 = (k1 * R) ** 2, (k2 * R) ** 2
    m = ((2 * mx * my + C1) * (2 * sxy + C2)) / ((mx * mx + my * my + C1) * (sxx + syy + C2))
    return _out(m.mean(axis=(-2, -1)))


def flux_error(x_hat: Any, x_true: Any) -> Any:
    r"""Relative flux error :math:`(\sum\hat x - \sum x)/\sum x`."""
    a, b = _pair(x_hat, x_true)
    return _out(a.sum(axis=(-2, -1)) / b.sum(axis=(-2, -1)) - 1.0)


def second_moments(image: Any, weight_sigma: float | None = None, n_iter: int = 20) -> dict[str, Any]:
    r"""Centroid and second moments :math:`Q_{ij} = \sum w I (x_i - \bar x_i)(x_j - \bar x_j) / \sum w I`.

    Parameters
    ----------
    image : array ``(*batch, H, W)``
    weight_sigma : float, optional
        Width (pixels) of a circular Gaussian weight :math:`w` re-centred iteratively on the
        weighted centroid (robust to background noise); None: unweighted moments of the
        positive part of the image.
    n_iter : int
        Centroid iterations with a weight.

    Returns
    -------
    dict with ``yc, xc, Qyy, Qxx, Qxy`` (per image).
    """
    a = check_image(image)
    yy, xx = np.indices(a.shape[-2:], dtype=float)
    I = np.clip(a, 0.0, None) if weight_sigma is None else a
    w = np.ones_like(a)

    def mom(wI: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = wI.sum(axis=(-2, -1))
        if np.any(s <= 0):
            raise ValueError("second_moments: non-positive (weighted) flux")
        return s, (wI * yy).sum(axis=(-2, -1)) / s, (wI * xx).sum(axis=(-2, -1)) / s

    s, yc, xc = mom(w * I)
    if weight_sigma is not None:
        for _ in range(int(n_iter)):
            w = np.exp(-0.5 * ((yy - yc[..., None, None]) ** 2 + (xx - xc[..., None, None]) ** 2) / weight_sigma ** 2)
            s, yc, xc = mom(w * I)
    dy = yy - yc[..., None, None]
    dx = xx - xc[..., None, None]
    wI = w * I
    Q = {"Qyy": (wI * dy * dy).sum(axis=(-2, -1)) / s, "Qxx": (wI * dx * dx).sum(axis=(-2, -1)) / s,
         "Qxy": (wI * dx * dy).sum(axis=(-2, -1)) / s}
    return {"yc": _out(yc), "xc": _out(xc), **{k: _out(v) for k, v in Q.items()}}


def ellipticity(image: Any, weight_sigma: float | None = None) -> Any:
    r"""Distortion ellipticity :math:`(e_1, e_2) = (Q_{xx} - Q_{yy},\, 2Q_{xy})/(Q_{xx} + Q_{yy})`
    (``x`` = column axis), shape ``(*batch, 2)``, and the size :math:`R^2 = Q_{xx} + Q_{yy}` is
    available from :func:`second_moments`."""
    m = second_moments(image, weight_sigma)
    T = np.asarray(m["Qxx"]) + np.asarray(m["Qyy"])
    e1 = (np.asarray(m["Qxx"]) - np.asarray(m["Qyy"])) / T
    e2 = 2.0 * np.asarray(m["Qxy"]) / T
    return np.stack([e1, e2], axis=-1)


def shape_error(x_hat: Any, x_true: Any, weight_sigma: float | None = None) -> dict[str, Any]:
    r"""Shape errors: ``de`` = :math:`|e(\hat x) - e(x)|` (ellipticity modulus difference) and
    ``dsize`` = relative size error :math:`(R^2(\hat x) - R^2(x))/R^2(x)`."""
    e_hat = ellipticity(x_hat, weight_sigma)
    e = ellipticity(x_true, weight_sigma)
    m1, m0 = second_moments(x_hat, weight_sigma), second_moments(x_true, weight_sigma)
    T1 = np.asarray(m1["Qxx"]) + np.asarray(m1["Qyy"])
    T0 = np.asarray(m0["Qxx"]) + np.asarray(m0["Qyy"])
    return {"de": _out(np.hypot(*np.moveaxis(e_hat - e, -1, 0))), "dsize": _out(T1 / T0 - 1.0),
            "e_hat": e_hat, "e_true": e}


def half_light_radius(image: Any) -> Any:
    r"""Radius (pixels) about the flux centroid that encloses half of the signed total flux
    (linear interpolation of the enclosed-flux curve over pixel-centre distances)."""
    a = check_image(image)
    flat = a.reshape(-1, *a.shape[-2:])
    out = []
    yy, xx = np.indices(a.shape[-2:], dtype=float)
    for im in flat:
        s = im.sum()
        if s <= 0:
            raise ValueError("half_light_radius: non-positive total flux")
        yc, xc = (im * yy).sum() / s, (im * xx).sum() / s
        r = np.hypot(yy - yc, xx - xc).ravel()
        o = np.argsort(r)
        cum = np.cumsum(im.ravel()[o])
        i = int(np.argmax(cum >= 0.5 * s))
        if i == 0:
            out.append(r[o][0])
            continue
        r0, r1 = r[o][i - 1], r[o][i]
        c0, c1 = cum[i - 1], cum[i]
        out.append(r0 + (0.5 * s - c0) * (r1 - r0) / (c1 - c0) if c1 != c0 else r1)
    return _out(np.asarray(out).reshape(a.shape[:-2]))
