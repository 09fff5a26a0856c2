"""``unmix`` entry point (xarray Dataset, methods, bad input) and chunked ``stream_fcls`` from HDF5."""

from __future__ import annotations

import numpy as np
import pytest

from sparserec.applications import hyperspectral as hs

pytest.importorskip("xarray")


@pytest.fixture(scope="module")
def scene():
    return hs.simulate_scene(3, (12, 10), n_bands=40, snr=40.0, alpha=0.5, random_state=0)


def test_unmix_supervised_dataset(scene):
    ds = hs.unmix(scene.Y, endmembers=scene.E, materials=["a", "b", "c"])
    assert ds["abundances"].dims == ("y", "x", "endmember") and ds["abundances"].shape == (12, 10, 3)
    assert ds["endmembers"].dims == ("band", "endmember")
    assert list(ds["endmember"].values) == ["a", "b", "c"]
    assert ds.attrs["method"] == "fcls" and ds.attrs["n_masked"] == 0 and "sparserec_version" in ds.attrs
    assert hs.armse(scene.A, ds["abundances"].values) < 0.05


@pytest.mark.parametrize("method", ["vca+fcls", "nmf", "l12nmf", "robust"])
def test_unmix_blind_methods(scene, method):
    ds = hs.unmix(scene.Y, 3, method=method, max_iter=30) if method != "vca+fcls" else hs.unmix(scene.Y, 3,
                                                                                                method=method)
    assert ds["abundances"].shape == (12, 10, 3) and ds["endmembers"].shape == (40, 3)
    assert np.isfinite(ds["abundances"].values).all()
    if method == "robust":
        assert "guidance_map" in ds


def test_unmix_sparse_methods(scene):
    for m in ("sunsal", "clsunsal"):
        ds = hs.unmix(scene.Y, endmembers=scene.E, method=m)
        assert ds["abundances"].shape == (12, 10, 3) and ds["abundances"].values.min() >= 0


def test_unmix_xarray_input(scene):
    import xarray as xr

    da = xr.DataArray(scene.Y.transpose(2, 0, 1), dims=("band", "y", "x"), coords={"band": np.arange(40.0)})
    ds = hs.unmix(da, endmembers=scene.E)
    np.testing.assert_allclose(ds["abundances"].values, hs.unmix(scene.Y, endmembers=scene.E)["abundances"].values)


def test_nan_pixels_masked_and_reported(scene):
    Y = scene.Y.copy()
    Y[0, 0, 3] = np.nan
    Y[5, 5, :] = np.inf
    with pytest.warns(UserWarning, match="2 pixel"):
        ds = hs.unmix(Y, endmembers=scene.E)
    assert ds.attrs["n_masked"] == 2
    assert np.isnan(ds["abundances"].values[0, 0]).all() and not bool(ds["valid"].values[5, 5])
    assert np.isfinite(ds["abundances"].values[1, 1]).all()


def test_negative_reflectance_policy(scene):
    Y = scene.Y.copy()
    Y[0, 0, :5] = -0.1
    with pytest.warns(UserWarning, match="clipped"):
        ds = hs.unmix(Y, endmembers=scene.E)
    assert ds.attrs["n_negative"] == 5
    with pytest.warns(UserWarning, match="kept"):
        hs.unmix(Y, endmembers=scene.E, negative="warn")
    with pytest.raises(ValueError, match="negative"):
        hs.unmix(Y, endmembers=scene.E, negative="raise")


def test_bad_input_errors(scene):
    with pytest.raises(ValueError, match="band-count mismatch"):
        hs.unmix(scene.Y[..., :-1], endmembers=scene.E)
    with pytest.raises(ValueError, match="exceeds the number of bands"):
        hs.unmix(scene.Y[..., :2], 3, method="nmf")
    with pytest.raises(ValueError, match="n_endmembers"):
        hs.unmix(scene.Y, method="nmf")
    with pytest.raises(ValueError, match="unknown method"):
        hs.unmix(scene.Y, 3, method="magic")
    with pytest.raises(ValueError, match="needs endmembers"):
        hs.unmix(scene.Y, 3, method="fcls")
    with pytest.raises(ValueError, match="every pixel"):
        hs.unmix(np.full((2, 2, 40), np.nan), endmembers=scene.E)
    with pytest.raises(ValueError, match="cube"):
        hs.unmix(np.ones(40), endmembers=scene.E)


def test_stream_fcls_hdf5(tmp_path):
    h5py = pytest.importorskip("h5py")
    s = hs.simulate_scene(4, (40, 30), n_bands=25, snr=35.0, random_state=1)
    p = tmp_path / "cube.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("cube", data=s.Y, chunks=(4, 30, 25))
        f.create_dataset("abund", shape=(40, 30, 4), dtype="f8")
    with h5py.File(p, "r+") as f:
        f["cube"][3, 3, 0] = np.nan
        info = hs.stream_fcls(s.E, f["cube"], f["abund"], chunk_pixels=100)
        out = f["abund"][()]
    assert info["n_chunks"] == 14 and info["n_masked"] == 1 and info["n_pixels"] == 1200
    from sparserec.solvers.unmixing import fcls

    ref = fcls(s.E, np.where(np.isnan(s.Y), 0, s.Y)).x
    mask = np.ones((40, 30), bool)
    mask[3, 3] = False
    np.testing.assert_allclose(out[mask], ref[mask], atol=1e-10)
    assert np.isnan(out[3, 3]).all()
    with pytest.raises(ValueError, match="band-count"):
        hs.stream_fcls(s.E[:-1], s.Y)


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, sparserec, sparserec.applications.hyperspectral, sparserec.solvers.unmixing; "
            "print(any(m in sys.modules for m in ('xarray', 'h5py')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
