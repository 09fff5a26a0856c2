"""T8: streaming 1,000,000 cells x 50,000 peaks keeps extra memory under 400 MB, reads X/data and
X/indices only chunk by chunk (indptr is the only array read in full) and matches the in-memory
computation on a 50,000-cell slice; dense tokens beyond a budget are refused."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from sparserec.applications.scatac.synthetic import write_synthetic_h5ad

SCRIPT = textwrap.dedent(r"""
    import json, resource, sys
    import numpy as np, scipy.sparse, h5py
    from sparserec.applications.scatac.io import H5ADReader
    from sparserec.applications.scatac.recover import tfidf
    from sparserec.applications.scatac.stream import stream_job
    from sparserec.applications.scatac.tokenize import tokenize, dense_token_bytes

    reads = []

    class DProxy:
        def __init__(self, name, ds):
            self.name, self.ds = name, ds
        def __getitem__(self, key):
            out = self.ds[key]
            reads.append((self.name, int(np.asarray(out).size)))
            return out
        @property
        def shape(self):
            return self.ds.shape
        @property
        def dtype(self):
            return self.ds.dtype

    class GProxy:
        def __init__(self, g):
            self.g = g
            self.attrs = g.attrs
        def __getitem__(self, k):
            return DProxy(k, self.g[k])
        def __contains__(self, k):
            return k in self.g

    path, chunk = sys.argv[1], int(sys.argv[2])
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = H5ADReader(path)
    r._x = GProxy(r._x)
    out = stream_job(path, chunk, slice_cells=50_000, reader=r)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ip = r.indptr()
    max_chunk_nnz = int(max(ip[min(a + chunk, r.n_cells)] - ip[a] for a in range(0, r.n_cells, chunk)))
    big = {n: max(s for m, s in reads if m == n) for n in ("data", "indices")}
    full_indptr = [s for m, s in reads if m == "indptr"]
    # in-memory reference on the first 50,000 cells
    X50 = r.read_rows(0, 50_000)
    T = tfidf(X50, out["stats"], method=1)
    ref = np.asarray(T.T @ np.asarray(T @ out["omega"]))
    ok = bool(np.allclose(out["sketch_slice"], ref, rtol=1e-6, atol=1e-9))
    try:
        from sparserec.applications.scatac import synthetic_peaks
        tokenize(scipy.sparse.csr_array((1_000_000, 440_000), dtype=np.float32), synthetic_peaks(440_000),
                 mode="dense", max_length=440_000)
        refused = False
    except MemoryError:
        refused = True
    print(json.dumps({"rss_mb": (peak - base) / 1024, "seconds": out["seconds"],
                      "cells_per_s": out["cells_per_s"], "max_chunk_nnz": max_chunk_nnz, "max_read": big,
                      "indptr_reads": full_indptr, "n_cells": r.n_cells, "slice_ok": ok,
                      "refused": refused, "dense_tb": dense_token_bytes(1_000_000, 440_000) / 1e12}))
""")


@pytest.fixture(scope="module")
def million(tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "million.h5ad"
    write_synthetic_h5ad(str(path), 1_000_000, 50_000, nnz_per_cell=10, chunk_size=50_000, seed=0)
    return path


def test_t8_stream_memory_bound(million):
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(million), "20000"], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["n_cells"] == 1_000_000
    assert out["rss_mb"] < 400, out
    assert out["max_read"]["data"] <= out["max_chunk_nnz"]
    assert out["max_read"]["indices"] <= out["max_chunk_nnz"]
    assert out["indptr_reads"] == [1_000_001]  # read once, in full
    assert out["slice_ok"]
    assert out["refused"] and abs(out["dense_tb"] - 5.72) < 0.01
    assert out["seconds"] < 300
