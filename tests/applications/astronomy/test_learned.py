"""Learned two-step deconvolution (Tikhonov + Swin-U-Net), CPU only."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sparserec.applications.astronomy import deconvolve, flux_error, nmse, simulate_pairs, tikhonov  # noqa: E402
from sparserec.applications.astronomy.learned import (  # noqa: E402
    LearnedDeconvolver,
    SwinUNet,
    SwinUNetConfig,
    _n_params,
    default_weights_path,
    load_model,
)
from sparserec.applications.astronomy.train import make_training_set, train  # noqa: E402

from .conftest import target_conv  # noqa: E402

torch.set_num_threads(1)
TINY = SwinUNetConfig(embed_dim=8, depths=(1, 1), num_heads=(1, 2), window_size=8, mlp_ratio=2.0)


def test_import_does_not_load_torch_or_astropy():
    code = ("import sys, sparserec, sparserec.applications.astronomy as a; a.deconvolve; "
            "assert 'torch' not in sys.modules and 'astropy' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_swin_unet_shapes_and_configs():
    torch.manual_seed(0)
    m = SwinUNet(SwinUNetConfig())
    x = torch.randn(2, 1, 64, 96)
    y = m(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    with pytest.raises(ValueError, match="multiples of 32"):
        m(torch.randn(1, 1, 40, 64))
    assert SwinUNetConfig().multiple == 32 and SwinUNetConfig.sunet().multiple == 64
    assert _n_params(m) < 1_000_000
    full = SwinUNetConfig.sunet()
    assert (full.embed_dim, full.depths, full.num_heads, full.window_size, full.mlp_ratio, full.qk_scale,
            full.drop_path) == (48, (2, 6, 8, 16), (8, 8, 8, 8), 8, 4.0, 8.0, 0.1)
    with pytest.raises(ValueError, match="divisible"):
        SwinUNetConfig(embed_dim=10, num_heads=(3, 3, 3))


def test_shifted_window_mask_blocks_wraparound():
    from sparserec.applications.astronomy.learned import SwinBlock

    b = SwinBlock(8, 1, 4, 2, 2.0, True, None, 0.0)
    M = b._mask(8, 8, torch.device("cpu"))
    assert M.shape == (4, 16, 16)
    assert (M[0] == 0).all() and (M[-1] != 0).any()


def test_save_load_weights_only(tmp_path):
    torch.manual_seed(0)
    d = LearnedDeconvolver(SwinUNet(TINY), 9e-3, {"name": "t", "torch": torch.__version__})
    p = tmp_path / "w.pt"
    d.save(p)
    e = load_model(p, config=TINY)
    x = np.random.default_rng(0).random((2, 32, 32))
    np.testing.assert_allclose(d.denoise(x, 1.0), e.denoise(x, 1.0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="architecture mismatch"):
        load_model(p, config=SwinUNetConfig())
    ck = torch.load(p, weights_only=True)
    ck["state_dict"].pop(next(iter(ck["state_dict"])))
    torch.save(ck, tmp_path / "broken.pt")
    with pytest.raises(ValueError, match="do not match"):
        load_model(tmp_path / "broken.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="format"):
        load_model(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="weights-only"):
        load_model(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pt")


@pytest.fixture(scope="module")
def held_out():
    d = simulate_pairs(12, 64, psf="sdss", snr=(20.0, 100.0), rng=2024)
    t = np.stack([tikhonov(d["y"][i], d["psf"][i]) for i in range(12)])
    return d, t


def _score(model, d, t):
    xl = np.stack([model(d["y"][i], d["psf"][i], d["sigma"][i]) for i in range(len(t))])
    return float(np.mean(nmse(xl, d["x"]))), float(np.mean(nmse(t, d["x"])))


def test_short_training_beats_tikhonov(held_out):
    """A tiny model trained for ~20 s on a CPU already beats plain Tikhonov (held-out seed)."""
    data = make_training_set(96, psf="sdss", seed=7)
    model, hist = train(TINY, data=data, steps=60, batch_size=8, crop=32, lr=3e-3, warmup=5, seed=0,
                        max_seconds=25)
    assert hist["steps"] >= 10 and np.mean(hist["loss"][-5:]) < np.mean(hist["loss"][:5])
    e_l, e_t = _score(model, *held_out)
    assert e_l < e_t, (e_l, e_t)


@pytest.mark.slow
def test_longer_training_beats_tikhonov(held_out):
    data = make_training_set(256, psf="mixed", seed=8)
    model, _ = train(SwinUNetConfig(), data=data, steps=400, seed=0)
    e_l, e_t = _score(model, *held_out)
    # recorded: 0.430 vs 0.446 after 400 steps (~4 min); the shipped model (1200 steps, 512
    # stamps) reaches 0.345
    assert e_l < e_t


@pytest.mark.skipif(not default_weights_path().exists(), reason="shipped weights absent")
def test_shipped_weights(held_out, real_setting):
    model = load_model()
    assert model.meta.get("name") == "SwinUNet-small"
    assert default_weights_path().stat().st_size < 5_000_000
    e_l, e_t = _score(model, *held_out)
    assert e_l < 0.85 * e_t, (e_l, e_t)  # recorded: 0.345 vs 0.446 (starlet 0.345, Wiener 0.427)
    R = real_setting[50.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r2 = deconvolve(R["y"], R["psf"], "learned", sigma=R["sigma"], debias_step=False)
        r3 = deconvolve(R["y"], R["psf"], "learned", sigma=R["sigma"])
    rt = deconvolve(R["y"], R["psf"], "tikhonov")
    g, xt = R["target_psf"], R["x_target"]
    rw = deconvolve(R["y"], R["psf"], "wiener", sigma=R["sigma"])
    e = {k: nmse(target_conv(v.image, g), xt) for k, v in (("2", r2), ("3", r3), ("t", rt), ("w", rw))}
    # recorded (seed 0): step 2 0.0755, step 3 0.0677, Tikhonov 0.113, Wiener 0.080
    assert e["2"] < 0.8 * e["t"] and e["3"] < 0.8 * e["t"] and e["3"] < e["w"], e
    # step 3 reduces the flux bias of step 2 and matches the data's flux within 1 %
    assert abs(flux_error(r3.image, R["x_true"])) < abs(flux_error(r2.image, R["x_true"]))
    assert abs(r3.image.sum() / R["y"].sum() - 1) < 0.01


@pytest.mark.skipif(not default_weights_path().exists(), reason="shipped weights absent")
def test_deconvolve_batch_all_methods(held_out):
    d, _ = held_out
    y, h, s = d["y"][:3], d["psf"][0], d["sigma"][:3]
    for m, kw in (("tikhonov", {}), ("wiener", {}), ("starlet", {"max_iter": 30, "n_reweights": 0}),
                  ("learned", {}), ("learned", {"pad": 8})):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rb = deconvolve(y, h, m, sigma=s, **kw)
            r0 = deconvolve(y[1], h, m, sigma=s[1], **kw)
        assert rb.image.shape == y.shape and rb.report["flux_out"].shape == (3,)
        np.testing.assert_allclose(rb.image[1], r0.image, rtol=1e-5, atol=1e-6 * np.abs(r0.image).max())
