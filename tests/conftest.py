"""Shared pytest fixtures: backends, dtypes and data paths."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

try:
    import torch

    HAS_TORCH = True
    HAS_CUDA = torch.cuda.is_available()
except ImportError:  # pragma: no cover
    torch = None
    HAS_TORCH = False
    HAS_CUDA = False

os.environ.setdefault("SPARSEREC_FAST", "1")
if not HAS_CUDA:  # Triton kernels run interpreted on CPU (must be set before triton kernels import)
    os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

BACKENDS = ["numpy"] + (["torch-cpu"] if HAS_TORCH else []) + (
    [pytest.param("torch-cuda", marks=pytest.mark.gpu)] if HAS_CUDA else [])
DTYPES = ["float32", "float64", "complex64", "complex128"]


def convert(x, backend):
    """Move a numpy array to ``backend`` ("numpy", "torch-cpu" or "torch-cuda")."""
    if backend == "numpy":
        return np.asarray(x)
    dev = "cuda" if backend == "torch-cuda" else "cpu"
    return torch.as_tensor(np.asarray(x), device=dev)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture(params=DTYPES)
def dtype(request):
    return request.param


@pytest.fixture
def shared_data():
    if not SHARED_DATA.exists():
        pytest.skip(f"shared data folder {SHARED_DATA} not present")
    return SHARED_DATA
