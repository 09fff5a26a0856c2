"""
Structured Bayesian pruning of a small MLP with Turbo-VBI
=========================================================

A 64-32-10 MLP classifies scikit-learn's 8x8 ``digits``.  Each weight gets the three-layer
Turbo-VBI prior (support -> Gamma precision -> Gaussian weight); the weights' Gaussian
posterior is trained by SGD with the KL penalty (:func:`~sparserec.solvers.bayes.turbo_pruning.kl_penalty`)
and, every two epochs, :func:`~sparserec.solvers.bayes.turbo_pruning.turbo_step` updates the
precisions and the support posterior.  With a **grid MRF** support prior (rows = neurons,
columns = inputs; horizontal edges couple neighbouring inputs of a neuron, vertical edges
neighbouring neurons) the surviving weights form contiguous runs and whole neurons vanish;
:func:`~sparserec.solvers.bayes.turbo_pruning.compress` then removes those neurons physically.

Compared: the dense network, global **magnitude pruning** at the same number of weights (then
fine-tuned), Turbo-VBI with an **i.i.d.** support prior, and Turbo-VBI with the **MRF** prior.
Reported: test accuracy, kept weights, mean length of the pruned runs along the input axis
(regularity), removed hidden neurons and parameters after compression.
"""

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from sparserec.solvers.bayes.support_priors import IndependentSupport, MRFSupport
from sparserec.solvers.bayes.turbo_pruning import (
    compress,
    kl_penalty,
    magnitude_masks,
    prune,
    turbo_layers,
    turbo_step,
    wrap,
    zero_run_lengths,
)

FAST = os.environ.get("SPARSEREC_FAST", "0") == "1"
torch.set_num_threads(1)
EPOCHS = 40 if FAST else 80
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
Xtr, Xte = torch.tensor(Xtr), torch.tensor(Xte)
ytr, yte = torch.tensor(ytr), torch.tensor(yte)
n_train = len(ytr)


# Gamma parameters matched to the weight scale: active prior variance b/a = 0.05, inactive 1e-4
HYPER = dict(active_shape=1.0, active_rate=0.05, inactive_shape=1.0, inactive_rate=1e-4)


def make(prior1, prior2, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(wrap(nn.Linear(64, 32), prior1, variational="point", **HYPER), nn.ReLU(),
                         wrap(nn.Linear(32, 10), prior2, variational="point", **HYPER))


def train(model, epochs, beta=1.0, turbo=True, lr=3e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    ce = nn.CrossEntropyLoss(reduction="mean")
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(n_train)
        for i in range(0, n_train, 128):
            idx = perm[i:i + 128]
            loss = n_train * ce(model(Xtr[idx]), ytr[idx])
            if beta:
                loss = loss + beta * kl_penalty(model)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if turbo and ep >= 4 and ep % 2 == 0:
            turbo_step(model)
    return model


@torch.no_grad()
def accuracy(model):
    model.eval()
    return float((model(Xte).argmax(1) == yte).float().mean())


def report(name, model):
    layers = list(turbo_layers(model))
    kept = sum(int(m.mask.sum()) for m in layers)
    total = sum(m.mask.numel() for m in layers)
    small, info = compress(model)
    hidden = small[0].out_features
    runs = zero_run_lengths(layers[0].mask)
    return {"method": name, "accuracy": accuracy(model), "kept": kept / total, "zero_run": runs,
            "hidden": hidden, "params": info["params_after"], "mask": layers[0].mask.clone()}


t0 = time.perf_counter()
rows = []
# dense baseline (no KL, no pruning)
dense = train(make(0.5, 0.5), EPOCHS, beta=0.0, turbo=False)
rows.append(report("dense", dense))
# Turbo-VBI with a grid MRF prior (weight-level clustering along inputs, neuron-level along neurons)
mrf1 = MRFSupport.from_transition((32, 64), p01=0.02, p11=0.9, p01_v=0.1, p11_v=0.6)
mrf2 = MRFSupport.from_transition((10, 32), p01=0.1, p11=0.8, p01_v=0.3, p11_v=0.5)
m_mrf = train(make(mrf1, mrf2), EPOCHS)
prune(m_mrf)
train(m_mrf, 3, turbo=False)  # masked fine-tuning
rows.append(report("Turbo-VBI, MRF", m_mrf))
# Turbo-VBI with an i.i.d. prior of similar sparsity
m_iid = train(make(IndependentSupport(0.15), IndependentSupport(0.3)), EPOCHS)
prune(m_iid)
train(m_iid, 3, turbo=False)
rows.append(report("Turbo-VBI, i.i.d.", m_iid))
# magnitude pruning of the dense net at the MRF's number of weights, then fine-tuning
m_mag = train(make(0.5, 0.5), EPOCHS, beta=0.0, turbo=False)
magnitude_masks(m_mag, 1 - rows[1]["kept"])
train(m_mag, 3, beta=0.0, turbo=False)
rows.append(report("magnitude", m_mag))
print(f"trained 4 models in {time.perf_counter() - t0:.1f} s")
print(f"{'method':20s} {'acc':>6s} {'kept':>6s} {'zero-run':>9s} {'hidden':>7s} {'params':>7s}")
for r in rows:
    print(f"{r['method']:20s} {r['accuracy']:6.3f} {r['kept']:6.3f} {r['zero_run']:9.2f} {r['hidden']:7d} "
          f"{r['params']:7d}")

# %%
# First-layer masks (rows = hidden neurons, columns = the 64 pixels)
fig, ax = plt.subplots(1, 3, figsize=(12, 3.6))
for a, r in zip(ax, rows[1:]):
    a.imshow(r["mask"].numpy(), cmap="Greys", aspect="auto", interpolation="nearest")
    a.set(title=f"{r['method']}: acc {r['accuracy']:.2f}, kept {100 * r['kept']:.0f}%", xlabel="input pixel",
          ylabel="hidden neuron")
fig.tight_layout()
plt.show()
