"""``tokenize`` pipeline preset: not a linear solve, so it points to the streaming tokenizer.

The generic pipeline solves a linear model on dense chunks of an HDF5 dataset.  scATAC count
matrices are sparse CSR ``.h5ad`` / 10x files and tokens are ragged sequences, so tokenization
streams through :func:`~sparserec.applications.scatac.iter_tokenize` (or
:func:`~sparserec.applications.scatac.stream.stream_job`), which already reads one chunk of cells at
a time, is deterministic across chunk sizes and worker counts, and keeps memory bounded.
"""

from __future__ import annotations

from typing import Any

__all__ = ["pipeline_preset"]


def pipeline_preset(name: str, model: dict[str, Any], read: Any) -> Any:
    raise ValueError(
        "the 'tokenize' preset is not a linear model on dense chunks: stream scATAC files with "
        "sparserec.applications.scatac.iter_tokenize(H5ADReader(path), chunk_size=...) or "
        "sparserec.applications.scatac.stream.stream_job(path), which read CSR cells chunk by chunk")
