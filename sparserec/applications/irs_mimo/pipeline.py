r"""``estimate_channel`` preset for HDF5 pipelines (``sparserec run pipeline.toml``).

The input dataset holds received pilot vectors ``(n_snapshots, M)`` (complex) measured with one
training design; the design is read from the same file::

    [model]
    type = "preset"
    preset = "estimate_channel"
    [model.params]
    theta = "theta"      # dataset (K2, N_I): IRS configurations
    pilots = "pilots"    # dataset (N_M, K1): pilot matrix S
    n_bs = 16            # system sizes (defaults: the paper's configuration)
    grid = 18
    [solver.params]
    method = "pc-krosbl" # svd-krosbl | am-krosbl | pc-krosbl | sbl | pc-sbl | komp
    noise_var = 0.01     # known noise variance (omit to learn it, Kronecker SBL only)

The estimate written per snapshot is the angular vector ``x`` (length G^3, C order
``(j, g_M, g_B)``); convert it with :func:`~sparserec.applications.irs_mimo.cascaded_channels`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .model import measurement_operator
from .system import IRSSystem, Training

__all__ = ["pipeline_preset", "solve"]

_SYSTEM_KEYS = ("n_bs", "n_ms", "n_irs", "grid", "n_paths", "n_pilots", "n_configs")


def pipeline_preset(name: str, model: dict[str, Any], read: Any) -> tuple[Any, tuple[str, ...], str]:
    """Build the Kronecker measurement operator from the training design stored in the file."""
    p = dict(model.get("params", {}))
    unknown = set(p) - set(_SYSTEM_KEYS) - {"theta", "pilots"}
    if unknown:
        raise ValueError(f"[model.params] unknown keys for estimate_channel: {sorted(unknown)}")
    file = model.get("file")
    theta = np.asarray(read(p.get("theta", "theta"), file))
    S = np.asarray(read(p.get("pilots", "pilots"), file))
    if theta.ndim != 2 or S.ndim != 2:
        raise ValueError(f"theta must be (K2, N_I) and pilots (N_M, K1); got {theta.shape} and {S.shape}")
    sizes = {k: int(p[k]) for k in _SYSTEM_KEYS if k in p}
    sizes.setdefault("n_configs", theta.shape[0])
    sizes.setdefault("n_irs", theta.shape[1])
    sizes.setdefault("n_ms", S.shape[0])
    sizes.setdefault("n_pilots", S.shape[1])
    system = IRSSystem(**sizes)
    op = measurement_operator(system, Training(theta[None], S[None]), 0, flat=True)
    return op, ("angular",), "sparserec.applications.irs_mimo.pipeline:solve"


def solve(A: Any, y: Any, method: str = "pc-krosbl", **params: Any) -> Any:
    """Solver used by the preset: dispatch ``method`` on the Kronecker operator ``A``."""
    from ...solvers.bayes import kronecker_sbl, sbl

    if method in ("svd-krosbl", "am-krosbl", "pc-krosbl"):
        kw = dict(params)
        kw.setdefault("learn_noise", "noise_var" not in kw)
        if method == "pc-krosbl":
            kw.setdefault("beta", [0.8, None, 0.8])
            kw.setdefault("periodic", [True, False, False])  # the IRS difference angle wraps modulo G
        return kronecker_sbl(A, y, method=method.split("-")[0], **kw)
    dense = A.todense()
    if method == "sbl":
        return sbl(dense, y, **{"update": "em", **params})  # cSBL as the authors configure it
    if method == "pc-sbl":
        from ...solvers.bayes.pc_sbl import pc_sbl

        return pc_sbl(dense, y, **params)
    if method == "komp":
        from ...solvers.convex.greedy import komp

        return komp(A, y, **params)
    raise ValueError(f"unknown method {method!r} for the estimate_channel preset")
