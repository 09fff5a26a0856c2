r"""Seeded planted-cluster scATAC generator (matrix, peak table, fragments, on-disk ``.h5ad``).

Model (deterministic from ``(seed, n_cells, n_peaks, n_types)``): peaks are split into a shared
block and one specific block per cell type; a cell of type k opens shared peaks with probability
``p_shared`` (≈ 0.02–0.05) and the peaks of block k with ``p_specific`` (≈ 0.2–0.4), scaled by a
log-normal depth factor; open peaks get counts 1 + Poisson(0.4) clipped at 4.  Peaks are sorted,
non-overlapping 500 bp intervals over chr1–22, X with random gaps.
"""

from __future__ import annotations

import gzip
from typing import Any

import numpy as np

from .peaks import PeakTable

__all__ = ["planted_clusters", "synthetic_peaks", "write_fragments", "write_synthetic_h5ad"]

_CHROMS = [f"chr{i}" for i in range(1, 23)] + ["chrX"]


def synthetic_peaks(n_peaks: int, seed: int = 0, width: int = 500) -> PeakTable:
    """Sorted, non-overlapping ``width``-bp peaks over chr1–22, X with random gaps."""
    rng = np.random.default_rng([seed, 1])
    per = np.full(len(_CHROMS), n_peaks // len(_CHROMS))
    per[: n_peaks % len(_CHROMS)] += 1
    chrom, start = [], []
    for c, k in zip(_CHROMS, per):
        gaps = rng.integers(100, 20_000, size=k)
        s = 10_000 + np.cumsum(gaps + width) - width
        chrom.extend([c] * k)
        start.append(s)
    st = np.concatenate(start).astype(np.int64)
    return PeakTable(np.array(chrom, dtype=object), st, st + width)


def _cells(rng: np.random.Generator, labels: np.ndarray, n_peaks: int, n_types: int,
           p_shared: float, p_specific: float, frac_specific: float) -> Any:
    import scipy.sparse as sp

    n = labels.size
    n_spec = int(frac_specific * n_peaks) // n_types
    shared_end = n_peaks - n_spec * n_types
    depth = rng.lognormal(0.0, 0.3, size=n)
    rows, cols = [], []
    for i in range(n):
        k = labels[i]
        ps = min(1.0, p_shared * depth[i])
        pk = min(1.0, p_specific * depth[i])
        ns = rng.binomial(shared_end, ps)
        a = rng.choice(shared_end, size=ns, replace=False) if ns else np.zeros(0, np.int64)
        lo = shared_end + k * n_spec
        nk = rng.binomial(n_spec, pk)
        b = lo + rng.choice(n_spec, size=nk, replace=False) if nk else np.zeros(0, np.int64)
        c = np.sort(np.concatenate([a, b]))
        rows.append(np.full(c.size, i, np.int64))
        cols.append(c)
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    vals = np.minimum(1 + rng.poisson(0.4, size=r.size), 4).astype(np.float32)
    return sp.csr_array((vals, (r, c)), shape=(n, n_peaks))


def planted_clusters(n_cells: int = 2000, n_peaks: int = 20000, n_types: int = 6, seed: int = 0,
                     p_shared: float = 0.03, p_specific: float = 0.3,
                     frac_specific: float = 0.3) -> tuple[Any, np.ndarray, PeakTable]:
    """Planted-cluster counts.

    Returns
    -------
    X : scipy.sparse.csr_array (n_cells, n_peaks), float32 counts in 1..4
    labels : int array (n_cells,)
    peaks : PeakTable
    """
    if n_types < 1 or n_cells < 1 or n_peaks < n_types:
        raise ValueError("need n_cells >= 1, n_types >= 1 and n_peaks >= n_types")
    rng = np.random.default_rng([seed, 0])
    labels = rng.integers(0, n_types, size=n_cells)
    X = _cells(rng, labels, n_peaks, n_types, p_shared, p_specific, frac_specific)
    return X, labels, synthetic_peaks(n_peaks, seed)


def write_synthetic_h5ad(path: str, n_cells: int, n_peaks: int, nnz_per_cell: int = 10,
                         chunk_size: int = 50_000, seed: int = 0) -> None:
    """Write a large sparse CSR ``.h5ad`` chunk by chunk (never more than one chunk in RAM).

    Each cell has ``Poisson(nnz_per_cell)`` non-zeros at uniformly random peaks (counts 1..4).
    Used for the streaming memory benchmark (1 M cells x 50 k peaks).
    """
    import h5py

    from .io import _write_dataframe

    peaks = synthetic_peaks(n_peaks, seed)
    tmp = str(path) + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["encoding-type"] = "anndata"
        f.attrs["encoding-version"] = "0.1.0"
        g = f.create_group("X")
        g.attrs["encoding-type"] = "csr_matrix"
        g.attrs["encoding-version"] = "0.1.0"
        g.attrs["shape"] = np.array([n_cells, n_peaks], np.int64)
        data = g.create_dataset("data", shape=(0,), maxshape=(None,), dtype=np.float32, chunks=(1 << 18,))
        idx = g.create_dataset("indices", shape=(0,), maxshape=(None,), dtype=np.int32, chunks=(1 << 18,))
        indptr = np.zeros(n_cells + 1, np.int64)
        total = 0
        for a in range(0, n_cells, chunk_size):
            b = min(a + chunk_size, n_cells)
            rng = np.random.default_rng([seed, a])
            k = rng.poisson(nnz_per_cell, size=b - a)
            rows = np.repeat(np.arange(b - a, dtype=np.int64), k)
            keys = np.unique(rows * n_peaks + rng.integers(0, n_peaks, size=rows.size))
            lens = np.bincount(keys // n_peaks, minlength=b - a).astype(np.int64)
            flat = (keys % n_peaks).astype(np.int32)
            vals = np.minimum(1 + rng.poisson(0.4, size=flat.size), 4).astype(np.float32)
            data.resize((total + flat.size,))
            idx.resize((total + flat.size,))
            data[total:] = vals
            idx[total:] = flat
            indptr[a + 1:b + 1] = total + np.cumsum(lens)
            total += flat.size
        g.create_dataset("indptr", data=indptr)
        _write_dataframe(f, "obs", {}, n_cells)
        _write_dataframe(f, "var", {"chr": peaks.chrom, "start": peaks.start, "end": peaks.end}, n_peaks)
    import os

    os.replace(tmp, path)


def write_fragments(path: str, X: Any, peaks: PeakTable, barcodes: list[str] | None = None,
                    seed: int = 0, extra_contigs: dict[str, int] | None = None) -> list[str]:
    """Write a ``fragments.tsv.gz`` consistent with counts ``X`` (one fragment per count, inside
    its peak), position-sorted, with ``#`` header lines; returns the barcodes.

    ``extra_contigs`` adds that many fragments on other contigs (e.g. ``{"chrM": 5}``).
    """
    import scipy.sparse as sp

    X = sp.csr_array(X)
    rng = np.random.default_rng([seed, 7])
    n = X.shape[0]
    bcs = barcodes or [f"CELL{i:06d}-1" for i in range(n)]
    recs = []
    for i in range(n):
        for j, v in zip(X.indices[X.indptr[i]:X.indptr[i + 1]], X.data[X.indptr[i]:X.indptr[i + 1]]):
            for _ in range(int(v)):
                s = int(peaks.start[j]) + int(rng.integers(0, 200))
                e = s + int(rng.integers(50, 280))
                recs.append((int(peaks.chrom_ids[j]), str(peaks.chrom[j]), s, e, bcs[i]))
    for c, k in (extra_contigs or {}).items():
        for _ in range(k):
            s = int(rng.integers(0, 10_000))
            recs.append((99, c, s, s + 100, bcs[0]))
    recs.sort(key=lambda r: (r[0], r[2], r[3], r[4]))
    with gzip.open(path, "wt") as f:
        f.write("# id=synthetic\n# reference_path=none\n")
        for _, c, s, e, b in recs:
            f.write(f"{c}\t{s}\t{e}\t{b}\t1\n")
    return bcs
