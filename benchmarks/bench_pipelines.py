"""Pipeline throughput: FCLS-style unmixing of an HDF5 cube, in-process vs Dask local (2 workers).

The cube (rows x cols x bands, float32) is generated chunk-wise into a temporary HDF5 file, so
that neither the generator nor the pipeline ever holds it in memory.  The pipeline uses the
``endmembers`` model and the built-in batched NNLS with the sum-to-one constraint (FCLS).
Peak memory is the largest sum of the RSS of the driver and its child processes, sampled every
20 ms with psutil.

``run(quick=True)``: 200 x 200 x 200; ``run(quick=False)``: 1000 x 1000 x 200 (1.6 GB as float64,
0.8 GB stored as float32).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

P_ENDMEMBERS = 5
MEM_LIMIT = 1 << 30  # 1 GiB


class _PeakRSS:
    """Samples the RSS of this process plus its children in a thread."""

    def __init__(self, interval: float = 0.02) -> None:
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> int:
        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except Exception:  # noqa: BLE001 - a child may exit between listing and reading
                pass
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> _PeakRSS:
        self.peak = self._sample()
        self._t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._t.join()


def make_cube(path: Path, rows: int, cols: int, bands: int, p: int = P_ENDMEMBERS, seed: int = 0,
              block_rows: int = 20) -> None:
    """Write a linear-mixing cube chunk-wise (never the whole cube in memory)."""
    import h5py

    rng = np.random.default_rng(seed)
    E = np.abs(rng.standard_normal((bands, p))) + 0.1
    with h5py.File(path, "w") as f:
        d = f.create_dataset("cube", shape=(rows, cols, bands), dtype="float32",
                             chunks=(min(block_rows, rows), cols, bands))
        for i, lab in enumerate(("row", "col", "band")):
            d.dims[i].label = lab
        f["endmembers"] = E
        for a in range(0, rows, block_rows):
            b = min(a + block_rows, rows)
            A = rng.dirichlet(np.ones(p), size=(b - a, cols))
            d[a:b] = (A @ E.T + 0.01 * rng.standard_normal((b - a, cols, bands))).astype(np.float32)


def _config(folder: Path, out: str, chunk_rows: int) -> Path:
    text = f"""
[input]
file = "cube.h5"
dataset = "/cube"
batch_dims = ["row", "col"]

[model]
type = "endmembers"
dataset = "/endmembers"

[solver]
name = "nnls"
[solver.params]
sum_to_one = true
max_iter = 300
tol = 1e-6
record_every = 0

[output]
file = "{out}"
chunk_size = {chunk_rows}

[execution]
progress = false
"""
    p = folder / f"{out}.toml"
    p.write_text(text)
    return p


def run(quick: bool = True) -> list[dict[str, Any]]:
    import h5py

    from sparserec.pipelines import run_pipeline

    rows, cols, bands = (200, 200, 200) if quick else (1000, 1000, 200)
    chunk_rows = 10 if quick else 5
    folder = Path(tempfile.mkdtemp(prefix="sparserec-bench-pipelines-"))
    try:
        t0 = time.perf_counter()
        make_cube(folder / "cube.h5", rows, cols, bands)
        t_gen = time.perf_counter() - t0
        size = os.path.getsize(folder / "cube.h5")
        n_pix = rows * cols
        res: dict[str, dict[str, float]] = {}
        for name, kw in (("inprocess", {}), ("dask", {"backend": "dask", "workers": 2})):
            cfg = _config(folder, f"{name}.nc", chunk_rows)
            with _PeakRSS() as mem:
                t0 = time.perf_counter()
                run_pipeline(cfg, **kw)
                dt = time.perf_counter() - t0
            res[name] = {"s": dt, "peak": mem.peak}
        with h5py.File(folder / "inprocess.nc", "r") as a, h5py.File(folder / "dask.nc", "r") as b:
            diff = 0.0
            for r in range(0, rows, 100):
                diff = max(diff, float(np.abs(a["estimate"][r:r + 100] - b["estimate"][r:r + 100]).max()))
            conv = float(np.mean(a["converged"][()]))
        ip, dk = res["inprocess"], res["dask"]
        met = ip["peak"] < MEM_LIMIT and dk["peak"] < MEM_LIMIT
        case = f"FCLS (nnls, sum_to_one) {rows}x{cols}x{bands} HDF5 float32, p={P_ENDMEMBERS}"
        return [{
            "benchmark": "pipelines",
            "case": f"{case}: Dask local 2 workers vs in-process",
            "sparserec_s": round(dk["s"], 3),
            "peer": "sparserec in-process (1 process)",
            "peer_s": round(ip["s"], 3),
            "ratio": round(ip["s"] / dk["s"], 3),
            "target": "peak RSS < 1 GB",
            "met": met,
            "notes": (f"in-process {n_pix / ip['s']:,.0f} px/s, peak {ip['peak'] / 2**20:.0f} MiB; "
                      f"dask 2 workers {n_pix / dk['s']:,.0f} px/s, peak {dk['peak'] / 2**20:.0f} MiB "
                      f"(driver + workers); input {size / 2**20:.0f} MiB (generated in {t_gen:.1f} s); "
                      f"chunks of {chunk_rows} rows; max |dask - in-process| {diff:.1e}; "
                      f"{100 * conv:.1f} % converged; {os.cpu_count()} CPU(s)"),
        }]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    for row in run(quick="--full" not in sys.argv):
        print(row)
