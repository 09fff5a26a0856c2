"""sparserec.io: lazy read-only arrays with named dims, dimension mapping, results with provenance."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from sparserec.io import (
    describe,
    detect_format,
    file_sha256,
    map_dims,
    open_array,
    provenance,
    read_array,
    result_to_xarray,
    write_result,
)
from sparserec.io.arrays import InputError

h5py = pytest.importorskip("h5py")
xr = pytest.importorskip("xarray")


def test_import_is_lazy():
    code = ("import sys, sparserec.io, sparserec.pipelines, sparserec.pipelines.runner, "
            "sparserec.pipelines.cli; print([m for m in "
            "('h5py','xarray','dask','h5netcdf','tqdm','distributed') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.fixture
def h5file(tmp_path):
    p = tmp_path / "a.h5"
    with h5py.File(p, "w") as f:
        d = f.create_dataset("grp/cube", data=np.arange(60.0).reshape(3, 4, 5))
        d.dims[0].label, d.dims[1].label, d.dims[2].label = "y", "x", "band"
        f.create_dataset("plain", data=np.ones((2, 3)))
        a = f.create_dataset("attr_dims", data=np.ones((2, 3)))
        a.attrs["dims"] = ["pixel", "band"]
    return p


def test_hdf5_dims_and_blocks(h5file):
    before = file_sha256(h5file)
    assert detect_format(h5file) == "hdf5"
    with open_array(h5file, "/grp/cube") as a:
        assert a.dims == ("y", "x", "band") and a.shape == (3, 4, 5) and a.format == "hdf5"
        blk = a.read_block("x", 1, 3, order=("x", "y", "band"))
        np.testing.assert_array_equal(blk, np.arange(60.0).reshape(3, 4, 5)[:, 1:3].transpose(1, 0, 2))
    assert open_array(h5file, "plain").dims == ("dim_0", "dim_1")
    assert open_array(h5file, "attr_dims").dims == ("pixel", "band")
    assert open_array(h5file, "plain", dims=["p", "b"]).dims == ("p", "b")
    with pytest.raises(InputError, match="3 dimension names"):
        open_array(h5file, "plain", dims=["p", "b", "c"])
    with pytest.raises(InputError, match="not found.*/grp/cube"):
        open_array(h5file, "/cubes")
    assert file_sha256(h5file) == before


def test_lazy_array_pickles_and_reopens(h5file):
    import pickle

    a = open_array(h5file, "/grp/cube")
    b = pickle.loads(pickle.dumps(a))
    a.close()
    assert b.read_block("y", 0, 1).shape == (1, 4, 5)
    b.close()


def test_netcdf_variable(tmp_path):
    p = tmp_path / "a.nc"
    xr.Dataset({"v": (("t", "c"), np.arange(12.0).reshape(4, 3))}).to_netcdf(p, engine="h5netcdf")
    assert detect_format(p) == "netcdf"
    with open_array(p, "v") as a:
        assert a.dims == ("t", "c") and a.format == "netcdf"
        np.testing.assert_array_equal(a.read_block("t", 1, 3), [[3, 4, 5], [6, 7, 8]])
    np.testing.assert_array_equal(read_array(p, "v"), np.arange(12.0).reshape(4, 3))
    with pytest.raises(InputError, match="variable 'w' not found.*v"):
        open_array(p, "w")


def test_map_dims():
    m = map_dims(("y", "x", "band"), (3, 4, 5), ["y", "x"], (5,))
    assert m.chunk_dim == "y" and m.batch_shape == (3, 4) and m.data_dims == ("band",) and m.n_problems == 12
    m = map_dims(("rx", "snap", "tx"), (2, 7, 3), "snap", (3, 2), data_dims=["tx", "rx"])
    assert m.order == ("snap", "tx", "rx")
    m = map_dims(("s", "a", "b"), (2, 3, 4), "s", (12,))  # flattening allowed
    assert m.to_operator_layout(np.zeros((2, 3, 4))).shape == (2, 12)
    with pytest.raises(InputError, match="batch dimension 'z' not found"):
        map_dims(("y", "x"), (3, 4), "z", (4,))
    with pytest.raises(InputError, match="do not fit"):
        map_dims(("y", "x"), (3, 4), "y", (5,))
    with pytest.raises(InputError, match="neither batch nor data"):
        map_dims(("y", "x", "b"), (3, 4, 5), "y", (5,), data_dims=["b"])


def _result():
    from sparserec.solvers.result import SolverResult, Status

    x = np.arange(12.0).reshape(4, 3)
    return SolverResult(x=x, status=Status.MAX_ITER, problem_status=np.array([0, 1, 0, 0]),
                        converged=np.array([True, False, True, True]), n_iter=np.array([3, 9, 4, 2]),
                        history={"iteration": np.arange(1, 4), "residual": np.ones((3, 4))},
                        params={"tol": 1e-6}, extras={"posterior_var": x * 0 + 0.5, "noise_var": np.ones(4),
                                                      "other": np.ones(7)}, solver="demo")


def test_result_to_xarray_and_provenance(tmp_path):
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f["y"] = np.ones(3)
    prov = provenance("demo", {"tol": 1e-6, "w": np.array([1, 2])}, input_file=tmp_path / "in.h5",
                      input_dataset="/y", start_time="2026-01-01T00:00:00+00:00")
    ds = result_to_xarray(_result(), ("pixel",), ("atom",), prov)
    assert ds["estimate"].dims == ("pixel", "atom") and ds["posterior_var"].dims == ("pixel", "atom")
    assert ds["noise_var"].dims == ("pixel",) and "other" not in ds
    assert ds["history_residual"].dims == ("pixel",) and list(ds["converged"].values) == [1, 0, 1, 1]
    a = ds.attrs
    assert a["input_sha256"] == file_sha256(tmp_path / "in.h5")
    assert json.loads(a["solver_params"])["w"] == [1, 2]
    for k in ("sparserec_version", "host", "start_time", "end_time", "input_file"):
        assert a[k]
    write_result(tmp_path / "r.nc", _result(), batch_dims=("pixel",), state_dims=("atom",), attrs=prov)
    with pytest.raises(FileExistsError):
        write_result(tmp_path / "r.nc", _result())
    back = xr.open_dataset(tmp_path / "r.nc", engine="h5netcdf")
    np.testing.assert_array_equal(back["estimate"].values, _result().x)
    assert back.attrs["solver"] == "demo"
    back.close()
    write_result(tmp_path / "r.h5", _result(), format="hdf5", group="run1", attrs=prov)
    with open_array(tmp_path / "r.h5", "/run1/estimate") as arr:
        assert arr.dims == ("batch_0", "state_0")
    text = describe(tmp_path / "r.nc")
    assert "provenance" in text and "solver: demo" in text


def test_complex_results_are_split():
    from sparserec.solvers.result import SolverResult, Status

    r = SolverResult(x=np.ones((2, 3)) * (1 + 2j), status=Status.CONVERGED, problem_status=np.zeros(2, int),
                     converged=np.ones(2, bool), n_iter=np.ones(2, int), solver="c")
    ds = result_to_xarray(r)
    np.testing.assert_array_equal(ds["estimate_imag"].values, 2.0)


def test_netcdf_dims_override(tmp_path):
    p = tmp_path / "b.nc"
    xr.Dataset({"v": (("t", "c"), np.arange(12.0).reshape(4, 3))}).to_netcdf(p, engine="h5netcdf")
    with open_array(p, "v", dims=("time", "chan")) as a:
        np.testing.assert_array_equal(a.read_block("time", 2, 4, order=("chan", "time")),
                                      np.arange(12.0).reshape(4, 3)[2:4].T)
