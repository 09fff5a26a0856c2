r"""One streaming job over a large ``.h5ad``: peak statistics, TF-IDF, a randomized-SVD sketch
pass and non-zero tokenization, with at most one chunk of cells in memory.

Used by the memory benchmark (1 M cells x 50 k peaks under 400 MB of extra memory) and useful
as a template for user pipelines.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np

from .io import H5ADReader
from .recover import peak_stats, tfidf
from .tokenize import tokenize

__all__ = ["stream_job"]


def stream_job(path: str, chunk_size: int = 20_000, sketch_width: int = 40, seed: int = 0,
               slice_cells: int = 0, reader: H5ADReader | None = None) -> dict[str, Any]:
    r"""Run the streaming job on ``path``.

    Pass 1: per-peak counts and document frequencies.  Pass 2, per chunk: TF-IDF (method 1),
    the sketch :math:`Y \mathrel{+}= T_c^\top (T_c \Omega)` with a seeded Gaussian
    :math:`\Omega` (peaks x ``sketch_width``), and non-zero tokenization fed to a SHA-256 sink.

    Returns a dict with ``stats``, ``sketch`` (peaks x width), ``sketch_slice`` (the same
    restricted to the first ``slice_cells`` cells, for checks), ``token_digest``, ``n_tokens``,
    ``n_cells``, ``seconds`` and ``cells_per_s``.
    """
    t0 = time.perf_counter()
    own = reader is None
    r = H5ADReader(path) if own else reader
    try:
        peaks = r.peak_table(drop_noncanonical=True)
        st = peak_stats(r, chunk_size)
        rng = np.random.default_rng(seed)
        omega = rng.standard_normal((r.n_peaks, sketch_width))
        Y = np.zeros((r.n_peaks, sketch_width))
        Ys = np.zeros_like(Y)
        h = hashlib.sha256()
        n_tokens = 0
        for sl, chunk in r.iter_cells(chunk_size):
            T = tfidf(chunk, st, method=1)
            contrib = np.asarray(T.T @ np.asarray(T @ omega))
            Y += contrib
            if sl.start < slice_cells:
                m = min(sl.stop, slice_cells) - sl.start
                Tm = T[:m]
                Ys += np.asarray(Tm.T @ np.asarray(Tm @ omega))
            tok = tokenize(chunk if peaks.keep.size == chunk.shape[1] else chunk[:, peaks.keep], peaks,
                           mode="nonzero", order="genomic", cell_offset=sl.start)
            for k in ("value", "chrom", "start", "end", "offsets"):
                h.update(np.ascontiguousarray(getattr(tok, k)).tobytes())
            n_tokens += int(tok.value.size)
    finally:
        if own:
            r.close()
    dt = time.perf_counter() - t0
    return {"stats": st, "sketch": Y, "sketch_slice": Ys, "omega": omega, "token_digest": h.hexdigest(),
            "n_tokens": n_tokens, "n_cells": st.n_cells, "seconds": dt, "cells_per_s": st.n_cells / dt}
