import numpy as np
import pytest

from sparserec.applications.astronomy import (
    ellipticity,
    flux_error,
    gaussian_psf,
    half_light_radius,
    nmse,
    psnr,
    second_moments,
    sersic_galaxy,
    shape_error,
    ssim,
)


def test_basic_metrics():
    rng = np.random.default_rng(0)
    x = rng.random((2, 32, 32))
    assert np.allclose(nmse(x, x), 0) and np.allclose(ssim(x, x), 1.0)
    y = x + 0.1
    np.testing.assert_allclose(nmse(y, x), 0.01 * 1024 / (x ** 2).sum(axis=(1, 2)))
    R = x.max(axis=(1, 2)) - x.min(axis=(1, 2))
    np.testing.assert_allclose(psnr(y, x), 10 * np.log10(R ** 2 / 0.01))
    assert ssim(x[0] + rng.normal(0, 0.3, (32, 32)), x[0]) < 0.9
    np.testing.assert_allclose(flux_error(1.02 * x, x), 0.02)


def test_moments_and_ellipticity_closed_form():
    g = 0.2
    img = gaussian_psf(101, 8.0, e1=g)
    e = ellipticity(img)
    np.testing.assert_allclose(e, [2 * g / (1 + g * g), 0.0], atol=1e-6)
    e2 = ellipticity(gaussian_psf(101, 8.0, e2=g))
    np.testing.assert_allclose(e2, [0.0, 2 * g / (1 + g * g)], atol=1e-6)
    s = 8.0 / 2.3548200450309493
    m = second_moments(gaussian_psf(101, 8.0))
    assert abs(m["Qxx"] - s * s) < 1e-6 and abs(m["yc"] - 50) < 1e-9
    # weighted moments keep the ellipticity direction and the centroid
    ew = ellipticity(img, weight_sigma=6.0)
    assert ew[0] > 0.1 and abs(ew[1]) < 1e-9
    se = shape_error(gaussian_psf(101, 8.0, e1=0.1), img)
    assert abs(se["de"] - abs(2 * 0.1 / 1.01 - 2 * g / (1 + g * g))) < 1e-6


def test_half_light_radius_sersic():
    img = sersic_galaxy(129, n=1.0, r_e=6.0, oversample=5, r_max=20)
    assert abs(half_light_radius(img) - 6.0) < 0.25
    with pytest.raises(ValueError):
        half_light_radius(-img)
