"""A pipeline demo on generated data: many sparse signals sharing one random dictionary.

``run_pipeline_demo()`` writes a small HDF5 input (seeded), a pipeline TOML next to it, runs the
pipeline in-process and prints a summary.  It is meant to be run right after installation::

    python -c "from sparserec.datasets.pipeline_demo import run_pipeline_demo; run_pipeline_demo()"
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

import numpy as np

__all__ = ["make_cube_input", "make_demo_input", "run_pipeline_demo"]

#: solvers tried in this order (the first one importable is used)
_PREFERENCE = ("omp", "sbl", "fista", "nnls")


def make_demo_input(path: str | os.PathLike, n_signals: int = 2000, n_measurements: int = 48,
                    n_atoms: int = 96, sparsity: int = 4, noise: float = 0.01,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """Write ``/dictionary`` (m, n), ``/signals`` (signal, measurement) and ``/truth`` to HDF5.

    Coefficients are non-negative and ``sparsity``-sparse; columns of the Gaussian dictionary
    have unit norm.  Returns the arrays written.
    """
    import h5py

    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_measurements, n_atoms))
    D /= np.linalg.norm(D, axis=0)
    X = np.zeros((n_signals, n_atoms))
    for i in range(n_signals):
        X[i, rng.choice(n_atoms, sparsity, replace=False)] = rng.uniform(0.5, 1.5, sparsity)
    Y = X @ D.T + noise * rng.standard_normal((n_signals, n_measurements))
    with h5py.File(path, "w") as f:
        f["dictionary"] = D
        s = f.create_dataset("signals", data=Y, chunks=(min(250, n_signals), n_measurements))
        s.dims[0].label = "signal"
        s.dims[1].label = "measurement"
        t = f.create_dataset("truth", data=X)
        t.dims[0].label = "signal"
        t.dims[1].label = "atom"
        f.attrs["description"] = "sparserec pipeline demo: sparse signals, shared Gaussian dictionary"
        f.attrs["seed"] = seed
    return {"dictionary": D, "signals": Y, "truth": X}


def make_cube_input(path: str | os.PathLike, rows: int = 60, cols: int = 50, bands: int = 100,
                    n_endmembers: int = 4, noise: float = 0.01, seed: int = 0,
                    block_rows: int = 10) -> None:
    """Write a linear-mixing cube ``/cube`` (row, col, band) and ``/endmembers`` (band, endmember).

    Abundances are Dirichlet (non-negative, summing to one) and are stored as ``/abundances``;
    the cube is generated ``block_rows`` rows at a time (float32), so any size fits in memory.
    This is the input that ``examples/pipeline_demo.toml`` expects.
    """
    import h5py

    rng = np.random.default_rng(seed)
    E = np.abs(rng.standard_normal((bands, n_endmembers))) + 0.1
    with h5py.File(path, "w") as f:
        d = f.create_dataset("cube", shape=(rows, cols, bands), dtype="float32",
                             chunks=(min(block_rows, rows), cols, bands))
        a = f.create_dataset("abundances", shape=(rows, cols, n_endmembers), dtype="float32")
        for i, lab in enumerate(("row", "col", "band")):
            d.dims[i].label = lab
        f["endmembers"] = E
        for r in range(0, rows, block_rows):
            s = min(r + block_rows, rows)
            A = rng.dirichlet(np.ones(n_endmembers), size=(s - r, cols))
            d[r:s] = (A @ E.T + noise * rng.standard_normal((s - r, cols, bands))).astype(np.float32)
            a[r:s] = A.astype(np.float32)


def _pick_solver() -> tuple[str, dict[str, Any]]:
    from ..pipelines.registry import SolverNotAvailableError, resolve_solver

    params = {"sbl": {"max_iter": 200}, "fista": {"lam": 0.02, "max_iter": 500},
              "omp": {"n_nonzero": 4}, "nnls": {"max_iter": 2000, "tol": 1e-8}}
    for name in _PREFERENCE:
        try:
            resolve_solver(name)
        except SolverNotAvailableError:
            continue
        return name, params[name]
    return "nnls", params["nnls"]  # pragma: no cover - nnls is built in


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(v)


def run_pipeline_demo(out: str | os.PathLike | None = None, n_signals: int = 2000,
                      solver: str | None = None, seed: int = 0, verbose: bool = True) -> int:
    """Generate the demo input, write ``pipeline.toml`` and run it; print a summary.

    Parameters
    ----------
    out : path, optional
        Folder for ``demo_input.h5``, ``pipeline.toml`` and ``demo_result.nc`` (default: a new
        temporary folder).
    n_signals : int
    solver : str, optional
        Solver name (default: the first available of omp, sbl, fista, nnls).
    seed : int
    verbose : bool

    Returns
    -------
    int
        0 on success (an exit code for ``sparserec demo``).
    """
    from ..pipelines import run_pipeline

    t0 = time.perf_counter()
    folder = os.fspath(out) if out is not None else tempfile.mkdtemp(prefix="sparserec-pipeline-demo-")
    os.makedirs(folder, exist_ok=True)
    inp = os.path.join(folder, "demo_input.h5")
    data = make_demo_input(inp, n_signals=n_signals, seed=seed)
    if solver is None:
        name, params = _pick_solver()
    else:
        name, params = solver, {}
    toml = os.path.join(folder, "pipeline.toml")
    lines = ["# sparserec pipeline demo (generated)", "[input]", 'file = "demo_input.h5"',
             'dataset = "/signals"', 'batch_dims = ["signal"]', "", "[model]", 'type = "matrix"',
             'dataset = "/dictionary"', 'state_dims = ["atom"]', "", "[solver]",
             f"name = {_toml_value(name)}", "[solver.params]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in params.items()]
    lines += ["", "[output]", 'file = "demo_result.nc"', "chunk_size = 250", 'on_error = "stop"', ""]
    with open(toml, "w") as fh:
        fh.write("\n".join(lines))
    summary = run_pipeline(toml, overwrite=True, progress=verbose)
    import h5py

    with h5py.File(summary.output, "r") as f:
        est = f["estimate"][()]
        conv = f["converged"][()]
    X = data["truth"]
    nmse = float(np.sum((est - X) ** 2) / np.sum(X**2))
    supp = float(np.mean((np.abs(est) > 0.25) == (X > 0)))
    if verbose:
        print(f"sparserec pipeline demo ({name}): {summary}")
        print(f"  files in {folder}: demo_input.h5, pipeline.toml, demo_result.nc")
        print(f"  NMSE {10 * np.log10(max(nmse, 1e-300)):.1f} dB, support agreement {100 * supp:.1f} %, "
              f"{int(conv.sum())}/{conv.size} converged, total {time.perf_counter() - t0:.1f} s")
        print(f"  inspect it with: sparserec inspect {summary.output}")
    return 0
