"""Paths of the small real scATAC fixture shipped with the package."""

from __future__ import annotations

from pathlib import Path

__all__ = ["pbmc_fixture_path"]


def pbmc_fixture_path() -> str:
    """Path of the shipped real 10x PBMC scATAC subset (20 cells x 1,000 peaks, 6 cell types).

    From the ``databio/geniml`` test data, BSD-2 licence (``LICENSE-geniml-BSD-2.txt`` beside it).
    """
    p = Path(__file__).resolve().parents[2] / "datasets" / "data" / "scatac" / "pbmc_hg38.h5ad"
    if not p.exists():  # pragma: no cover - broken install
        raise FileNotFoundError(f"shipped fixture missing: {p}")
    return str(p)
