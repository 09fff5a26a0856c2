"""
Compressed sensing: OMP vs FISTA (ℓ1) vs ℓp (p = 1/2) vs IHT
=============================================================

A :math:`k`-sparse vector :math:`x \\in \\mathbb{R}^{256}` is measured by :math:`m = 96`
random Gaussian projections, :math:`y = A x`.  We recover it with four solvers and count how
often each one succeeds (relative error below 1 %) as the sparsity :math:`k` grows:

* **OMP** (:func:`~sparserec.solvers.convex.greedy.omp`), told the sparsity :math:`k`;
* **ℓ1 / FISTA** (:func:`~sparserec.solvers.convex.proximal_gradient.fista`), basis-pursuit
  denoising with a small weight :math:`\\lambda = 10^{-3}\\|A^T y\\|_\\infty` per problem, then a
  least-squares debias on the support;
* **ℓp, p = 1/2**: FISTA with the :class:`~sparserec.prox.Lp` proximal map (non-convex), with
  continuation: :math:`\\lambda` decreases from :math:`0.3\\|A^T y\\|_\\infty` to
  :math:`3\\cdot 10^{-5}\\|A^T y\\|_\\infty` over nine warm-started stages (the ℓp prox has a
  jump, so small coefficients only enter once the weight is small), then the same debias;
* **normalised IHT** (:func:`~sparserec.solvers.convex.greedy.iht`), told :math:`k`.

Every solver runs the **whole batch of trials at once**: for each :math:`k` the 40 (8 with
``SPARSEREC_FAST=1``) random problems are one call, with per-problem :math:`\\lambda`,
supports and convergence.  The non-convex ℓp penalty extends the region of exact recovery
beyond ℓ1, the classical result of Chartrand (2007).
"""

# %%
import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np

from sparserec.prox import Lp
from sparserec.solvers.convex.greedy import iht, omp
from sparserec.solvers.convex.proximal_gradient import fista

warnings.filterwarnings("ignore", message=".*did not converge.*")  # hard problems at large k
FAST = os.environ.get("SPARSEREC_FAST", "0") == "1"
n, m = 256, 96
trials = 8 if FAST else 40
ks = np.arange(4, 45, 12 if FAST else 4)
rng = np.random.default_rng(0)
A = rng.standard_normal((m, n)) / np.sqrt(m)


def problems(k):
    X = np.zeros((trials, n))
    for t in range(trials):
        X[t, rng.choice(n, k, replace=False)] = rng.standard_normal(k)
    return X, X @ A.T


def debias(x, y):
    """Least squares on the support of every problem (tiny loop over trials, for the plot only)."""
    out = np.zeros_like(x)
    for t in range(x.shape[0]):
        S = np.flatnonzero(np.abs(x[t]) > 1e-6 * np.abs(x[t]).max())
        if 0 < S.size <= m:
            out[t, S] = np.linalg.lstsq(A[:, S], y[t], rcond=None)[0]
    return out


def lp_continuation(Y, lmax):
    """Batched FISTA with the Lp (p = 1/2) prox and a decreasing weight (warm starts)."""
    x = None
    for f in (0.3, 0.1, 0.03, 0.01, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5):
        x = fista(A, Y, Lp(0.5), lam=f * lmax, x0=x, max_iter=200, tol=1e-8).x
    return np.asarray(x)


def success(xhat, X):
    err = np.linalg.norm(xhat - X, axis=1) / np.linalg.norm(X, axis=1)
    return float(np.mean(err < 1e-2))


rates = {"OMP": [], "ℓ1 (FISTA)": [], "ℓp, p=1/2 (FISTA)": [], "IHT (normalised)": []}
timing = dict.fromkeys(rates, 0.0)
for k in ks:
    X, Y = problems(int(k))
    lam = 1e-3 * np.abs(Y @ A).max(axis=1)            # per-problem weight

    t0 = time.perf_counter()
    r = omp(A, Y, n_nonzero=int(k))
    timing["OMP"] += time.perf_counter() - t0
    rates["OMP"].append(success(r.x, X))

    t0 = time.perf_counter()
    r1 = fista(A, Y, "l1", lam=lam, max_iter=3000, tol=1e-9)
    timing["ℓ1 (FISTA)"] += time.perf_counter() - t0
    rates["ℓ1 (FISTA)"].append(success(debias(np.asarray(r1.x), Y), X))

    t0 = time.perf_counter()
    xp_ = lp_continuation(Y, lam / 1e-3)
    timing["ℓp, p=1/2 (FISTA)"] += time.perf_counter() - t0
    rates["ℓp, p=1/2 (FISTA)"].append(success(debias(xp_, Y), X))

    t0 = time.perf_counter()
    ri = iht(A, Y, n_nonzero=int(k), normalized=True, max_iter=1000, tol=1e-10)
    timing["IHT (normalised)"] += time.perf_counter() - t0
    rates["IHT (normalised)"].append(success(ri.x, X))

print("k:", " ".join(f"{k:5d}" for k in ks))
for name, r in rates.items():
    print(f"{name:20s}", " ".join(f"{v:5.2f}" for v in r), f"  ({timing[name]:.2f} s)")

# %%
# Recovery rate against sparsity
# ------------------------------
fig, ax = plt.subplots(figsize=(6, 4))
for name, r in rates.items():
    ax.plot(ks, r, "o-", label=name)
ax.set_xlabel("sparsity k (non-zeros out of 256)")
ax.set_ylabel(f"fraction recovered (of {trials})")
ax.set_title(f"m = {m} Gaussian measurements")
ax.legend()
fig.tight_layout()

# %%
# One problem near the ℓ1 limit
# -----------------------------
k = int(ks[len(ks) // 2])
X, Y = problems(k)
lam = 1e-3 * np.abs(Y @ A).max(axis=1)
r1 = fista(A, Y, "l1", lam=lam, max_iter=3000, tol=1e-9)
sols = {"OMP": omp(A, Y, n_nonzero=k).x, "ℓ1 (FISTA)": debias(np.asarray(r1.x), Y),
        "ℓp (FISTA)": debias(lp_continuation(Y, lam / 1e-3), Y)}
fig, axes = plt.subplots(len(sols), 1, figsize=(7, 6), sharex=True)
for ax, (name, xs) in zip(axes, sols.items()):
    ax.stem(np.flatnonzero(X[0]), X[0][X[0] != 0], linefmt="C7-", markerfmt="C7o", basefmt=" ",
            label="truth")
    ax.plot(xs[0], "C3.", label=name)
    ax.set_ylabel(name)
    ax.legend(loc="upper right", fontsize=8)
axes[-1].set_xlabel("index")
fig.tight_layout()
plt.show()
