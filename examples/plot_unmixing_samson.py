"""
Hyperspectral unmixing of the real Samson scene
===============================================

Samson (95 x 95 pixels, 156 bands, 0.40-0.89 um) mixes three materials: soil, tree and water.
The shipped ground truth ``A_true`` is the fully constrained least-squares (FCLS) solution for the
ground-truth endmembers, so FCLS with those endmembers must reproduce it (supervised check), and
blind methods are judged against it after Hungarian matching of the estimated endmembers (by
spectral angle).

Blind pipeline: VCA (seeded) picks three pixels as initial endmembers, FCLS gives initial
abundances, and the RRLbS-style robust method (l2,1 loss over channels + learned guidance map
weighting an lp abundance penalty) refines both.  Baselines: VCA + FCLS and Frobenius NMF with the
sum-to-one augmentation.  The learned guidance map is shown too: it is positive on the purer pixels
(where the sparsity push is applied) and zero on the most mixed ones.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from sparserec.applications import hyperspectral as hs
from sparserec.solvers.unmixing import fcls, nmf, rrlbs_style, vca

FAST = os.environ.get("SPARSEREC_FAST", "0") == "1"
N_ITER = 100 if FAST else 1000
scene = hs.load_samson()  # sha256-verified shipped copy
Y, E_true, A_true = scene.Y, scene.E, scene.A
print(Y.shape, E_true.shape, A_true.shape)

# %%
# Supervised check: FCLS with the true endmembers, all 9025 pixels in one batched call.
sup = fcls(E_true, Y)
print(f"FCLS with true endmembers: aRMSE = {hs.armse(A_true, sup.x):.2e}  (active-set sweeps <= {sup.n_iter.max()})")

# %%
# Blind unmixing: VCA + FCLS, NMF and the robust RRLbS-style method (same seed).
E_vca = vca(Y, 3, random_state=0).x
results = {"VCA + FCLS": (E_vca, fcls(np.clip(E_vca, 0, None), Y).x)}
r_nmf = nmf(Y, 3, max_iter=N_ITER, tol=0, random_state=0)
results["NMF"] = (r_nmf.extras["endmembers"], r_nmf.x)
r_rob = rrlbs_style(Y, 3, max_iter=N_ITER, tol=0, random_state=0)
results["RRLbS-style"] = (r_rob.extras["endmembers"], r_rob.x)
aligned = {}
for name, (E, A) in results.items():
    m = hs.evaluate(E_true, A_true, E, A, Y, by="sad")
    aligned[name] = (np.asarray(E)[:, m["perm"]], np.asarray(A)[..., m["perm"]])
    print(f"{name:12s} mean SAD {m['mean_sad']:5.2f} deg   aRMSE {m['armse']:.4f}   "
          f"per-endmember SAD {np.round(m['sad'], 2)}")

# %%
# Abundance maps: ground truth (top) and the robust estimate (bottom).
E_rob, A_rob = aligned["RRLbS-style"]
fig, ax = plt.subplots(2, 4, figsize=(11, 5.5))
for k, mat in enumerate(scene.materials):
    ax[0, k].imshow(A_true[..., k], vmin=0, vmax=1, cmap="viridis")
    ax[0, k].set_title(f"true {mat}")
    ax[1, k].imshow(A_rob[..., k], vmin=0, vmax=1, cmap="viridis")
    ax[1, k].set_title(f"RRLbS-style {mat}")
ax[0, 3].imshow(Y[..., [60, 35, 15]] / Y[..., [60, 35, 15]].max())
ax[0, 3].set_title("false colour")
h = np.asarray(r_rob.extras["guidance_map"])
ax[1, 3].imshow(h, cmap="magma")
ax[1, 3].set_title("learned guidance map h")
for a in ax.ravel():
    a.set_axis_off()
fig.tight_layout()

# %%
# Endmember spectra (each scaled to unit norm: the angle is what SAD measures).
wl = np.linspace(0.401, 0.889, Y.shape[-1])
fig, ax = plt.subplots(1, 3, figsize=(12, 3.5), sharey=True)
for k, mat in enumerate(scene.materials):
    ax[k].plot(wl, E_true[:, k] / np.linalg.norm(E_true[:, k]), "k", lw=2, label="ground truth")
    for name, (E, _) in aligned.items():
        ax[k].plot(wl, E[:, k] / np.linalg.norm(E[:, k]), lw=1, label=name)
    ax[k].set_title(mat)
    ax[k].set_xlabel("wavelength (um)")
ax[0].legend(fontsize=8)
fig.tight_layout()
plt.show()
