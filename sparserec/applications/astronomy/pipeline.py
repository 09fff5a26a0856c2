r"""``deconvolve`` preset for HDF5 pipelines: a stack of images ``(n_images, H, W)`` deconvolved
with a PSF stored in the file, by :func:`~sparserec.applications.astronomy.deconvolve`::

    [model]
    type = "preset"
    preset = "deconvolve"
    [model.params]
    psf = "psf"            # dataset (h, w), normalised to unit sum here
    [solver.params]
    method = "starlet"     # starlet | tikhonov | wiener
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["pipeline_preset", "solve"]


def pipeline_preset(name: str, model: dict[str, Any], read: Any) -> tuple[Any, tuple[str, ...], str]:
    """PSF convolution operator for the ``deconvolve`` preset (image shape from ``image_shape``
    or from the PSF's data: the runner checks it against the input)."""
    from ...operators import FFTConvolve

    p = dict(model.get("params", {}))
    unknown = set(p) - {"psf"}
    if unknown:
        raise ValueError(f"[model.params] unknown keys for deconvolve: {sorted(unknown)}")
    psf = np.asarray(read(p.get("psf", "psf"), model.get("file")), dtype=np.float64)
    if psf.ndim != 2 or not np.all(np.isfinite(psf)) or psf.sum() <= 0:
        raise ValueError("the PSF must be a finite 2-D array with a positive sum")
    shape = model.get("image_shape")
    if shape is None:
        raise ValueError("the deconvolve preset needs [model] image_shape = [H, W]")
    op = FFTConvolve(psf / psf.sum(), tuple(int(s) for s in shape), mode="same")
    return op, ("y", "x"), "sparserec.applications.astronomy.pipeline:solve"


def solve(A: Any, y: Any, method: str = "starlet", **params: Any) -> Any:
    """Run :func:`deconvolve` on a chunk of images and return a :class:`SolverResult`."""
    from ...solvers.result import SolverResult, Status
    from .deconv import deconvolve

    res = deconvolve(np.asarray(y), np.asarray(A.kernel) if hasattr(A, "kernel") else A.todense(),
                     method=method, **params)
    batch = tuple(np.asarray(y).shape[:-2])
    n_iter = np.broadcast_to(np.asarray(res.report.get("n_iter", 1)), batch).astype(np.int64)
    ok = np.ones(batch, bool)
    return SolverResult(x=res.image, status=Status.CONVERGED, problem_status=np.zeros(batch, np.int64),
                        converged=ok, n_iter=n_iter, params={"method": method, **params},
                        extras={}, solver=f"deconvolve[{method}]")
