"""Soft-IoU loss and the small-target metrics (IoU, nIoU, Pd/Fa conventions, thresholds)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sparserec.solvers.unfolding import (  # noqa: E402
    SegmentationMetrics,
    binarize,
    f1_score,
    iou,
    niou,
    pd_fa,
    rpcanet_loss,
    segmentation_metrics,
    soft_iou_loss,
    threshold_at_fa,
)


def _mask():
    m = torch.zeros(2, 1, 16, 16)
    m[0, 0, 3:6, 3:6] = 1
    m[1, 0, 10:12, 7:9] = 1
    return m


def test_soft_iou_perfect_and_empty():
    m = _mask()
    assert float(soft_iou_loss(torch.where(m > 0, 20.0, -20.0), m)) < 1e-3
    loss = float(soft_iou_loss(torch.full_like(m, -20.0), m))
    expect = 1 - np.mean([1 / (9 + 1), 1 / (4 + 1)])
    assert abs(loss - expect) < 1e-6


def test_rpcanet_loss_adds_weighted_mse():
    m = _mask()
    lg = torch.where(m > 0, 20.0, -20.0)
    img = torch.rand_like(m)
    assert abs(float(rpcanet_loss(img + 1.0, lg, img, m)) - 0.01) < 1e-3
    with pytest.raises(ValueError, match="shapes differ"):
        soft_iou_loss(lg[:, :, :8], m)


def test_iou_pooled_vs_niou_per_image():
    gt = np.zeros((2, 8, 8), bool)
    gt[0, 0:2, 0:2] = True  # 4 px
    gt[1, 0:4, 0:4] = True  # 16 px
    pr = np.zeros_like(gt)
    pr[0, 0:2, 0:1] = True  # TP 2, FN 2 -> IoU 0.5
    pr[1, 0:4, 0:4] = True  # perfect
    pr[1, 7, 7] = True  # FP 1 -> IoU 16/17
    assert iou(pr, gt) == pytest.approx(18 / (18 + 1 + 2))
    assert niou(pr, gt) == pytest.approx((0.5 + 16 / 17) / 2)
    assert f1_score(pr, gt) == pytest.approx(36 / (36 + 1 + 2))
    assert iou(np.zeros((4, 4)), np.zeros((4, 4))) == 1.0


def test_pd_fa_conventions():
    gt = np.zeros((1, 20, 20), bool)
    gt[0, 2:4, 2:4] = True  # target A
    gt[0, 10:13, 10:13] = True  # target B (centroid 11, 11)
    pr = np.zeros_like(gt)
    pr[0, 3, 3] = True  # overlaps A; centroid (3, 3) vs A centroid (2.5, 2.5): matched
    pr[0, 13:16, 13:16] = True  # no overlap with B; centroid (14, 14): distance 4.24 > 3
    pr[0, 18, 0] = True  # isolated false alarm
    pd1, fa1 = pd_fa(pr, gt, "overlap")
    assert pd1 == 0.5
    assert fa1 == pytest.approx(10 / (400 - 13))
    pd2, fa2 = pd_fa(pr, gt, "centroid")
    assert pd2 == 0.5
    assert fa2 == pytest.approx(10 / 400)
    # B matched by centroid (within 3 px) although no pixel overlaps it
    pr2 = np.zeros_like(gt)
    pr2[0, 13, 11] = True
    assert pd_fa(pr2, gt, "centroid") == (0.5, 0.0)
    assert pd_fa(pr2, gt, "overlap")[0] == 0.0
    assert pd_fa(pr, gt, "readme") == (pd1, fa1)
    assert pd_fa(pr, gt, "basicirstd") == (pd2, fa2)
    with pytest.raises(ValueError, match="convention"):
        pd_fa(pr, gt, "iou")
    with pytest.raises(ValueError, match="shapes differ"):
        pd_fa(pr[:, :10], gt)


def test_threshold_rules():
    lg = np.array([[[-1.0, 0.5], [2.0, -3.0]]])
    np.testing.assert_array_equal(binarize(lg), lg > 0)
    p = 1 / (1 + np.exp(-lg))
    np.testing.assert_array_equal(binarize(lg, "relative"), p / p.max() > 0.5)
    np.testing.assert_array_equal(binarize(p, logits=False), p > 0.5)
    with pytest.raises(ValueError, match="rule"):
        binarize(lg, "otsu")


def test_threshold_at_fa_and_accumulator():
    rng = np.random.default_rng(0)
    s = rng.random((4, 16, 16))
    m = np.zeros(s.shape, bool)
    m[:, 5, 5] = True
    t = threshold_at_fa(s, m, 0.01)
    assert ((s > t) & ~m).sum() / (~m).sum() <= 0.01
    assert ((s >= t) & ~m).sum() / (~m).sum() >= 0.009
    acc = SegmentationMetrics()
    acc.update(torch.tensor(s[:2] - 0.5)[:, None], torch.tensor(m[:2])[:, None])
    acc.update(s[2:] - 0.5, m[2:])
    out = acc.compute()
    assert out == segmentation_metrics(s - 0.5, m)
    assert set(out) == {"iou", "niou", "f1", "pd", "fa", "pd_centroid", "fa_centroid"}
    with pytest.raises(ValueError, match="no data"):
        SegmentationMetrics().compute()


def test_accumulator_pools_images_of_different_sizes():
    rng = np.random.default_rng(1)
    s1, s2 = rng.standard_normal((2, 8, 8)), rng.standard_normal((3, 12, 10))
    m1, m2 = rng.random((2, 8, 8)) > 0.8, rng.random((3, 12, 10)) > 0.8
    acc = SegmentationMetrics()
    acc.update(s1, m1)
    acc.update(s2, m2)
    out = acc.compute()
    d1, d2 = s1 > 0, s2 > 0
    tp = (d1 & m1).sum() + (d2 & m2).sum()
    den = tp + (d1 ^ m1).sum() + (d2 ^ m2).sum()
    assert out["iou"] == pytest.approx(tp / den)
    per = [iou(d, m) for d, m in zip(list(d1) + list(d2), list(m1) + list(m2))]
    assert out["niou"] == pytest.approx(np.mean(per))
