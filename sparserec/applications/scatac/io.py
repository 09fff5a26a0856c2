r"""scATAC readers and writers built on h5py alone.

* :class:`H5ADReader` — AnnData ``.h5ad`` (anndata >= 0.8 layout, plus the 0.7 categorical
  reference form): ``obs``/``var`` dataframes, CSR or CSC ``X``, streaming by chunks of cells
  (``indptr`` is the only array read in full).
* :func:`read_10x_h5` — Cell Ranger ATAC/ARC ``filtered_peak_bc_matrix.h5`` (modern ``matrix``
  group and the legacy per-genome layout): the CSC features x barcodes arrays reinterpreted as
  CSR cells x peaks without copying; ARC files keep only ``feature_type == "Peaks"``.
* :func:`write_h5ad` — writes a file that ``anndata.read_h5ad`` reads.
* :func:`count_fragments` — ``fragments.tsv.gz`` to a peak or tile count matrix with a named
  insertion convention.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .peaks import PeakTable, chrom_id

__all__ = ["H5ADReader", "TenXMatrix", "count_fragments", "read_10x_h5", "read_h5ad", "write_h5ad"]


def _h5py():
    try:
        import h5py
    except ImportError as e:  # pragma: no cover
        raise ImportError("scATAC readers need h5py: pip install 'sparserec[bio]'") from e
    return h5py


def _open(path: str):
    h5py = _h5py()
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise OSError(f"{path}: not a readable HDF5 file (truncated or corrupt?): {e}") from e


def _decode(a: Any) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind in ("S", "O"):
        return np.array([x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in a.ravel()],
                        dtype=object).reshape(a.shape)
    return a


def _read_column(h5, node: Any) -> np.ndarray:
    """Decode one dataframe column (array, string-array, categorical, nullable, 0.7 refs)."""
    h5py = _h5py()
    if isinstance(node, h5py.Group):
        et = node.attrs.get("encoding-type", "")
        et = et.decode() if isinstance(et, bytes) else et
        if et == "categorical":
            codes = node["codes"][()].astype(np.int64)
            cats = _decode(node["categories"][()])
            out = np.empty(codes.shape, dtype=object)
            ok = codes >= 0
            out[ok] = cats[codes[ok]]
            out[~ok] = None
            return out
        if et.startswith("nullable"):
            vals = _decode(node["values"][()])
            mask = node["mask"][()].astype(bool)
            out = vals.astype(object)
            out[mask] = None
            return out
        raise ValueError(f"unsupported dataframe column encoding {et!r} at {node.name}")
    data = node[()]
    if "categories" in node.attrs:  # anndata 0.7: codes + object reference to the categories
        ref = node.attrs["categories"]
        cats = _decode(h5[ref][()])
        codes = np.asarray(data).astype(np.int64)
        out = np.empty(codes.shape, dtype=object)
        ok = codes >= 0
        out[ok] = cats[codes[ok]]
        out[~ok] = None
        return out
    return _decode(data)


def _read_dataframe(h5, grp: Any) -> dict[str, np.ndarray]:
    h5py = _h5py()
    if isinstance(grp, h5py.Dataset):
        raise ValueError(f"{grp.name}: compound-dataset dataframes (anndata < 0.7) are not supported")
    idx_name = grp.attrs.get("_index", "_index")
    idx_name = idx_name.decode() if isinstance(idx_name, bytes) else idx_name
    order = np.atleast_1d(grp.attrs.get("column-order", []))
    cols = [c.decode() if isinstance(c, bytes) else str(c) for c in order]
    out: dict[str, np.ndarray] = {}
    if idx_name in grp:
        out["_index"] = _decode(grp[idx_name][()])
    for c in cols:
        if c in grp:
            out[c] = _read_column(h5, grp[c])
    for c in grp:
        if c not in out and c != idx_name and c != "__categories":
            out[c] = _read_column(h5, grp[c])
    return out


class H5ADReader:
    """Lazy reader of an AnnData ``.h5ad`` file.

    Parameters
    ----------
    path : str
    x_key : str, default "X"
        Matrix to read: ``"X"`` or ``"layers/<name>"``.

    Notes
    -----
    Only ``X/indptr`` is read in full; :meth:`iter_cells` reads one ``data``/``indices`` slice
    per chunk and rebases ``indptr``.  A CSC matrix cannot be row-streamed cheaply:
    :meth:`iter_cells` refuses it with a clear error (convert the file once).  The file is opened
    read-only; use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: str, x_key: str = "X") -> None:
        self.path = str(path)
        self._f = _open(self.path)
        if x_key not in self._f:
            self._f.close()
            raise KeyError(f"{path}: no {x_key!r} in the file")
        self._x = self._f[x_key]
        h5py = _h5py()
        if isinstance(self._x, h5py.Group):
            et = self._x.attrs.get("encoding-type", b"")
            et = et.decode() if isinstance(et, bytes) else et
            if et not in ("csr_matrix", "csc_matrix"):
                raise ValueError(f"{path}: unsupported sparse encoding {et!r} for {x_key}")
            self.format = "csr" if et == "csr_matrix" else "csc"
            self.shape = tuple(int(s) for s in self._x.attrs["shape"])
            for k in ("data", "indices", "indptr"):
                if k not in self._x:
                    raise ValueError(f"{path}: sparse {x_key} lacks {k!r} (corrupt file?)")
            self._indptr: np.ndarray | None = None
        else:
            self.format = "dense"
            self.shape = tuple(int(s) for s in self._x.shape)
        self._obs: dict[str, np.ndarray] | None = None
        self._var: dict[str, np.ndarray] | None = None

    # context manager --------------------------------------------------------------
    def __enter__(self) -> H5ADReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._f.close()

    @property
    def n_cells(self) -> int:
        return self.shape[0]

    @property
    def n_peaks(self) -> int:
        return self.shape[1]

    @property
    def obs(self) -> dict[str, np.ndarray]:
        """``obs`` columns (plus ``_index``) as numpy arrays; categoricals decoded to objects."""
        if self._obs is None:
            self._obs = _read_dataframe(self._f, self._f["obs"]) if "obs" in self._f else {}
        return self._obs

    @property
    def var(self) -> dict[str, np.ndarray]:
        """``var`` columns (plus ``_index``)."""
        if self._var is None:
            self._var = _read_dataframe(self._f, self._f["var"]) if "var" in self._f else {}
        return self._var

    def peak_table(self, chrom: str | None = None, start: str | None = None, end: str | None = None,
                   drop_noncanonical: bool = False) -> PeakTable:
        """Peak table from ``var`` columns (auto-detects ``chr/start/end``, ChromFound's
        ``#Chromosome/hg38_Start/hg38_End``, or ``chrom:start-end`` index names)."""
        v = self.var
        cands = [(chrom, start, end), ("#Chromosome", "hg38_Start", "hg38_End"), ("chr", "start", "end"),
                 ("chrom", "start", "end"), ("seqnames", "start", "end")]
        for c, s, e in cands:
            if c is not None and c in v and s in v and e in v:
                ch = v[c]
                ch = np.array([f"chr{x}" if isinstance(x, (int, np.integer)) else x for x in ch],
                              dtype=object)
                return PeakTable(ch, v[s], v[e], drop_noncanonical)
        if "_index" in v:
            return PeakTable.from_names(v["_index"], drop_noncanonical)
        raise KeyError(f"{self.path}: cannot find peak coordinates in var (columns {sorted(v)})")

    def indptr(self) -> np.ndarray:
        """``X/indptr`` as int64 (read once, validated)."""
        if self.format == "dense":
            raise ValueError("dense X has no indptr")
        if self._indptr is None:
            ip = np.asarray(self._x["indptr"][()], dtype=np.int64)
            n_major = self.shape[0] if self.format == "csr" else self.shape[1]
            nnz = self._x["data"].shape[0]
            if ip.shape != (n_major + 1,) or ip[0] != 0 or np.any(np.diff(ip) < 0) or ip[-1] != nnz \
                    or self._x["indices"].shape[0] != nnz:
                raise ValueError(
                    f"{self.path}: inconsistent sparse X (indptr length {ip.shape[0]} for {n_major} "
                    f"rows, last {ip[-1] if ip.size else None}, nnz {nnz}); the file is corrupt")
            self._indptr = ip
        return self._indptr

    def read_rows(self, a: int, b: int, integer: bool = False) -> Any:
        """CSR ``scipy.sparse.csr_array`` of cells ``a:b`` (one slice read per array)."""
        import scipy.sparse as sp

        if self.format == "dense":
            block = np.asarray(self._x[a:b], dtype=np.float32)
            return sp.csr_array(block)
        if self.format != "csr":
            raise ValueError(
                f"{self.path}: X is CSC; streaming by cells needs CSR. Convert the file once (e.g. "
                "anndata: adata.X = adata.X.tocsr(); adata.write_h5ad(...))")
        ip = self.indptr()
        lo, hi = int(ip[a]), int(ip[b])
        data = self._x["data"][lo:hi]
        idx = self._x["indices"][lo:hi].astype(np.int64, copy=False)
        if integer and data.dtype.kind == "f" and not np.all(data == np.round(data)):
            raise ValueError(f"{self.path}: non-integer counts in cells {a}:{b} where integers are required")
        if idx.size and (idx.min() < 0 or idx.max() >= self.shape[1]):
            raise ValueError(f"{self.path}: column index out of range in cells {a}:{b} (corrupt file)")
        return sp.csr_array((data, idx, ip[a:b + 1] - lo), shape=(b - a, self.shape[1]))

    def iter_cells(self, chunk_size: int = 10_000, integer: bool = False) -> Iterator[tuple[slice, Any]]:
        """Yield ``(slice(a, b), csr_chunk)`` over all cells, ``chunk_size`` cells at a time."""
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        for a in range(0, self.n_cells, chunk_size):
            b = min(a + chunk_size, self.n_cells)
            yield slice(a, b), self.read_rows(a, b, integer=integer)

    def read_X(self) -> Any:
        """The whole matrix as CSR (small files; for big ones use :meth:`iter_cells`)."""
        import scipy.sparse as sp

        if self.format == "csc":
            ip = self.indptr()
            m = sp.csc_array((self._x["data"][()], self._x["indices"][()], ip), shape=self.shape)
            return m.tocsr()
        return self.read_rows(0, self.n_cells)


def read_h5ad(path: str, x_key: str = "X") -> dict[str, Any]:
    """Read a whole (small) ``.h5ad``: ``{"X": csr, "obs": dict, "var": dict, "peaks": PeakTable|None}``."""
    with H5ADReader(path, x_key) as r:
        try:
            peaks = r.peak_table(drop_noncanonical=True)
        except (KeyError, ValueError):
            peaks = None
        return {"X": r.read_X(), "obs": r.obs, "var": r.var, "peaks": peaks}


# --------------------------------------------------------------------------- writer
def _str_attr(obj: Any, key: str, val: str) -> None:
    obj.attrs[key] = val


def _write_column(grp: Any, name: str, values: Any) -> None:
    h5py = _h5py()
    v = np.asarray(values)
    if v.dtype.kind in ("U", "O", "S"):
        vals = [None if x is None else (x.decode() if isinstance(x, bytes) else str(x)) for x in v]
        uniq = sorted({x for x in vals if x is not None})
        if len(uniq) < max(1, len(vals)) and name != "_index":
            g = grp.create_group(name)
            _str_attr(g, "encoding-type", "categorical")
            _str_attr(g, "encoding-version", "0.2.0")
            g.attrs["ordered"] = False
            lut = {c: i for i, c in enumerate(uniq)}
            codes = np.array([-1 if x is None else lut[x] for x in vals], dtype=np.int32)
            cds = g.create_dataset("codes", data=codes)
            _str_attr(cds, "encoding-type", "array")
            _str_attr(cds, "encoding-version", "0.2.0")
            cd = g.create_dataset("categories", data=np.array(uniq, dtype=object), dtype=h5py.string_dtype())
            _str_attr(cd, "encoding-type", "string-array")
            _str_attr(cd, "encoding-version", "0.2.0")
            return
        ds = grp.create_dataset(name, data=np.array(["" if x is None else x for x in vals], dtype=object),
                                dtype=h5py.string_dtype())
        _str_attr(ds, "encoding-type", "string-array")
        _str_attr(ds, "encoding-version", "0.2.0")
        return
    ds = grp.create_dataset(name, data=v)
    _str_attr(ds, "encoding-type", "array")
    _str_attr(ds, "encoding-version", "0.2.0")


def _write_dataframe(f: Any, key: str, cols: dict[str, Any], n: int) -> None:
    g = f.create_group(key)
    _str_attr(g, "encoding-type", "dataframe")
    _str_attr(g, "encoding-version", "0.2.0")
    index = cols.get("_index")
    if index is None:
        index = np.array([str(i) for i in range(n)], dtype=object)
    _write_column(g, "_index", index)
    g.attrs["_index"] = "_index"
    order = [c for c in cols if c != "_index"]
    g.attrs["column-order"] = np.array(order, dtype=object) if order else np.array([], dtype="S1")
    if order:
        import h5py

        g.attrs.create("column-order", np.array(order, dtype=object), dtype=h5py.string_dtype())
    for c in order:
        if len(cols[c]) != n:
            raise ValueError(f"{key} column {c!r} has length {len(cols[c])}, expected {n}")
        _write_column(g, c, cols[c])


def write_h5ad(path: str, X: Any, obs: dict[str, Any] | None = None, var: dict[str, Any] | None = None,
               overwrite: bool = False) -> None:
    """Write a CSR matrix with ``obs``/``var`` columns as an anndata >= 0.8 ``.h5ad``.

    The file is written to ``path + ".tmp"`` and renamed on success, so a failure never leaves a
    half-written file at ``path``.  Strings are variable-length UTF-8; repeated string columns are
    written as categoricals.  ``anndata.read_h5ad`` reads the result.
    """
    import scipy.sparse as sp

    h5py = _h5py()
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    X = sp.csr_array(X)
    n, p = X.shape
    tmp = str(path) + ".tmp"
    try:
        with h5py.File(tmp, "w") as f:
            _str_attr(f, "encoding-type", "anndata")
            _str_attr(f, "encoding-version", "0.1.0")
            g = f.create_group("X")
            _str_attr(g, "encoding-type", "csr_matrix")
            _str_attr(g, "encoding-version", "0.1.0")
            g.attrs["shape"] = np.array([n, p], dtype=np.int64)
            g.create_dataset("data", data=X.data)
            g.create_dataset("indices", data=X.indices.astype(np.int32 if p < 2**31 else np.int64))
            g.create_dataset("indptr", data=X.indptr.astype(np.int64))
            _write_dataframe(f, "obs", dict(obs or {}), n)
            _write_dataframe(f, "var", dict(var or {}), p)
            for key in ("obsm", "varm", "obsp", "varp", "layers", "uns"):
                e = f.create_group(key)
                _str_attr(e, "encoding-type", "dict")
                _str_attr(e, "encoding-version", "0.1.0")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


# --------------------------------------------------------------------------- 10x
@dataclass
class TenXMatrix:
    """A 10x peak-barcode matrix as CSR cells x peaks.

    Attributes
    ----------
    X : scipy.sparse.csr_array of shape (n_barcodes, n_peaks)
    barcodes : numpy.ndarray of str
    peaks : PeakTable
    feature_ids : numpy.ndarray of str
    genome : numpy.ndarray of str or None
    """

    X: Any
    barcodes: np.ndarray
    peaks: PeakTable
    feature_ids: np.ndarray
    genome: np.ndarray | None


def read_10x_h5(path: str, drop_noncanonical: bool = True) -> TenXMatrix:
    """Read a Cell Ranger ATAC/ARC ``filtered_peak_bc_matrix.h5`` with h5py.

    The CSC (features x barcodes) arrays are reinterpreted as CSR (barcodes x features) without
    copying (``indptr`` cast to int64, ``data`` to float32).  ARC files keep only features with
    ``feature_type == "Peaks"``.  Peak coordinates come from ``features/id`` (or ``name``,
    ``interval``); ``chrom:start-end``, ``chrom-start-end`` and ``chrom_start_end`` all parse.
    The legacy layout (one group per genome with ``genes``/``gene_names``) is also read.
    """
    import scipy.sparse as sp

    with _open(path) as f:
        if "matrix" in f:
            g = f["matrix"]
            feats = g["features"]
            ids = _decode(feats["id"][()])
            names = _decode(feats["name"][()]) if "name" in feats else ids
            ftype = _decode(feats["feature_type"][()]) if "feature_type" in feats else None
            genome = _decode(feats["genome"][()]) if "genome" in feats else None
            interval = _decode(feats["interval"][()]) if "interval" in feats else None
        else:
            groups = [k for k in f if isinstance(f[k], _h5py().Group)]
            if len(groups) != 1:
                raise ValueError(f"{path}: neither a 'matrix' group nor a single legacy genome group")
            g = f[groups[0]]
            ids = _decode(g["genes"][()])
            names = _decode(g["gene_names"][()]) if "gene_names" in g else ids
            ftype, genome, interval = None, np.array([groups[0]] * len(ids), dtype=object), None
        for k in ("data", "indices", "indptr", "shape", "barcodes"):
            if k not in g:
                raise ValueError(f"{path}: matrix lacks {k!r} (corrupt or not a 10x file)")
        shape = tuple(int(s) for s in g["shape"][()])
        data = g["data"][()].astype(np.float32)
        indices = g["indices"][()].astype(np.int64)
        indptr = g["indptr"][()].astype(np.int64)
        barcodes = _decode(g["barcodes"][()])
    n_feat, n_bc = shape
    if indptr.shape[0] != n_bc + 1 or indptr[-1] != data.shape[0] or indices.shape != data.shape:
        raise ValueError(f"{path}: inconsistent indptr/indices/data for shape {shape}")
    X = sp.csr_array((data, indices, indptr), shape=(n_bc, n_feat))
    keep = np.arange(n_feat)
    if ftype is not None:
        keep = np.nonzero(ftype == "Peaks")[0]
        if keep.size < n_feat:
            X = X[:, keep]
    src = ids[keep]
    try:
        peaks = PeakTable.from_names(src, drop_noncanonical=drop_noncanonical)
    except ValueError:
        alt = interval[keep] if interval is not None else names[keep]
        peaks = PeakTable.from_names(alt, drop_noncanonical=drop_noncanonical)
    if peaks.keep.size < len(src):
        X = X[:, peaks.keep]
    return TenXMatrix(X=sp.csr_array(X), barcodes=barcodes, peaks=peaks, feature_ids=src[peaks.keep],
                      genome=None if genome is None else genome[keep][peaks.keep])


# --------------------------------------------------------------------------- fragments
def count_fragments(path: str, peaks: PeakTable | None = None, *, tile_size: int | None = None,
                    chrom_sizes: dict[str, int] | None = None, barcodes: Sequence[str] | None = None,
                    strategy: str = "insertion") -> tuple[Any, np.ndarray, dict[str, Any]]:
    """Count a ``fragments.tsv.gz`` file into a cells x peaks (or tiles) matrix.

    Parameters
    ----------
    path : str
        Fragments file (gzip/BGZF or plain), ``#`` header lines, columns
        ``chrom, start, end, barcode, readSupport`` (0-based, half-open, Tn5-shift adjusted).
    peaks : PeakTable, optional
        Features to count into.  Exactly one of ``peaks`` and ``tile_size`` is required.
    tile_size : int, optional
        Count into genome-wide tiles of this width (needs ``chrom_sizes``).
    chrom_sizes : dict, optional
        Contig lengths; fragments on contigs missing from it are counted in the report.
    barcodes : sequence of str, optional
        Whitelist (row order of the output).  Default: barcodes in order of first appearance.
    strategy : {"insertion", "paired-insertion", "fragment"}
        ``insertion``: the two Tn5 cuts ``[start, start+1)`` and ``[end-1, end)`` each count 1;
        ``paired-insertion``: at most 1 per fragment and feature; ``fragment``: 1 if the whole
        fragment overlaps the feature.

    Returns
    -------
    X : scipy.sparse.csr_array (n_cells, n_features), int32
    barcodes : numpy.ndarray of str
    report : dict
        ``n_fragments``, ``n_outside_whitelist``, ``n_unknown_contig`` (per contig),
        ``n_noncanonical``.
    """
    import gzip

    import scipy.sparse as sp

    if strategy not in ("insertion", "paired-insertion", "fragment"):
        raise ValueError(f"strategy must be 'insertion', 'paired-insertion' or 'fragment', got {strategy!r}")
    if (peaks is None) == (tile_size is None):
        raise ValueError("give exactly one of peaks= or tile_size=")
    if tile_size is not None:
        if chrom_sizes is None:
            raise ValueError("tile counting needs chrom_sizes")
        ch, st, en = [], [], []
        for c, size in chrom_sizes.items():
            if chrom_id(c) < 0:
                continue
            s = np.arange(0, int(size), int(tile_size))
            ch.extend([c] * len(s))
            st.extend(s.tolist())
            en.extend(np.minimum(s + tile_size, size).tolist())
        peaks = PeakTable(np.array(ch, dtype=object), np.array(st), np.array(en))
    assert peaks is not None
    wl = None if barcodes is None else {b: i for i, b in enumerate(barcodes)}
    bc_index: dict[str, int] = {} if wl is None else dict(wl)
    report: dict[str, Any] = {"n_fragments": 0, "n_outside_whitelist": 0, "n_unknown_contig": {},
                              "n_noncanonical": 0}
    by_chrom: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    for cid in np.unique(peaks.chrom_ids):
        idx = np.nonzero(peaks.chrom_ids == cid)[0]
        o = idx[np.argsort(peaks.start[idx], kind="stable")]
        by_chrom[int(cid)] = (o, peaks.start[o], peaks.end[o], np.maximum.accumulate(peaks.end[o]))
    rows: list[int] = []
    cols: list[int] = []
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as f:
        for ln, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 4:
                raise ValueError(f"{path}:{ln}: expected >= 4 tab-separated columns")
            report["n_fragments"] += 1
            c, s, e, bc = parts[0], int(parts[1]), int(parts[2]), parts[3]
            if chrom_sizes is not None and c not in chrom_sizes:
                report["n_unknown_contig"][c] = report["n_unknown_contig"].get(c, 0) + 1
                continue
            cid = chrom_id(c)
            if cid < 0:
                report["n_noncanonical"] += 1
                continue
            if wl is not None and bc not in wl:
                report["n_outside_whitelist"] += 1
                continue
            row = bc_index.setdefault(bc, len(bc_index))
            if cid not in by_chrom:
                continue
            order, ps, pe, runmax = by_chrom[cid]
            if strategy == "fragment":
                ivs = [(s, e)]
            else:
                ivs = [(s, s + 1), (e - 1, e)]
            hits_all: list[int] = []
            for a, b in ivs:
                lo = int(np.searchsorted(runmax, a, side="right"))
                hi = int(np.searchsorted(ps, b, side="left"))
                for k in range(lo, hi):
                    if pe[k] > a:
                        hits_all.append(int(order[k]))
            if strategy != "insertion":
                hits_all = sorted(set(hits_all))
            rows.extend([row] * len(hits_all))
            cols.extend(hits_all)
    names = np.array(list(bc_index), dtype=object)
    X = sp.csr_array((np.ones(len(rows), np.int32), (np.asarray(rows, np.int64), np.asarray(cols, np.int64))),
                     shape=(len(names), len(peaks)))
    X.sum_duplicates()
    return X, names, report
