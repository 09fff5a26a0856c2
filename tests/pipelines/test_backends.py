"""Process pool, Dask local scheduler and a dask.distributed LocalCluster give the in-process output."""

from __future__ import annotations

import numpy as np
import pytest

from sparserec.pipelines import run_pipeline

from ._helpers import InputGuard, make_cube, read_output, write_toml

pytest.importorskip("h5py")


@pytest.fixture(scope="module")
def cube_case(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("backends")
    make_cube(tmp / "cube.h5", rows=16, cols=9, bands=20, p=3, seed=4)
    tables = {
        "input": {"file": "cube.h5", "dataset": "/cube", "batch_dims": ["row", "col"]},
        "model": {"type": "endmembers", "dataset": "/endmembers"},
        "solver": {"name": "nnls", "params": {"sum_to_one": True}},
        "output": {"file": "ref.nc", "chunk_size": 2},
        "execution": {"progress": False},
    }
    write_toml(tmp / "ref.toml", tables)
    run_pipeline(tmp / "ref.toml")
    return tmp, tables, read_output(tmp / "ref.nc")


def _compare(out: dict, ref: dict) -> None:
    assert set(out) == set(ref)
    for k in ref:
        np.testing.assert_allclose(out[k], ref[k], rtol=1e-12, atol=1e-14, err_msg=k)


@pytest.mark.parametrize("backend", ["processes", "dask"])
def test_local_backends_match_inprocess(cube_case, backend):
    tmp, tables, ref = cube_case
    guard = InputGuard(tmp / "cube.h5")
    tables = {k: dict(v) for k, v in tables.items()}
    tables["output"]["file"] = f"{backend}.nc"
    write_toml(tmp / f"{backend}.toml", tables)
    s = run_pipeline(tmp / f"{backend}.toml", workers=2, backend=backend)
    assert s.n_computed == 8
    _compare(read_output(tmp / f"{backend}.nc"), ref)
    guard.check()


def test_distributed_local_cluster_matches_inprocess(cube_case):
    distributed = pytest.importorskip("distributed")
    tmp, tables, ref = cube_case
    guard = InputGuard(tmp / "cube.h5")
    tables = {k: dict(v) for k, v in tables.items()}
    tables["output"]["file"] = "dist.nc"
    write_toml(tmp / "dist.toml", tables)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        s = run_pipeline(tmp / "dist.toml", scheduler=cluster.scheduler_address)
    assert s.n_computed == 8
    _compare(read_output(tmp / "dist.nc"), ref)
    guard.check()
    # the provenance records which backend ran
    import h5py

    with h5py.File(tmp / "dist.nc", "r") as f:
        assert '"distributed"' in f.attrs["runs"]
