import math

import numpy as np
import pytest

from sparserec.applications.astronomy import (
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


@pytest.mark.parametrize("f", [3.0, 5.0, 8.0])
def test_gaussian_moffat_normalisation_and_fwhm(f):
    for p in (gaussian_psf(41, f), moffat_psf(41, f, 2.5), moffat_psf(41, f),
              gaussian_psf(41, f, e1=0.0, oversample=3)):
        assert abs(p.sum() - 1.0) < 1e-12
        assert np.unravel_index(p.argmax(), p.shape) == (20, 20)
    assert abs(fwhm(gaussian_psf(41, f)) / f - 1) < 0.02
    assert abs(fwhm(moffat_psf(41, f, 3.0)) / f - 1) < 0.02


def test_gaussian_closed_form_values():
    p = gaussian_psf(21, 2.0 * math.sqrt(2 * math.log(2)) * 1.5)  # sigma = 1.5
    yy, xx = np.indices((21, 21)) - 10
    ref = np.exp(-0.5 * (xx ** 2 + yy ** 2) / 1.5 ** 2)
    np.testing.assert_allclose(p, ref / ref.sum(), rtol=1e-12)


def test_moffat_half_maximum_radius():
    f, b = 6.0, 3.0
    p = moffat_psf(61, f, b)
    alpha = f / (2 * math.sqrt(2 ** (1 / b) - 1))
    # analytic value at r = FWHM/2 is half the peak
    assert abs((1 + (f / 2) ** 2 / alpha ** 2) ** (-b) - 0.5) < 1e-12
    assert abs(fwhm(p) / f - 1) < 0.02


def test_kolmogorov_and_von_karman():
    r = np.array([0.1, 1.0, 3.0])
    np.testing.assert_allclose(von_karman_structure_function(r), 6.88 * r ** (5 / 3))
    # large outer scale -> Kolmogorov limit (leading correction -1.485 (r/L0)^(1/3))
    np.testing.assert_allclose(von_karman_structure_function(r, 1e12), 6.88 * r ** (5 / 3), rtol=5e-3)
    assert np.all(von_karman_structure_function(r, 10.0) < 6.88 * r ** (5 / 3))
    k = kolmogorov_psf(41, 6.0)
    assert abs(k.sum() - 1) < 1e-12 and abs(fwhm(k) - 6.0) < 0.05
    assert np.unravel_index(k.argmax(), k.shape) == (20, 20)
    # Kolmogorov has broader wings than a Gaussian of the same FWHM
    g = gaussian_psf(41, 6.0)
    assert k[20, :5].sum() > 10 * g[20, :5].sum()


def test_normalize_center_shift():
    p = np.zeros((21, 21))
    p[7, 12] = 2.0
    p[8, 12] = 1.0
    q = center_psf(p, "peak")
    assert np.unravel_index(q.argmax(), q.shape) == (10, 10) and abs(q.sum() - 1) < 1e-12
    g = gaussian_psf(31, 4.0, center=(13.3, 16.6))
    c = center_psf(g, "centroid")
    np.testing.assert_allclose(centroid(c), [15.0, 15.0], atol=1e-6)
    s = shift_image(g, (1.5, -2.25))
    assert abs(s.sum() - g.sum()) < 1e-12
    np.testing.assert_allclose(centroid(s), centroid(g) + [1.5, -2.25], atol=1e-3)
    np.testing.assert_allclose(shift_image(g, (2, 3)), np.roll(g, (2, 3), (0, 1)), atol=1e-14)
    n = normalize_psf(p + 5.0, pedestal=5.0)
    assert abs(n.sum() - 1) < 1e-15
    m = normalize_psf(np.array([[-0.1, 1.0], [1.0, 0.1]]), clip_negative=True)
    assert m.min() == 0.0
    c2 = crop_psf(moffat_psf(41, 5.0, 2.5), 21)
    assert c2.shape == (21, 21) and abs(c2.sum() - 1) < 1e-12 and c2.argmax() == 10 * 21 + 10


def test_psf_to_otf_and_padding():
    h = moffat_psf(15, 3.0)
    H = psf_to_otf(h, (32, 40))
    assert abs(H[0, 0] - 1) < 1e-12
    x = np.zeros((32, 40))
    x[12, 17] = 1.0
    y = np.fft.irfft2(np.fft.rfft2(x) * H, (32, 40))
    np.testing.assert_allclose(y[12 - 7:12 + 8, 17 - 7:17 + 8], h, atol=1e-14)
    p = pad_image(np.ones((2, 10, 12)), 3)
    assert p.shape == (2, 16, 18)


def test_resample_flux_conservation():
    rng = np.random.default_rng(0)
    x = rng.random((3, 24, 24))
    y = resample(x, 1.0, 4.0)  # exact 4x4 binning
    np.testing.assert_allclose(y, x.reshape(3, 6, 4, 6, 4).sum(axis=(2, 4)), rtol=1e-12)
    # x4 up-sampling (spec C.21) and arbitrary ratios keep the total within 1e-10
    g = gaussian_psf(25, 5.0)
    for so, kind in ((0.25, "cubic"), (0.3, "pchip"), (1.7, "linear"), (3.3, "cubic")):
        r = resample(g, 1.0, so, kind=kind)
        assert abs(r.sum() - 1.0) < 1e-10, (so, kind)
    up = resample(g, 1.0, 0.25)
    assert up.shape == (101, 101) and abs(fwhm(up) / 4 / fwhm(g) - 1) < 0.05
    assert np.unravel_index(up.argmax(), up.shape) == (50, 50)
    assert resample(g, 1.0, 0.3, kind="pchip").min() >= -1e-15


def test_psf_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        normalize_psf(np.ones((3, 3, 3)))
    with pytest.raises(ValueError, match="positive"):
        normalize_psf(np.zeros((5, 5)))
    with pytest.raises(ValueError, match="positive"):
        normalize_psf(-np.ones((5, 5)))
    bad = np.ones((5, 5))
    bad[2, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        normalize_psf(bad)
    with pytest.raises(ValueError, match="fwhm"):
        gaussian_psf(11, -1.0)
    with pytest.raises(ValueError, match="beta"):
        moffat_psf(11, 3.0, beta=0.5)
    with pytest.raises(ValueError, match="larger than the image"):
        psf_to_otf(np.ones((9, 9)), (8, 8))
    with pytest.raises(ValueError, match="2-D"):
        resample(np.ones(5), 1.0, 2.0)
