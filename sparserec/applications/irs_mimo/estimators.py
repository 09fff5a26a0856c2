r"""Channel estimators behind one entry point, :func:`estimate_channel`.

Every method estimates the angular vector :math:`x \in \mathbb{C}^{G^3}` of
:math:`y = (\Phi_1\otimes\Phi_2\otimes\Phi_3)x + n` and converts it to cascaded channels with
:func:`~sparserec.applications.irs_mimo.model.cascaded_channels`.  Realisations sharing one
training design are solved as one batch; different designs mean different operators and are
solved one after the other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._backend import to_numpy
from .model import cascaded_channels, measurement_factors
from .system import IRSSystem, Training

__all__ = ["METHODS", "ChannelEstimate", "estimate_channel"]

#: methods accepted by :func:`estimate_channel`
METHODS = ("svd-krosbl", "am-krosbl", "pc-krosbl", "sbl", "pc-sbl", "komp", "ls", "oracle-ls")

#: PC-KroSBL pruning thresholds (IRS, MS, BS factor) tried by ``"pc-krosbl"``; per realisation the run
#: with the lower Type-II cost (higher evidence) is kept (see ``docs/sbl.rst``, IRS section)
PC_PRUNE_CANDIDATES = ((3e-2, 5e-2, 3e-2), (3e-2, 1e-2, 3e-2))


@dataclass
class ChannelEstimate:
    """Result of :func:`estimate_channel` for ``R`` realisations.

    Attributes
    ----------
    x : (R, G^3) complex
        Angular estimates.
    H : (R, K2, N_B, N_M) complex
        Estimated cascaded channels for the training configurations.
    seconds : (R,) float
        Wall time per realisation (a batch's time is split evenly over its realisations).
    n_iter : (R,) int
    method : str
    """

    x: np.ndarray
    H: np.ndarray
    seconds: np.ndarray
    n_iter: np.ndarray
    method: str


def _groups(training: Training) -> list[np.ndarray]:
    """Indices of realisations sharing identical training designs."""
    R = training.theta.shape[0]
    if all(np.array_equal(training.theta[0], training.theta[r]) and np.array_equal(training.S[0], training.S[r])
           for r in range(1, R)):
        return [np.arange(R)]
    return [np.array([r]) for r in range(R)]


def _refine(factors: list[np.ndarray], y: np.ndarray, kw: dict[str, Any], runs: list[Any], best_run: np.ndarray,
            best_x: np.ndarray, best_cost: np.ndarray, best_it: np.ndarray, best_g: list[np.ndarray],
            refine_beta: Any) -> tuple[np.ndarray, np.ndarray]:
    """PC-KroSBL refinement: continue from each realisation's selected run with the coupling
    ``refine_beta`` (default: the BS mode uncoupled) and keep the result where its Type-II cost is
    lower (see :func:`estimate_channel`, Notes)."""
    from ...solvers.bayes import kronecker_sbl

    best_x, best_it = best_x.copy(), best_it.copy()
    for c, p in enumerate(runs):
        sel = np.flatnonzero(best_run == c)
        if sel.size == 0:
            continue
        kr = {**kw, "beta": refine_beta, "noise_var": np.asarray(kw["noise_var"])[sel],
              "gamma0": [g[sel] for g in best_g]}
        if p is not None:
            kr["prune"] = p
        res = kronecker_sbl(factors, y[sel], **kr)
        cost = to_numpy(res.extras["cost"]).astype(float).reshape(-1)
        better = cost < best_cost[sel]
        best_x[sel[better]] = to_numpy(res.x).reshape(sel.size, -1)[better]
        best_it[sel] += np.asarray(res.n_iter).reshape(-1)
    return best_x, best_it


def _solve(method: str, factors: list[np.ndarray], y: np.ndarray, nv: np.ndarray, support: Any,
           params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    G = factors[0].shape[1]
    if method in ("svd-krosbl", "am-krosbl", "pc-krosbl"):
        from ...solvers.bayes import kronecker_sbl

        m = method.split("-")[0]
        kw = dict(method=m, noise_var=nv, learn_noise=False, max_iter=params.get("max_iter", 150))
        own = ("max_iter", "beta", "periodic", "prune_candidates", "refine", "refine_beta")
        if m == "pc":
            kw["beta"] = params.get("beta", [0.8, None, 0.8])
            # mode 1 is the IRS difference angle, an index modulo G: circulant coupling there
            kw["periodic"] = params.get("periodic", [True, False, False])
        kw.update({k: v for k, v in params.items() if k not in own})
        cands = params.get("prune_candidates", PC_PRUNE_CANDIDATES if m == "pc" and "prune" not in params else None)
        runs = [list(p) for p in cands] if cands else [kw.get("prune")]
        # one run per pruning candidate; keep, per realisation, the run with the lowest Type-II cost
        # (-log evidence of y under the final prior)
        R = y.shape[0]
        best_x = best_cost = best_it = best_g = None
        best_run = np.zeros(R, np.int64)
        for c, p in enumerate(runs):
            res = kronecker_sbl(factors, y, **({**kw, "prune": p} if p is not None else kw))
            xr = to_numpy(res.x).reshape(R, -1)
            cost = to_numpy(res.extras["cost"]).astype(float).reshape(-1)
            it = np.asarray(res.n_iter).reshape(-1)
            gs = [to_numpy(g).reshape(R, -1) for g in res.extras["gamma_factors"]]
            if best_x is None:
                best_x, best_cost, best_it, best_g = xr.copy(), cost, it.copy(), [g.copy() for g in gs]
                continue
            better = cost < best_cost
            best_x[better], best_cost, best_it = xr[better], np.where(better, cost, best_cost), best_it + it
            for g, gn in zip(best_g, gs):
                g[better] = gn[better]
            best_run[better] = c
        if m == "pc" and params.get("refine", True):
            b = kw["beta"]
            bl = list(b) if isinstance(b, (list, tuple)) else [b] * len(factors)
            refine_beta = params.get("refine_beta", bl[:-1] + [None])  # the BS mode (last) uncoupled
            best_x, best_it = _refine(factors, y, kw, runs, best_run, best_x, best_cost, best_it, best_g,
                                      refine_beta)
        return best_x, best_it
    A = np.kron(np.kron(factors[0], factors[1]), factors[2])
    if method == "sbl":
        from ...solvers.bayes import sbl

        # classical SBL as the authors configure it (cSBL: EM updates, 150 iterations)
        kw = {"update": "em", "max_iter": 150, **params}
        res = sbl(A, y, noise_var=nv, learn_noise=False, **kw)
        return np.asarray(res.x), np.asarray(res.n_iter).reshape(-1)
    if method == "pc-sbl":
        from ...solvers.bayes.pc_sbl import pc_sbl

        res = pc_sbl(A, y, noise_var=nv, max_iter=params.get("max_iter", 150),
                     **{k: v for k, v in params.items() if k != "max_iter"})
        return np.asarray(res.x), np.asarray(res.n_iter).reshape(-1)
    if method == "komp":
        from ...solvers.convex.greedy import komp

        res = komp(factors, y, **params)
        return np.asarray(res.x).reshape(y.shape[0], -1), np.asarray(res.n_iter).reshape(-1)
    if method == "ls":
        x = np.linalg.lstsq(A, y.T, rcond=None)[0].T  # minimum-norm least squares (M < N)
        return x, np.ones(y.shape[0], np.int64)
    if method == "oracle-ls":
        if support is None:
            raise ValueError("oracle-ls needs the true support (support=...)")
        x = np.zeros((y.shape[0], G**3), complex)
        for i in range(y.shape[0]):
            s = np.nonzero(support[i])[0]
            x[i, s] = np.linalg.lstsq(A[:, s], y[i], rcond=None)[0]
        return x, np.ones(y.shape[0], np.int64)
    raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")


def estimate_channel(y: Any, system: IRSSystem, training: Training, method: str = "pc-krosbl", *,
                     noise_var: Any, support: Any = None, device: Any = None, **params: Any) -> ChannelEstimate:
    r"""Estimate the cascaded IRS channels from received pilots.

    Parameters
    ----------
    y : (R, M) or (M,) complex
        Received pilots in (configuration, pilot, BS antenna) order (see
        :func:`~sparserec.applications.irs_mimo.model.received_signal`).
    system : IRSSystem
    training : Training
        The IRS configurations and pilots that produced ``y``.
    method : str
        One of :data:`METHODS`: ``"svd-krosbl"``, ``"am-krosbl"``, ``"pc-krosbl"`` (coupling β = 0.8
        on the IRS difference-angle and BS modes by default, ``beta=...`` to change; see Notes), ``"sbl"``
        (classical SBL on the vectorised problem), ``"pc-sbl"``, ``"komp"``, ``"ls"``
        (minimum-norm least squares) and ``"oracle-ls"`` (least squares on the true ``support``).
    noise_var : float or (R,) array
        Noise variance (known, as in the authors' experiments).
    support : (R, G^3) bool, optional
        True support, for ``"oracle-ls"``.
    device : str or torch.device, optional
        Kronecker methods only: solve on torch tensors on this device (e.g. ``"cuda"``; needs
        torch).  Realisations that share one training design (``design_training(...,
        shared=True)``) are solved as one batch, which is what a GPU wants.  Results are numpy
        arrays either way.
    **params
        Passed to the solver (e.g. ``max_iter``).

    Returns
    -------
    ChannelEstimate

    Notes
    -----
    ``"pc-krosbl"`` departs from the authors' code in two documented ways (``docs/sbl.rst``, IRS
    section); both can be switched off through ``**params``:

    * the coupling on mode 1 is circulant (``periodic=[True, False, False]``): that mode is the IRS
      difference angle, an index modulo ``G``, whose path cluster may wrap around the grid
      (``periodic=False`` gives the authors' tridiagonal :math:`C_\beta`);
    * it runs once per pruning candidate of :data:`PC_PRUNE_CANDIDATES` (relative thresholds on the
      IRS, MS and BS factors; only the weakly identified MS factor differs) and keeps, per
      realisation, the run with the lowest Type-II cost (the highest evidence
      :math:`p(y\mid\gamma)`).  Passing ``prune=...`` (or ``prune_candidates=[]``) gives a single
      run; ``n_iter`` is the total over the runs.

    It also *refines* each realisation's selected run: EM continues from its hyperparameters with
    the BS mode uncoupled (``refine_beta``, default ``[beta_IRS, None, None]``), and the result
    replaces the run's where its Type-II cost is lower.  The coupling finds the path clusters,
    but it also keeps the neighbours of a cluster alive (each gets :math:`\beta` times its
    neighbour's variance); the BS mode is observed directly by the :math:`N_B` antennas, so once
    the cluster is found EM can prune its spurious neighbours there, while the IRS mode, seen
    through only :math:`K_2` configurations, keeps its coupling.  Over 400 realisations at 20 dB
    (seeds 0 and 1) the refinement lowered the median channel NMSE from 0.0020 to 0.0012, the
    mean by 30 %, improved 337 realisations by more than 10 % and worsened none by more than 2 %
    (``docs/sbl.rst``).  ``refine=False`` switches it off.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    if device is not None and method not in ("svd-krosbl", "am-krosbl", "pc-krosbl"):
        raise ValueError(f"device=: Kronecker methods only (svd-, am-, pc-krosbl), not {method!r}")
    y = np.asarray(y)
    single = y.ndim == 1
    Y = y[None] if single else y
    R, M = Y.shape
    if M != system.n_measurements:
        raise ValueError(f"y has {M} entries per realisation, expected K1*K2*N_B = {system.n_measurements}")
    if training.theta.shape[0] != R:
        raise ValueError(f"training has {training.theta.shape[0]} realisations, y has {R}")
    if not np.all(np.isfinite(Y)):
        raise ValueError("y contains NaN or Inf")
    nv = np.broadcast_to(np.asarray(noise_var, dtype=np.float64), (R,)).copy()
    if np.any(nv <= 0):
        raise ValueError("noise_var must be positive")
    sup = None if support is None else np.asarray(support).reshape(R, -1)
    x = np.zeros((R, system.grid**3), complex)
    secs = np.zeros(R)
    iters = np.zeros(R, np.int64)
    for idx in _groups(training):
        factors = measurement_factors(system, training, int(idx[0]))
        t0 = time.perf_counter()
        Yi: Any = Y[idx]
        if device is not None:
            import torch

            factors = [torch.as_tensor(f, device=device) for f in factors]
            Yi = torch.as_tensor(Yi, device=device)
        xi, it = _solve(method, factors, Yi, nv[idx], None if sup is None else sup[idx], params)
        secs[idx] = (time.perf_counter() - t0) / idx.size
        x[idx] = xi
        iters[idx] = it
    H = cascaded_channels(system, x, training.theta)
    if single:
        return ChannelEstimate(x[0], H[0], secs, iters, method)
    return ChannelEstimate(x, H, secs, iters, method)
