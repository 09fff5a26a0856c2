"""Shared settings of the ``cuda_ext`` tests: whether Triton and a CUDA device are available.

Test modules here import them with ``from .conftest import CUDA, HAS_TRITON, needs_triton`` (this is
a package, so the relative import gets the module pytest already loaded).
"""

from __future__ import annotations

import importlib.util
import os

import pytest

try:
    import torch
except ImportError:  # pragma: no cover - the test modules skip themselves without torch
    torch = None

HAS_TRITON = importlib.util.find_spec("triton") is not None
CUDA = torch is not None and torch.cuda.is_available()
needs_triton = pytest.mark.skipif(
    not HAS_TRITON or (not CUDA and os.environ.get("TRITON_INTERPRET") != "1"),
    reason="triton not installed, or no GPU and TRITON_INTERPRET != 1")
