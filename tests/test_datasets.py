"""Shipped data, the FITS reader, the synthetic generators and the demo."""

from __future__ import annotations

import numpy as np
import pytest

from sparserec.datasets import (
    FITSError,
    data_path,
    load_hst_galaxy,
    make_compressed_sensing,
    make_sparse_signal,
    read_fits,
)
from sparserec.datasets.fits import BLOCK

STEM = "147246.0_150.416558_1.998697"
FILES = [f"astronomy/{STEM}_masknoise.fits", f"astronomy/{STEM}.psf.fits",
         f"astronomy/{STEM}.sdsspsf.fits", f"astronomy/{STEM}.g1_0.02.g2_0.00.fits"]


# ---------------------------------------------------------------- shipped files
def test_shipped_files_and_licence():
    total = 0
    for f in FILES:
        total += data_path(f).stat().st_size
    assert total < 2_000_000
    assert "GalSim" in data_path("astronomy/LICENSE-GalSim.txt").read_text()
    with pytest.raises(FileNotFoundError, match="not shipped"):
        data_path("astronomy/nope.fits")


@pytest.mark.parametrize("name", FILES)
def test_reader_matches_astropy(name):
    fits = pytest.importorskip("astropy.io.fits")
    data, hdr = read_fits(data_path(name))
    with fits.open(data_path(name)) as hdul:
        ref = np.asarray(hdul[0].data, dtype=np.float64)
        rhdr = hdul[0].header
    assert data.dtype == np.float64 and data.dtype.isnative
    assert data.shape == ref.shape
    np.testing.assert_array_equal(data, ref)
    for key in ("BITPIX", "NAXIS", "NAXIS1", "NAXIS2"):
        assert hdr[key] == rhdr[key]
    for key in ("EXPTIME", "BUNIT", "CD1_1", "PHOTFLAM", "TELESCOP"):
        if key in rhdr:
            assert hdr[key] == rhdr[key]
    if "HISTORY" in rhdr:
        assert len(hdr["HISTORY"]) == len(rhdr["HISTORY"])


def test_load_hst_galaxy():
    d = load_hst_galaxy()
    assert d["image"].shape == (543, 543) and d["image"].dtype == np.float64
    assert d["psf"].shape == (101, 101)
    assert d["sdss_psf"].shape == (51, 51)
    assert d["ground_image"].shape == (60, 60)
    assert d["psf"].sum() == pytest.approx(1.0, abs=1e-12)
    assert d["sdss_psf"].sum() == pytest.approx(1.0, abs=1e-12)
    # PSFs peak at their centre
    assert np.unravel_index(d["sdss_psf"].argmax(), (51, 51)) == (25, 25)
    assert d["ground_image"].sum() == pytest.approx(1000.0, rel=1e-9)
    assert d["pixel_scale"] == 0.03 and d["ground_pixel_scale"] == 0.396
    assert d["header"]["TELESCOP"] == "HST"
    assert np.isfinite(d["image"]).all()
    raw = load_hst_galaxy(raw=True)
    assert raw["sdss_psf"].min() > 900  # soft bias kept


# ---------------------------------------------------------------- reader errors
def _card(text: str) -> bytes:
    return text.ljust(80).encode("ascii")


def _write_fits(path, bitpix, data_bytes, dims, extra=()):
    cards = [_card("SIMPLE  =                    T"), _card(f"BITPIX  = {bitpix:>20}"),
             _card(f"NAXIS   = {len(dims):>20}")]
    cards += [_card(f"NAXIS{i + 1}  = {d:>20}") for i, d in enumerate(dims)]
    cards += [_card(c) for c in extra] + [_card("END")]
    h = b"".join(cards)
    h += b" " * (-len(h) % BLOCK)
    d = data_bytes + b"\0" * (-len(data_bytes) % BLOCK)
    path.write_bytes(h + d)
    return path


@pytest.mark.parametrize("bitpix,dt", [(8, "u1"), (16, ">i2"), (32, ">i4"), (64, ">i8"),
                                       (-32, ">f4"), (-64, ">f8")])
def test_reader_bitpix_and_scaling(tmp_path, bitpix, dt):
    arr = np.arange(12).reshape(3, 4).astype(dt)
    p = _write_fits(tmp_path / "a.fits", bitpix, arr.tobytes(), (4, 3),
                    extra=["BSCALE  =                  2.0", "BZERO   =                 10.0",
                           "OBJECT  = 'it''s me'           / a string with a quote"])
    data, hdr = read_fits(p)
    np.testing.assert_array_equal(data, 10.0 + 2.0 * np.arange(12.0).reshape(3, 4))
    assert data.dtype == np.float64
    assert hdr["OBJECT"] == "it's me"
    fits = pytest.importorskip("astropy.io.fits")
    with fits.open(p) as hdul:
        np.testing.assert_array_equal(data, np.asarray(hdul[0].data, dtype=np.float64))


def test_reader_blank_is_nan(tmp_path):
    arr = np.array([[1, -1], [3, 4]], dtype=">i2")
    p = _write_fits(tmp_path / "b.fits", 16, arr.tobytes(), (2, 2), extra=["BLANK   =                   -1"])
    data = read_fits(p, with_header=False)
    assert np.isnan(data[0, 1]) and data[1, 1] == 4


def test_truncated_data(tmp_path):
    src = data_path(FILES[1]).read_bytes()
    p = tmp_path / "t.fits"
    p.write_bytes(src[: BLOCK + 1000])
    with pytest.raises(FITSError, match="truncated FITS data"):
        read_fits(p)


def test_truncated_header(tmp_path):
    src = data_path(FILES[0]).read_bytes()
    p = tmp_path / "t.fits"
    p.write_bytes(src[: BLOCK + 100])  # the stamp's header spans several blocks
    with pytest.raises(FITSError, match="truncated FITS header"):
        read_fits(p)


@pytest.mark.parametrize("content,match", [
    (b"", "empty file"),
    (b"hello world".ljust(BLOCK), "not a FITS file"),
    (b"SIMPLE  = " + b"\xff" * (BLOCK - 10), "non-ASCII"),
    ((b"SIMPLE  =                    F".ljust(80) + b"END".ljust(80)).ljust(BLOCK), "SIMPLE is not T"),
])
def test_corrupt_files(tmp_path, content, match):
    p = tmp_path / "c.fits"
    p.write_bytes(content)
    with pytest.raises(FITSError, match=match):
        read_fits(p)


def test_bad_keywords(tmp_path):
    p = _write_fits(tmp_path / "x.fits", 12, b"\0" * 8, (2, 2))
    with pytest.raises(FITSError, match="unsupported BITPIX"):
        read_fits(p)
    p = _write_fits(tmp_path / "y.fits", -32, b"", ())
    with pytest.raises(FITSError, match="NAXIS = 0"):
        read_fits(p)
    p = _write_fits(tmp_path / "z.fits", -32, b"\0" * 16, (2, 2), extra=["BZERO   = 'abc'"])
    with pytest.raises(FITSError, match="BZERO"):
        read_fits(p)
    # a missing NAXIS2
    cards = b"".join(_card(c) for c in ["SIMPLE  =                    T", "BITPIX  =                  -32",
                                        "NAXIS   =                    2", "NAXIS1  =                    2",
                                        "END"]).ljust(BLOCK)
    q = tmp_path / "w.fits"
    q.write_bytes(cards + b"\0" * BLOCK)
    with pytest.raises(FITSError, match="NAXIS2"):
        read_fits(q)


def test_isinstance_value_error():
    assert issubclass(FITSError, ValueError)


# ---------------------------------------------------------------- generators
def test_make_sparse_signal():
    x, s = make_sparse_signal(50, 7, n_signals=4, seed=3)
    assert x.shape == (4, 50) and s.shape == (4, 50)
    assert (s.sum(axis=1) == 7).all()
    assert ((x != 0) == s).all()
    x2, _ = make_sparse_signal(50, 7, n_signals=4, seed=3)
    np.testing.assert_array_equal(x, x2)
    xc, sc = make_sparse_signal(20, 3, complex_=True, amplitude="rademacher", seed=0)
    assert xc.shape == (20,) and xc.dtype == np.complex128
    np.testing.assert_allclose(np.abs(xc[sc]), 1.0)
    xm, sm = make_sparse_signal(30, 10, seed=0, min_abs=0.5)
    assert np.abs(xm[sm]).min() >= 0.5 - 1e-12
    with pytest.raises(ValueError, match="exceeds"):
        make_sparse_signal(5, 6)
    with pytest.raises(ValueError, match="amplitude"):
        make_sparse_signal(5, 2, amplitude="cauchy")


@pytest.mark.parametrize("complex_", [False, True])
def test_make_compressed_sensing(complex_):
    prob = make_compressed_sensing(64, 256, 8, n_targets=16, snr_db=20.0, seed=5, complex_=complex_)
    A, y, x = prob
    assert A.shape == (64, 256) and y.shape == (16, 64) and x.shape == (16, 256)
    np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0)
    np.testing.assert_allclose(prob.y_clean, x @ A.T)
    assert np.iscomplexobj(y) == complex_
    snr = 10 * np.log10(np.sum(np.abs(prob.y_clean) ** 2) / np.sum(np.abs(y - prob.y_clean) ** 2))
    assert snr == pytest.approx(20.0, abs=1.0)
    again = make_compressed_sensing(64, 256, 8, n_targets=16, snr_db=20.0, seed=5, complex_=complex_)
    np.testing.assert_array_equal(again.y, y)
    one = make_compressed_sensing(30, 60, 3, snr_db=None, seed=0)
    assert one.y.shape == (30,) and one.x.shape == (60,) and one.noise_var == 0.0
    np.testing.assert_array_equal(one.y, one.y_clean)


# ---------------------------------------------------------------- demo
def test_demo_runs(tmp_path, capsys):
    from sparserec.datasets.demo import run_demo

    out = tmp_path / "restored.npz"
    assert run_demo(out=str(out)) == 0
    text = capsys.readouterr().out
    assert "PSNR" in text
    with np.load(out) as z:
        assert z["restored"].ndim == 2
        assert np.isfinite(z["restored"]).all()
