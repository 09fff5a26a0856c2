"""Application presets in pipelines: unmix and deconvolve against the in-memory API; tokenize
gives a clear pointer to the streaming tokenizer (estimate_channel is tested with the IRS app)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")
xr = pytest.importorskip("xarray")

from sparserec.pipelines import run_pipeline  # noqa: E402


def _write(path, name, data, dims):
    with h5py.File(path, "a") as f:
        d = f.create_dataset(name, data=data)
        d.attrs["dims"] = np.array(dims, dtype=object)


def test_unmix_preset_matches_fcls(tmp_path):
    from sparserec.solvers.unmixing import fcls

    rng = np.random.default_rng(0)
    E = np.abs(rng.standard_normal((40, 4)))
    Y = rng.dirichlet(np.ones(4), size=250) @ E.T + 1e-3 * rng.standard_normal((250, 40))
    p = tmp_path / "cube.h5"
    _write(p, "Y", Y, ["pixel", "band"])
    with h5py.File(p, "a") as f:
        f["E"] = E
    cfg = {"input": {"file": str(p), "dataset": "Y", "batch_dims": ["pixel"], "dims": ["pixel", "band"]},
           "model": {"type": "preset", "preset": "unmix", "params": {"endmembers": "E"}},
           "output": {"file": str(tmp_path / "o.nc"), "chunk_size": 64}, "execution": {"progress": False}}
    run_pipeline(cfg)
    with xr.open_dataset(tmp_path / "o.nc", engine="h5netcdf") as ds:
        got = ds["estimate"].values
    assert np.abs(got - np.asarray(fcls(E, Y).x)).max() < 1e-12
    assert np.allclose(got.sum(1), 1.0)


def test_deconvolve_preset_matches_api(tmp_path):
    from sparserec.applications.astronomy import deconvolve

    rng = np.random.default_rng(1)
    img = np.zeros((3, 32, 32))
    img[:, 10:14, 12:20] = 1.0
    yy, xx = np.mgrid[-3:4, -3:4]
    psf = np.exp(-(xx**2 + yy**2) / 3.0)
    psf /= psf.sum()
    from scipy.signal import fftconvolve

    obs = np.stack([fftconvolve(i, psf, mode="same") for i in img]) + 0.01 * rng.standard_normal(img.shape)
    p = tmp_path / "imgs.h5"
    _write(p, "obs", obs, ["image", "y", "x"])
    with h5py.File(p, "a") as f:
        f["psf"] = psf
    cfg = {"input": {"file": str(p), "dataset": "obs", "batch_dims": ["image"], "dims": ["image", "y", "x"]},
           "model": {"type": "preset", "preset": "deconvolve", "params": {"psf": "psf"}, "image_shape": [32, 32]},
           "solver": {"params": {"method": "tikhonov"}},
           "output": {"file": str(tmp_path / "o.nc"), "chunk_size": 2}, "execution": {"progress": False}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_pipeline(cfg)
        ref = deconvolve(obs, psf, method="tikhonov").image
    with xr.open_dataset(tmp_path / "o.nc", engine="h5netcdf") as ds:
        got = ds["estimate"].values
    assert got.shape == (3, 32, 32)
    assert np.allclose(got, ref, atol=1e-10)


def test_tokenize_preset_points_to_streaming(tmp_path):
    p = tmp_path / "x.h5"
    _write(p, "X", np.zeros((4, 5)), ["cell", "peak"])
    cfg = {"input": {"file": str(p), "dataset": "X", "batch_dims": ["cell"], "dims": ["cell", "peak"]},
           "model": {"type": "preset", "preset": "tokenize"},
           "output": {"file": str(tmp_path / "o.nc")}, "execution": {"progress": False}}
    with pytest.raises(ValueError, match="iter_tokenize"):
        run_pipeline(cfg)
