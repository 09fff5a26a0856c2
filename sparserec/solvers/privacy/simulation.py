r"""Sufficient-statistic simulation drivers: NLDP-SLR and LDP-IHT with up to :math:`10^9` users.

A test and benchmark utility, **not** a privacy mechanism.  For the Rademacher design
:math:`x_{ij}\in\{\pm1\}` with non-binding clipping of :math:`y`
(:math:`\tau_y \ge \|\theta^*\|_1 + 6\sigma_\zeta`), the data enter the protocols only through
:math:`G=\sum_i x_ix_i^\top` and :math:`\sum_i x_iy_i = G\theta^* + \sum_i x_i\zeta_i`, and the
privacy noise only through its sum over users:

* :math:`G` has diagonal exactly :math:`n`; its off-diagonal entries have mean 0, variance
  :math:`n` and are pairwise uncorrelated; they are drawn as :math:`\mathcal N(0, n)` (CLT; the
  error is negligible next to the privacy noise, whose per-entry standard deviation exceeds the
  data spread by more than 20x in the documented settings);
* :math:`\sum_i x_i\zeta_i \mid X \sim \mathcal N(0, \sigma_\zeta^2 G)` exactly;
* the sum of :math:`n` users' Gaussian noise is :math:`\mathcal N(0, n\sigma^2)` exactly (Laplace:
  the Gamma-difference law, also exact).

With :math:`\tau_x < 1` the shrunk features are :math:`\tau_x x`, which only rescales the
statistics.  In LDP-IHT the users are exchangeable, so contiguous groups have the law of a
uniformly random partition.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..._backend import Generator, default_rng, is_torch, to_backend, to_numpy
from ...prox.projections import project_l0_ball, project_l1_ball
from ..result import SolverResult
from ._ops import check_budget, check_k, check_positive, upper
from .accounting import PrivacyRecord
from .interactive import LDPIHTServer, ldp_iht_mechanism
from .noninteractive import (
    _extras,
    _result,
    nldp_slr_mechanisms,
    nldp_slr_server,
    public_cross_mechanism,
)

__all__ = ["population_iht", "rademacher_statistics", "simulate_ldp_iht", "simulate_nldp_slr"]


def rademacher_statistics(n: int, theta: np.ndarray, noise_std: float, rng: Any = None) -> tuple[np.ndarray,
                                                                                                   np.ndarray]:
    r"""Draw :math:`(G, \sum_i x_iy_i)` for :math:`n` Rademacher users (see module notes).

    Parameters
    ----------
    n : int
        Number of users (any size: nothing per user is stored).
    theta : numpy.ndarray of shape ``(d,)``
    noise_std : float
        :math:`\sigma_\zeta \ge 0`.
    rng : int or Generator, optional

    Returns
    -------
    G : numpy.ndarray of shape ``(d, d)``
    xy : numpy.ndarray of shape ``(d,)``

    Examples
    --------
    >>> G, xy = rademacher_statistics(10**9, np.array([1.0, 0.0]), 0.1, rng=0)
    >>> float(G[0, 0])
    1000000000.0
    """
    g = (rng if isinstance(rng, Generator) else default_rng(rng)).numpy
    d = theta.shape[-1]
    n = float(n)
    z = g.standard_normal((d, d)) * math.sqrt(n)
    G = np.triu(z, 1)
    G = G + G.T + n * np.eye(d)
    zeta = g.standard_normal(d)
    if noise_std > 0:
        w, V = np.linalg.eigh(G)
        c = V @ (np.sqrt(np.clip(w, 0.0, None)) * (V.T @ zeta)) * noise_std
    else:
        c = np.zeros(d)
    return G, G @ theta + c


def _check_sim(theta: Any, n: int, noise_std: float, tau_x: float, tau_y: float,
               n_repeats: int | None) -> tuple[np.ndarray, int, float, float, float, tuple[int, ...]]:
    th = np.asarray(to_numpy(theta), dtype=np.float64)
    if th.ndim != 1:
        raise ValueError(f"theta must be a vector of shape (d,), got shape {th.shape}")
    if not np.all(np.isfinite(th)):
        raise ValueError("theta contains NaN or Inf values")
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    s = float(noise_std)
    if not (math.isfinite(s) and s >= 0):
        raise ValueError(f"noise_std must be finite and >= 0, got {noise_std!r}")
    tx, ty = check_positive(tau_x, "tau_x"), check_positive(tau_y, "tau_y")
    a = min(tx, 1.0)
    if ty < a * np.abs(th).sum() + 6 * s:
        raise ValueError(
            f"sufficient-statistic simulation assumes non-binding clipping of y: need tau_y >= "
            f"tau_x*||theta||_1 + 6*noise_std = {a * np.abs(th).sum() + 6 * s:.4g}, got {ty}")
    batch = () if n_repeats is None else (int(n_repeats),)
    if batch and batch[0] < 1:
        raise ValueError(f"n_repeats must be >= 1, got {n_repeats}")
    return th, n, s, tx, ty, batch


def _out(a: np.ndarray, like: Any) -> Any:
    return to_backend(a, "torch", device=like.device, dtype=like.dtype) if is_torch(like) else a


def simulate_nldp_slr(theta: Any, n: int, epsilon: float, delta: float | None = 1e-5, *,
                      noise_std: float = 0.1, n_repeats: int | None = None, k: int | None = None,
                      tau_x: float = 1.0, tau_y: float = 2.0, calibration: str = "auto", split: float = 0.5,
                      mechanism: str = "gaussian", sparsify: str | None = None,
                      threshold: float | None = None, eig_floor: float | None = None,
                      n_public: int | None = None, rng: Any = None, _noise: bool = True) -> SolverResult:
    r"""NLDP-SLR on a simulated Rademacher population of ``n`` users (sufficient statistics).

    Parameters
    ----------
    theta : array of shape ``(d,)``
        True coefficients (numpy or torch; the result follows its library).
    n : int
        Number of users (e.g. up to :math:`10^9`).
    epsilon, delta, k, tau_x, tau_y, calibration, split, mechanism, sparsify, threshold, eig_floor
        As in :func:`~sparserec.solvers.privacy.nldp_slr`.
    noise_std : float, default 0.1
        Response noise :math:`\sigma_\zeta`.
    n_repeats : int, optional
        Number of independent repetitions (the batch axis of the result).
    n_public : int, optional
        If given, simulate the public-data variant with ``n_public`` public unlabelled samples.
    rng : int or Generator, optional

    Returns
    -------
    SolverResult
        As :func:`~sparserec.solvers.privacy.nldp_slr`, ``x`` of shape ``(n_repeats, d)``.

    Notes
    -----
    Repetitions are drawn one after another from one generator (data, then covariance noise,
    then cross-term noise), so a batch equals the same repetitions run in a loop.

    Examples
    --------
    >>> th = np.zeros(10); th[:3] = [1/3, -1/3, 1/3]
    >>> res = simulate_nldp_slr(th, 10**9, 4.0, 1e-5, k=3, n_repeats=4, rng=0)
    >>> res.x.shape
    (4, 10)
    """
    th, n, s, tx, ty, batch = _check_sim(theta, n, noise_std, tau_x, tau_y, n_repeats)
    d = th.shape[0]
    if k is not None:
        k = check_k(k, d)
    public = n_public is not None
    if public:
        m2 = public_cross_mechanism(d, epsilon, delta, tau_x=tx, tau_y=ty, calibration=calibration,
                                    mechanism=mechanism)
        mechs: tuple = (m2,)
        n_pub = int(n_public)
        if n_pub < 1:
            raise ValueError(f"n_public must be >= 1, got {n_public}")
    else:
        mechs = nldp_slr_mechanisms(d, epsilon, delta, tau_x=tx, tau_y=ty, calibration=calibration,
                                    split=split, mechanism=mechanism)
        n_pub = 0
    g = rng if isinstance(rng, Generator) else default_rng(rng)
    a = min(tx, 1.0)
    p = d * (d + 1) // 2
    reps = batch[0] if batch else 1
    S_l, b_l, C_l = [], [], []
    for _ in range(reps):
        G, xy = rademacher_statistics(n, th, s, g)
        if public:
            Gp, _ = rademacher_statistics(n_pub, th, 0.0, g)
            C_l.append(a * a * Gp / n_pub)
        else:
            S = upper(a * a * G)
            if _noise:
                S = S + mechs[0].aggregate_noise((p,), n, rng=g)
            S_l.append(S)
        b = a * xy
        if _noise:
            b = b + mechs[-1].aggregate_noise((d,), n, rng=g)
        b_l.append(b)
    shape = batch
    like = theta if is_torch(theta) else None
    sum_b = _out(np.stack(b_l).reshape(shape + (d,)), like)
    sum_S = None if public else _out(np.stack(S_l).reshape(shape + (p,)), like)
    cov = _out(np.stack(C_l).reshape(shape + (d, d)), like) if public else None
    noise_var = (0.0 if public else mechs[0].variance, mechs[-1].variance)
    theta_hat, info = nldp_slr_server(sum_S, sum_b, n, cov=cov, k=k, sparsify=sparsify,
                                      threshold=threshold, eig_floor=eig_floor, noise_var=noise_var)
    record = PrivacyRecord.from_releases(
        [m.record(nm) for m, nm in zip(mechs, ("cross",) if public else ("covariance", "cross"))],
        protocol="non-interactive", n_users=n, noise=_noise, simulated="rademacher-sufficient-statistics")
    extras = _extras(mechs, public, info, n, n_pub, record)
    extras["design"] = "rademacher"
    params = {"epsilon": float(epsilon), "delta": None if delta is None else float(delta), "k": k,
              "tau_x": tx, "tau_y": ty, "calibration": calibration, "split": float(split),
              "mechanism": mechanism, "sparsify": info["sparsify"], "simulate": "sufficient_statistics",
              "public": public, "noise_std": s}
    return _result(theta_hat, batch, params, extras, "nldp_slr")


def simulate_ldp_iht(theta: Any, n: int, epsilon: float, delta: float | None = 1e-5, *, k: int,
                     noise_std: float = 0.1, n_repeats: int | None = None, tau_x: float = 1.0,
                     tau_y: float = 2.0, n_rounds: int = 10, step: float = 0.5, radius: float = 1.0,
                     sparsity: int | None = None, calibration: str = "auto", mechanism: str = "gaussian",
                     rng: Any = None, _noise: bool = True) -> SolverResult:
    r"""LDP-IHT on a simulated Rademacher population of ``n`` users (sufficient statistics).

    Each round draws the group's :math:`(G_t, \sum x y)` and the sum of its users' noise; the
    server's ledger still claims every group (as ranges), so each simulated user speaks once.

    Parameters
    ----------
    theta, n, epsilon, delta, noise_std, n_repeats, tau_x, tau_y, rng
        As in :func:`simulate_nldp_slr`.
    k, n_rounds, step, radius, sparsity, calibration, mechanism
        As in :func:`~sparserec.solvers.privacy.ldp_iht`.

    Returns
    -------
    SolverResult

    Examples
    --------
    >>> th = np.zeros(50); th[:5] = 0.2
    >>> simulate_ldp_iht(th, 10**9, 2.0, 1e-5, k=5, n_repeats=2, rng=0).x.shape
    (2, 50)
    """
    th, n, s, tx, ty, batch = _check_sim(theta, n, noise_std, tau_x, tau_y, n_repeats)
    d = th.shape[0]
    k = check_k(k, d)
    kk = check_k(sparsity, d, "sparsity") if sparsity is not None else k
    R = check_positive(radius, "radius")
    check_budget(epsilon, delta, require_delta=mechanism == "gaussian")
    mech = ldp_iht_mechanism(d, epsilon, delta, tau_x=tx, tau_y=ty, radius=R, calibration=calibration,
                             mechanism=mechanism)
    g = rng if isinstance(rng, Generator) else default_rng(rng)
    a = min(tx, 1.0)
    reps = batch[0] if batch else 1
    server = LDPIHTServer(d, n, kk, n_rounds=n_rounds, step=step, radius=R, batch_shape=batch,
                          partition="contiguous")
    while not server.done:
        grp = server.current_group()
        m = len(grp)
        cur = np.asarray(server.broadcast()).reshape(reps, d)
        tot = []
        for j in range(reps):
            G, xy = rademacher_statistics(m, th, s, g)
            t = a * a * (G @ cur[j]) - a * xy
            if _noise:
                t = t + mech.aggregate_noise((d,), m, rng=g)
            tot.append(t)
        server.receive_sum(np.stack(tot).reshape(batch + (d,)), grp)
    record = PrivacyRecord.from_releases([mech.record("gradient")], protocol="sequentially-interactive",
                                         n_users=n, noise=_noise, n_rounds=int(n_rounds),
                                         simulated="rademacher-sufficient-statistics")
    extras = {"sigma": mech.noise_scale, "epsilon_release": (mech.epsilon,), "delta_release": (mech.delta,),
              "calibration": (mech.calibration,), "mechanism": mech.mechanism, "n_rounds": int(n_rounds),
              "group_sizes": server.sizes.copy(), "n_users": n, "privacy": record.as_dict(),
              "design": "rademacher"}
    params = {"epsilon": float(epsilon), "delta": None if delta is None else float(delta), "k": k,
              "sparsity": kk, "tau_x": tx, "tau_y": ty, "n_rounds": int(n_rounds), "step": float(step),
              "radius": R, "calibration": calibration, "mechanism": mechanism,
              "simulate": "sufficient_statistics", "noise_std": s}
    x = _out(server.theta, theta if is_torch(theta) else None)
    return _result(x, batch, params, extras, "ldp_iht", n_iter=int(n_rounds),
                   history=server.history_arrays())


def population_iht(theta: Any, k: int, *, n_rounds: int = 10, step: float = 0.5, radius: float = 1.0,
                   tau_x: float = 1.0) -> np.ndarray:
    r"""Noise-free, infinite-population IHT for the Rademacher design (:math:`\Sigma = a^2 I`).

    :math:`\theta_t = P_R(H_k(\theta_{t-1} - \eta a^2(\theta_{t-1} - \theta^*/a)))` with
    :math:`a = \min(\tau_x, 1)`: the limit of LDP-IHT as :math:`n, \varepsilon\to\infty`.

    Examples
    --------
    >>> th = np.zeros(5); th[0] = 0.5
    >>> float(population_iht(th, 1, n_rounds=30)[0].round(6))
    0.5
    """
    th = np.asarray(to_numpy(theta), dtype=np.float64)
    a = min(float(tau_x), 1.0)
    cur = np.zeros_like(th)
    for _ in range(int(n_rounds)):
        grad = a * a * cur - a * th
        cur = project_l1_ball(project_l0_ball(cur - step * grad, int(k)), float(radius))
    return cur
