r"""Peak tables, the chromosome vocabulary and interval overlap mapping.

Coordinates follow BED: 0-based start, end exclusive (half-open).  Intervals that only touch
(``a.end == b.start``) do not overlap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "CHROM_VOCAB",
    "PeakTable",
    "chrom_id",
    "format_peak",
    "map_peaks",
    "parse_peak_name",
    "read_bed",
]

#: ChromFound's chromosome vocabulary: ``pad`` 0, ``chr1..chr22`` 1..22, ``chrX`` 23, ``chrY`` 24.
CHROM_VOCAB: dict[str, int] = {"pad": 0, **{f"chr{i}": i for i in range(1, 23)}, "chrX": 23, "chrY": 24}
_ID_TO_CHROM = {v: k for k, v in CHROM_VOCAB.items()}



def chrom_id(name: Any) -> int:
    """Vocabulary id of a chromosome name (``"chr1"``, ``"1"``, ``"X"``, ``"chrX"``...); -1 if
    the contig is not canonical (chrM, ``*_random``, ``chrUn*``, GL/KI contigs...)."""
    s = str(name.decode() if isinstance(name, bytes) else name).strip()
    if s in CHROM_VOCAB and s != "pad":
        return CHROM_VOCAB[s]
    if not s.lower().startswith("chr"):
        s = "chr" + s
    s = "chr" + s[3:].upper() if s[3:] in ("x", "y") else s
    return CHROM_VOCAB.get(s, -1) if s != "chrpad" else -1


def parse_peak_name(name: str | bytes) -> tuple[str, int, int]:
    """Parse ``chr1:100-600``, ``chr1-100-600`` or ``chr1_100_600`` into ``('chr1', 100, 600)``.

    Raises
    ------
    ValueError
        If the name does not have one of these forms or ``start >= end``.
    """
    s = name.decode() if isinstance(name, bytes) else str(name)
    s = s.strip()
    m = re.match(r"^(.+?):(\d+)-(\d+)$", s) or re.match(r"^(.+)-(\d+)-(\d+)$", s) \
        or re.match(r"^(.+)_(\d+)_(\d+)$", s)
    if m is None:
        raise ValueError(f"cannot parse peak name {s!r}; expected chrom:start-end, chrom-start-end "
                         "or chrom_start_end")
    chrom, start, end = m.group(1), int(m.group(2)), int(m.group(3))
    if start >= end:
        raise ValueError(f"peak {s!r} has start >= end")
    return chrom, start, end


def format_peak(chrom: str, start: int, end: int) -> str:
    """Format a peak as ``chrom:start-end`` (the 10x convention)."""
    return f"{chrom}:{int(start)}-{int(end)}"


@dataclass
class PeakTable:
    """A table of genomic intervals (peaks), in the order of the matrix columns.

    Parameters
    ----------
    chrom : sequence of str
        Chromosome names (``chr1`` or ``1`` both accepted).
    start, end : sequence of int
        0-based start and exclusive end (BED convention); ``start < end`` required.
    drop_noncanonical : bool, default False
        If True, contigs outside :data:`CHROM_VOCAB` are dropped and counted in
        :attr:`report`; otherwise they raise ``ValueError``.  Never silently mapped.

    Attributes
    ----------
    chrom_ids : numpy.ndarray of int8
        Vocabulary ids (1..24).
    keep : numpy.ndarray of int64
        Indices of the kept peaks in the original input (all of them unless dropped).
    report : dict
        ``n_input``, ``n_dropped`` and ``dropped_contigs`` (contig -> count).
    """

    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    drop_noncanonical: bool = False
    chrom_ids: np.ndarray = field(init=False)
    keep: np.ndarray = field(init=False)
    report: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        chrom = np.asarray([c.decode() if isinstance(c, bytes) else str(c) for c in self.chrom],
                           dtype=object)
        start = np.asarray(self.start)
        end = np.asarray(self.end)
        if not (len(chrom) == len(start) == len(end)):
            raise ValueError(f"chrom/start/end lengths differ: {len(chrom)}, {len(start)}, {len(end)}")
        for nm, a in (("start", start), ("end", end)):
            if a.size and not np.issubdtype(a.dtype, np.integer):
                if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
                    raise ValueError(f"peak {nm} coordinates must be integers")
        start = start.astype(np.int64)
        end = end.astype(np.int64)
        if np.any(start < 0):
            raise ValueError("peak starts must be non-negative (BED, 0-based)")
        bad = np.nonzero(start >= end)[0]
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"peak {i} ({chrom[i]}:{start[i]}-{end[i]}) has start >= end")
        ids = np.array([chrom_id(c) for c in chrom], dtype=np.int64)
        non = ids < 0
        dropped: dict[str, int] = {}
        if non.any():
            for c in chrom[non]:
                dropped[c] = dropped.get(c, 0) + 1
            if not self.drop_noncanonical:
                raise ValueError(
                    f"{int(non.sum())} peak(s) on non-canonical contigs {sorted(dropped)[:5]}; pass "
                    "drop_noncanonical=True to drop (and count) them")
        keep = np.nonzero(~non)[0]
        self.chrom = np.asarray([_ID_TO_CHROM[i] for i in ids[keep]], dtype=object)
        self.start = start[keep]
        self.end = end[keep]
        self.chrom_ids = ids[keep].astype(np.int8)
        self.keep = keep.astype(np.int64)
        self.report = {"n_input": int(len(chrom)), "n_dropped": int(non.sum()),
                       "dropped_contigs": dropped}

    def __len__(self) -> int:
        return int(self.start.shape[0])

    @classmethod
    def from_names(cls, names: Iterable[str | bytes], drop_noncanonical: bool = False) -> PeakTable:
        """Build a table from ``chrom:start-end`` style names."""
        parsed = [parse_peak_name(n) for n in names]
        if not parsed:
            return cls(np.array([], dtype=object), np.array([], np.int64), np.array([], np.int64))
        c, s, e = zip(*parsed)
        return cls(np.array(c, dtype=object), np.array(s), np.array(e), drop_noncanonical)

    @property
    def names(self) -> list[str]:
        """``chrom:start-end`` names."""
        return [format_peak(c, s, e) for c, s, e in zip(self.chrom, self.start, self.end)]

    def genomic_order(self) -> np.ndarray:
        """Permutation sorting peaks by (chromosome id, start, end) — stable."""
        return np.lexsort((self.end, self.start, self.chrom_ids.astype(np.int64)))

    def is_sorted(self) -> bool:
        """True if the table is in genomic order."""
        o = self.genomic_order()
        return bool(np.all(o == np.arange(len(self))))

    def check_sorted_nonoverlapping(self) -> None:
        """Raise ``ValueError`` unless peaks are sorted and pairwise non-overlapping."""
        if not self.is_sorted():
            raise ValueError("peaks are not sorted in genomic order (chromosome id, start)")
        same = self.chrom_ids[1:] == self.chrom_ids[:-1]
        ov = same & (self.start[1:] < self.end[:-1])
        if ov.any():
            i = int(np.nonzero(ov)[0][0])
            raise ValueError(f"peaks {i} and {i + 1} overlap: {self.names[i]} and {self.names[i + 1]}")

    def subset(self, idx: Sequence[int] | np.ndarray) -> PeakTable:
        """Table of the peaks ``idx``."""
        idx = np.asarray(idx)
        return PeakTable(self.chrom[idx], self.start[idx], self.end[idx])


def read_bed(path: str, drop_noncanonical: bool = False) -> PeakTable:
    """Read a BED file (``chrom, start, end`` tab-separated; ``#``/track/browser lines skipped).

    Row k is feature k of the matrix.  Raises ``ValueError`` with the line number for a malformed
    line.
    """
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    chrom, start, end = [], [], []
    with opener(path, "rt") as f:
        for ln, line in enumerate(f, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                raise ValueError(f"{path}:{ln}: expected at least 3 tab-separated columns")
            try:
                s, e = int(parts[1]), int(parts[2])
            except ValueError as err:
                raise ValueError(f"{path}:{ln}: non-integer coordinates {parts[1:3]}") from err
            chrom.append(parts[0])
            start.append(s)
            end.append(e)
    return PeakTable(np.array(chrom, dtype=object), np.array(start, np.int64), np.array(end, np.int64),
                     drop_noncanonical)


def map_peaks(query: PeakTable, reference: PeakTable, aggregate: str = "sum"):
    """Map query peaks onto overlapping reference peaks (half-open intervals).

    Parameters
    ----------
    query, reference : PeakTable
    aggregate : {"sum", "max", "any"}
        How a matrix with query columns is aggregated onto reference columns by
        :meth:`scipy.sparse` product with the returned mapping (``"any"`` binarises).

    Returns
    -------
    mapping : scipy.sparse.csr_array of shape (n_query, n_reference)
        ``mapping[i, j] = 1`` if query peak i overlaps reference peak j.
    unmapped : numpy.ndarray
        Indices of query peaks overlapping no reference peak.

    Notes
    -----
    Deterministic: per chromosome, reference intervals are sorted by start and each query is
    matched by binary search on the sorted starts and a scan while ``ref.start < q.end``
    (reference intervals may overlap each other; the scan uses the running maximum of ends to
    stay correct).  ``map_peaks(B, B)`` is the identity for non-overlapping ``B``.
    """
    import scipy.sparse as sp

    if aggregate not in ("sum", "max", "any"):
        raise ValueError(f"aggregate must be 'sum', 'max' or 'any', got {aggregate!r}")
    rows, cols = [], []
    for cid in np.unique(query.chrom_ids):
        qi = np.nonzero(query.chrom_ids == cid)[0]
        ri = np.nonzero(reference.chrom_ids == cid)[0]
        if ri.size == 0:
            continue
        order = ri[np.argsort(reference.start[ri], kind="stable")]
        rs, re_ = reference.start[order], reference.end[order]
        # left bound: first reference whose running max end > q.start
        runmax = np.maximum.accumulate(re_)
        lo = np.searchsorted(runmax, query.start[qi], side="right")
        hi = np.searchsorted(rs, query.end[qi], side="left")
        for q, a, b in zip(qi, lo, hi):
            if a >= b:
                continue
            cand = np.arange(a, b)
            ok = re_[cand] > query.start[q]
            for j in order[cand[ok]]:
                rows.append(q)
                cols.append(j)
    ij = (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))
    m = sp.csr_array((np.ones(len(rows)), ij),
                     shape=(len(query), len(reference)))
    m.sum_duplicates()
    mapped = np.zeros(len(query), bool)
    mapped[np.asarray(rows, dtype=np.int64)] = True
    return m, np.nonzero(~mapped)[0]
