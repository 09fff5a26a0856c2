r"""Classical small-target detectors used as baselines: white top-hat, PCP and IPI score maps.

Every function maps images ``(H, W)`` or ``(N, H, W)`` to a score map of the same shape
(larger = more target-like); :func:`adaptive_threshold` turns a score map into detections by
the rule :math:`s > \mathrm{mean}(s) + k\,\mathrm{std}(s)` per image.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

__all__ = ["adaptive_threshold", "ipi_scores", "pcp_scores", "tophat_scores"]


def _stack(images: Any) -> tuple[np.ndarray, bool]:
    a = np.asarray(images, dtype=np.float64)
    if a.ndim == 2:
        return a[None], True
    if a.ndim != 3:
        raise ValueError(f"expected a 2-D grey image (H, W) or a stack (N, H, W), got shape {a.shape}")
    return a, False


def tophat_scores(images: Any, size: int = 5) -> np.ndarray:
    r"""Morphological white top-hat :math:`I - (I \ominus S) \oplus S` with a square ``size`` × ``size`` element.

    Bright structures smaller than the structuring element are kept and the background
    removed (the classical small-target filter).
    """
    a, single = _stack(images)
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    out = np.stack([ndimage.white_tophat(x, size=(size, size)) for x in a])
    return out[0] if single else out


def pcp_scores(images: Any, lam: float | None = None, **kwargs: Any) -> np.ndarray:
    r"""Sparse part of robust PCA (PCP, :func:`sparserec.solvers.convex.pcp.pcp`) of each image.

    The image itself is the matrix :math:`D = B + T`; the positive part of :math:`T` is the
    score.  All images are solved as one batch.
    """
    from ..convex.pcp import pcp

    a, single = _stack(images)
    kwargs.setdefault("max_iter", 200)
    kwargs.setdefault("tol", 1e-6)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pcp(a, lam=lam, **kwargs)
    out = np.clip(np.asarray(res.extras["sparse"]), 0, None)
    return out[0] if single else out


def ipi_scores(images: Any, patch_size: int = 16, stride: int = 4, **kwargs: Any) -> np.ndarray:
    r"""Target image of the infrared patch-image model (:func:`sparserec.solvers.convex.pcp.ipi`).

    Patch size and stride default to values suited to 32–64 px images (the original IPI uses
    50 and 10 on 256×256 images).  The positive part of the target image is the score.
    """
    from ..convex.pcp import ipi

    a, single = _stack(images)
    kwargs.setdefault("max_iter", 200)
    kwargs.setdefault("tol", 1e-6)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ipi(a, patch_size=patch_size, stride=stride, **kwargs)
    out = np.clip(np.asarray(res.extras["target"]), 0, None)
    return out[0] if single else out


def adaptive_threshold(scores: Any, k: float = 3.0) -> np.ndarray:
    r"""Detections :math:`s > \mu_s + k \sigma_s`, mean and standard deviation per image."""
    a, single = _stack(scores)
    mu = a.mean(axis=(-2, -1), keepdims=True)
    sd = a.std(axis=(-2, -1), keepdims=True)
    out = a > mu + k * sd
    return out[0] if single else out
