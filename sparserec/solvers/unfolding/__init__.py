r"""Deep-unfolded solvers as torch modules: RPCANet-style unfolded robust PCA and LISTA.

This subpackage needs PyTorch (``pip install 'sparserec[torch]'``); ``import sparserec`` never
imports it, so import this module explicitly::

    from sparserec.solvers.unfolding import RPCANetPP, train, make_small_targets

Contents
--------
* :class:`RPCANet`, :class:`RPCANetPP`: unfolded RPCA networks for sparse object segmentation
  (background approximation, object extraction, image restoration; RPCANet++ adds the
  ConvLSTM memory across stages and the deep contrast prior).
* :func:`soft_iou_loss`, :func:`rpcanet_loss`; metrics :func:`iou` (pooled), :func:`niou`
  (per image), :func:`pd_fa` (``"overlap"`` and ``"centroid"`` conventions).
* :func:`make_small_targets` (synthetic infrared small targets), :class:`SIRSTFolder`
  (SIRST / NUDT-SIRST / IRSTD-1k layout), :class:`ArrayDataset`.
* :func:`train`, :func:`evaluate`, :func:`load_checkpoint`, :func:`load_pretrained`.
* Baselines :func:`tophat_scores`, :func:`pcp_scores`, :func:`ipi_scores`.
* :class:`LISTA`: learned ISTA initialised to be exactly :math:`K` iterations of ISTA.
"""

try:
    import torch  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on environment
    raise ImportError("sparserec.solvers.unfolding needs PyTorch: pip install 'sparserec[torch]'") from e

from .baselines import adaptive_threshold, ipi_scores, pcp_scores, tophat_scores
from .data import ArrayDataset, SIRSTFolder, load_grey_image, make_small_targets
from .layers import ChannelAttention, ContrastLayer, ConvLSTMCell, DeepContrastPrior
from .lista import LISTA, ista_step
from .losses import rpcanet_loss, soft_iou_loss
from .metrics import (
    SegmentationMetrics,
    binarize,
    f1_score,
    iou,
    niou,
    pd_fa,
    segmentation_metrics,
    threshold_at_fa,
)
from .rpcanet import RPCANet, RPCANetPP, StageOutputs, build_model, segment, stage_diagnostics
from .train import (
    TrainResult,
    available_pretrained,
    evaluate,
    load_checkpoint,
    load_pretrained,
    save_checkpoint,
    train,
    train_synthetic,
)

__all__ = [
    "LISTA",
    "ArrayDataset",
    "ChannelAttention",
    "ContrastLayer",
    "ConvLSTMCell",
    "DeepContrastPrior",
    "RPCANet",
    "RPCANetPP",
    "SIRSTFolder",
    "SegmentationMetrics",
    "StageOutputs",
    "TrainResult",
    "adaptive_threshold",
    "available_pretrained",
    "binarize",
    "build_model",
    "evaluate",
    "f1_score",
    "iou",
    "ipi_scores",
    "ista_step",
    "load_checkpoint",
    "load_grey_image",
    "load_pretrained",
    "make_small_targets",
    "niou",
    "pcp_scores",
    "pd_fa",
    "rpcanet_loss",
    "save_checkpoint",
    "segment",
    "segmentation_metrics",
    "soft_iou_loss",
    "stage_diagnostics",
    "threshold_at_fa",
    "tophat_scores",
    "train",
    "train_synthetic",
]
