r"""Learned two-step deconvolution (Akhaury et al. 2024, "SUNet"): Tikhonov, then a Swin-Transformer
U-Net denoiser; optionally a third, debiasing step (:func:`~.deconv.debias`).

torch is imported when this module is imported (``import sparserec`` and
``import sparserec.applications.astronomy`` never import it).

Architecture (:class:`SwinUNet`, our own implementation of the published design): a 3x3
convolution embeds each pixel (patch size 1) into ``embed_dim`` channels; the encoder alternates
stages of Swin blocks (window multi-head self-attention with a learned relative-position bias,
regular and shifted windows alternating, pre-norm, MLP) with patch merging (2x2 -> 2C); the
decoder mirrors it with patch expanding (C -> 2C linear then pixel shuffle to C/2 at twice the
resolution), concatenation of the skip connection and a linear fusion; a 3x3 convolution maps
back to one channel and the result is added to the input (residual learning).

Configurations (:class:`SwinUNetConfig`):

* ``SwinUNetConfig()``: the small CPU model shipped with sparserec (embed 16, depths (2, 2, 2),
  heads (2, 4, 8), window 8, MLP ratio 2; ~0.2 M parameters; trains in minutes on a CPU).
* ``SwinUNetConfig.sunet()``: the published configuration (``training.yaml`` of
  ``utsav-akhaury/SUNet``): embed 48, depths (2, 6, 8, 16), 8 heads per stage, window 8, MLP ratio 4,
  qkv bias, qk scale 8, drop path 0.1, 128x128 inputs (train it on a GPU).

Normalisation (consistent between training and inference, unlike the published code, which
divides training pairs by the target's peak but test inputs by the input's peak): each Tikhonov
image :math:`t` is divided by its own noise standard deviation
:math:`s = \hat\sigma_y\,\|g\|_2`, where :math:`\hat\sigma_y` is the MAD noise estimate of the
observation and :math:`g = \mathcal F^{-1}[\bar{\hat h}/(|\hat h|^2 + \lambda|\hat\Lambda|^2)]` the
Tikhonov filter, so the network sees images in units of their noise level (independent of the
flux scale and of the crop: it can be trained on small patches and applied to large images);
the output is multiplied back by :math:`s`.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ._checks import check_image, check_psf
from .deconv import tikhonov

__all__ = ["FORMAT", "LearnedDeconvolver", "SwinUNet", "SwinUNetConfig", "default_weights_path",
           "learned_deconvolve", "load_model", "tikhonov_noise_gain"]

#: format tag stored in weight files
FORMAT = "sparserec-astro-swinunet-v1"


@dataclass
class SwinUNetConfig:
    """Hyper-parameters of :class:`SwinUNet` (see the module docstring)."""

    embed_dim: int = 16
    depths: tuple[int, ...] = (2, 2, 2)
    num_heads: tuple[int, ...] = (2, 4, 8)
    window_size: int = 8
    mlp_ratio: float = 2.0
    qkv_bias: bool = True
    qk_scale: float | None = None
    drop_path: float = 0.0
    in_chans: int = 1

    def __post_init__(self) -> None:
        self.depths = tuple(int(d) for d in self.depths)
        self.num_heads = tuple(int(h) for h in self.num_heads)
        if len(self.depths) != len(self.num_heads) or not self.depths:
            raise ValueError("depths and num_heads must be non-empty and of equal length")
        for i, h in enumerate(self.num_heads):
            if (self.embed_dim * 2 ** i) % h:
                raise ValueError(f"stage {i}: dim {self.embed_dim * 2 ** i} not divisible by {h} heads")
        if self.window_size < 1:
            raise ValueError("window_size must be positive")

    @classmethod
    def sunet(cls) -> SwinUNetConfig:
        """The published SUNet configuration (Akhaury et al. 2024, ``training.yaml``)."""
        return cls(embed_dim=48, depths=(2, 6, 8, 16), num_heads=(8, 8, 8, 8), window_size=8,
                   mlp_ratio=4.0, qkv_bias=True, qk_scale=8.0, drop_path=0.1)

    @property
    def multiple(self) -> int:
        """Input sizes must be multiples of this (window x 2^(stages - 1))."""
        return self.window_size * 2 ** (len(self.depths) - 1)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["depths"] = list(self.depths)
        d["num_heads"] = list(self.num_heads)
        return d


# ---------------------------------------------------------------------- blocks
def _windows(x: torch.Tensor, w: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * nW, w*w, C)."""
    B, H, W, C = x.shape
    x = x.view(B, H // w, w, W // w, w, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, w * w, C)


def _unwindows(x: torch.Tensor, w: int, B: int, H: int, W: int) -> torch.Tensor:
    C = x.shape[-1]
    x = x.view(B, H // w, W // w, w, w, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, H, W, C)


class WindowAttention(nn.Module):
    r"""Multi-head self-attention inside non-overlapping windows with a learned relative-position
    bias :math:`B \in \mathbb R^{(2w-1)^2 \times h}`:
    :math:`\mathrm{softmax}(QK^T s + B + M)V` (:math:`M` the shifted-window mask)."""

    def __init__(self, dim: int, window: int, heads: int, qkv_bias: bool, qk_scale: float | None) -> None:
        super().__init__()
        self.dim, self.window, self.heads = dim, window, heads
        self.scale = qk_scale if qk_scale is not None else (dim // heads) ** -0.5
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        c = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = (c[:, :, None] - c[:, None, :]).permute(1, 2, 0) + (window - 1)
        self.register_buffer("rel_index", rel[..., 0] * (2 * window - 1) + rel[..., 1], persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        Bn, N, C = x.shape
        qkv = self.qkv(x).view(Bn, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        bias = self.bias_table[self.rel_index.reshape(-1)].view(N, N, -1).permute(2, 0, 1)
        if mask is not None:
            nW = mask.shape[0]
            bias = (bias[None, None] + mask[None, :, None]).expand(Bn // nW, nW, self.heads, N, N)
            bias = bias.reshape(Bn, self.heads, N, N)
        else:
            bias = bias[None]
        # fused attention: softmax(q k^T * scale + bias) v
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), scale=self.scale)
        out = out.transpose(1, 2).reshape(Bn, N, C)
        return self.proj(out)


class DropPath(nn.Module):
    """Stochastic depth (per sample)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), device=x.device, dtype=x.dtype) >= self.p
        return x * keep / (1.0 - self.p)


class SwinBlock(nn.Module):
    """Pre-norm Swin block: (shifted) window attention + MLP, both residual."""

    def __init__(self, dim: int, heads: int, window: int, shift: int, mlp_ratio: float, qkv_bias: bool,
                 qk_scale: float | None, drop_path: float) -> None:
        super().__init__()
        self.window, self.shift = window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads, qkv_bias, qk_scale)
        self.norm2 = nn.LayerNorm(dim)
        hid = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hid), nn.GELU(), nn.Linear(hid, dim))
        self.drop = DropPath(drop_path)
        self._masks: dict[tuple[int, int, str], torch.Tensor] = {}

    def _mask(self, H: int, W: int, device: torch.device) -> torch.Tensor | None:
        if self.shift == 0:
            return None
        key = (H, W, str(device))
        if key not in self._masks:
            w, s = self.window, self.shift
            img = torch.zeros(1, H, W, 1, device=device)
            cnt = 0
            for hs in (slice(0, -w), slice(-w, -s), slice(-s, None)):
                for ws in (slice(0, -w), slice(-w, -s), slice(-s, None)):
                    img[:, hs, ws, :] = cnt
                    cnt += 1
            mw = _windows(img, w).squeeze(-1)
            m = mw[:, None, :] - mw[:, :, None]
            self._masks[key] = m.masked_fill(m != 0, -100.0).masked_fill(m == 0, 0.0)
        return self._masks[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, H, W, C)
        B, H, W, C = x.shape
        shift = self.shift if min(H, W) > self.window else 0
        h = self.norm1(x)
        if shift:
            h = torch.roll(h, (-shift, -shift), dims=(1, 2))
        hw = self.attn(_windows(h, self.window), self._mask(H, W, x.device) if shift else None)
        h = _unwindows(hw, self.window, B, H, W)
        if shift:
            h = torch.roll(h, (shift, shift), dims=(1, 2))
        x = x + self.drop(h)
        return x + self.drop(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    """2x2 neighbourhood -> LayerNorm(4C) -> Linear(4C, 2C)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.red = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.red(self.norm(x))


class PatchExpand(nn.Module):
    """Linear(C, 2C) then pixel shuffle: (H, W, C) -> (2H, 2W, C/2)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.expand = nn.Linear(dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(dim // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        x = self.expand(x).view(B, H, W, 2, 2, C // 2).permute(0, 1, 3, 2, 4, 5).reshape(B, 2 * H, 2 * W, C // 2)
        return self.norm(x)


class SwinUNet(nn.Module):
    """Swin-Transformer U-Net denoiser for ``(B, 1, H, W)`` images (H, W multiples of
    ``config.multiple``); see the module docstring."""

    def __init__(self, config: SwinUNetConfig | None = None) -> None:
        super().__init__()
        cfg = config or SwinUNetConfig()
        self.config = cfg
        C, w = cfg.embed_dim, cfg.window_size
        L = len(cfg.depths)
        dpr = torch.linspace(0, cfg.drop_path, sum(cfg.depths)).tolist()
        self.embed = nn.Conv2d(cfg.in_chans, C, 3, padding=1)
        self.enc = nn.ModuleList()
        self.down = nn.ModuleList()
        k = 0
        for i in range(L):
            d = C * 2 ** i
            self.enc.append(nn.Sequential(*[
                SwinBlock(d, cfg.num_heads[i], w, 0 if b % 2 == 0 else w // 2, cfg.mlp_ratio, cfg.qkv_bias,
                          cfg.qk_scale, dpr[k + b]) for b in range(cfg.depths[i])]))
            k += cfg.depths[i]
            if i < L - 1:
                self.down.append(PatchMerging(d))
        self.up = nn.ModuleList()
        self.fuse = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in range(L - 2, -1, -1):
            d = C * 2 ** i
            self.up.append(PatchExpand(2 * d))
            self.fuse.append(nn.Linear(2 * d, d))
            self.dec.append(nn.Sequential(*[
                SwinBlock(d, cfg.num_heads[i], w, 0 if b % 2 == 0 else w // 2, cfg.mlp_ratio, cfg.qkv_bias,
                          cfg.qk_scale, 0.0) for b in range(cfg.depths[i])]))
        self.norm = nn.LayerNorm(C)
        self.out = nn.Conv2d(C, cfg.in_chans, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.config.multiple
        if x.ndim != 4 or x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(f"SwinUNet expects (B, {self.config.in_chans}, H, W) with H, W multiples of {m}, "
                             f"got {tuple(x.shape)}")
        h = self.embed(x).permute(0, 2, 3, 1)
        skips = []
        for i, stage in enumerate(self.enc):
            h = stage(h)
            if i < len(self.down):
                skips.append(h)
                h = self.down[i](h)
        for up, fuse, stage in zip(self.up, self.fuse, self.dec):
            h = up(h)
            h = fuse(torch.cat([h, skips.pop()], dim=-1))
            h = stage(h)
        h = self.norm(h).permute(0, 3, 1, 2)
        return x + self.out(h)


# ---------------------------------------------------------------------- wrapper
def default_weights_path() -> Path:
    """Path of the shipped small-model weights (``sparserec/datasets/data/astro_denoiser``)."""
    return Path(__file__).resolve().parents[2] / "datasets" / "data" / "astro_denoiser" / "swin_unet_small.pt"


def tikhonov_noise_gain(psf: Any, shape: Any, lam: float) -> float:
    r""":math:`\|g\|_2` of the Tikhonov filter :math:`\hat g = \bar{\hat h}/(|\hat h|^2 + \lambda|\hat\Lambda|^2)`
    on a ``shape`` grid: the noise standard deviation of a Tikhonov image per unit input noise."""
    from .deconv import laplacian_transfer
    from .psf import psf_to_otf

    shp = tuple(int(v) for v in shape[-2:])
    H = psf_to_otf(check_psf(psf, shp), shp, real=False)
    L = laplacian_transfer(shp, real=False)
    G = np.conj(H) / (np.abs(H) ** 2 + lam * L ** 2)
    return float(np.sqrt(np.mean(np.abs(G) ** 2)))


@dataclass
class LearnedDeconvolver:
    """Tikhonov (step 1) + :class:`SwinUNet` denoiser (step 2).

    Attributes
    ----------
    model : SwinUNet
    lam : float
        Tikhonov weight of step 1 (9e-3, Laplacian).
    meta : dict
        Provenance stored with the weights (training settings).
    """

    model: SwinUNet
    lam: float = 9e-3
    meta: dict[str, Any] = field(default_factory=dict)

    def denoise(self, t: Any, scale: Any, batch_size: int = 16) -> np.ndarray:
        """Apply the network to Tikhonov images ``(*batch, H, W)``: divide by ``scale`` (their
        noise standard deviation, per image), reflect-pad to a multiple of ``config.multiple``,
        denoise, crop and multiply back."""
        a = check_image(t, "tikhonov image")
        shp = a.shape
        sc = np.broadcast_to(np.asarray(scale, dtype=float), shp[:-2]).reshape(-1, 1, 1, 1)
        if np.any(~(sc > 0)):
            raise ValueError("scale must be positive")
        flat = a.reshape(-1, 1, *shp[-2:]) / sc
        m = self.model.config.multiple
        ph, pw = (-shp[-2]) % m, (-shp[-1]) % m
        outs = []
        self.model.eval()
        p = next(self.model.parameters())
        with torch.no_grad():
            for i in range(0, flat.shape[0], batch_size):
                x = torch.as_tensor(flat[i:i + batch_size], dtype=p.dtype, device=p.device)
                x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode="reflect") if (ph or pw) else x
                y = self.model(x)
                y = y[..., ph // 2: ph // 2 + shp[-2], pw // 2: pw // 2 + shp[-1]]
                outs.append(y.double().cpu().numpy())
        return (np.concatenate(outs) * sc).reshape(shp)

    def __call__(self, image: Any, psf: Any, sigma: Any = None) -> np.ndarray:
        """Two-step deconvolution of ``(*batch, H, W)`` observations (``sigma``: noise std of the
        observation, MAD-estimated by default)."""
        from .noise import estimate_sigma

        y = check_image(image)
        sig = estimate_sigma(y) if sigma is None else sigma
        gain = tikhonov_noise_gain(psf, y.shape, self.lam)
        return self.denoise(tikhonov(y, psf, self.lam), np.asarray(sig, dtype=float) * gain)

    def save(self, path: str | os.PathLike[str], meta: dict[str, Any] | None = None) -> None:
        """Save ``{"format", "config", "lam", "meta", "state_dict"}`` with :func:`torch.save`
        (loadable with ``weights_only=True``); tensors stored in float32."""
        sd = {k: v.detach().float().cpu().clone() for k, v in self.model.state_dict().items()}
        m = dict(meta if meta is not None else self.meta)
        # plain types only, so that torch.load(weights_only=True) accepts the file
        m = {str(k): (v if isinstance(v, (bool, int, float)) else str(v)) for k, v in m.items()}
        torch.save({"format": FORMAT, "config": self.model.config.to_dict(), "lam": float(self.lam),
                    "meta": m, "state_dict": sd}, os.fspath(path))


def load_model(path: str | os.PathLike[str] | None = None, *, config: SwinUNetConfig | None = None,
               device: str | torch.device = "cpu") -> LearnedDeconvolver:
    """Load weights saved by :meth:`LearnedDeconvolver.save` safely (``torch.load(weights_only=True)``).

    Parameters
    ----------
    path : path-like, optional
        Default: the shipped small model (:func:`default_weights_path`).
    config : SwinUNetConfig, optional
        Expected architecture; a mismatch with the stored one raises ``ValueError``.
    device : torch device

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file; not a sparserec weight file; architecture mismatch (with the differing
        keys/shapes named).
    """
    p = Path(path) if path is not None else default_weights_path()
    if not p.exists():
        raise FileNotFoundError(f"no weight file at {p}; train one with "
                                "`python -m sparserec.applications.astronomy.train`")
    try:
        ck = torch.load(os.fspath(p), map_location=device, weights_only=True)
    except Exception as e:  # unpickling errors come in several types
        raise ValueError(f"{p} is not a loadable weights-only torch file: {e}") from e
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise ValueError(f"{p} is not a sparserec Swin-U-Net weight file (format tag {FORMAT!r} missing)")
    stored = SwinUNetConfig(**{**ck["config"], "depths": tuple(ck["config"]["depths"]),
                               "num_heads": tuple(ck["config"]["num_heads"])})
    if config is not None and config.to_dict() != stored.to_dict():
        raise ValueError(f"architecture mismatch: the file holds {stored.to_dict()}, expected {config.to_dict()}")
    model = SwinUNet(stored).to(device)
    try:
        model.load_state_dict(ck["state_dict"], strict=True)
    except RuntimeError as e:
        raise ValueError(f"the weights in {p} do not match the SwinUNet architecture {stored.to_dict()}: {e}") from e
    return LearnedDeconvolver(model, float(ck.get("lam", 9e-3)), dict(ck.get("meta", {})))


def learned_deconvolve(image: Any, psf: Any, *, model: LearnedDeconvolver | str | os.PathLike[str] | None = None,
                       lam: float | None = None, sigma: Any = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Two-step learned deconvolution (Tikhonov + Swin-U-Net); returns ``(x, info)``.

    ``model``: a :class:`LearnedDeconvolver`, a weight path, or None (shipped weights).
    ``lam``: overrides the Tikhonov weight stored with the model.
    """
    y = check_image(image)
    h = check_psf(psf, y.shape)
    if model is None or isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    if lam is not None:
        model = LearnedDeconvolver(model.model, float(lam), model.meta)
    x = model(y, h, sigma)
    return x, {"model": str(model.meta.get("name", "SwinUNet")), "lam": model.lam}


def _n_params(model: nn.Module) -> int:
    return int(sum(math.prod(p.shape) for p in model.parameters()))
