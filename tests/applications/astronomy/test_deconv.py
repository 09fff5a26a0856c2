import warnings

import numpy as np
import pytest

from sparserec.applications.astronomy import (
    debias,
    deconvolve,
    flux_error,
    gaussian_psf,
    laplacian_transfer,
    moffat_psf,
    nmse,
    psf_to_otf,
    sersic_galaxy,
    starlet_deconvolve,
    tikhonov,
    wiener,
)


def circulant(h, shape):
    """Dense matrix of the circular convolution with a centred PSF."""
    n = shape[0] * shape[1]
    H = psf_to_otf(h, shape)
    M = np.empty((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = 1
        M[:, j] = np.fft.irfft2(np.fft.rfft2(e.reshape(shape)) * H, shape).ravel()
    return M


def lap_matrix(shape):
    n0, n1 = shape
    L = np.zeros((n0 * n1, n0 * n1))
    for i in range(n0):
        for j in range(n1):
            r = i * n1 + j
            L[r, r] = 4
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                L[r, ((i + di) % n0) * n1 + (j + dj) % n1] -= 1
    return L


def test_laplacian_transfer_closed_form():
    shp = (8, 10)
    d = np.zeros(shp)
    d[0, 0] = 4
    d[1, 0] = d[-1, 0] = d[0, 1] = d[0, -1] = -1
    np.testing.assert_allclose(np.fft.rfft2(d).real, laplacian_transfer(shp), atol=1e-12)
    k, l_ = np.fft.fftfreq(8)[:, None], np.fft.rfftfreq(10)[None, :]
    np.testing.assert_allclose(laplacian_transfer(shp), 4 - 2 * np.cos(2 * np.pi * k) - 2 * np.cos(2 * np.pi * l_))


def test_tikhonov_matches_explicit_solution():
    rng = np.random.default_rng(0)
    shp = (8, 10)
    h = moffat_psf(5, 2.0)
    y = rng.random(shp)
    Hm, Lm = circulant(h, shp), lap_matrix(shp)
    for lam in (9e-3, 0.3):
        ref = np.linalg.solve(Hm.T @ Hm + lam * Lm.T @ Lm, Hm.T @ y.ravel()).reshape(shp)
        np.testing.assert_allclose(tikhonov(y, h, lam), ref, atol=1e-10)
    ref = np.linalg.solve(Hm.T @ Hm + 0.1 * np.eye(80), Hm.T @ y.ravel()).reshape(shp)
    np.testing.assert_allclose(tikhonov(y, h, 0.1, reg="identity"), ref, atol=1e-10)


def test_tikhonov_flux_and_recovery():
    rng = np.random.default_rng(1)
    y = rng.random((3, 32, 32))
    h = gaussian_psf(9, 1.5)
    x = tikhonov(y, h, [1e-3, 1e-2, 1e-1])
    np.testing.assert_allclose(x.sum(axis=(-2, -1)), y.sum(axis=(-2, -1)), rtol=1e-10)
    truth = rng.random((32, 32))
    hc = gaussian_psf(3, 0.8)  # well conditioned
    yc = np.fft.irfft2(np.fft.rfft2(truth) * psf_to_otf(hc, (32, 32)), (32, 32))
    np.testing.assert_allclose(tikhonov(yc, hc, 1e-10), truth, atol=1e-4)


def test_wiener_is_noise_adaptive_tikhonov():
    rng = np.random.default_rng(2)
    x = sersic_galaxy(48, n=1, r_e=5, flux=100.0)
    h = moffat_psf(15, 3.0)
    clean = np.fft.irfft2(np.fft.rfft2(x) * psf_to_otf(h, x.shape), x.shape)
    sig = clean.max() / 50
    y = clean + sig * rng.standard_normal(x.shape)
    xw, lam = wiener(y, h, sig, return_lam=True)
    np.testing.assert_allclose(xw, tikhonov(y, h, lam), atol=1e-12)
    assert abs(xw.sum() - y.sum()) < 1e-8 * abs(y.sum())
    assert nmse(xw, x) < nmse(tikhonov(y, h, 9e-3), x)
    # more noise -> stronger regularisation
    _, lam2 = wiener(y + 3 * sig * rng.standard_normal(x.shape), h, 4 * sig, return_lam=True)
    assert lam2 > lam
    # explicit PSD: the closed-form Wiener filter
    S = np.abs(np.fft.fft2(x)) ** 2
    H = psf_to_otf(h, x.shape, real=False)
    ref = np.real(np.fft.ifft2(np.conj(H) * S / (np.abs(H) ** 2 * S + x.size * sig ** 2) * np.fft.fft2(y)))
    np.testing.assert_allclose(wiener(y, h, sig, signal_psd=S), ref, atol=1e-12)


def test_condat_vu_matches_cvxpy():
    cvx = pytest.importorskip("sparserec.solvers.convex.cvx")
    pytest.importorskip("cvxpy")
    from sparserec.operators import Starlet

    rng = np.random.default_rng(3)
    shp = (8, 8)
    h = gaussian_psf(5, 1.5)
    x = np.zeros(shp)
    x[3, 4], x[5, 2] = 5.0, 3.0
    y = np.fft.irfft2(np.fft.rfft2(x) * psf_to_otf(h, shp), shp) + 0.1 * rng.standard_normal(shp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xs, info = starlet_deconvolve(y, h, sigma=0.1, n_scales=2, n_reweights=0, max_iter=20000, tol=1e-12)
    W = Starlet(shp, n_scales=2)
    lam = (0.1 * info["thresholds"])[:, None, None] * np.ones((3, *shp))
    ref = cvx.analysis_l1(circulant(h, shp), y, W, weights=lam.ravel(), positivity=True)

    def obj(z):
        r = np.fft.irfft2(np.fft.rfft2(z) * psf_to_otf(h, shp), shp) - y
        return 0.5 * np.sum(r ** 2) + np.sum(lam * np.abs(W.apply(z)))

    assert xs.min() >= 0
    assert abs(obj(xs) - ref.value) <= 1e-4 * abs(ref.value)
    np.testing.assert_allclose(xs, ref.x.reshape(shp), atol=2e-3 * np.abs(ref.x).max())
    # the solver's step rule, checked with power-iteration norms
    A = np.linalg.norm(circulant(h, shp), 2) ** 2
    Wn = W.opnorm_estimate(n_iter=200) ** 2
    r = info["solver_results"][0].params
    assert r["tau"] * (A / 2 + r["sigma"] * Wn) <= 1 + 1e-6


@pytest.fixture(scope="module")
def sersic_problem():
    """Spec C.23: Sérsic n = 1, 64x64, Moffat FWHM 3 px, SNR 50."""
    rng = np.random.default_rng(0)
    x = sersic_galaxy(64, n=1.0, r_e=6.0, flux=1000.0, e1=0.2, e2=0.1)
    h = moffat_psf(25, 3.0, beta=3.0)
    clean = np.fft.irfft2(np.fft.rfft2(x) * psf_to_otf(h, x.shape), x.shape)
    sig = clean.max() / 50
    return x, h, clean + sig * rng.standard_normal(x.shape), sig


def test_starlet_beats_tikhonov_simulated(sersic_problem):
    x, h, y, sig = sersic_problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = deconvolve(y, h, "starlet", sigma=sig)
    xs = res.image
    xt = tikhonov(y, h, 9e-3)
    assert xs.min() >= 0
    assert nmse(xs, x) < 0.5 * nmse(xt, x)
    assert abs(flux_error(xs, x)) < 0.02
    r = (y - np.fft.irfft2(np.fft.rfft2(xs) * psf_to_otf(h, y.shape), y.shape)) / sig
    assert 0.9 <= r.std() <= 1.1
    assert res.report["n_iter"] > 0 and res.report["flux_in"] == pytest.approx(y.sum())


def test_fista_synthesis_and_batch(sersic_problem):
    x, h, y, sig = sersic_problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xf, _ = starlet_deconvolve(y, h, sigma=sig, solver="fista", n_reweights=0, max_iter=150)
        xb, _ = starlet_deconvolve(np.stack([y, 2 * y]), h, sigma=[sig, 2 * sig], max_iter=100, n_reweights=1)
        x1, _ = starlet_deconvolve(y, h, sigma=sig, max_iter=100, n_reweights=1)
    assert xf.min() >= 0 and nmse(xf, x) < nmse(tikhonov(y, h, 9e-3), x)
    np.testing.assert_allclose(xb[0], x1, atol=1e-10)
    np.testing.assert_allclose(xb[1], 2 * x1, atol=1e-9 * np.abs(x1).max() * 2 + 1e-9)


def test_debias_step(sersic_problem):
    """Spec C.24: x0 = 0.8 x_true; flux on the support recovered within 2 %."""
    x, h, y, sig = sersic_problem
    xd, M = debias(0.8 * x, y, h, sigma=sig, n_iter=50)
    supp = M[:-1].any(axis=0)
    assert abs(xd[supp].sum() / x[supp].sum() - 1) < 0.02
    assert abs((0.8 * x)[supp].sum() / x[supp].sum() - 1) > 0.15
    # pixels far outside the support move little (relative to the peak)
    far = ~supp
    assert np.abs(xd - 0.8 * x)[far].max() < 0.1 * x.max()


def test_deconvolve_bad_input(sersic_problem):
    x, h, y, sig = sersic_problem
    with pytest.raises(ValueError, match="2-D"):
        deconvolve(np.ones(10), h)
    with pytest.raises(ValueError, match="larger than the image"):
        deconvolve(np.ones((10, 10)), h)
    with pytest.raises(ValueError, match="NaN"):
        bad = y.copy()
        bad[3, 3] = np.nan
        deconvolve(bad, h, "tikhonov")
    filled = deconvolve(bad, h, "tikhonov", nan_policy="fill")
    assert filled.report["n_nan_filled"] == 1 and np.isfinite(filled.image).all()
    with pytest.raises(ValueError, match="NaN or Inf"):
        deconvolve(y, np.full((5, 5), np.inf))
    with pytest.raises(ValueError, match="positive"):
        deconvolve(y, -h)
    with pytest.raises(ValueError, match="positive"):
        deconvolve(y, np.zeros((5, 5)))
    with pytest.raises(ValueError, match="non-negative"):
        deconvolve(y, h, "starlet", k=-3.0)
    with pytest.raises(ValueError, match="pixel scale"):
        deconvolve(y, h, pixel_scale=0.2, psf_pixel_scale=0.396)
    with pytest.raises(ValueError, match="method"):
        deconvolve(y, h, "richardson")
    with pytest.raises(ValueError, match="sigma"):
        deconvolve(y, h, "wiener", sigma=-1.0)
    # matching scales with resampling
    r = deconvolve(y, h, "tikhonov", pixel_scale=0.2, psf_pixel_scale=0.1, resample_psf=True)
    assert r.image.shape == y.shape


def test_deconvolve_padding_and_methods(sersic_problem):
    x, h, y, sig = sersic_problem
    for m in ("tikhonov", "wiener"):
        r = deconvolve(y, h, m, sigma=sig, pad=8)
        assert r.image.shape == y.shape and abs(r.report["flux_out"] / r.report["flux_in"] - 1) < 0.05


def test_fits_without_astropy_names_the_extra(monkeypatch, tmp_path):
    import sys

    from sparserec.applications.astronomy import read_image, write_image

    monkeypatch.setitem(sys.modules, "astropy", None)
    monkeypatch.setitem(sys.modules, "astropy.io", None)
    with pytest.raises(ImportError, match=r"sparserec\[astro\]"):
        read_image(tmp_path / "x.fits")
    with pytest.raises(ImportError, match=r"sparserec\[astro\]"):
        write_image(tmp_path / "x.fits", np.ones((4, 4)))


def test_convolution_operator_matches_fourier_model():
    from sparserec.applications.astronomy import convolution_operator
    from sparserec.operators.testing import dottest

    h = moffat_psf(9, 2.5)
    A = convolution_operator(h, (24, 20))
    x = np.random.default_rng(0).random((2, 24, 20))
    ref = np.fft.irfft2(np.fft.rfft2(x) * psf_to_otf(h, (24, 20)), (24, 20))
    np.testing.assert_allclose(A.apply(x), ref, atol=1e-12)
    assert dottest(A) < 1e-10  # raises on failure


def test_learned_without_torch_names_the_extra(monkeypatch, sersic_problem):
    import sys

    x, h, y, sig = sersic_problem
    monkeypatch.delitem(sys.modules, "sparserec.applications.astronomy.learned", raising=False)
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"sparserec\[torch\]"):
        deconvolve(y, h, "learned")


@pytest.mark.parametrize("method,kw", [
    ("tikhonov", {}),
    ("wiener", {}),
    ("tikhonov", {"pad": 4, "debias_step": True}),  # debias runs on the host, result moved back
    ("starlet", {"max_iter": 40}),  # Condat-Vu + one reweighting, on the tensor's device
    ("starlet", {"max_iter": 40, "solver": "fista"}),
])
def test_deconvolve_torch_input_stays_torch(method, kw):
    """Torch input gives a torch output on the same device, equal to the numpy output."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = sersic_galaxy(32, n=1.0, r_e=4.0, flux=300.0)
    h = moffat_psf(9, 2.5, beta=3.0)
    y = np.fft.irfft2(np.fft.rfft2(x) * psf_to_otf(h, x.shape), x.shape)
    y = y + 0.02 * y.max() * rng.standard_normal(y.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = deconvolve(y, h, method, **kw)
        got = deconvolve(torch.as_tensor(y), h, method, **kw)
    assert isinstance(want.image, np.ndarray)
    assert isinstance(got.image, torch.Tensor) and got.image.device.type == "cpu"
    assert got.image.dtype == torch.float64 and got.image.shape == y.shape
    np.testing.assert_allclose(got.image.numpy(), want.image, rtol=1e-9, atol=1e-9 * np.abs(want.image).max())
    np.testing.assert_allclose(got.report["flux_out"], want.report["flux_out"], rtol=1e-9)
    assert got.report["n_iter"] == want.report["n_iter"]


def test_starlet_deconvolve_torch_batch_float32():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    h = moffat_psf(7, 2.0)
    y = rng.random((2, 24, 24))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want, _ = starlet_deconvolve(y, h, sigma=[0.1, 0.2], n_scales=3, max_iter=20)
        got, info = starlet_deconvolve(torch.as_tensor(y, dtype=torch.float32), h, sigma=[0.1, 0.2], n_scales=3,
                                       max_iter=20)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32 and got.shape == y.shape
    assert info["solver_results"][0].x.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), want, atol=1e-4 * np.abs(want).max())
    t = tikhonov(torch.as_tensor(y, dtype=torch.float32), h)
    assert t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), tikhonov(y, h), atol=1e-4 * np.abs(y).max())
    with pytest.raises(ValueError, match="NaN"):
        tikhonov(torch.full((8, 8), float("nan")), h)
