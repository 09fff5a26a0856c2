"""
Small-target detection with a deep-unfolded RPCA network (RPCANet++)
=====================================================================

An infrared image :math:`D` is modelled as a low-rank background :math:`B` plus a sparse
target image :math:`O`.  Robust PCA (PCP, :func:`~sparserec.solvers.convex.pcp.pcp`) separates
them by convex optimisation; RPCANet++ (:class:`~sparserec.solvers.unfolding.RPCANetPP`)
*unfolds* the alternating minimisation into a few network stages (background approximation
with a ConvLSTM memory, object extraction with a learned contrast prior, image restoration)
and learns every step from data.

We load the small RPCANet++ shipped with sparserec (3 stages, 8 channels, trained on the CPU
on synthetic 32x32 images by :func:`~sparserec.solvers.unfolding.train_synthetic`, see
``sparserec/datasets/data/rpcanet/README.md``), compare its detections with PCP and a white
top-hat filter on fresh synthetic images, and look inside the network: the singular values of
each stage's background :math:`B^k` and the sparsity of each :math:`O^k`.
"""

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from sparserec.solvers.unfolding import (
    iou,
    load_pretrained,
    make_small_targets,
    pcp_scores,
    pd_fa,
    segment,
    stage_diagnostics,
    threshold_at_fa,
    tophat_scores,
)

FAST = os.environ.get("SPARSEREC_FAST", "0") == "1"
n_test = 32 if FAST else 128
net = load_pretrained("rpcanetpp_s3_c8_synth32")
print(f"RPCANet++: {net.n_stages} stages, {net.num_parameters()} parameters")
images, masks = make_small_targets(n_test, shape=32, seed=2024)

# %%
# Detections
# ----------
# The network's segmentation is :math:`O^K > 0` (sigmoid above 0.5).  Its pixel false-alarm
# rate fixes the operating point of the baselines: PCP's sparse part and the top-hat response
# are thresholded to the same false-alarm rate.
t0 = time.perf_counter()
logits = segment(net, images)
t_net = time.perf_counter() - t0
det = logits > 0
pd_net, fa_net = pd_fa(det, masks)
t0 = time.perf_counter()
s_pcp = pcp_scores(images)
t_pcp = time.perf_counter() - t0
s_th = tophat_scores(images, 5)
d_pcp = s_pcp > threshold_at_fa(s_pcp, masks, fa_net)
d_th = s_th > threshold_at_fa(s_th, masks, fa_net)
for name, d, t in (("RPCANet++", det, t_net), ("PCP", d_pcp, t_pcp), ("top-hat", d_th, None)):
    pd, fa = pd_fa(d, masks)
    tt = f"  time {t:.2f} s" if t is not None else ""
    print(f"{name:10s} IoU {iou(d, masks):.3f}  Pd {pd:.3f}  Fa {fa:.1e}{tt}")

fig, axes = plt.subplots(3, 5, figsize=(11, 6.8))
for j in range(3):
    for ax, im, title in zip(axes[j], (images[j], masks[j], det[j], d_pcp[j], d_th[j]),
                             ("image", "ground truth", "RPCANet++", "PCP", "top-hat")):
        ax.imshow(im, cmap="gray")
        ax.set_xticks([])
        ax.set_yticks([])
        if j == 0:
            ax.set_title(title)
fig.tight_layout()

# %%
# Inside the network
# ------------------
# The background module should output an (approximately) low-rank image: its normalised
# singular values decay faster than those of the input, while the object image :math:`O^k`
# is sparse (fraction of positive pixels, :math:`\ell_0/N`).
diag = stage_diagnostics(net, images)
fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
a1.semilogy(diag["singular_values"][0], "k-", label="input D")
for k in range(net.n_stages):
    a1.semilogy(diag["singular_values"][k + 1], label=f"B^{k + 1}")
a1.set_xlabel("index")
a1.set_ylabel("normalised singular value")
a1.legend()
a2.bar(np.arange(1, net.n_stages + 1), diag["sparsity"])
a2.set_xlabel("stage k")
a2.set_ylabel("fraction of pixels with O^k > 0")
fig.tight_layout()
print("99 % energy rank (input, B^1..B^K):", np.round(diag["effective_rank"], 1))
print("sparsity of O^k:", np.round(diag["sparsity"], 4))
plt.show()
