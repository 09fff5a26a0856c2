"""End-to-end pipelines compared with the in-memory API (unmixing cube, SBL, lsqr, Kronecker, PSF)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sparserec.operators import Kronecker, Matrix
from sparserec.pipelines import load_config, run_pipeline
from sparserec.pipelines._nnls import nnls
from sparserec.pipelines.registry import SolverNotAvailableError, resolve_solver

from ._helpers import InputGuard, make_cube, make_signals, read_output, signals_config, write_toml

h5py = pytest.importorskip("h5py")
xr = pytest.importorskip("xarray")


def test_unmixing_cube_matches_in_memory(tmp_path):
    d = make_cube(tmp_path / "cube.h5", rows=12, cols=10, bands=24, p=4, chunks=(3, 10, 24))
    guard = InputGuard(tmp_path / "cube.h5")
    cfg = write_toml(tmp_path / "unmix.toml", {
        "input": {"file": "cube.h5", "dataset": "/cube", "batch_dims": ["row", "col"]},
        "model": {"type": "endmembers", "dataset": "/endmembers"},
        "solver": {"name": "nnls", "params": {"sum_to_one": True, "tol": 1e-10}},
        "output": {"file": "abund.nc", "chunk_size": 5},
        "execution": {"progress": False},
    })
    s = run_pipeline(cfg)
    assert s.n_chunks == 3 and s.n_computed == 3 and s.n_skipped == 0
    guard.check()
    ds = xr.open_dataset(tmp_path / "abund.nc", engine="h5netcdf")
    try:
        assert ds["estimate"].dims == ("row", "col", "endmember")
        est = ds["estimate"].values
        ref = nnls(Matrix(d["E"]), d["Y"], sum_to_one=True, tol=1e-10).x
        np.testing.assert_allclose(est, ref, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(est, d["A"], atol=0.02)  # and close to the truth
        np.testing.assert_allclose(est.sum(-1), 1.0, atol=1e-12)
        assert (ds["status"].values == 0).all()
        a = ds.attrs
        assert a["solver"] == "nnls" and a["input_dataset"] == "/cube" and int(a["complete"]) == 1
        assert json.loads(a["solver_params"])["sum_to_one"] is True
        assert len(a["input_sha256"]) == 64 and len(a["config_sha256"]) == 64
        assert a["start_time"] <= a["end_time"] and a["host"]
        assert list(ds["chunk_status"].values) == [0, 0, 0]
    finally:
        ds.close()
    assert not (tmp_path / "abund.nc.parts").exists()


def test_lsqr_signals_match_in_memory(tmp_path):
    d = make_signals(tmp_path / "signals.h5", n=230, m=30, k=20)  # overdetermined: unique LS solution
    write_toml(tmp_path / "p.toml", signals_config(tmp_path, "lsqr", {"atol": 1e-12, "btol": 1e-12},
                                                   chunk_size=64))
    run_pipeline(tmp_path / "p.toml")
    out = read_output(tmp_path / "out.nc")
    from sparserec.solvers import lsqr

    ref = lsqr(Matrix(d["D"]), d["Y"], atol=1e-12, btol=1e-12)
    np.testing.assert_allclose(out["estimate"], ref.x, rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(out["n_iter"], ref.n_iter)
    assert out["estimate"].shape == (230, 20)
    assert "history_residual" in out


def test_sbl_recovery_many_signals_shared_dictionary(tmp_path):
    try:
        sbl = resolve_solver("sbl")
    except SolverNotAvailableError:
        pytest.skip("sparserec.solvers.bayes.sbl is not available yet")
    d = make_signals(tmp_path / "signals.h5", n=120, m=25, k=50, sparsity=3, noise=1e-3)
    params = {"max_iter": 200, "noise_var": 1e-6}
    write_toml(tmp_path / "p.toml", signals_config(tmp_path, "sbl", params, chunk_size=40))
    run_pipeline(tmp_path / "p.toml")
    out = read_output(tmp_path / "out.nc")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sbl(Matrix(d["D"]), d["Y"], **params)
    np.testing.assert_allclose(out["estimate"], np.asarray(ref.x), rtol=1e-5, atol=1e-7)
    nmse = np.sum((out["estimate"] - d["X"]) ** 2) / np.sum(d["X"] ** 2)
    assert nmse < 1e-3
    for k, v in ref.extras.items():  # posterior variance and friends are stored where present
        if hasattr(v, "shape") and tuple(v.shape) == tuple(ref.x.shape):
            assert k in out


def test_netcdf_input_with_xarray(tmp_path):
    rng = np.random.default_rng(3)
    D = rng.standard_normal((16, 8))
    X = rng.standard_normal((40, 8))
    Y = X @ D.T
    # stored (measurement, signal): data_dims/batch order differ from the file's order
    xr.Dataset({"y": (("measurement", "signal"), Y.T), "D": (("m", "n"), D)}).to_netcdf(
        tmp_path / "in.nc", engine="h5netcdf")
    guard = InputGuard(tmp_path / "in.nc")
    write_toml(tmp_path / "p.toml", {
        "input": {"file": "in.nc", "variable": "y", "batch_dims": "signal"},
        "model": {"type": "matrix", "dataset": "D"},
        "solver": {"name": "lsqr", "params": {"atol": 1e-14, "btol": 1e-14}},
        "output": {"file": "out.nc", "chunk_size": 16},
        "execution": {"progress": False},
    })
    run_pipeline(tmp_path / "p.toml")
    guard.check()
    out = read_output(tmp_path / "out.nc")
    np.testing.assert_allclose(out["estimate"], X, atol=1e-8)


def test_kronecker_model(tmp_path):
    rng = np.random.default_rng(5)
    A1, A2 = rng.standard_normal((6, 4)), rng.standard_normal((5, 3))
    X = rng.standard_normal((30, 4, 3))
    Y = np.einsum("ij,bjk,lk->bil", A1, X, A2)
    with h5py.File(tmp_path / "k.h5", "w") as f:
        ds = f.create_dataset("y", data=Y)
        ds.attrs["dims"] = "snapshot, rx, tx"
        f["A1"], f["A2"] = A1, A2
    write_toml(tmp_path / "p.toml", {
        "input": {"file": "k.h5", "dataset": "/y", "batch_dims": "snapshot"},
        "model": {"type": "kronecker", "factors": ["/A1", "/A2"], "state_dims": ["u", "v"]},
        "solver": {"name": "lsqr", "params": {"atol": 1e-14, "btol": 1e-14}},
        "output": {"file": "out.nc", "chunk_size": 7},
        "execution": {"progress": False},
    })
    run_pipeline(tmp_path / "p.toml")
    out = read_output(tmp_path / "out.nc")
    from sparserec.solvers import lsqr

    ref = lsqr(Kronecker([A1, A2]), Y, atol=1e-14, btol=1e-14).x
    np.testing.assert_allclose(out["estimate"], ref, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(out["estimate"], X, atol=1e-6)


def test_psf_model(tmp_path):
    from sparserec.pipelines.models import CircularConvolve

    rng = np.random.default_rng(2)
    psf = np.outer([1, 2, 1], [1, 2, 1]) / 16.0 + 0.05
    X = rng.standard_normal((6, 8, 8))
    op = CircularConvolve(psf, (8, 8))
    Y = op.apply(X)
    with h5py.File(tmp_path / "img.h5", "w") as f:
        ds = f.create_dataset("img", data=Y)
        for i, lab in enumerate(("frame", "y", "x")):
            ds.dims[i].label = lab
        f["psf"] = psf
    write_toml(tmp_path / "p.toml", {
        "input": {"file": "img.h5", "dataset": "/img", "batch_dims": "frame"},
        "model": {"type": "psf", "psf": "/psf"},
        "solver": {"name": "lsqr", "params": {"atol": 1e-14, "btol": 1e-14}},
        "output": {"file": "out.nc", "chunk_size": 4},
        "execution": {"progress": False},
    })
    run_pipeline(tmp_path / "p.toml")
    out = read_output(tmp_path / "out.nc")
    np.testing.assert_allclose(out["estimate"], X, atol=1e-6)
    # adjoint test of the private PSF operator
    u, v = rng.standard_normal((8, 8)), rng.standard_normal((8, 8))
    assert np.isclose(np.vdot(op.apply(u), v), np.vdot(u, op.adjoint(v)))


def test_config_checksum_ignores_execution_settings(tmp_path):
    make_signals(tmp_path / "signals.h5", n=10)
    base = signals_config(tmp_path)
    a = load_config(base, base_dir=tmp_path)
    b = load_config(base, base_dir=tmp_path, workers=4, backend="dask")
    assert a.sha256 == b.sha256
    base["solver"]["params"] = {"damp": 0.1}
    assert load_config(base, base_dir=tmp_path).sha256 != a.sha256
