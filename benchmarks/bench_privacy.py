"""LDP sparse-regression benchmarks (privacy issue): simulation throughput and the slope table.

Rows (see ``benchmarks/README.md`` for the format):

a. Per-user NLDP-SLR simulation (``nldp_slr(simulate="per_user")``, d = 10, every user runs the
   randomiser) vs the aggregate mode (``simulate="aggregate"``: clean sums plus one exact draw of
   the summed noise) on the same data, numpy and torch CPU.  Reported as users/s; the ratio is
   the aggregate mode's speed-up.  No external peer exists (Ma et al.'s implementation of the
   baseline is not public).
b. Sufficient-statistic simulation of n = 10^8 users (``simulate_nldp_slr``, one repetition):
   time, and the equivalent users/s.
c. Slopes of the mean l2 error against n and epsilon (spec §8.5, §8.6, §8.9), 20 repetitions,
   with the spec's acceptance intervals as targets.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from sparserec.solvers.privacy import nldp_slr, simulate_ldp_iht, simulate_nldp_slr


def _best(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _row(case: str, t_sr: float, peer: str, t_peer: float | None, target: str, met: Any,
         notes: str) -> dict[str, Any]:
    return {"benchmark": "privacy", "case": case, "sparserec_s": t_sr, "peer": peer, "peer_s": t_peer,
            "ratio": (t_peer / t_sr) if t_peer else None, "target": target, "met": met, "notes": notes}


def _theta(d: int, k: int) -> np.ndarray:
    th = np.zeros(d)
    th[:k] = np.where(np.arange(k) % 2 == 0, 1.0, -1.0) / k
    return th


def bench_throughput(quick: bool) -> list[dict[str, Any]]:
    rows = []
    n, d = (200_000 if quick else 2_000_000), 10
    rng = np.random.default_rng(0)
    th = _theta(d, 3)
    X = rng.choice([-1.0, 1.0], size=(n, d))
    y = X @ th + 0.1 * rng.standard_normal(n)
    backends = [("numpy", X, y)]
    try:
        import torch

        backends.append(("torch-cpu", torch.as_tensor(X), torch.as_tensor(y)))
    except ImportError:  # pragma: no cover
        pass
    for name, Xb, yb in backends:
        t_pu = _best(lambda Xb=Xb, yb=yb: nldp_slr(Xb, yb, 4.0, 1e-5, k=3, tau_y=2.0, rng=0),
                     1 if quick else 2)
        t_ag = _best(lambda Xb=Xb, yb=yb: nldp_slr(Xb, yb, 4.0, 1e-5, k=3, tau_y=2.0, simulate="aggregate",
                                                   rng=0), 2)
        rows.append(_row(f"NLDP-SLR per-user randomiser, n={n}, d={d} ({name})", t_pu,
                         "same data, simulate='aggregate'", t_ag, "", None,
                         f"per-user {n / t_pu:.3g} users/s; aggregate {n / t_ag:.3g} users/s "
                         "(ratio < 1 means aggregate is faster by 1/ratio)"))
    th = _theta(10, 3)
    t = _best(lambda: simulate_nldp_slr(th, 10**8, 4.0, 1e-5, k=3, rng=0), 3)
    rows.append(_row("NLDP-SLR sufficient-statistic simulation, n=1e8, d=10", t, "", None, "", None,
                     f"{1e8 / t:.3g} simulated users/s"))
    return rows


def _slope(x, y) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def _err(res, th) -> float:
    return float(np.linalg.norm(np.asarray(res.x) - th, axis=-1).mean())


def bench_slopes(quick: bool) -> list[dict[str, Any]]:
    reps = 20
    th = _theta(10, 3)
    rows = []
    cases = [
        ("slope vs n, NLDP-SLR (eps=4, n=1e6..1e9)", [10**6, 10**7, 10**8, 10**9],
         lambda n: simulate_nldp_slr(th, n, 4.0, 1e-5, k=3, n_repeats=reps, rng=100), (-0.75, -0.35), th),
        ("slope vs eps, classical (n=1e9, eps=0.5,1,1.9)", [0.5, 1.0, 1.9],
         lambda e: simulate_nldp_slr(th, 10**9, e, 1e-5, k=3, n_repeats=reps, rng=200), (-1.15, -0.85), th),
        ("slope vs eps, analytic (n=1e7, eps=2,4,8)", [2.0, 4.0, 8.0],
         lambda e: simulate_nldp_slr(th, 10**7, e, 1e-5, k=3, n_repeats=reps, rng=300), (-1.3, -0.7), th),
    ]
    th50 = _theta(50, 5)
    cases.append(("slope vs n, LDP-IHT (d=50, k=5, eps=2, n=1e7..1e9)", [10**7, 10**8, 10**9],
                  lambda n: simulate_ldp_iht(th50, n, 2.0, 1e-5, k=5, n_repeats=reps, rng=7), (-0.75, -0.35),
                  th50))
    for case, xs, fn, (lo, hi), truth in cases:
        t0 = time.perf_counter()
        errs = [_err(fn(x), truth) for x in xs]
        dt = time.perf_counter() - t0
        b = _slope(xs, errs)
        rows.append(_row(case, dt, "", None, f"slope in [{lo}, {hi}]", bool(lo <= b <= hi),
                         f"slope {b:.3f}; errors " + ", ".join(f"{e:.3g}" for e in errs)))
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    """All privacy benchmark rows (``quick``: fewer users in the throughput rows)."""
    return bench_throughput(quick) + bench_slopes(quick)


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
