"""
Sparse deconvolution of a 1-D spike train
=========================================

A spike train (a few positive spikes) is blurred by a Gaussian pulse and corrupted by noise.
We recover it by solving

.. math:: \\min_x \\tfrac12\\|h * x - y\\|_2^2 + \\lambda\\, g(x), \\qquad x \\ge 0,

with FISTA for three penalties (ℓ1, ℓ1/2 and CEL0, the continuous exact ℓ0 relaxation), all
in one batched call per penalty over several noise levels, and compare with a CVXPY solve of
the ℓ1 problem.  The step comes from the closed-form norm of the convolution operator.
"""

# %%
import os
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from sparserec.operators import FFTConvolve
from sparserec.prox import CEL0, L1, Lp
from sparserec.solvers import ConvergenceWarning
from sparserec.solvers.convex import fista

FAST = os.environ.get("SPARSEREC_FAST", "0") not in ("", "0")
rng = np.random.default_rng(0)

# %%
# Data: spikes, a Gaussian pulse, three noise levels (a batch of three problems)
n = 300
x_true = np.zeros(n)
pos = rng.choice(np.arange(20, n - 20, 8), 12, replace=False)  # >= 8 samples apart
x_true[pos] = rng.uniform(0.5, 2.0, 12)
t = np.arange(-15, 16)
h = np.exp(-0.5 * (t / 2.5) ** 2)
h /= h.sum()
A = FFTConvolve(h, n, mode="same")
sigmas = np.array([0.002, 0.01, 0.03])
y = A @ x_true + sigmas[:, None] * rng.standard_normal((3, n))
print(f"||A|| from the closed-form bound: {A.opnorm():.4f}")

# %%
# Solve: one call per penalty, per-problem lam proportional to the noise level
# (the noise seen through the adjoint has standard deviation sigma * ||h||; the CEL0 weight is
# an l0 weight, hence quadratic in the threshold)
hn = np.linalg.norm(h)
lam = 3.0 * sigmas * hn
max_iter = 1500 if FAST else 5000
results = {}
for name, pen, lam_k in [("l1", L1(), lam),
                         ("l1/2", Lp(0.5), 0.5 * lam),
                         ("CEL0", CEL0(np.full(n, hn)), 2.0 * (4.0 * lam) ** 2)]:
    with warnings.catch_warnings():  # a few problems may stop at max_iter in the fast mode
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = fista(A, y, pen, lam_k, positivity=True, max_iter=max_iter, tol=1e-7,
                    restart=None if name != "l1" else "adaptive")
    results[name] = res
    err = np.linalg.norm(res.x - x_true, axis=1) / np.linalg.norm(x_true)
    print(f"{name:5s}: iterations {res.n_iter}, relative error {np.round(err, 3)}, "
          f"non-zeros {(np.abs(res.x) > 1e-3).sum(1)}")

# %%
# Check the l1 solution of the noisiest problem against CVXPY (if installed)
try:
    from sparserec.solvers.convex import cvx

    ref = cvx.lasso(np.asarray(A.todense()), y[2], float(lam[2]), positivity=True)
    x = results["l1"].x[2]
    f = 0.5 * np.sum((A @ x - y[2]) ** 2) + lam[2] * np.abs(x).sum()
    print(f"FISTA objective {f:.6f} vs CVXPY {ref.value:.6f}")
except ImportError:
    print("cvxpy not installed: skipping the oracle check")

# %%
# Plot the noisiest problem
fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
axes[0].plot(y[2], color="0.5", lw=1, label="data (sigma = 0.03)")
axes[0].plot(A @ x_true, "k", lw=1, label="noiseless blurred signal")
axes[0].legend(loc="upper right")
axes[1].stem(np.flatnonzero(x_true), x_true[x_true > 0], linefmt="k-", markerfmt="ko",
             basefmt=" ", label="true spikes")
for (name, res), c in zip(results.items(), ["C0", "C1", "C3"]):
    xs = res.x[2]
    nz = np.flatnonzero(np.abs(xs) > 1e-3)
    axes[1].plot(nz, xs[nz], "x", color=c, label=name)
axes[1].legend(loc="upper right")
axes[1].set_xlabel("sample")
fig.tight_layout()
plt.show()
