r"""A small, dependency-free reader for simple FITS images (primary HDU only).

This is enough for the images shipped with sparserec; the astronomy application module and
users with real FITS needs should use :mod:`astropy.io.fits` (extra ``astro``).

The format (FITS standard 4.0, sections 3-5): the file is a sequence of 2880-byte blocks.  The
primary header is a sequence of 80-character ASCII "cards" ``KEYWORD = value / comment``
ending with the ``END`` card and padded to a whole block; the data follow in the next block, as
big-endian integers or IEEE floats in Fortran (column-major) axis order, i.e. ``NAXIS1`` is
the fastest axis.  Physical values are ``BZERO + BSCALE * stored``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FITSError", "parse_header", "read_fits"]

BLOCK = 2880
CARD = 80

_BITPIX_DTYPES = {
    8: np.dtype("u1"),
    16: np.dtype(">i2"),
    32: np.dtype(">i4"),
    64: np.dtype(">i8"),
    -32: np.dtype(">f4"),
    -64: np.dtype(">f8"),
}

_COMMENTARY = ("COMMENT", "HISTORY", "")


class FITSError(ValueError):
    """A file is not a readable simple FITS image (truncated, corrupt or unsupported)."""


def _parse_value(text: str, keyword: str, where: str) -> Any:
    """Parse the value field (columns 11-80) of a card: string, logical, integer or float."""
    s = text.strip()
    if not s:
        return None
    if s.startswith("'"):
        # a string: '' inside it is an escaped quote; it ends at the first lone quote
        out = []
        i = 1
        while i < len(s):
            c = s[i]
            if c == "'":
                if i + 1 < len(s) and s[i + 1] == "'":
                    out.append("'")
                    i += 2
                    continue
                return "".join(out).rstrip()
            out.append(c)
            i += 1
        raise FITSError(f"{where}: unterminated string value for keyword {keyword!r}")
    v = s.split("/", 1)[0].strip()
    if not v:
        return None
    if v == "T":
        return True
    if v == "F":
        return False
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v.replace("D", "E").replace("d", "e"))
    except ValueError:
        pass
    if v.startswith("(") and v.endswith(")"):  # complex value "(re, im)"
        try:
            re_, im_ = (float(p.replace("D", "E")) for p in v[1:-1].split(","))
            return complex(re_, im_)
        except ValueError:
            pass
    raise FITSError(f"{where}: cannot parse the value {v!r} of keyword {keyword!r}")


def parse_header(raw: bytes, where: str = "<bytes>") -> tuple[dict[str, Any], int]:
    """Parse a primary header from the start of ``raw``.

    Parameters
    ----------
    raw : bytes
        The file contents (at least the header blocks).
    where : str
        Name used in error messages.

    Returns
    -------
    header : dict
        Keyword -> value (str, bool, int, float, complex or None).  ``COMMENT`` and
        ``HISTORY`` cards are collected as lists of strings under those keys.
    data_offset : int
        Byte offset of the data (the header length, a multiple of 2880).

    Raises
    ------
    FITSError
        If the header is truncated (no ``END`` card), is not ASCII, or does not start with
        ``SIMPLE = T``.
    """
    header: dict[str, Any] = {}
    n_blocks = 0
    pos = 0
    while True:
        block = raw[pos:pos + BLOCK]
        if len(block) < BLOCK:
            if n_blocks == 0 and len(block) == 0:
                raise FITSError(f"{where}: empty file, not a FITS file")
            raise FITSError(
                f"{where}: truncated FITS header (file ends after {len(raw)} bytes before the END "
                "card; a header is a whole number of 2880-byte blocks)")
        try:
            text = block.decode("ascii")
        except UnicodeDecodeError as e:
            raise FITSError(f"{where}: header block {n_blocks} holds non-ASCII bytes; "
                            "the file is corrupt or not a FITS file") from e
        n_blocks += 1
        pos += BLOCK
        for i in range(0, BLOCK, CARD):
            card = text[i:i + CARD]
            key = card[:8].rstrip()
            if n_blocks == 1 and i == 0:
                if key != "SIMPLE":
                    raise FITSError(f"{where}: not a FITS file (first card is {card[:30]!r}, "
                                    "expected 'SIMPLE  =')")
            if key == "END":
                if not header.get("SIMPLE", False):
                    raise FITSError(f"{where}: SIMPLE is not T; the file does not conform to FITS")
                return header, pos
            if key in _COMMENTARY or card[8:10] != "= ":
                if key in ("COMMENT", "HISTORY"):
                    header.setdefault(key, []).append(card[8:].rstrip())
                continue
            header[key] = _parse_value(card[10:], key, where)


def _int_key(header: dict[str, Any], key: str, where: str) -> int:
    v = header.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise FITSError(f"{where}: required keyword {key} is missing or not an integer (got {v!r})")
    return v


def read_fits(path: str | os.PathLike[str], *, with_header: bool = True
              ) -> tuple[np.ndarray, dict[str, Any]] | np.ndarray:
    r"""Read the primary-HDU image of a simple FITS file as native float64.

    Parameters
    ----------
    path : str or path-like
    with_header : bool, default True
        Also return the parsed header.

    Returns
    -------
    data : numpy.ndarray of float64, shape ``(NAXISn, ..., NAXIS2, NAXIS1)``
        Physical values ``BZERO + BSCALE * stored`` in native byte order (C order, so the last
        axis is ``NAXIS1``, as in :mod:`astropy.io.fits`).  Integer pixels equal to ``BLANK`` are
        NaN.
    header : dict
        See :func:`parse_header`.  Only when ``with_header``.

    Raises
    ------
    FITSError
        Truncated header or data, corrupt header, unsupported ``BITPIX``, missing axis keywords
        or an empty primary HDU (``NAXIS = 0``).
    FileNotFoundError
        If ``path`` does not exist.

    Notes
    -----
    Supported ``BITPIX``: 8 (unsigned bytes), 16, 32, 64 (two's-complement big-endian
    integers), -32 and -64 (big-endian IEEE floats).  Extensions after the primary HDU are
    ignored.  The trailing padding of the last data block is not required.

    Examples
    --------
    >>> from sparserec.datasets import data_path, read_fits
    >>> psf, hdr = read_fits(data_path("astronomy/147246.0_150.416558_1.998697.psf.fits"))
    >>> psf.shape, hdr["BITPIX"]
    ((101, 101), -64)
    """
    p = Path(path)
    where = p.name
    raw = p.read_bytes()
    header, offset = parse_header(raw, where)
    bitpix = _int_key(header, "BITPIX", where)
    if bitpix not in _BITPIX_DTYPES:
        raise FITSError(f"{where}: unsupported BITPIX = {bitpix}; expected one of "
                        f"{sorted(_BITPIX_DTYPES)}")
    naxis = _int_key(header, "NAXIS", where)
    if naxis < 0 or naxis > 999:
        raise FITSError(f"{where}: invalid NAXIS = {naxis}")
    if naxis == 0:
        raise FITSError(f"{where}: the primary HDU holds no image (NAXIS = 0)")
    dims = [_int_key(header, f"NAXIS{i}", where) for i in range(1, naxis + 1)]
    if any(d < 0 for d in dims):
        raise FITSError(f"{where}: negative axis length in {dims}")
    dt = _BITPIX_DTYPES[bitpix]
    n = math.prod(dims)
    nbytes = n * dt.itemsize
    if len(raw) < offset + nbytes:
        raise FITSError(
            f"{where}: truncated FITS data: the header announces {nbytes} bytes "
            f"({' x '.join(map(str, dims))} pixels, BITPIX = {bitpix}) but only "
            f"{max(len(raw) - offset, 0)} follow the header")
    stored = np.frombuffer(raw, dtype=dt, count=n, offset=offset)
    data = stored.astype(np.float64).reshape(tuple(reversed(dims)))
    if bitpix > 0 and isinstance(header.get("BLANK"), int):
        data[stored.reshape(data.shape) == header["BLANK"]] = np.nan
    bscale = header.get("BSCALE", 1.0)
    bzero = header.get("BZERO", 0.0)
    for k, v in (("BSCALE", bscale), ("BZERO", bzero)):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise FITSError(f"{where}: {k} must be a number, got {v!r}")
    if bscale != 1:
        data *= float(bscale)
    if bzero != 0:
        data += float(bzero)
    return (data, header) if with_header else data
