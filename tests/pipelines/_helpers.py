"""Shared builders for the pipeline tests: synthetic HDF5 inputs and TOML writing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(w) for w in v) + "]"
    return repr(v)


def write_toml(path: str | os.PathLike, tables: dict[str, dict[str, Any]]) -> Path:
    """Write nested tables (one level of sub-tables, e.g. solver.params) as TOML."""
    lines: list[str] = []
    for name, table in tables.items():
        lines.append(f"[{name}]")
        subs = {k: v for k, v in table.items() if isinstance(v, dict)}
        for k, v in table.items():
            if not isinstance(v, dict):
                lines.append(f"{k} = {toml_value(v)}")
        for k, sub in subs.items():
            lines.append(f"[{name}.{k}]")
            lines += [f"{kk} = {toml_value(vv)}" for kk, vv in sub.items()]
        lines.append("")
    Path(path).write_text("\n".join(lines))
    return Path(path)


def make_cube(path: str | os.PathLike, rows: int = 12, cols: int = 10, bands: int = 24, p: int = 4,
              seed: int = 0, noise: float = 1e-3, chunks: tuple[int, ...] | None = None,
              compression: str | None = None, endmembers_first: bool = True) -> dict[str, np.ndarray]:
    """A linear-mixing cube (row, col, band) with Dirichlet abundances and non-negative endmembers."""
    import h5py

    rng = np.random.default_rng(seed)
    E = np.abs(rng.standard_normal((bands, p))) + 0.1
    A = rng.dirichlet(np.ones(p), size=(rows, cols))
    Y = A @ E.T + noise * rng.standard_normal((rows, cols, bands))
    with h5py.File(path, "w") as f:
        d = f.create_dataset("cube", data=Y, chunks=chunks, compression=compression)
        for i, lab in enumerate(("row", "col", "band")):
            d.dims[i].label = lab
        f["endmembers"] = E.T if endmembers_first else E
        f["abundances"] = A
    return {"E": E, "A": A, "Y": Y}


def make_signals(path: str | os.PathLike, n: int = 200, m: int = 20, k: int = 40, sparsity: int = 3,
                 seed: int = 0, noise: float = 1e-3, chunks: tuple[int, ...] | None = None,
                 compression: str | None = None) -> dict[str, np.ndarray]:
    """Sparse signals (signal, measurement) with one shared Gaussian dictionary ``/dictionary``."""
    import h5py

    rng = np.random.default_rng(seed)
    D = rng.standard_normal((m, k)) / np.sqrt(m)
    X = np.zeros((n, k))
    for i in range(n):
        amp = rng.choice([-1.0, 1.0], sparsity) * rng.uniform(1, 2, sparsity)
        X[i, rng.choice(k, sparsity, replace=False)] = amp
    Y = X @ D.T + noise * rng.standard_normal((n, m))
    with h5py.File(path, "w") as f:
        d = f.create_dataset("signals", data=Y, chunks=chunks, compression=compression)
        d.dims[0].label = "signal"
        d.dims[1].label = "measurement"
        f["dictionary"] = D
    return {"D": D, "X": X, "Y": Y}


def signals_config(tmp: Path, solver: str = "lsqr", params: dict[str, Any] | None = None,
                   chunk_size: int = 50, on_error: str = "stop", output: str = "out.nc",
                   **extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    cfg: dict[str, dict[str, Any]] = {
        "input": {"file": "signals.h5", "dataset": "/signals", "batch_dims": ["signal"]},
        "model": {"type": "matrix", "dataset": "/dictionary", "state_dims": ["atom"]},
        "solver": {"name": solver, "params": dict(params or {})},
        "output": {"file": output, "chunk_size": chunk_size, "on_error": on_error},
        "execution": {"progress": False},
    }
    for k, v in extra.items():
        cfg.setdefault(k, {}).update(v)
    return cfg


def sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_output(path: str | os.PathLike) -> dict[str, np.ndarray]:
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        for k, v in f.items():
            name = v.attrs.get("NAME", b"") if hasattr(v, "shape") else b""
            name = name.decode() if isinstance(name, bytes) else str(name)
            if hasattr(v, "shape") and "not a netCDF variable" not in name:
                out[k] = v[()]
    return out


class InputGuard:
    """Records mtime and checksum of input files; ``check()`` asserts they did not change."""

    def __init__(self, *paths: str | os.PathLike) -> None:
        self.state = {str(p): (os.stat(p).st_mtime_ns, sha256(p)) for p in paths}

    def check(self) -> None:
        for p, (mt, sh) in self.state.items():
            assert os.stat(p).st_mtime_ns == mt, f"input {p} was modified (mtime)"
            assert sha256(p) == sh, f"input {p} was modified (checksum)"
