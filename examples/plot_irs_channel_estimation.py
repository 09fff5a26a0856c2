"""
IRS-aided MIMO channel estimation with Kronecker-structured SBL
===============================================================

An intelligent reflecting surface (IRS) between a multi-antenna mobile and a base station makes
the cascaded channel :math:`H_{BI}\\,\\mathrm{diag}(\\theta)\\,H_{IM}` hard to estimate: 256 IRS
elements but only :math:`K_1 K_2 N_B = 288` pilot measurements.  In the angular domain the
training model is :math:`y = (\\Phi_1\\otimes\\Phi_2\\otimes\\Phi_3)x + n` with a 5,832-long vector
:math:`x` that has only 9 non-zeros, themselves Kronecker-structured.  Kronecker SBL (SVD, AM and
pattern-coupled variants) exploits that structure; classical SBL on the vectorised problem and
plain least squares do not.  This reproduces the comparison of the paper (reduced trials in fast
mode) and shows one angular-domain channel and its estimate.
"""

import os
import warnings

import matplotlib.pyplot as plt
import numpy as np

from sparserec.applications.irs_mimo import (
    IRSSystem,
    channel_nmse,
    design_training,
    estimate_channel,
    received_signal,
    simulate_channels,
    true_sparse,
)
from sparserec.applications.irs_mimo.experiment import run_experiment

FAST = os.environ.get("SPARSEREC_FAST", "0") == "1"
warnings.simplefilter("ignore")  # non-converged EM runs at low SNR are expected here

# %%
# NMSE and SER vs SNR
# -------------------
system = IRSSystem()  # the paper's configuration: N_B=16, N_M=6, N_I=256, G=18, L=3, K1=3, K2=6
snrs = [4, 12, 20] if FAST else [4, 8, 12, 16, 20]
trials = 2 if FAST else 10  # the paper: 50 (python -m sparserec.applications.irs_mimo.experiment)
methods = ["svd-krosbl", "am-krosbl", "pc-krosbl", "ls"]
ds = run_experiment(system, snrs, trials, methods, n_symbols=5_000 if FAST else 20_000)
fig, ax = plt.subplots(1, 2, figsize=(10, 4))
for m in methods:
    ax[0].semilogy(snrs, ds.nmse.sel({"method": m}).mean("trial"), "o-", label=m)
    ax[1].semilogy(snrs, np.maximum(ds.ser.sel({"method": m}).mean("trial"), 1e-5), "o-", label=m)
ax[0].axhline(0.0029, ls=":", c="k", lw=0.8)
ax[0].text(snrs[0], 0.0033, "paper: PC-KroSBL at 20 dB", fontsize=7)
ax[0].set(xlabel="SNR (dB)", ylabel="mean channel NMSE (squared)")
ax[1].set(xlabel="SNR (dB)", ylabel="QPSK SER (floored at 1e-5)")
ax[0].legend(fontsize=8)
fig.tight_layout()
print(ds.nmse.mean("trial").to_pandas().round(4))

# %%
# One angular-domain channel and its estimate
# -------------------------------------------
ch = simulate_channels(system, 1, seed=11)
tr = design_training(system, ch, seed=12)
y, _, nv = received_signal(system, ch, tr, 16.0, seed=13)
est = estimate_channel(y, system, tr, "pc-krosbl", noise_var=nv)
H = np.einsum("rbi,rki,rim->rkbm", ch.H_bi, tr.theta, ch.H_im)
G = system.grid
x_true = np.abs(true_sparse(system, ch)[0]).reshape(G, G, G)
x_hat = np.abs(est.x[0]).reshape(G, G, G)
g_ms = int(ch.g_ms[0])
fig, ax = plt.subplots(1, 2, figsize=(8, 3.5), sharey=True)
ax[0].imshow(x_true[:, g_ms, :], cmap="viridis")
ax[0].set_title("|x| true (MS AoD slice)")
ax[1].imshow(x_hat[:, g_ms, :], cmap="viridis")
ax[1].set_title(f"PC-KroSBL, NMSE {channel_nmse(est.H, H)[0]:.2e}")
for a in ax:
    a.set_xlabel("BS AoA index")
ax[0].set_ylabel("IRS difference-angle index")
fig.tight_layout()
plt.show()
