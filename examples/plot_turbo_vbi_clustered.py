"""
Turbo-VBI: clustered sparse recovery with a Markov-chain support prior
======================================================================

A signal :math:`x \\in \\mathbb{R}^{256}` whose non-zeros come in **runs** (a binary Markov
chain with sparsity :math:`\\lambda = 0.1` and mean run length 8) is measured by
:math:`M = 80` random Gaussian projections at 20 dB SNR.  We compare

* :func:`~sparserec.solvers.bayes.turbo_vbi.turbo_vbi` with a
  :class:`~sparserec.solvers.bayes.support_priors.MarkovChainSupport` prior (Module B is an exact
  forward--backward pass over the support),
* the same solver with an i.i.d. support prior of equal sparsity, and
* plain sparse Bayesian learning (:func:`~sparserec.solvers.bayes.sbl.sbl`).

The Markov prior lets Module B fill a run once a few of its coefficients are confidently active
and switch off isolated noise spikes: the structure is worth 5--10 dB of NMSE here.  A second
panel runs the Markov parameters' EM from a deliberately wrong start (:math:`\\lambda = p_{on} =
0.01`).
"""

# %%
import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np

from sparserec.solvers.bayes.sbl import sbl
from sparserec.solvers.bayes.support_priors import IndependentSupport, MarkovChainSupport
from sparserec.solvers.bayes.turbo_vbi import turbo_vbi

warnings.filterwarnings("ignore", message=".*did not converge.*")
FAST = os.environ.get("SPARSEREC_FAST", "0") == "1"
N, M, lam, run = 256, 80, 0.1, 8
trials = 3 if FAST else 10
rng = np.random.default_rng(0)


def draw(snr_db):
    p_off = 1 / run
    p_on = lam * p_off / (1 - lam)
    s = np.zeros(N, bool)
    while not s.any():
        s[0] = rng.random() < lam
        for n in range(1, N):
            s[n] = rng.random() < ((1 - p_off) if s[n - 1] else p_on)
    x = np.where(s, rng.standard_normal(N), 0.0)
    A = rng.standard_normal((M, N)) / np.sqrt(M)
    z = A @ x
    sig = np.sqrt(np.sum(z ** 2) / M / 10 ** (snr_db / 10))
    return A, z + sig * rng.standard_normal(M), x


def nmse(xh, x):
    return 10 * np.log10(np.sum((xh - x) ** 2) / np.sum(x ** 2))


# %%
# NMSE versus SNR
# ---------------
snrs = [10, 20, 30]
res = {k: [] for k in ("Turbo-VBI, Markov", "Turbo-VBI, i.i.d.", "SBL")}
t0 = time.perf_counter()
for snr in snrs:
    e = {k: [] for k in res}
    for _ in range(trials):
        A, y, x = draw(snr)
        e["Turbo-VBI, Markov"].append(nmse(turbo_vbi(A, y, MarkovChainSupport.from_sparsity(lam, run)).x, x))
        e["Turbo-VBI, i.i.d."].append(nmse(turbo_vbi(A, y, IndependentSupport(lam)).x, x))
        e["SBL"].append(nmse(sbl(A, y, update="em").x, x))  # the classical EM baseline of the paper
    for k in res:
        res[k].append(np.mean(e[k]))
print(f"{trials} trials per SNR in {time.perf_counter() - t0:.1f} s")
for k, v in res.items():
    print(f"{k:20s}" + "".join(f"{s:>4d} dB: {e:6.1f}  " for s, e in zip(snrs, v)))

# %%
# One recovery, and learning the chain
# ------------------------------------
A, y, x = draw(20)
r_mk = turbo_vbi(A, y, MarkovChainSupport(p_on=0.01, p_off=0.5, first=0.01), learn_prior=True)
r_iid = turbo_vbi(A, y, IndependentSupport(lam))
pp = r_mk.extras["prior_params"]
print(f"learned: lambda = {float(pp['lam']):.3f}, mean run 1/p_off = {1 / float(pp['p_off']):.1f}, "
      f"p_on = {float(pp['p_on']):.4f}  (true: {np.mean(x != 0):.3f}, 8, {lam / run / (1 - lam):.4f})")

fig, ax = plt.subplots(1, 2, figsize=(11, 3.8))
for k, v in res.items():
    ax[0].plot(snrs, v, "o-", label=k)
ax[0].set(xlabel="SNR (dB)", ylabel="mean NMSE (dB)", title=f"N={N}, M={M}, clustered support")
ax[0].legend()
ax[1].stem(x, linefmt="k-", markerfmt="k.", basefmt=" ", label="truth")
ax[1].plot(r_mk.x, "C0.", label=f"Markov (learned), {nmse(r_mk.x, x):.1f} dB")
ax[1].plot(r_iid.x, "C1x", ms=4, label=f"i.i.d., {nmse(r_iid.x, x):.1f} dB")
ax[1].plot(r_mk.extras["support_prob"] * np.max(np.abs(x)), "C2-", lw=0.8, label="q(s=1) (scaled)")
ax[1].set(xlabel="index n", title="20 dB")
ax[1].legend(fontsize=8)
fig.tight_layout()
plt.show()
