r"""Training losses of the unfolded RPCA networks: soft-IoU + restoration MSE."""

from __future__ import annotations

import torch

__all__ = ["rpcanet_loss", "soft_iou_loss"]


def soft_iou_loss(logits: torch.Tensor, mask: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    r"""Soft-IoU loss on the sigmoid of the logits, averaged over the images of a batch.

    Parameters
    ----------
    logits : torch.Tensor of shape ``(B, ...)``
        Object logits :math:`O^K`.
    mask : torch.Tensor of shape ``(B, ...)``
        Binary (or soft) target mask.
    smooth : float, default 1
        Smoothing :math:`s` added to numerator and denominator.

    Returns
    -------
    torch.Tensor
        Scalar :math:`1 - \frac1B\sum_b \frac{\sum p t + s}{\sum p + \sum t - \sum p t + s}`
        with :math:`p = \sigma(\mathrm{logits})`, sums over the pixels of image :math:`b`.

    Notes
    -----
    For a perfect prediction the loss is 0 (up to saturation of the sigmoid); when every
    logit is very negative it tends to :math:`1 - s / (|t| + s)`.
    """
    if logits.shape != mask.shape:
        raise ValueError(f"logits and mask shapes differ: {tuple(logits.shape)} vs {tuple(mask.shape)}")
    p = torch.sigmoid(logits).flatten(1)
    t = mask.to(p.dtype).flatten(1)
    inter = (p * t).sum(1)
    union = p.sum(1) + t.sum(1) - inter
    return 1.0 - ((inter + smooth) / (union + smooth)).mean()


def rpcanet_loss(restored: torch.Tensor, logits: torch.Tensor, image: torch.Tensor, mask: torch.Tensor,
                 mse_weight: float = 0.01) -> torch.Tensor:
    r"""RPCANet training loss: :math:`\mathcal L_{\mathrm{softIoU}}(\sigma(O^K), M) + 0.01\,\mathrm{MSE}(D^K, D)`.

    Parameters
    ----------
    restored : torch.Tensor
        Restored image :math:`D^K` (first output of the network in training mode).
    logits : torch.Tensor
        Object logits :math:`O^K`.
    image : torch.Tensor
        The network input :math:`D`.
    mask : torch.Tensor
        Binary ground-truth mask.
    mse_weight : float, default 0.01

    Returns
    -------
    torch.Tensor
        Scalar loss.  There is no Dice, focal or deep-supervision term.
    """
    return soft_iou_loss(logits, mask) + mse_weight * torch.mean((restored - image) ** 2)
