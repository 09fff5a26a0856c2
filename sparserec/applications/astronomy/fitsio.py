r"""FITS input/output through :mod:`astropy.io.fits` (optional dependency, extra ``astro``).

astropy is imported on first use only; without it every function raises an ``ImportError`` that
names the extra to install.  ``BZERO``/``BSCALE`` are applied by astropy (the physical values are
returned as float64); a constant pedestal ("soft bias") can be subtracted on reading.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._checks import check_image

__all__ = ["read_image", "read_psf", "write_image"]


def _fits() -> Any:
    try:
        from astropy.io import fits
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("FITS input/output needs astropy: pip install 'sparserec[astro]'") from e
    return fits


def read_image(path: str | os.PathLike[str], hdu: int | str = 0, *, pedestal: float = 0.0,
               with_header: bool = True) -> Any:
    r"""Read a 2-D image (or a cube ``(*batch, H, W)``) from a FITS file.

    Parameters
    ----------
    path : path-like
    hdu : int or str, default 0
        HDU index or ``EXTNAME``.  When the HDU has no data (e.g. an empty primary HDU), the first
        image extension with data is used.
    pedestal : float, default 0
        Constant subtracted after ``BZERO``/``BSCALE`` scaling (e.g. 1000 for SDSS soft bias).
    with_header : bool, default True
        Also return the header as an :class:`astropy.io.fits.Header`.

    Returns
    -------
    image : numpy.ndarray float64
    header : astropy.io.fits.Header, only if ``with_header``

    Raises
    ------
    ValueError
        If the data are not at least 2-D (singleton leading axes are squeezed first).
    ImportError
        Without astropy.
    """
    fits = _fits()
    with fits.open(os.fspath(path), memmap=False) as hl:
        h = hl[hdu]
        if h.data is None and hdu in (0, "PRIMARY"):
            h = next((x for x in hl[1:] if getattr(x, "data", None) is not None
                      and getattr(x, "is_image", False)), h)
        if h.data is None or not getattr(h, "is_image", True):
            raise ValueError(f"{os.fspath(path)}[{hdu}] holds no image data")
        data = np.array(h.data, dtype=np.float64)
        header = h.header.copy()
    while data.ndim > 2 and data.shape[0] == 1:
        data = data[0]
    if data.ndim < 2:
        raise ValueError(f"{os.fspath(path)}[{hdu}]: expected a 2-D image, got data of shape {data.shape}")
    data = data - float(pedestal)
    check_image(data, f"{os.fspath(path)}[{hdu}]", allow_nan=True)
    return (data, header) if with_header else data


def read_psf(path: str | os.PathLike[str], hdu: int | str = 0, *, pedestal: float = 0.0,
             clip_negative: bool = False, center: str = "none", with_header: bool = False) -> Any:
    """Read a PSF from FITS: subtract ``pedestal``, optionally clip negative wings, centre
    (``"none"``, ``"peak"`` or ``"centroid"``, see :func:`~.psf.center_psf`) and normalise to
    unit sum.  Raises ``ValueError`` for non-2-D data or a non-positive sum."""
    from .psf import center_psf, normalize_psf

    data, header = read_image(path, hdu, pedestal=pedestal)
    if data.ndim != 2:
        raise ValueError(f"a PSF must be 2-D, got shape {data.shape}")
    p = center_psf(normalize_psf(data, clip_negative=clip_negative), center)
    return (p, header) if with_header else p


def _card_value(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else str(v)
    if isinstance(v, str):
        return v[:60]
    if v is None:
        return "None"
    try:
        s = json.dumps(np.asarray(v).tolist())
    except TypeError:
        s = repr(v)
    return s[:60]


def write_image(path: str | os.PathLike[str], image: Any, *, header: Any = None, method: str = "",
                params: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None,
                overwrite: bool = False) -> None:
    r"""Write an image (or cube) to FITS with provenance keywords.

    The input ``header`` (e.g. the observation's) is copied (structural keywords are rebuilt by
    astropy) and the keywords ``SRVERSN`` (sparserec version), ``SRMETHOD`` (method), ``SRDATE``
    (UTC time) and one ``HIERARCH SR <NAME>`` card per entry of ``params`` and ``extra`` (arrays
    serialised as JSON, truncated to fit a card) are added, with a ``HISTORY`` line.

    Parameters
    ----------
    path : path-like
    image : array ``(*batch, H, W)``
    header : astropy Header or mapping, optional
    method : str
    params, extra : mapping, optional
        Solver parameters and scalar results (noise level, iterations, flux, ...).
    overwrite : bool, default False
    """
    fits = _fits()
    from ... import __version__

    data = check_image(image, allow_nan=True)
    hdr = fits.Header()
    if header is not None:
        items = header.cards if isinstance(header, fits.Header) else header.items()
        for card in items:
            k, v = (card.keyword, card.value) if isinstance(header, fits.Header) else card
            if k in ("SIMPLE", "BITPIX", "EXTEND", "BZERO", "BSCALE", "END") or str(k).startswith("NAXIS"):
                continue
            if k in ("HISTORY", "COMMENT"):
                for line in (v if isinstance(v, list) else [v]):
                    hdr.add_history(str(line)) if k == "HISTORY" else hdr.add_comment(str(line))
                continue
            try:
                hdr[k] = v
            except (ValueError, KeyError):
                continue
    hdr["SRVERSN"] = (str(__version__), "sparserec version")
    hdr["SRMETHOD"] = (str(method), "sparserec deconvolution method")
    hdr["SRDATE"] = (_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"), "UTC time written")
    for src in (params or {}), (extra or {}):
        for k, v in src.items():
            key = f"HIERARCH SR {str(k).upper()[:40]}"
            hdr[key] = _card_value(v)
    hdr.add_history(f"sparserec {__version__}: {method or 'image'} written")
    fits.PrimaryHDU(data=data, header=hdr).writeto(os.fspath(path), overwrite=overwrite)
