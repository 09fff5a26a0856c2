"""
Sparse regression under local differential privacy: error against n and epsilon
================================================================================

Every user holds one pair :math:`(x_i, y_i)` and randomises it on their own device before
anything leaves it.  We compare three estimators from :mod:`sparserec.solvers.privacy`:

* **NLDP-SLR** — non-interactive: each user releases a privatised :math:`\\tilde x\\tilde x^\\top`
  and :math:`\\tilde x\\tilde y` once; the server solves in closed form and keeps the top-k entries;
* **NLDP-SLR with public data** — the covariance comes from public unlabelled features, so users
  only release :math:`\\tilde x\\tilde y`;
* **LDP-IHT** — sequentially interactive iterative hard thresholding; each user is queried once.

All error bounds scale as :math:`1/(\\sqrt n\\,\\varepsilon)`: slope :math:`-1/2` against
:math:`n` and :math:`-1` against :math:`\\varepsilon` on log–log axes.  The methods need a *very*
large number of users (NLDP-SLR roughly :math:`n \\gtrsim d^4`); below that the errors saturate
at the size of :math:`\\theta^*` itself.  That is why we use the sufficient-statistic simulators
(Rademacher design), which reach :math:`10^9` users in milliseconds and are exact in the privacy
noise.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from sparserec.solvers.privacy import simulate_ldp_iht, simulate_nldp_slr

FAST = os.environ.get("SPARSEREC_FAST", "0") == "1"
REPS = 5 if FAST else 20


def theta_star(d, k):
    th = np.zeros(d)
    th[:k] = np.where(np.arange(k) % 2 == 0, 1.0, -1.0) / k  # ||theta||_1 = 1
    return th


def err(res, th):
    return float(np.linalg.norm(np.asarray(res.x) - th, axis=-1).mean())


def slope(x, y):
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


d, k, eps = 10, 3, 4.0
th = theta_star(d, k)
ns = np.logspace(5, 9, 5 if FAST else 9).astype(np.int64)

curves = {
    "NLDP-SLR": [err(simulate_nldp_slr(th, n, eps, 1e-5, k=k, n_repeats=REPS, rng=0), th) for n in ns],
    "NLDP-SLR + public X": [err(simulate_nldp_slr(th, n, eps, 1e-5, k=k, n_public=int(n), n_repeats=REPS,
                                                  rng=0), th) for n in ns],
    "LDP-IHT": [err(simulate_ldp_iht(th, n, eps, 1e-5, k=k, n_repeats=REPS, rng=0), th) for n in ns],
}

# %%
# Error against the number of users
# ---------------------------------
# Fits use only the non-saturated points (error below 0.3 ||theta*||).

fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
ax = axes[0]
for name, e in curves.items():
    e = np.asarray(e)
    ok = e < 0.3 * np.linalg.norm(th)
    label = name + (f" (slope {slope(ns[ok], e[ok]):.2f})" if ok.sum() >= 2 else "")
    ax.loglog(ns, e, "o-", label=label)
ref = curves["NLDP-SLR"][-1] * (ns / ns[-1]) ** -0.5
ax.loglog(ns, ref, "k--", label="theory: slope -1/2")
ax.axhline(np.linalg.norm(th), color="gray", lw=0.8, ls=":")
ax.set_xlabel("number of users n")
ax.set_ylabel(r"mean $\|\hat\theta-\theta^*\|_2$")
ax.set_title(rf"d={d}, k={k}, $\varepsilon$={eps:g}, $\delta$=1e-5")
ax.legend(fontsize=8)

# %%
# Error against the privacy budget
# --------------------------------
# For NLDP-SLR the per-release budget is epsilon/2, so "auto" calibration switches from the
# classical to the analytic Gaussian mechanism at epsilon = 2; in the analytic regime the noise
# falls slightly slower than 1/epsilon.

epss = np.array([0.5, 1.0, 1.9, 4.0, 8.0, 16.0])
n_eps = 10**9
ax = axes[1]
eps_curves = {}
for name, fn in [("NLDP-SLR", lambda e: simulate_nldp_slr(th, n_eps, e, 1e-5, k=k, n_repeats=REPS, rng=1)),
                 ("LDP-IHT", lambda e: simulate_ldp_iht(th, n_eps, e, 1e-5, k=k, n_repeats=REPS, rng=1))]:
    e = np.array([err(fn(x), th) for x in epss])
    eps_curves[name] = e
    ax.loglog(epss, e, "o-", label=f"{name} (slope {slope(epss, e):.2f})")
ax.loglog(epss, e[0] * (epss / epss[0]) ** -1.0, "k--", label="theory: slope -1")
ax.set_xlabel(r"$\varepsilon$")
ax.set_title(f"n = {n_eps:.0e}")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# Interactive beats non-interactive in higher dimension
# -----------------------------------------------------
# With d = 50 and k = 5, LDP-IHT's k*sqrt(d) beats NLDP-SLR's d*sqrt(k).

th50 = theta_star(50, 5)
for n in (10**7, 10**8) if FAST else (10**7, 10**8, 10**9):
    a = err(simulate_nldp_slr(th50, n, 2.0, 1e-5, k=5, n_repeats=REPS, rng=2), th50)
    b = err(simulate_ldp_iht(th50, n, 2.0, 1e-5, k=5, n_repeats=REPS, rng=2), th50)
    print(f"n = {n:.0e}: NLDP-SLR {a:.4f}   LDP-IHT {b:.4f}")

# %%
# Keep the numbers
# ----------------
# The curves go to an HDF5 file through xarray (``io`` extra), with named dimensions.

try:
    import xarray as xr

    ds = xr.Dataset(
        {"error_vs_n": (("estimator", "n"), np.array(list(curves.values()))),
         "error_vs_epsilon": (("estimator_eps", "epsilon"), np.array(list(eps_curves.values())))},
        coords={"estimator": list(curves), "n": ns, "estimator_eps": list(eps_curves),
                "epsilon": epss},
        attrs={"d": d, "k": k, "delta": 1e-5, "epsilon_n_curves": eps, "n_epsilon_curves": n_eps,
               "repetitions": REPS, "design": "rademacher, sufficient statistics"})
    import os
    import tempfile

    out = os.path.join(tempfile.mkdtemp(prefix="sparserec-ldp-"), "ldp_regression_curves.h5")
    ds.to_netcdf(out, engine="h5netcdf")
    print(f"curves written to {out}")
    print(ds)
except ImportError:
    print("xarray/h5netcdf not installed: pip install 'sparserec[io]' to save the curves")

plt.show()
