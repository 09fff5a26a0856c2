import numpy as np
import pytest

from sparserec.applications.astronomy import (
    add_noise,
    estimate_sigma,
    mad_std,
    moffat_psf,
    mr_support,
    noise_variance,
    starlet_noise_levels,
)
from sparserec.operators import Starlet


@pytest.fixture(scope="module")
def noise512():
    return np.random.default_rng(0).standard_normal((512, 512))


def test_per_scale_noise_and_mad(noise512):
    W = Starlet((512, 512), n_scales=4)
    c = W.apply(noise512)
    e = starlet_noise_levels((512, 512), 4)
    np.testing.assert_allclose(e[:3], [0.8908, 0.2007, 0.0855], atol=1e-4)
    emp = c[:4, 32:-32, 32:-32].std(axis=(-2, -1))
    np.testing.assert_allclose(emp, e[:4], rtol=0.03)
    assert abs(estimate_sigma(noise512) - 1.0) < 0.02
    assert abs(estimate_sigma(3.0 * noise512) / 3.0 - 1.0) < 0.02
    # the pixel-domain MAD (ModOpt's sigma_mad) is unchanged by 1 % outliers of 100 sigma;
    # the starlet estimate tolerates 0.1 % (each outlier touches 25 pixels of w1)
    x = noise512.copy()
    idx = np.random.default_rng(1).choice(x.size, x.size // 100, replace=False)
    x.flat[idx] += 100.0
    assert abs(mad_std(noise512) - 1.0) < 0.02
    assert abs(mad_std(x) - 1.0) < 0.02
    x = noise512.copy()
    x.flat[idx[: x.size // 1000]] += 100.0
    assert abs(estimate_sigma(x) - 1.0) < 0.03


def test_batched_sigma_and_psf_levels(noise512):
    b = np.stack([noise512[:128, :128], 2 * noise512[128:256, :128]])
    s = estimate_sigma(b)
    assert s.shape == (2,) and abs(s[0] - 1) < 0.06 and abs(s[1] - 2) < 0.12
    h = moffat_psf(15, 3.0)
    ep = starlet_noise_levels((64, 64), 3, psf=h)
    ew = starlet_noise_levels((64, 64), 3)
    assert ep.shape == (4,) and np.all(ep[:3] < ew[:3])  # H^T low-passes the noise
    assert starlet_noise_levels((64, 64), 3, sigma=[1.0, 2.0]).shape == (2, 4)


def test_mr_support_false_alarm_rate(noise512):
    W = Starlet((512, 512), n_scales=2)
    c = W.apply(noise512)
    M3 = mr_support(c, starlet_noise_levels((512, 512), 2), k=3.0, k_finest=None)
    frac = M3[0, 16:-16, 16:-16].mean()
    assert abs(frac - 0.0027) < 0.0005
    M4 = mr_support(c, starlet_noise_levels((512, 512), 2), k=3.0, k_finest=4.0)
    assert M4[0].mean() < 0.0002 and M4[-1].all()


def test_poisson_gaussian_noise():
    x = np.full((2, 200, 200), 50.0)
    y = add_noise(x, sigma=2.0, gain=4.0, rng=0)
    var = noise_variance(x, sigma=2.0, gain=4.0)
    assert abs(y.var() / var.mean() - 1) < 0.03
    assert abs(y.mean() - 50.0) < 0.05
    z = add_noise(x, sigma=[1.0, 3.0], rng=1)
    np.testing.assert_allclose((z - x).std(axis=(-2, -1)), [1.0, 3.0], rtol=0.03)
    with pytest.raises(ValueError):
        add_noise(x, sigma=-1.0)
    with pytest.raises(ValueError, match="gain"):
        add_noise(x, sigma=1.0, gain=0.0)
