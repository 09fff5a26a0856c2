"""RPCANet++ benchmark: a small CPU-trained unfolded RPCA network vs PCP, IPI and top-hat.

Data: :func:`sparserec.solvers.unfolding.make_small_targets` (32x32 cluttered infrared-like
images, 1-3 targets of 1-9 px, local SCR 3-8), training seed 0, test seed 1.

The network is trained on the CPU by :func:`sparserec.solvers.unfolding.train_synthetic`
(RPCANet++ with 3 stages, 8 channels, 9x9 contrast kernels).  Detections of the network are
``logit > 0``; its pixel false-alarm rate Fa (overlap convention: false pixels / background
pixels) fixes the operating point of every baseline: each baseline score map (PCP sparse part,
IPI target image, white top-hat, untrained network) is thresholded with one global threshold
giving the same Fa (:func:`~sparserec.solvers.unfolding.threshold_at_fa`, an oracle choice that
favours the baselines), then IoU (pooled) and Pd (overlap convention) are compared.

Rows (format in ``benchmarks/README.md``): one per baseline; ``sparserec_s`` is the network's
inference time on the test set, ``peer_s`` the baseline's, ``met`` whether the network has at
least the baseline's IoU and Pd at equal Fa.  A last row records the training time.

Quick mode: 128 training images, 15 epochs, 64 test images (about 2 min on one CPU core).
Full mode: 384 training images, 20 epochs (960 steps), 128 test images (about 8 min on one
busy CPU core).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run(quick: bool = False) -> list[dict[str, Any]]:
    import torch

    from sparserec.solvers.unfolding import (
        RPCANetPP,
        iou,
        ipi_scores,
        make_small_targets,
        pcp_scores,
        pd_fa,
        segment,
        threshold_at_fa,
        tophat_scores,
        train_synthetic,
    )

    torch.set_num_threads(1)
    n_train, epochs, n_test = (128, 15, 64) if quick else (384, 20, 128)
    shape = 32
    res = train_synthetic(n_train, shape, epochs=epochs, seed=0, device="cpu")
    net = res.model
    xte, mte = make_small_targets(n_test, shape=shape, seed=1)
    t_net, logits = _timed(lambda: segment(net, xte))
    det = logits > 0
    fa_net = pd_fa(det, mte, "overlap")[1]
    pd_net = pd_fa(det, mte, "overlap")[0]
    iou_net = iou(det, mte)
    torch.manual_seed(0)
    untrained = RPCANetPP(stages=3, channels=8, contrast_kernel=9)
    peers = {
        "PCP (sparserec pcp on the image, lam=1/sqrt(max(m,n)))": lambda: pcp_scores(xte),
        "IPI (sparserec ipi, 16x16 patches, stride 4)": lambda: ipi_scores(xte, 16, 4),
        "white top-hat 5x5 (scipy.ndimage)": lambda: tophat_scores(xte, 5),
        "untrained RPCANet++ (same architecture)": lambda: segment(untrained, xte),
    }
    rows = []
    size = f"{n_test} test images {shape}x{shape}"
    for name, fn in peers.items():
        t_peer, scores = _timed(fn)
        thr = threshold_at_fa(scores, mte, fa_net)
        d = scores > thr
        pd_p, fa_p = pd_fa(d, mte, "overlap")
        iou_p = iou(d, mte)
        met = bool(iou_net >= iou_p and pd_net >= pd_p)
        rows.append({
            "benchmark": "rpcanet", "case": f"IoU/Pd at equal Fa, {size}", "sparserec_s": t_net,
            "peer": name, "peer_s": t_peer, "ratio": t_peer / t_net, "target": "IoU and Pd >= peer at equal Fa",
            "met": met,
            "notes": (f"RPCANet++ IoU {iou_net:.3f} Pd {pd_net:.3f} Fa {fa_net:.2e}; peer IoU {iou_p:.3f} "
                      f"Pd {pd_p:.3f} Fa {fa_p:.2e} (oracle global threshold at the network's Fa)"),
        })
    rows.append({
        "benchmark": "rpcanet", "case": f"training RPCANet++ S3 C8 ({n_train} images {shape}x{shape}, "
                                        f"{epochs} epochs, {res.iterations} Adam steps, 1 CPU thread)",
        "sparserec_s": res.elapsed, "peer": "", "peer_s": None, "ratio": None, "target": "<= 600 s",
        "met": bool(res.elapsed <= 600),
        "notes": f"loss {res.history['loss'][0]:.3f} -> {res.history['loss'][-1]:.3f}; "
                 f"{net.num_parameters()} parameters",
    })
    return rows


if __name__ == "__main__":  # pragma: no cover
    import sys

    for r in run(quick="--quick" in sys.argv):
        print(r)
