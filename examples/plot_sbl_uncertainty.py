"""
Sparse Bayesian learning: posterior uncertainty on a 1-D sparse signal
======================================================================

:func:`~sparserec.solvers.bayes.sbl` returns, besides the posterior mean, the **full-length**
posterior variance :math:`\\mathrm{diag}\\,\\Sigma` (computed without forming the
:math:`N\\times N` covariance), the learned prior variances :math:`\\gamma` and the learned
noise variance.  Pruned coefficients have prior variance 0, hence posterior variance exactly 0:
the vector keeps length :math:`N` (unlike scikit-learn's ``ARDRegression.sigma_``).

We recover a spiky signal of length 120 from 45 noisy random projections and draw the
posterior mean with :math:`\\pm 2` standard-deviation bars.  A batch of 16 noise realisations
is solved in **one call** (per-problem :math:`\\gamma` and noise) to check the calibration of the
error bars: the fraction of true non-zeros inside the :math:`\\pm 2\\sigma` interval.  With the
noise variance known the bars are close to nominal; when it is learned from so few
measurements, spurious small components absorb part of the noise, the noise variance is
underestimated and the bars are too narrow -- a known trait of type-II maximum likelihood.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from sparserec.solvers.bayes import sbl

rng = np.random.default_rng(3)
N, M = 120, 45
A = rng.standard_normal((M, N)) / np.sqrt(M)
x = np.zeros(N)
supp = rng.choice(N, 8, replace=False)
x[supp] = rng.choice([-1.0, 1.0], 8) * (1.0 + rng.random(8))
sigma = 0.05
Y = x @ A.T + sigma * rng.standard_normal((16, M))  # 16 noise realisations

res = sbl(A, Y, noise_var=sigma**2)  # known noise variance
learned = sbl(A, Y)  # noise variance learned per problem
mu = res.x
std = np.sqrt(res.extras["posterior_var"])
print("learned noise std:", np.round(np.sqrt(learned.extras["noise_var"][:4]), 4), "(true 0.05)")
print("support sizes:", res.extras["support"].sum(axis=1))

# %%
# Posterior mean with ±2σ bars (first realisation)
# ------------------------------------------------
fig, ax = plt.subplots(figsize=(10, 3.5))
ax.stem(np.arange(N), x, linefmt="C7-", markerfmt="C7o", basefmt=" ", label="true x")
k = np.flatnonzero(res.extras["support"][0])
ax.errorbar(k, mu[0, k], yerr=2 * std[0, k], fmt="C3s", ms=4, capsize=3, label="SBL mean ± 2σ")
ax.set(xlabel="index", ylabel="amplitude", title="SBL posterior (pruned entries: mean 0, std 0)")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Calibration over the batch
# --------------------------
for name, r in (("known noise", res), ("learned noise", learned)):
    sd = np.sqrt(r.extras["posterior_var"][:, supp])
    inside = np.abs(r.x[:, supp] - x[supp]) <= 2 * sd
    print(f"{name}: true non-zeros inside the ±2σ interval: {inside.mean():.0%} (nominal 95%)")
