"""
Robust PCA: background separation in a synthetic video
=======================================================

A static scene under slowly varying illumination is (close to) a rank-one sequence of frames;
objects that move across it occupy few pixels in every frame.  Stacking the frames as the
columns of a matrix :math:`D` (pixels × frames), principal component pursuit

.. math:: \\min_{L, S} \\|L\\|_* + \\lambda \\|S\\|_1 \\quad \\text{s.t.} \\quad L + S = D,

solved by :func:`~sparserec.solvers.convex.pcp.pcp` (inexact ALM, :math:`\\lambda =
1/\\sqrt{\\max(m, n)}`), returns the background in :math:`L` and the moving objects in
:math:`S`.  Two videos (two cameras) are separated in **one batched call**: the SVDs of both
problems run together, each with its own penalty and stopping test.
"""

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from sparserec.solvers.convex.pcp import pcp

FAST = os.environ.get("SPARSEREC_FAST", "0") == "1"
H, W, T = (36, 48, 40) if FAST else (60, 80, 80)
rng = np.random.default_rng(0)


def video(seed):
    """Textured background, slow illumination drift, a moving square and a moving disc."""
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[:H, :W] / max(H, W)
    bg = 0.4 + 0.3 * xx + 0.2 * np.sin(6 * yy) + 0.05 * r.standard_normal((H, W))
    gain = 1 + 0.1 * np.sin(np.linspace(0, np.pi, T))           # slow global illumination change
    frames = gain[:, None, None] * bg[None]
    mask = np.zeros((T, H, W), dtype=bool)
    for t in range(T):
        c = int(2 + (W - 12) * t / (T - 1))                       # square moving to the right
        mask[t, H // 4: H // 4 + 8, c: c + 8] = True
        cy, cx = H * 0.7, W * (1 - t / T) * 0.9                   # disc moving to the left
        mask[t] |= (np.arange(H)[:, None] - cy) ** 2 + (np.arange(W)[None] - cx) ** 2 < 16
    frames = np.where(mask, 0.9 + 0.1 * r.random((T, H, W)), frames)
    return frames + 0.005 * r.standard_normal((T, H, W)), gain[:, None, None] * bg[None], mask


(v1, b1, m1), (v2, b2, m2) = video(1), video(2)
# pixels x frames, one matrix per video, batched
D = np.stack([v1.reshape(T, -1).T, v2.reshape(T, -1).T])
t0 = time.perf_counter()
res = pcp(D)
print(f"batched PCP of 2 videos ({H * W} pixels x {T} frames): {time.perf_counter() - t0:.2f} s, "
      f"iterations {res.n_iter}, rank of L {res.extras['rank']}")

L = res.x[0].T.reshape(T, H, W)
S = res.extras["sparse"][0].T.reshape(T, H, W)
fg = np.abs(S) > 0.1
tp, fp, fn = (fg & m1).sum(), (fg & ~m1).sum(), (~fg & m1).sum()
print(f"foreground F-measure {2 * tp / (2 * tp + fp + fn):.3f}; "
      f"background RMSE {np.sqrt(np.mean((L - b1) ** 2)):.4f} (frames in [0, 1])")

# %%
# Frames, recovered background and foreground
# -------------------------------------------
show = [0, T // 2, T - 1]
fig, axes = plt.subplots(3, len(show), figsize=(8, 6))
for j, t in enumerate(show):
    axes[0, j].imshow(v1[t], cmap="gray", vmin=0, vmax=1)
    axes[0, j].set_title(f"frame {t}")
    axes[1, j].imshow(L[t], cmap="gray", vmin=0, vmax=1)
    axes[2, j].imshow(np.abs(S[t]), cmap="magma")
for ax, name in zip(axes[:, 0], ["video", "low-rank L", "|sparse S|"]):
    ax.set_ylabel(name)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()

# %%
# Convergence of the batched solve
# --------------------------------
fig, ax = plt.subplots(1, 2, figsize=(8, 3))
ax[0].semilogy(res.history["residual"])
ax[0].set_xlabel("iteration")
ax[0].set_ylabel(r"$\|D-L-S\|_F/\|D\|_F$")
ax[1].plot(res.history["rank"])
ax[1].set_xlabel("iteration")
ax[1].set_ylabel("rank of L")
fig.tight_layout()
plt.show()
