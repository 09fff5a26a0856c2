r"""Genome-aware tokenization of scATAC cells (ChromFound-compatible) and its exact inverse.

A token is ``(value, chromosome id, start, end)``.  Two modes:

* ``mode="dense"`` (ChromFound's released scheme): every peak of the table is a token, zeros
  included, in ``order="var"`` (matrix column order, ChromFound's default) or ``"genomic"``; the
  first ``max_length`` peaks are kept, shorter sequences are padded with value ``-1``,
  chromosome ``pad`` (0), start 0, end 0.
* ``mode="nonzero"``: only accessible peaks, in ``order="genomic"``, ``"var"`` or
  ``"value_desc"`` (rank-value encoding as in Geneformer/EpiAgent: descending value, ties in
  genomic order), optionally with ``zero_sampling`` seeded negatives per positive.

Results are ragged (:class:`Tokens`: flat arrays plus per-cell offsets), identical whatever the
chunking; :meth:`Tokens.padded` gives the fixed-length arrays a model consumes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .peaks import PeakTable

__all__ = [
    "Tokens",
    "collate_tokens",
    "coordinate_encoding",
    "detokenize",
    "iter_tokenize",
    "mask_tokens",
    "tokenize",
]

#: bytes per dense token (float32 value + int8 chrom + 2 x int32 coordinates)
TOKEN_BYTES = 13


@dataclass
class Tokens:
    """Ragged token sequences of a batch of cells.

    Attributes
    ----------
    value : float32 array (n_tokens,)
    chrom : int8 array (n_tokens,)
        Vocabulary ids (see :data:`~sparserec.applications.scatac.peaks.CHROM_VOCAB`).
    start, end : int64 arrays (n_tokens,)
    peak : int64 array (n_tokens,)
        Column index of each token's peak in the peak table.
    offsets : int64 array (n_cells + 1,)
        Tokens of cell ``i`` are ``offsets[i]:offsets[i+1]``.
    """

    value: np.ndarray
    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    peak: np.ndarray
    offsets: np.ndarray

    @property
    def n_cells(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def cell(self, i: int) -> dict[str, np.ndarray]:
        """Token arrays of cell ``i``."""
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return {k: getattr(self, k)[a:b] for k in ("value", "chrom", "start", "end", "peak")}

    def padded(self, max_length: int | None = None, pad_value: float = -1.0) -> dict[str, np.ndarray]:
        """Fixed-length arrays ``value, chrom, start, end, peak, mask`` of shape
        ``(n_cells, max_length)``; longer sequences are truncated (first tokens kept), shorter
        ones padded with ``(pad_value, 0, 0, 0)`` and peak ``-1``."""
        L = int(self.lengths.max(initial=0)) if max_length is None else int(max_length)
        n = self.n_cells
        out = {
            "value": np.full((n, L), pad_value, np.float32),
            "chrom": np.zeros((n, L), np.int8),
            "start": np.zeros((n, L), np.int64),
            "end": np.zeros((n, L), np.int64),
            "peak": np.full((n, L), -1, np.int64),
        }
        lens = np.minimum(self.lengths, L)
        rows = np.repeat(np.arange(n), lens)
        pos = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
        src = np.repeat(self.offsets[:-1], lens) + pos
        for k in ("value", "chrom", "start", "end", "peak"):
            out[k][rows, pos] = getattr(self, k)[src]
        out["mask"] = out["peak"] >= 0
        return out

    def digest(self) -> str:
        """SHA-256 of all arrays (for determinism checks)."""
        import hashlib

        h = hashlib.sha256()
        for k in ("value", "chrom", "start", "end", "peak", "offsets"):
            h.update(np.ascontiguousarray(getattr(self, k)).tobytes())
        return h.hexdigest()

    @staticmethod
    def concat(parts: list[Tokens]) -> Tokens:
        """Concatenate token batches of consecutive cells."""
        if not parts:
            z = np.zeros(0, np.int64)
            return Tokens(np.zeros(0, np.float32), np.zeros(0, np.int8), z, z, z, np.zeros(1, np.int64))
        offs = [parts[0].offsets]
        base = parts[0].offsets[-1]
        for p in parts[1:]:
            offs.append(p.offsets[1:] + base)
            base = base + p.offsets[-1]
        return Tokens(*(np.concatenate([getattr(p, k) for p in parts])
                        for k in ("value", "chrom", "start", "end", "peak")), np.concatenate(offs))


def _order(peaks: PeakTable, order: str) -> np.ndarray:
    if order == "var":
        return np.arange(len(peaks))
    if order == "genomic":
        return peaks.genomic_order()
    raise ValueError(f"order must be 'var', 'genomic' or 'value_desc', got {order!r}")


def tokenize(X: Any, peaks: PeakTable, *, mode: str = "nonzero", order: str = "genomic",
             max_length: int | None = None, zero_sampling: int = 0, seed: int = 0,
             cell_offset: int = 0, budget_bytes: float = 2**31) -> Tokens:
    """Tokenize the rows of a cells x peaks CSR matrix.

    Parameters
    ----------
    X : scipy.sparse matrix/array (n_cells, n_peaks)
        Accessibility values (counts or normalised values).
    peaks : PeakTable
        Peak table of the columns (``len(peaks) == n_peaks``).
    mode : {"nonzero", "dense"}
        See the module docstring.  ``dense`` reproduces ChromFound's released processing.
    order : {"genomic", "var", "value_desc"}
        Token order (``value_desc`` only in nonzero mode).
    max_length : int, optional
        Keep the first ``max_length`` tokens of each cell (required in dense mode if the
        dense tokens would exceed ``budget_bytes``).
    zero_sampling : int, default 0
        Nonzero mode: add ``zero_sampling`` zero-valued tokens per non-zero, drawn without
        replacement among the cell's zero peaks with a generator seeded by
        ``(seed, global cell index)`` — identical whatever the chunking.
    seed : int
    cell_offset : int
        Global index of the first row (for chunked calls).
    budget_bytes : float
        Refuse (``MemoryError``) to materialise more dense tokens than this.

    Returns
    -------
    Tokens
    """
    import scipy.sparse as sp

    X = sp.csr_array(X)
    n, p = X.shape
    if len(peaks) != p:
        raise ValueError(f"peak table has {len(peaks)} peaks but X has {p} columns")
    if mode not in ("nonzero", "dense"):
        raise ValueError(f"mode must be 'nonzero' or 'dense', got {mode!r}")
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    if X.nnz and not np.all(np.isfinite(X.data)):
        raise ValueError("X contains NaN or Inf values")
    X.sort_indices()
    if mode == "dense":
        if order == "value_desc":
            raise ValueError("order='value_desc' is only defined for mode='nonzero'")
        perm = _order(peaks, order)
        L = p if max_length is None else min(p, max_length)
        need = float(n) * L * TOKEN_BYTES
        if need > budget_bytes:
            raise MemoryError(
                f"dense tokens for {n} cells x {L} peaks need {need / 1e9:.1f} GB (> budget "
                f"{budget_bytes / 1e9:.1f} GB); tokenize in smaller chunks with iter_tokenize or raise "
                "budget_bytes")
        cols = perm[:L]
        dense = X[:, cols].toarray().astype(np.float32)
        offsets = np.arange(n + 1, dtype=np.int64) * L
        peak = np.tile(cols.astype(np.int64), n)
        return Tokens(dense.ravel(), np.tile(peaks.chrom_ids[cols], n), np.tile(peaks.start[cols], n),
                      np.tile(peaks.end[cols], n), peak, offsets)

    # nonzero mode: keep explicit non-zeros only
    Xc = X.copy()
    Xc.eliminate_zeros()
    lens = np.diff(Xc.indptr).astype(np.int64)
    rows = np.repeat(np.arange(n, dtype=np.int64), lens)
    cols = Xc.indices.astype(np.int64)
    vals = Xc.data.astype(np.float32)
    if zero_sampling:
        if zero_sampling < 0:
            raise ValueError("zero_sampling must be >= 0")
        zr, zc = [], []
        for i in range(n):
            pos = cols[Xc.indptr[i]:Xc.indptr[i + 1]]
            k = min(zero_sampling * pos.size, p - pos.size)
            if k <= 0:
                continue
            rng = np.random.default_rng([int(seed), int(cell_offset + i)])
            zeros = np.setdiff1d(np.arange(p), pos, assume_unique=True)
            pick = np.sort(rng.choice(zeros, size=k, replace=False))
            zr.append(np.full(k, i, np.int64))
            zc.append(pick.astype(np.int64))
        if zr:
            rows = np.concatenate([rows, *zr])
            cols = np.concatenate([cols, *zc])
            vals = np.concatenate([vals, np.zeros(sum(z.size for z in zr), np.float32)])
    if order == "var":
        key = (cols,)
    elif order == "genomic":
        rank = np.empty(p, np.int64)
        rank[peaks.genomic_order()] = np.arange(p)
        key = (rank[cols],)
    elif order == "value_desc":
        rank = np.empty(p, np.int64)
        rank[peaks.genomic_order()] = np.arange(p)
        key = (rank[cols], -vals.astype(np.float64))
    else:
        raise ValueError(f"order must be 'var', 'genomic' or 'value_desc', got {order!r}")
    o = np.lexsort((*key, rows))
    rows, cols, vals = rows[o], cols[o], vals[o]
    counts = np.bincount(rows, minlength=n).astype(np.int64)
    if max_length is not None:
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        within = np.arange(rows.size) - np.repeat(starts, counts)
        keep = within < max_length
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
        counts = np.minimum(counts, max_length)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Tokens(vals, peaks.chrom_ids[cols], peaks.start[cols], peaks.end[cols], cols, offsets)


def iter_tokenize(reader: Any, peaks: PeakTable | None = None, chunk_size: int = 10_000,
                  **kwargs: Any) -> Iterator[tuple[slice, Tokens]]:
    """Stream :func:`tokenize` over an :class:`~sparserec.applications.scatac.io.H5ADReader`,
    one chunk of cells at a time (never more than one chunk in memory)."""
    pt = reader.peak_table() if peaks is None else peaks
    for sl, chunk in reader.iter_cells(chunk_size):
        yield sl, tokenize(chunk, pt, cell_offset=sl.start, **kwargs)


def detokenize(tokens: Tokens, peaks: PeakTable, use_coordinates: bool = True) -> Any:
    """Exact inverse of :func:`tokenize`: the cells x peaks CSR matrix of the non-zero tokens.

    With ``use_coordinates=True`` each token's ``(chrom id, start, end)`` is looked up in the
    peak table (raising ``KeyError`` for a token matching no peak), so tokens produced
    elsewhere map back too; otherwise the stored peak index is used.
    """
    import scipy.sparse as sp

    if use_coordinates:
        if len(peaks) and (peaks.end.max() >= 2**28 or tokens.end.max(initial=0) >= 2**28):
            raise ValueError("coordinates beyond 2^28 bp are not supported by the key encoding")

        def key(c: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
            return (c.astype(np.int64) << 56) | (s.astype(np.int64) << 28) | e.astype(np.int64)

        pk = key(peaks.chrom_ids, peaks.start, peaks.end)
        o = np.argsort(pk, kind="stable")
        tk = key(tokens.chrom, tokens.start, tokens.end)
        pos = np.searchsorted(pk[o], tk)
        pos = np.minimum(pos, max(len(pk) - 1, 0))
        miss = (pk[o][pos] != tk) if len(pk) else np.ones(tk.shape, bool)
        if np.any(miss):
            i = int(np.nonzero(miss)[0][0])
            raise KeyError(f"token {i} (chrom {tokens.chrom[i]}, {tokens.start[i]}-{tokens.end[i]}) "
                           "matches no peak of the table")
        cols = o[pos]
    else:
        cols = tokens.peak
    rows = np.repeat(np.arange(tokens.n_cells), tokens.lengths)
    nz = tokens.value != 0
    X = sp.csr_array((tokens.value[nz], (rows[nz], cols[nz])), shape=(tokens.n_cells, len(peaks)))
    X.sort_indices()
    return X


def coordinate_encoding(position: Any, temperature: float = 1e5, dim: int = 128) -> np.ndarray:
    r"""ChromFound's sinusoidal genomic-coordinate encoding.

    .. math:: \theta_i(p) = \frac{p}{T\,10000^{2i/d}},\quad \mathrm{PE}_{2i} = \sin\theta_i,
              \ \mathrm{PE}_{2i+1} = \cos\theta_i,\quad i = 0..d/2-1,

    with ``p`` the raw base-pair coordinate.  With T = 1e5 the shortest wavelength is
    :math:`2\pi T \approx 628` kb: the encoding carries coarse (100 kb–Mb) location only; the
    start and end of a 500 bp peak encode almost identically.

    Returns an array of shape ``(*position.shape, dim)`` (float64).
    """
    if dim % 2:
        raise ValueError(f"dim must be even, got {dim}")
    p = np.asarray(position, dtype=np.float64)[..., None]
    i = np.arange(dim // 2, dtype=np.float64)
    ang = p / (temperature * 10000.0 ** (2 * i / dim))
    out = np.empty(p.shape[:-1] + (dim,), np.float64)
    out[..., 0::2] = np.sin(ang)
    out[..., 1::2] = np.cos(ang)
    return out


def mask_tokens(value: Any, pad_mask: Any, prob: float = 0.15, seed: int = 0,
                exclude_padding: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """ChromFound-style corruption for masked-value pretraining.

    Each zero-valued token is selected with probability ``prob`` and given a value drawn
    uniformly from the non-zero values of the batch; each non-zero token is selected with
    probability ``prob`` and set to 0; padding keeps its value.  With
    ``exclude_padding=False`` the released code's behaviour is reproduced (pad values ``-1``
    count as "non-zero" candidates); the default excludes them.

    Returns ``(corrupted_values, selected_mask)``.
    """
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"prob must be in [0, 1], got {prob}")
    v = np.asarray(value, dtype=np.float32)
    valid = np.asarray(pad_mask, dtype=bool)
    if v.shape != valid.shape:
        raise ValueError(f"value {v.shape} and pad_mask {valid.shape} shapes differ")
    rng = np.random.default_rng(seed)
    sel = rng.random(v.shape) < prob
    out = v.copy()
    cand = (v != 0) & (valid if exclude_padding else np.ones_like(valid))
    pool = v[cand]
    zsel = sel & (v == 0) & valid
    if pool.size:
        out[zsel] = pool[rng.integers(0, pool.size, size=int(zsel.sum()))]
    nzsel = sel & (v != 0) & valid
    out[nzsel] = 0.0
    out[~valid] = v[~valid]
    return out, (zsel | nzsel)


def collate_tokens(batch: list[dict[str, Any]], max_length: int | None = None,
                   pad_value: float = -1.0) -> dict[str, Any]:
    """Collate per-cell token dicts (numpy or torch) into padded torch tensors plus a mask.

    Output keys: ``value`` (float32), ``chrom`` (long), ``start``, ``end`` (long), ``mask``
    (bool, True on real tokens) and any extra scalar key (e.g. ``label``) stacked.
    """
    import torch

    lens = [len(b["value"]) for b in batch]
    L = max(lens, default=0) if max_length is None else int(max_length)
    n = len(batch)
    out = {
        "value": torch.full((n, L), pad_value, dtype=torch.float32),
        "chrom": torch.zeros((n, L), dtype=torch.long),
        "start": torch.zeros((n, L), dtype=torch.long),
        "end": torch.zeros((n, L), dtype=torch.long),
        "mask": torch.zeros((n, L), dtype=torch.bool),
    }
    for i, b in enumerate(batch):
        m = min(lens[i], L)
        for k in ("value", "chrom", "start", "end"):
            out[k][i, :m] = torch.as_tensor(np.asarray(b[k][:m]))
        out["mask"][i, :m] = True
    extra = [k for k in batch[0] if k not in ("value", "chrom", "start", "end", "peak")] if batch else []
    for k in extra:
        out[k] = torch.as_tensor(np.asarray([b[k] for b in batch]))
    return out


class TokenDataset:
    """A map-style torch ``Dataset`` of tokenized cells read lazily from an ``.h5ad`` file.

    Parameters
    ----------
    path : str
        ``.h5ad`` file (CSR ``X``).
    labels : str, optional
        ``obs`` column returned as integer codes under ``"label"``.
    **tokenize_kwargs
        Passed to :func:`tokenize` (``mode``, ``order``, ``max_length``, ``zero_sampling``...).

    Use with ``torch.utils.data.DataLoader(ds, batch_size=..., collate_fn=collate_tokens)``.
    """

    def __init__(self, path: str, labels: str | None = None, **tokenize_kwargs: Any) -> None:
        from .io import H5ADReader

        self.path = path
        self.kwargs = tokenize_kwargs
        with H5ADReader(path) as r:
            self.peaks = r.peak_table(drop_noncanonical=True)
            self.n = r.n_cells
            self.label_codes = None
            self.classes = None
            if labels is not None:
                col = r.obs[labels]
                self.classes, self.label_codes = np.unique(col.astype(str), return_inverse=True)
        self._reader = None

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        from .io import H5ADReader

        if not -self.n <= i < self.n:
            raise IndexError(i)
        i = i % self.n
        if self._reader is None:
            self._reader = H5ADReader(self.path)
        row = self._reader.read_rows(i, i + 1)
        if self.peaks.keep.size != row.shape[1]:
            row = row[:, self.peaks.keep]
        t = tokenize(row, self.peaks, cell_offset=i, **self.kwargs)
        item = {k: v for k, v in t.cell(0).items()}
        if self.label_codes is not None:
            item["label"] = int(self.label_codes[i])
        return item

    def __getstate__(self) -> dict[str, Any]:  # picklable for DataLoader workers
        d = dict(self.__dict__)
        d["_reader"] = None
        return d


def dense_token_bytes(n_cells: int, n_peaks: int) -> float:
    """Bytes needed to materialise dense tokens (``13`` bytes per token)."""
    return float(n_cells) * n_peaks * TOKEN_BYTES


