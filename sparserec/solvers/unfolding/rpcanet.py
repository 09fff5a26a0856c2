r"""Deep-unfolded robust PCA: RPCANet (WACV 2024) and RPCANet++ (2025) as torch modules.

An image :math:`D` is modelled as a low-rank background :math:`B` plus a sparse object
(target) image :math:`O` plus noise; the relaxed problem

.. math:: \min_{B, O} \; \mathcal L(B) + \lambda\,\mathcal S(O) + \tfrac{\mu}{2}\|D - B - O\|_F^2

is solved by alternating proximal steps, each step of each stage being a small CNN
(:class:`RPCANet`, :class:`RPCANetPP`).  Both networks are implemented from the published
stage description (the reference code was only read, not copied).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .layers import ConvLSTMCell, DeepContrastPrior, ResidualBlock, conv3x3, conv_stack, init_weights

__all__ = [
    "BackgroundApproximation",
    "ImageRestoration",
    "MemoryBackgroundApproximation",
    "ObjectExtraction",
    "RPCANet",
    "RPCANetPP",
    "StageOutputs",
    "build_model",
    "check_image_batch",
    "segment",
    "stage_diagnostics",
]


# --------------------------------------------------------------------------- stage modules
class BackgroundApproximation(nn.Module):
    r"""BAM of RPCANet: :math:`B = X + f_B(X)` with :math:`X = D^{k-1} - O^{k-1}`.

    :math:`f_B` is ``conv 1→C, BN, ReLU; n × [conv C→C, BN, ReLU]; conv C→1`` (28,609
    parameters for :math:`C = 32, n = 3`): a learned proximal map of the low-rank prior
    replacing singular-value thresholding.
    """

    def __init__(self, channels: int = 32, n_hidden: int = 3) -> None:
        super().__init__()
        self.body = conv_stack(channels, n_hidden, batch_norm=True)

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        return x + self.body(x), None


class MemoryBackgroundApproximation(nn.Module):
    r"""BAM with the memory-augmented module (MAM) of RPCANet++.

    ``conv 1→C + BN + ReLU → residual block → ConvLSTM → residual block → conv C→1``, output
    added to the input.  The ConvLSTM state is returned so that the next stage continues it.

    Parameters
    ----------
    channels : int
    first : bool
        Stage 1 (no incoming state): the ConvLSTM is built without its unused gates.

    Notes
    -----
    Parameters for :math:`C = 32`: 384 + 18,496 + 73,984 + 18,496 + 289 = 111,649 (73,984 = 8
    gate convolutions; 27,744 at stage 1 where only 3 are used).
    """

    def __init__(self, channels: int = 32, first: bool = False) -> None:
        super().__init__()
        self.head = nn.Sequential(conv3x3(1, channels), nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.res1 = ResidualBlock(channels)
        self.cell = ConvLSTMCell(channels, first=first)
        self.res2 = ResidualBlock(channels)
        self.tail = conv3x3(channels, 1)

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        z = self.res1(self.head(x))
        z, state = self.cell(z, state)
        return x + self.tail(self.res2(z)), state


class ObjectExtraction(nn.Module):
    r"""OEM: linearised proximal-gradient step on the sparsity prior.

    .. math:: O^k = X - \varepsilon_k\, g_S(X\,[+\, c(X)]), \qquad X = O^{k-1} + D^{k-1} - B^k,

    with :math:`g_S` = ``conv 1→C, ReLU; n × [conv C→C, ReLU]; conv C→1`` standing in for
    :math:`\nabla S`, :math:`\varepsilon_k` a learned scalar (initialised to 0.01) and
    :math:`c` the deep contrast prior (:class:`~sparserec.solvers.unfolding.layers.DeepContrastPrior`,
    RPCANet++ only).
    """

    def __init__(self, channels: int = 32, n_hidden: int = 6, eps_init: float = 0.01,
                 contrast_kernel: int | None = None, reduction: int = 4) -> None:
        super().__init__()
        self.grad = conv_stack(channels, n_hidden, batch_norm=False)
        self.eps = nn.Parameter(torch.tensor([float(eps_init)]))
        self.contrast = None if contrast_kernel is None else DeepContrastPrior(channels, contrast_kernel, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x if self.contrast is None else x + self.contrast(x)
        return x - self.eps * self.grad(z)


class ImageRestoration(nn.Module):
    r"""IRM: :math:`D^k = h(B^k + O^k)`, ``h`` as the BAM stack but without the residual."""

    def __init__(self, channels: int = 32, n_hidden: int = 3) -> None:
        super().__init__()
        self.body = conv_stack(channels, n_hidden, batch_norm=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class _Stage(nn.Module):
    def __init__(self, bam: nn.Module, oem: nn.Module, irm: nn.Module) -> None:
        super().__init__()
        self.bam, self.oem, self.irm = bam, oem, irm

    def forward(self, d: torch.Tensor, o: torch.Tensor, state: Any
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, Any]:
        b, state = self.bam(d - o, state)
        o = self.oem(o + d - b)
        d = self.irm(b + o)
        return b, o, d, state


# --------------------------------------------------------------------------- networks
@dataclass
class StageOutputs:
    """Per-stage iterates of an unfolded RPCA network (lists of ``(B, 1, H, W)`` tensors).

    Attributes
    ----------
    background, objects, restored : list of torch.Tensor
        :math:`B^k`, :math:`O^k`, :math:`D^k` for :math:`k = 1..K`.
    """

    background: list[torch.Tensor]
    objects: list[torch.Tensor]
    restored: list[torch.Tensor]


def check_image_batch(x: Any, name: str = "input") -> torch.Tensor:
    """Validate a network input: a floating torch tensor of shape ``(B, 1, H, W)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, 1, H, W), got {type(x).__name__}; "
                        "use sparserec.solvers.unfolding.segment for numpy images")
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"{name} must have shape (B, 1, H, W) (grey images), got {tuple(x.shape)}; "
                         "add axes with x[:, None] or x[None, None]")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {x.dtype}")
    return x


class _UnfoldedRPCA(nn.Module):
    arch: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.stages = nn.ModuleList()
        self._config: dict[str, Any] = {}

    @property
    def config(self) -> dict[str, Any]:
        """Constructor arguments (with ``arch``): enough to rebuild the network."""
        return {"arch": self.arch, **self._config}

    @property
    def n_stages(self) -> int:
        return len(self.stages)

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of parameters (``sum(p.numel())``)."""
        return int(sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only))

    def forward_stages(self, x: torch.Tensor) -> StageOutputs:
        """Run every stage and return all iterates :math:`(B^k, O^k, D^k)`."""
        x = check_image_batch(x)
        d, o, state = x, torch.zeros_like(x), None
        bs, os_, ds = [], [], []
        for stage in self.stages:
            b, o, d, state = stage(d, o, state)
            bs.append(b)
            os_.append(o)
            ds.append(d)
        return StageOutputs(bs, os_, ds)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Training mode: ``(D^K, O^K)``; evaluation mode: the object logits ``O^K``."""
        out = self.forward_stages(x)
        if self.training:
            return out.restored[-1], out.objects[-1]
        return out.objects[-1]


class RPCANet(_UnfoldedRPCA):
    r"""RPCANet: deep-unfolded robust PCA for sparse object segmentation.

    Parameters
    ----------
    stages : int, default 6
        Number of unfolded stages :math:`K`.
    channels : int, default 32
        Hidden width :math:`C`.
    s_layers : int, default 6
        Hidden :math:`C \to C` layers of the object-extraction CNN :math:`g_S`.
    l_layers : int, default 3
        Hidden layers of the background CNN :math:`f_B`.
    m_layers : int, default 3
        Hidden layers of the image-restoration CNN :math:`h`.
    eps_init : float, default 0.01
        Initial step :math:`\varepsilon_k` of the object update.

    Notes
    -----
    With :math:`D^0 = D`, :math:`O^0 = 0`, stage :math:`k` computes

    .. math::
        B^k = X + f_B(X),\ X = D^{k-1} - O^{k-1}; \qquad
        O^k = Y - \varepsilon_k g_S(Y),\ Y = O^{k-1} + D^{k-1} - B^k; \qquad
        D^k = h(B^k + O^k).

    The next stage receives :math:`D^k`, not the original image.  :math:`O^K` are logits:
    the segmentation is :math:`\sigma(O^K) > 0.5`, i.e. :math:`O^K > 0`.  Parameters per
    stage for the defaults: 28,609 (BAM) + 56,098 (OEM) + 28,609 (IRM) = 113,316, i.e.
    **679,896** for 6 stages, the published "0.680 M".

    Examples
    --------
    >>> import torch
    >>> from sparserec.solvers.unfolding import RPCANet
    >>> RPCANet().num_parameters()
    679896
    >>> net = RPCANet(stages=2, channels=4).eval()
    >>> net(torch.rand(1, 1, 16, 16)).shape
    torch.Size([1, 1, 16, 16])
    """

    arch = "rpcanet"

    def __init__(self, stages: int = 6, channels: int = 32, s_layers: int = 6, l_layers: int = 3,
                 m_layers: int = 3, eps_init: float = 0.01) -> None:
        super().__init__()
        _check_int(stages=stages, channels=channels, s_layers=s_layers, l_layers=l_layers, m_layers=m_layers)
        self._config = dict(stages=stages, channels=channels, s_layers=s_layers, l_layers=l_layers,
                            m_layers=m_layers, eps_init=float(eps_init))
        for _ in range(stages):
            self.stages.append(_Stage(BackgroundApproximation(channels, l_layers),
                                      ObjectExtraction(channels, s_layers, eps_init),
                                      ImageRestoration(channels, m_layers)))
        init_weights(self)


class RPCANetPP(_UnfoldedRPCA):
    r"""RPCANet++: RPCANet with a memory-augmented background module and a deep contrast prior.

    Parameters
    ----------
    stages : int, default 6
        Number of stages :math:`K` (the paper uses 3, 6, 9).
    channels : int, default 32
        Hidden width :math:`C`.
    s_layers : int, default 6
        Hidden layers of :math:`g_S`.
    m_layers : int, default 3
        Hidden layers of the image-restoration CNN.
    contrast_kernel : int, default 17
        Size of the :math:`C \times C` contrast kernel of the DCPM.
    reduction : int, default 4
        Channel-attention reduction of the DCPM.
    eps_init : float, default 0.01
    prune_unused : bool, default True
        Omit the five ConvLSTM gate convolutions of stage 1 that are never evaluated (stage 1
        has no incoming state).  ``True`` gives the published counts (1,434,551 / **2,915,342**
        / 4,396,133 for 3 / 6 / 9 stages, the "thop" figures of the README); ``False`` keeps
        them as dead weights (1,480,791 / 2,961,582 / 4,442,373, the raw count of the
        reference code).  Outputs are identical.

    Notes
    -----
    Stage :math:`k`:

    .. math::
        X = D^{k-1} - O^{k-1},\quad (Z, s^k) = \mathrm{MAM}(X, s^{k-1}),\quad B^k = X + Z;

    .. math::
        Y = O^{k-1} + D^{k-1} - B^k,\quad O^k = Y - \varepsilon_k\, g_S\bigl(Y + c(Y)\bigr),
        \quad D^k = h(B^k + O^k),

    where :math:`s^k = (h^k, c^k)` is the ConvLSTM state carried from stage to stage and
    :math:`c` is the deep contrast prior (learned centre-minus-surround with channel
    attention).  Per stage, for :math:`C = 32`: BAM 111,649, OEM 353,339 (of which the DCPM
    297,241 and its 17×17 kernel 295,936), IRM 28,609; ≈ 60 % of the weights are contrast
    kernels.

    Examples
    --------
    >>> from sparserec.solvers.unfolding import RPCANetPP
    >>> RPCANetPP().num_parameters()
    2915342
    >>> RPCANetPP(prune_unused=False).num_parameters()
    2961582
    """

    arch = "rpcanet++"

    def __init__(self, stages: int = 6, channels: int = 32, s_layers: int = 6, m_layers: int = 3,
                 contrast_kernel: int = 17, reduction: int = 4, eps_init: float = 0.01,
                 prune_unused: bool = True) -> None:
        super().__init__()
        _check_int(stages=stages, channels=channels, s_layers=s_layers, m_layers=m_layers,
                   contrast_kernel=contrast_kernel, reduction=reduction)
        self._config = dict(stages=stages, channels=channels, s_layers=s_layers, m_layers=m_layers,
                            contrast_kernel=contrast_kernel, reduction=reduction, eps_init=float(eps_init),
                            prune_unused=bool(prune_unused))
        for k in range(stages):
            self.stages.append(_Stage(MemoryBackgroundApproximation(channels, first=prune_unused and k == 0),
                                      ObjectExtraction(channels, s_layers, eps_init, contrast_kernel, reduction),
                                      ImageRestoration(channels, m_layers)))
        init_weights(self)


_ARCHS: dict[str, type[_UnfoldedRPCA]] = {"rpcanet": RPCANet, "rpcanet++": RPCANetPP}


def build_model(config: dict[str, Any]) -> _UnfoldedRPCA:
    """Rebuild a network from its :attr:`config` (``{"arch": "rpcanet" | "rpcanet++", ...}``)."""
    cfg = dict(config)
    arch = cfg.pop("arch", None)
    if arch not in _ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {sorted(_ARCHS)}")
    return _ARCHS[arch](**cfg)


def _check_int(**kw: Any) -> None:
    for k, v in kw.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{k} must be a positive integer, got {v!r}")


# --------------------------------------------------------------------------- numpy helpers
def _as_image_batch(images: Any) -> tuple[np.ndarray, bool]:
    a = np.asarray(images.detach().cpu() if isinstance(images, torch.Tensor) else images)
    if a.ndim == 2:
        return a[None], True
    if a.ndim == 3:
        return a, False
    raise ValueError(f"expected one 2-D grey image (H, W) or a stack (N, H, W), got an array of shape "
                     f"{a.shape}; convert colour images to grey first")


@torch.no_grad()
def segment(model: nn.Module, images: Any, batch_size: int = 16) -> np.ndarray:
    r"""Object logits :math:`O^K` of a trained network for numpy images.

    Parameters
    ----------
    model : RPCANet or RPCANetPP
    images : array of shape ``(H, W)`` or ``(N, H, W)``
        Grey images scaled like the training data (e.g. /255).
    batch_size : int, default 16

    Returns
    -------
    numpy.ndarray
        Logits of the same shape as ``images``; detections are ``logits > 0``.
    """
    a, single = _as_image_batch(images)
    was_training = model.training
    model.eval()
    p = next(model.parameters())
    out = []
    try:
        for i in range(0, len(a), batch_size):
            x = torch.as_tensor(np.ascontiguousarray(a[i:i + batch_size]), dtype=p.dtype, device=p.device)
            out.append(model(x[:, None])[:, 0].cpu().numpy())
    finally:
        model.train(was_training)
    res = np.concatenate(out) if out else np.zeros_like(a, dtype=np.float32)
    return res[0] if single else res


@torch.no_grad()
def stage_diagnostics(model: _UnfoldedRPCA, images: Any, batch_size: int = 16) -> dict[str, np.ndarray]:
    r"""Interpretability: per-stage low-rankness of :math:`B^k` and sparsity of :math:`O^k`.

    Parameters
    ----------
    model : RPCANet or RPCANetPP
    images : array of shape ``(H, W)`` or ``(N, H, W)``

    Returns
    -------
    dict
        ``singular_values``: shape ``(K + 1, min(H, W))``, the singular-value spectrum of the
        input (row 0) and of each :math:`B^k`, each normalised by its largest value and
        averaged over the images; ``effective_rank``: shape ``(K + 1,)``, the number of
        singular values needed for 99 % of the energy :math:`\sum\sigma_i^2` (mean over
        images); ``sparsity``: shape ``(K,)``, the fraction of strictly positive pixels of
        :math:`O^k` (:math:`\ell_0/N`); ``target_energy``: shape ``(K,)``, mean
        :math:`|O^k|`.

    Notes
    -----
    As in the authors' interpretability toolkit, negative values of :math:`B^k` are clipped
    to 0 before the SVD.  A decaying spectrum of :math:`B^k` compared with the input's shows
    that the background module produces an (approximately) low-rank image, and a small
    :math:`\ell_0/N` that the object image is sparse.
    """
    a, _ = _as_image_batch(images)
    was_training = model.training
    model.eval()
    p = next(model.parameters())
    K = model.n_stages
    n = min(a.shape[-2:])
    sv = np.zeros((K + 1, n))
    erank = np.zeros(K + 1)
    spars = np.zeros(K)
    energy = np.zeros(K)

    def spectrum(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = np.linalg.svd(np.clip(m, 0, None).astype(np.float64), compute_uv=False)
        top = np.maximum(s[..., :1], 1e-30)
        e = np.cumsum(s**2, axis=-1) / np.maximum((s**2).sum(-1, keepdims=True), 1e-30)
        return s / top, (e < 0.99).sum(-1) + 1.0

    try:
        for i in range(0, len(a), batch_size):
            x = torch.as_tensor(np.ascontiguousarray(a[i:i + batch_size]), dtype=p.dtype, device=p.device)
            out = model.forward_stages(x[:, None])
            s, r = spectrum(a[i:i + batch_size])
            sv[0] += s.sum(0)
            erank[0] += r.sum()
            for k in range(K):
                bk = out.background[k][:, 0].cpu().numpy()
                ok = out.objects[k][:, 0].cpu().numpy()
                s, r = spectrum(bk)
                sv[k + 1] += s.sum(0)
                erank[k + 1] += r.sum()
                spars[k] += (ok > 0).mean(axis=(-2, -1)).sum()
                energy[k] += np.abs(ok).mean(axis=(-2, -1)).sum()
    finally:
        model.train(was_training)
    N = len(a)
    return {"singular_values": sv / N, "effective_rank": erank / N, "sparsity": spars / N,
            "target_energy": energy / N}
