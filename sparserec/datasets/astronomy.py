r"""Loader of the shipped real astronomical images (HST COSMOS galaxy stamp and PSFs).

The files come from the GalSim repository (``examples/data``) and are redistributed under the
GalSim licence, shipped next to them as ``data/astronomy/LICENSE-GalSim.txt``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .fits import read_fits

__all__ = ["data_path", "load_hst_galaxy"]

_DATA = Path(__file__).resolve().parent / "data"
_STEM = "astronomy/147246.0_150.416558_1.998697"

#: soft bias (sky pedestal) of SDSS PSF reconstructions and of the simulated ground image
SDSS_SOFT_BIAS = 1000.0


def data_path(name: str = "") -> Path:
    """Path of a file shipped in ``sparserec/datasets/data`` (e.g. ``"astronomy/..."``).

    Raises
    ------
    FileNotFoundError
        If the file is not shipped (the package never downloads data).
    """
    p = _DATA / name
    if not p.exists():
        raise FileNotFoundError(
            f"{p} is not shipped with sparserec; files available: "
            f"{sorted(str(q.relative_to(_DATA)) for q in _DATA.rglob('*') if q.is_file())}")
    return p


def load_hst_galaxy(raw: bool = False) -> dict[str, Any]:
    r"""Real HST/ACS F814W galaxy stamp (COSMOS 147246), its PSF, an SDSS PSF and a ground image.

    Parameters
    ----------
    raw : bool, default False
        If True, return the file values untouched (the PSFs are not normalised and the sky
        pedestal of the SDSS PSF and ground image is kept).

    Returns
    -------
    dict
        ``image`` : ndarray (543, 543) float64
            HST ACS/WFC F814W stamp at 0.03 arcsec/pixel, other objects masked with noise.
        ``psf`` : ndarray (101, 101) float64
            HST PSF of the stamp, normalised to sum 1, same sampling as ``image``.
        ``sdss_psf`` : ndarray (51, 51) float64
            A real ground-based (SDSS) PSF at 0.396 arcsec/pixel: the 1000-count soft bias is
            subtracted and the result normalised to sum 1 (its far wings carry small negative
            noise values, kept as they are).
        ``ground_image`` : ndarray (60, 60) float64
            The same galaxy as a ground-based observation at 0.396 arcsec/pixel (HST image
            pseudo-deconvolved, sheared by g1 = 0.02, convolved to the SDSS PSF, resampled; no
            noise added), with the 1000-count sky pedestal subtracted; its flux sums to 1000.
        ``pixel_scale``, ``ground_pixel_scale``, ``sdss_psf_pixel_scale`` : float
            Arcsec per pixel: 0.03, 0.396, 0.396.
        ``header``, ``ground_header`` : dict
            FITS headers of the HST stamp and of the ground image (``HISTORY`` as a list).
        ``license`` : str
            The GalSim licence text.

    Notes
    -----
    Pair for a realistic test of ground-based deconvolution: degrade ``image`` with the SDSS
    PSF (resampled to the working pixel scale), add noise, deconvolve and compare with
    ``image``.  The headers' WCS cards of the ground image are not meaningful.

    Examples
    --------
    >>> from sparserec.datasets import load_hst_galaxy
    >>> d = load_hst_galaxy()
    >>> d["image"].shape, d["psf"].shape, round(float(d["psf"].sum()), 12)
    ((543, 543), (101, 101), 1.0)
    """
    image, header = read_fits(data_path(f"{_STEM}_masknoise.fits"))
    psf = read_fits(data_path(f"{_STEM}.psf.fits"), with_header=False)
    sdss = read_fits(data_path(f"{_STEM}.sdsspsf.fits"), with_header=False)
    ground, gheader = read_fits(data_path(f"{_STEM}.g1_0.02.g2_0.00.fits"))
    if not raw:
        psf = psf / psf.sum()
        sdss = sdss - SDSS_SOFT_BIAS
        sdss = sdss / sdss.sum()
        ground = ground - SDSS_SOFT_BIAS
    return {
        "image": image,
        "psf": psf,
        "sdss_psf": sdss,
        "ground_image": ground,
        "pixel_scale": 0.03,
        "ground_pixel_scale": 0.396,
        "sdss_psf_pixel_scale": 0.396,
        "header": header,
        "ground_header": gheader,
        "license": data_path("astronomy/LICENSE-GalSim.txt").read_text(),
    }
