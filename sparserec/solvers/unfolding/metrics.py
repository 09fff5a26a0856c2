r"""Small-target segmentation metrics: pooled IoU, per-image nIoU, F1, Pd/Fa (two conventions).

All functions take numpy arrays (or torch tensors, copied to the host) of shape ``(H, W)`` or
``(N, H, W)``.  Scores are turned into binary detections by :func:`binarize`:

* ``rule="absolute"`` (segmentation metrics of RPCANet): :math:`\sigma(O^K) > 0.5`, i.e.
  logit :math:`> 0`;
* ``rule="relative"`` (the README Pd/Fa evaluation): the probability map divided by its
  own maximum, then :math:`> 0.5`.

Two Pd/Fa conventions coexist in the literature and are both implemented, under distinct
names (:func:`pd_fa`):

* ``"overlap"`` (RPCANet README, ``my_pd_fa``): a ground-truth target (8-connected component)
  is detected if any predicted pixel overlaps it; :math:`F_a` = predicted background pixels /
  background pixels;
* ``"centroid"`` (BasicIRSTD style, ``pd_fa``): predicted 8-connected components are matched
  to targets whose centroid is closer than 3 px (each predicted component matches at most
  one target); :math:`F_a` = area of unmatched predicted components / all pixels.

Published tables quote :math:`F_a` in units of :math:`10^{-6}`; these functions return the
plain fraction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

__all__ = [
    "SegmentationMetrics",
    "binarize",
    "f1_score",
    "iou",
    "niou",
    "pd_fa",
    "segmentation_metrics",
    "threshold_at_fa",
]

_EIGHT = np.ones((3, 3), dtype=bool)


def _np(a: Any) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def _stack(a: Any, name: str) -> np.ndarray:
    a = _np(a)
    if a.ndim == 2:
        return a[None]
    if a.ndim == 4 and a.shape[1] == 1:
        return a[:, 0]
    if a.ndim != 3:
        raise ValueError(f"{name} must have shape (H, W), (N, H, W) or (N, 1, H, W), got {a.shape}")
    return a


def _pair(pred: Any, mask: Any) -> tuple[np.ndarray, np.ndarray]:
    p = _stack(pred, "pred").astype(bool)
    m = _stack(mask, "mask").astype(bool)
    if p.shape != m.shape:
        raise ValueError(f"prediction and mask shapes differ: {p.shape} vs {m.shape}")
    return p, m


def binarize(scores: Any, rule: str = "absolute", threshold: float = 0.5, logits: bool = True) -> np.ndarray:
    r"""Binary detections from a score map.

    Parameters
    ----------
    scores : array of shape ``(H, W)`` or ``(N, H, W)``
        Logits (``logits=True``) or probabilities.
    rule : {"absolute", "relative"}, default "absolute"
        ``"absolute"``: :math:`p > t`; ``"relative"``: :math:`p / \max p > t` per image
        (:math:`p = \sigma(\text{scores})` for logits).
    threshold : float, default 0.5
    logits : bool, default True

    Returns
    -------
    numpy.ndarray of bool
    """
    s = _np(scores).astype(np.float64)
    p = 1.0 / (1.0 + np.exp(-np.clip(s, -60, 60))) if logits else s
    if rule == "absolute":
        return p > threshold
    if rule == "relative":
        axes = (-2, -1)
        mx = p.max(axis=axes, keepdims=True)
        return p / np.where(mx > 0, mx, 1.0) > threshold
    raise ValueError(f"rule must be 'absolute' or 'relative', got {rule!r}")


def _counts(p: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = (p & m).sum(axis=(-2, -1))
    fp = (p & ~m).sum(axis=(-2, -1))
    fn = (~p & m).sum(axis=(-2, -1))
    return tp, fp, fn


def iou(pred: Any, mask: Any) -> float:
    r"""Dataset-level ("pooled") IoU :math:`TP/(TP + FP + FN)` with counts summed over all images.

    This is what RPCANet reports as "IoU"/"mIoU".  Returns 1.0 when there are neither targets
    nor detections.
    """
    tp, fp, fn = (c.sum() for c in _counts(*_pair(pred, mask)))
    den = tp + fp + fn
    return float(tp / den) if den else 1.0


def niou(pred: Any, mask: Any) -> float:
    r"""Normalised IoU (Dai et al.): the mean over images of the per-image IoU.

    An image with neither target nor detection counts as IoU 1.
    """
    tp, fp, fn = _counts(*_pair(pred, mask))
    den = tp + fp + fn
    per = np.where(den > 0, tp / np.maximum(den, 1), 1.0)
    return float(per.mean())


def f1_score(pred: Any, mask: Any) -> float:
    r"""Pixel F1 :math:`2TP/(2TP + FP + FN)` with counts pooled over the images."""
    tp, fp, fn = (c.sum() for c in _counts(*_pair(pred, mask)))
    den = 2 * tp + fp + fn
    return float(2 * tp / den) if den else 1.0


def _centroids(lab: np.ndarray, n: int) -> np.ndarray:
    if n == 0:
        return np.zeros((0, 2))
    return np.asarray(ndimage.center_of_mass(np.ones_like(lab), lab, range(1, n + 1)), dtype=float).reshape(n, 2)


def pd_fa(pred: Any, mask: Any, convention: str = "overlap", distance: float = 3.0) -> tuple[float, float]:
    r"""Probability of detection and false-alarm rate, pooled over a set of images.

    Parameters
    ----------
    pred, mask : array of shape ``(H, W)`` or ``(N, H, W)``
        Binary detections and ground truth.
    convention : {"overlap", "centroid"}, default "overlap"
        ``"overlap"`` (alias ``"readme"``): a target is detected if a predicted pixel overlaps
        it, :math:`F_a = \#\{\text{predicted} \wedge \text{background}\} / \#\text{background}`.
        ``"centroid"`` (alias ``"basicirstd"``): predicted 8-connected components are matched
        to targets by centroid distance :math:`<` ``distance``, :math:`F_a` = unmatched
        predicted area / all pixels.
    distance : float, default 3
        Matching radius of the centroid convention (pixels).

    Returns
    -------
    (pd, fa) : tuple of float
        :math:`P_d` = detected targets / targets (1.0 if there is no target) and
        :math:`F_a` as a plain fraction.
    """
    p, m = _pair(pred, mask)
    n_targets, n_detected, false_px, denom = _pd_fa_counts(p, m, convention, distance)
    pd = n_detected / n_targets if n_targets else 1.0
    fa = false_px / denom if denom else 0.0
    return float(pd), float(fa)


def _pd_fa_counts(p: np.ndarray, m: np.ndarray, convention: str, distance: float) -> tuple[int, int, int, int]:
    """(targets, detected targets, false-alarm pixels, Fa denominator) of boolean stacks."""
    conv = {"readme": "overlap", "basicirstd": "centroid"}.get(convention, convention)
    if conv not in ("overlap", "centroid"):
        raise ValueError(f"convention must be 'overlap' or 'centroid', got {convention!r}")
    n_targets = n_detected = 0
    false_px = 0
    for pi, mi in zip(p, m):
        lab, n = ndimage.label(mi, structure=_EIGHT)
        n_targets += n
        if conv == "overlap":
            if n:
                hit = np.unique(lab[pi & mi])
                n_detected += int((hit > 0).sum())
            false_px += int((pi & ~mi).sum())
            continue
        plab, npred = ndimage.label(pi, structure=_EIGHT)
        pc = _centroids(plab, npred)
        gc = _centroids(lab, n)
        areas = np.bincount(plab.ravel(), minlength=npred + 1)[1:]
        free = np.ones(npred, dtype=bool)
        for g in gc:
            if not free.any():
                break
            d = np.hypot(*(pc - g).T)
            d[~free] = np.inf
            j = int(np.argmin(d))
            if d[j] < distance:
                free[j] = False
                n_detected += 1
        false_px += int(areas[free].sum())
    denom = int((~m).sum()) if conv == "overlap" else int(m.size)
    return n_targets, n_detected, false_px, denom


def segmentation_metrics(scores: Any, mask: Any, logits: bool = True, threshold: float = 0.5) -> dict[str, float]:
    r"""All metrics at once from score maps.

    IoU, nIoU and F1 use the ``"absolute"`` rule (:math:`\sigma > 0.5`); ``pd``/``fa`` use
    the README convention (``"relative"`` rule, ``"overlap"`` matching) and ``pd_centroid``/
    ``fa_centroid`` the BasicIRSTD convention on the ``"absolute"`` detections.

    Returns
    -------
    dict
        ``iou``, ``niou``, ``f1``, ``pd``, ``fa``, ``pd_centroid``, ``fa_centroid``.
    """
    acc = SegmentationMetrics(logits=logits, threshold=threshold)
    acc.update(scores, mask)
    return acc.compute()


def threshold_at_fa(scores: Any, mask: Any, fa: float) -> float:
    r"""Score threshold whose pixel false-alarm rate (overlap convention) is at most ``fa``.

    Used to compare detectors "at equal :math:`F_a`": the threshold is the
    :math:`(1 - F_a)`-quantile of the scores on background pixels.
    """
    s, m = _stack(scores, "scores").astype(np.float64), _stack(mask, "mask").astype(bool)
    if s.shape != m.shape:
        raise ValueError(f"scores and mask shapes differ: {s.shape} vs {m.shape}")
    bg = np.sort(s[~m])
    if bg.size == 0:
        return float(s.min())
    k = int(np.floor(fa * bg.size))  # number of background pixels allowed above the threshold
    if k <= 0:
        return float(np.nextafter(bg[-1], np.inf))
    return float(bg[bg.size - k - 1]) if k < bg.size else float(np.nextafter(bg[0], -np.inf))


class SegmentationMetrics:
    """Accumulate detections batch by batch (images of any sizes), then :meth:`compute`.

    Only counts are kept (pooled TP/FP/FN, per-image IoU sum, targets, detections and
    false-alarm pixels of both Pd/Fa conventions), so memory does not grow with the set.

    Parameters
    ----------
    logits : bool, default True
        The scores are logits (else probabilities).
    threshold : float, default 0.5
        Threshold of :func:`binarize`.
    """

    _KEYS = ("tp", "fp", "fn", "n_images", "iou_sum", "t_o", "d_o", "f_o", "n_o", "t_c", "d_c", "f_c", "n_c")

    def __init__(self, logits: bool = True, threshold: float = 0.5) -> None:
        self.logits = logits
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        self._c: dict[str, float] = dict.fromkeys(self._KEYS, 0)

    def update(self, scores: Any, mask: Any) -> None:
        """Add a batch: score maps and masks of shape ``(H, W)``, ``(N, H, W)`` or ``(N, 1, H, W)``."""
        s, m = _stack(scores, "scores"), _stack(mask, "mask").astype(bool)
        if s.shape != m.shape:
            raise ValueError(f"scores and mask shapes differ: {s.shape} vs {m.shape}")
        det = binarize(s, "absolute", self.threshold, self.logits)
        rel = binarize(s, "relative", self.threshold, self.logits)
        tp, fp, fn = _counts(det, m)
        den = tp + fp + fn
        c = self._c
        c["tp"] += int(tp.sum())
        c["fp"] += int(fp.sum())
        c["fn"] += int(fn.sum())
        c["n_images"] += len(s)
        c["iou_sum"] += float(np.where(den > 0, tp / np.maximum(den, 1), 1.0).sum())
        for tag, d, conv in (("o", rel, "overlap"), ("c", det, "centroid")):
            t, dd, f, n = _pd_fa_counts(d, m, conv, 3.0)
            c[f"t_{tag}"] += t
            c[f"d_{tag}"] += dd
            c[f"f_{tag}"] += f
            c[f"n_{tag}"] += n

    def compute(self) -> dict[str, float]:
        """``iou``, ``niou``, ``f1``, ``pd``, ``fa``, ``pd_centroid``, ``fa_centroid``."""
        c = self._c
        if not c["n_images"]:
            raise ValueError("no data: call update() first")
        den = c["tp"] + c["fp"] + c["fn"]
        den_f1 = 2 * c["tp"] + c["fp"] + c["fn"]
        return {
            "iou": float(c["tp"] / den) if den else 1.0,
            "niou": float(c["iou_sum"] / c["n_images"]),
            "f1": float(2 * c["tp"] / den_f1) if den_f1 else 1.0,
            "pd": float(c["d_o"] / c["t_o"]) if c["t_o"] else 1.0,
            "fa": float(c["f_o"] / c["n_o"]) if c["n_o"] else 0.0,
            "pd_centroid": float(c["d_c"] / c["t_c"]) if c["t_c"] else 1.0,
            "fa_centroid": float(c["f_c"] / c["n_c"]) if c["n_c"] else 0.0,
        }
