r"""Structured Bayesian pruning of torch layers with Turbo-VBI (after Xia, Tsang & Lau 2023).

The three-layer prior of :func:`~sparserec.solvers.bayes.turbo_vbi.turbo_vbi` is placed on the
weights of ``nn.Linear`` / ``nn.Conv2d`` layers: a support variable per weight laid out on a
declared 2-D grid (rows = output neurons / channels, columns = inputs), Gamma precisions
:math:`\rho_i` whose parameters depend on the support, and a Gaussian weight posterior
:math:`q(w_i) = \mathcal N(\mu_i, \sigma_i^2)` trained by SGD with the KL penalty.  Between
epochs, :meth:`TurboBayesLinear.turbo_step` runs Module A's closed-form updates (:math:`\rho`,
the support message) and Module B (loopy BP on the grid MRF), which couples neighbouring weights
(weight-level clustering along the inputs of a neuron) and neighbouring neurons (neuron-level
clustering).

Typical use::

    model = nn.Sequential(wrap(nn.Linear(64, 32)), nn.ReLU(), wrap(nn.Linear(32, 10)))
    for epoch in range(E):
        for xb, yb in loader:
            loss = n_train * criterion(model(xb), yb) + kl_penalty(model)
            ...
        if epoch % 2 == 1:
            turbo_step(model)
    masks = prune(model)                    # posterior rule: keep weights with q(s) > 1/2
    small = compress(model)                 # plain nn.Sequential without the dead neurons

torch is imported lazily by this module (``import sparserec`` never imports it).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..result import check_positive
from .support_priors import IndependentSupport, MarkovChainSupport, MRFSupport, SupportPrior
from .turbo_vbi import cavity_message, paper_message, rho_update

__all__ = [
    "TurboBayesConv2d",
    "TurboBayesLinear",
    "compress",
    "kl_penalty",
    "magnitude_masks",
    "prune",
    "turbo_layers",
    "turbo_step",
    "wrap",
    "zero_run_lengths",
]

_LOGIT_CLIP = 23.0


class _TurboBayesBase(nn.Module):
    """Shared machinery of the Bayesian layers (see :class:`TurboBayesLinear`)."""

    def _setup(self, weight: torch.Tensor, bias: torch.Tensor | None, prior: Any, variational: str,
               extrinsic: str, active_shape: float, active_rate: float, inactive_shape: float,
               inactive_rate: float, c: float, damping: float, init_sigma2: float | None,
               block_rows: int | None) -> None:
        if variational not in ("gaussian", "point"):
            raise ValueError(f"variational must be 'gaussian' or 'point', got {variational!r}")
        if extrinsic not in ("cavity", "paper"):
            raise ValueError(f"extrinsic must be 'cavity' or 'paper', got {extrinsic!r}")
        if c not in (0.5, 1.0):
            raise ValueError(f"c must be 0.5 (real weights) or 1 (the authors' demo), got {c!r}")
        if not 0 <= damping < 1:
            raise ValueError(f"damping must lie in [0, 1), got {damping!r}")
        self.hyper = (check_positive(active_shape, "active_shape"), check_positive(active_rate, "active_rate"),
                      check_positive(inactive_shape, "inactive_shape"), check_positive(inactive_rate, "inactive_rate"))
        self.variational, self.extrinsic, self.c, self.damping = variational, extrinsic, float(c), float(damping)
        R = weight.shape[0]
        C = weight.numel() // R
        self.grid_shape = (R, C)
        self.block_rows = None
        if block_rows is not None:
            if int(block_rows) < 1 or R % int(block_rows):
                raise ValueError(f"block_rows={block_rows} must divide the number of rows {R}")
            self.block_rows = int(block_rows)
        rows = self.block_rows or R
        if prior is None:
            prior = MRFSupport.from_transition((rows, C), p01=0.1, p11=0.8, p01_v=0.3, p11_v=0.6)
        elif isinstance(prior, (float, int)) and not isinstance(prior, bool):
            prior = IndependentSupport(float(prior))
        if not isinstance(prior, SupportPrior):
            raise TypeError(f"prior must be a SupportPrior or a probability, got {type(prior).__name__}")
        if isinstance(prior, MRFSupport) and prior.grid_shape != (rows, C):
            raise ValueError(f"the MRF grid {prior.grid_shape} does not match the weight layout "
                             f"(rows = output neurons, columns = inputs) of shape {(rows, C)}")
        if isinstance(prior, MarkovChainSupport):  # a chain along the inputs of each neuron
            pass
        self.prior = prior
        self._state: dict[str, Any] = {}
        self.weight_mu = nn.Parameter(weight.detach().clone())
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())
        dt, dev = weight.dtype, weight.device
        a, b, ab, bb = self.hyper
        p0 = float(prior.sparsity())
        rho0 = (p0 * a + (1 - p0) * ab) / (p0 * b + (1 - p0) * bb)
        if variational == "gaussian":
            s2 = init_sigma2 if init_sigma2 is not None else min(1e-3, 0.1 / rho0)
            ls2 = math.log(check_positive(s2, "init_sigma2"))
            self.weight_log_sigma2 = nn.Parameter(torch.full_like(self.weight_mu, ls2))
        else:
            self.weight_log_sigma2 = None
        self.register_buffer("rho", torch.full((R, C), rho0, dtype=dt, device=dev))
        self.register_buffer("shape_post", torch.full((R, C), p0 * a + (1 - p0) * ab, dtype=dt, device=dev))
        self.register_buffer("rate_post", torch.full((R, C), p0 * b + (1 - p0) * bb, dtype=dt, device=dev))
        self.register_buffer("support_prob", torch.full((R, C), p0, dtype=dt, device=dev))
        self.register_buffer("prior_prob", torch.full((R, C), p0, dtype=dt, device=dev))
        self.register_buffer("extrinsic_prob", torch.full((R, C), 0.5, dtype=dt, device=dev))
        self.register_buffer("mask", torch.ones_like(self.weight_mu, dtype=torch.bool))

    # -------------------------------------------------------------- posterior pieces
    def sigma2(self) -> torch.Tensor:
        """Posterior variances :math:`\\sigma_i^2` (zeros in point mode), weight-shaped."""
        if self.weight_log_sigma2 is None:
            return torch.zeros_like(self.weight_mu)
        return torch.exp(self.weight_log_sigma2)

    def masked_mu(self) -> torch.Tensor:
        return self.weight_mu * self.mask

    def kl_penalty(self) -> torch.Tensor:
        r"""KL of :math:`q(w)` from the prior :math:`\mathcal N(0, 1/\langle\rho\rangle)`, summed.

        :math:`\sum_i \tfrac12[\langle\rho_i\rangle(\mu_i^2+\sigma_i^2) - 1 - \ln(\langle\rho_i\rangle
        \sigma_i^2)]` (exactly 0 at :math:`\mu = 0, \sigma^2 = 1/\langle\rho\rangle`); in point mode
        :math:`\tfrac12\sum_i\langle\rho_i\rangle\mu_i^2`.  Pruned weights are excluded.
        """
        rho = self.rho.reshape(self.weight_mu.shape)
        m = self.mask.to(self.weight_mu.dtype)
        if self.weight_log_sigma2 is None:
            return 0.5 * torch.sum(m * rho * self.weight_mu ** 2)
        s2 = torch.exp(self.weight_log_sigma2)
        kl = 0.5 * (rho * (self.weight_mu ** 2 + s2) - 1 - torch.log(rho) - self.weight_log_sigma2)
        return torch.sum(m * kl)

    # -------------------------------------------------------------- Module A + B
    def _grid(self, t: torch.Tensor) -> torch.Tensor:
        R, C = self.grid_shape
        t = t.reshape(R, C)
        if self.block_rows:
            return t.reshape(R // self.block_rows, self.block_rows * C)
        return t.reshape(1, R * C)

    def _ungrid(self, t: torch.Tensor) -> torch.Tensor:
        return t.reshape(self.grid_shape)

    @torch.no_grad()
    def turbo_step(self) -> dict[str, float]:
        r"""One Turbo-VBI round on this layer's weight posterior (call between epochs).

        Cavity mode (default): the message uses the current :math:`\langle\rho\rangle` (the prior
        the weights were trained against), with :math:`v_i = (1/\sigma_i^2 - \langle\rho_i\rangle)^{-1}`
        and :math:`r_i = v_i\mu_i/\sigma_i^2` (point mode: :math:`v = 0, r = \mu`); then Module B
        on the grid, the damped :math:`\tilde\pi` update and the :math:`\rho` refresh (A2).  Paper
        mode: A2, then the log-odds A3, then Module B on :math:`\mathrm{logit}\,\tilde\pi -
        \mathrm{logit}\,\pi`.

        Returns
        -------
        dict
            ``active_fraction`` (:math:`\tilde\pi > 1/2`) and ``mean_rho``.
        """
        R, C = self.grid_shape
        mu = self.weight_mu.detach().reshape(R, C)
        s2 = self.sigma2().detach().reshape(R, C)
        m2 = mu ** 2 + s2
        hyper, c = self.hyper, self.c
        pi = self.prior_prob
        if self.extrinsic == "cavity":
            msg = cavity_message(mu, s2, self.rho, hyper, c).clamp(-_LOGIT_CLIP, _LOGIT_CLIP)
            pin = torch.sigmoid(msg)
            pi = self._ungrid(self.prior.messages(self._grid(pin), state=self._state))
            post = torch.sigmoid((msg + torch.logit(pi.clamp(1e-10, 1 - 1e-10))).clamp(-_LOGIT_CLIP, _LOGIT_CLIP))
            pit = self.damping * self.support_prob + (1 - self.damping) * post
            at, bt = rho_update(pit, m2, hyper, c)
        else:
            at, bt = rho_update(self.support_prob, m2, hyper, c)
            rho = at / bt
            lnrho = torch.special.digamma(at) - torch.log(bt)
            msg = paper_message(rho, lnrho, hyper).clamp(-_LOGIT_CLIP, _LOGIT_CLIP)
            pit = torch.sigmoid((torch.logit(pi.clamp(1e-10, 1 - 1e-10)) + msg).clamp(-_LOGIT_CLIP, _LOGIT_CLIP))
            pin = torch.sigmoid(msg)
            pi = self._ungrid(self.prior.messages(self._grid(pin), state=self._state))
            at, bt = rho_update(pit, m2, hyper, c)  # refresh <rho> with the new q(s) for the KL
        self.support_prob.copy_(pit)
        self.prior_prob.copy_(pi)
        self.extrinsic_prob.copy_(pin)
        self.shape_post.copy_(at)
        self.rate_post.copy_(bt)
        self.rho.copy_(at / bt)
        return {"active_fraction": float((pit > 0.5).float().mean()), "mean_rho": float(self.rho.mean())}

    # -------------------------------------------------------------- pruning
    @torch.no_grad()
    def prune(self, rule: str = "posterior", threshold: float = 0.01, apply: bool = True) -> dict[str, Any]:
        """Masks and removable neurons.

        Parameters
        ----------
        rule : {"posterior", "magnitude"}
            ``"posterior"``: keep weights with :math:`\\tilde\\pi \\ge 1/2`; ``"magnitude"``: keep
            :math:`|\\mu| \\ge` ``threshold`` (the authors' demo rule).
        threshold : float
        apply : bool
            Store the mask in the layer (masked weights are zero in the forward pass and out of the KL).

        Returns
        -------
        dict
            ``mask`` (bool, weight-shaped), ``removable`` (output neurons/channels whose incoming
            weights are all pruned), ``kept_fraction``.
        """
        if rule == "posterior":
            keep = (self.support_prob >= 0.5).reshape(self.weight_mu.shape)
        elif rule == "magnitude":
            keep = self.weight_mu.abs() >= float(threshold)
        else:
            raise ValueError(f"rule must be 'posterior' or 'magnitude', got {rule!r}")
        keep = keep & self.mask
        if apply:
            self.mask.copy_(keep)
        rows = keep.reshape(self.grid_shape[0], -1).any(dim=1)
        removable = torch.nonzero(~rows).flatten().tolist()
        return {"mask": keep.clone(), "removable": removable, "kept_fraction": float(keep.float().mean())}

    def extra_repr(self) -> str:
        return (f"grid={self.grid_shape}, variational={self.variational!r}, extrinsic={self.extrinsic!r}, "
                f"prior={type(self.prior).__name__}")


class TurboBayesLinear(_TurboBayesBase):
    r"""``nn.Linear`` with a Turbo-VBI weight posterior.

    Parameters
    ----------
    layer : nn.Linear
        The layer to wrap (its weight initialises :math:`\mu`, its bias is copied and trained as a
        point estimate).
    prior : SupportPrior or float, optional
        Support prior over the ``(out_features, in_features)`` grid (rows = output neurons,
        columns = inputs): horizontal edges couple adjacent inputs of one neuron (weight-level
        clustering), vertical edges adjacent neurons (neuron-level clustering).  Default:
        ``MRFSupport.from_transition(grid, p01=0.1, p11=0.8, p01_v=0.3, p11_v=0.6)``.  A float is
        an i.i.d. prior.  With ``block_rows`` the grid is ``(block_rows, in_features)`` blocks.
    variational : {"gaussian", "point"}
        Gaussian :math:`q(w)` with learned :math:`\log\sigma^2` (local reparameterisation), or
        :math:`\sigma \equiv 0` (MAP-like, the authors' demo).
    extrinsic : {"cavity", "paper"}
    active_shape, active_rate, inactive_shape, inactive_rate : float
        Gamma parameters :math:`(a, b)` (active) and :math:`(\bar a, \bar b)` (inactive);
        default (1, 1, 1, 0.01) as in the authors' demo.
    c : float, default 0.5
        1/2 for real weights (1 reproduces the demo).
    damping : float, default 0.5
    init_sigma2 : float, optional
    block_rows : int, optional
        Split the grid into independent blocks of this many rows (must divide ``out_features``).
    """

    def __init__(self, layer: nn.Linear, prior: Any = None, *, variational: str = "gaussian",
                 extrinsic: str = "cavity", active_shape: float = 1.0, active_rate: float = 1.0,
                 inactive_shape: float = 1.0, inactive_rate: float = 0.01, c: float = 0.5,
                 damping: float = 0.5, init_sigma2: float | None = None, block_rows: int | None = None) -> None:
        super().__init__()
        if not isinstance(layer, nn.Linear):
            raise TypeError(f"TurboBayesLinear wraps nn.Linear, got {type(layer).__name__}")
        self.in_features, self.out_features = layer.in_features, layer.out_features
        self._setup(layer.weight, layer.bias, prior, variational, extrinsic, active_shape, active_rate,
                    inactive_shape, inactive_rate, c, damping, init_sigma2, block_rows)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = F.linear(x, self.masked_mu(), self.bias)
        if self.weight_log_sigma2 is None or not self.training:
            return mean
        var = F.linear(x * x, self.sigma2() * self.mask)
        return mean + torch.sqrt(var + 1e-16) * torch.randn_like(mean)

    def to_module(self) -> nn.Linear:
        """A plain ``nn.Linear`` with the masked posterior mean as weight."""
        lin = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None,
                        dtype=self.weight_mu.dtype, device=self.weight_mu.device)
        with torch.no_grad():
            lin.weight.copy_(self.masked_mu())
            if self.bias is not None:
                lin.bias.copy_(self.bias)
        return lin


class TurboBayesConv2d(_TurboBayesBase):
    """``nn.Conv2d`` with a Turbo-VBI weight posterior.

    The grid has one row per output channel and the ``in_channels * kh * kw`` flattened kernel as
    columns (horizontal edges couple adjacent kernel taps / input channels, vertical edges adjacent
    output channels).  Other parameters as :class:`TurboBayesLinear`.
    """

    def __init__(self, layer: nn.Conv2d, prior: Any = None, *, variational: str = "gaussian",
                 extrinsic: str = "cavity", active_shape: float = 1.0, active_rate: float = 1.0,
                 inactive_shape: float = 1.0, inactive_rate: float = 0.01, c: float = 0.5,
                 damping: float = 0.5, init_sigma2: float | None = None, block_rows: int | None = None) -> None:
        super().__init__()
        if not isinstance(layer, nn.Conv2d):
            raise TypeError(f"TurboBayesConv2d wraps nn.Conv2d, got {type(layer).__name__}")
        if layer.groups != 1:
            raise ValueError("grouped convolutions are not supported")
        self.conv_args = {"stride": layer.stride, "padding": layer.padding, "dilation": layer.dilation}
        if layer.padding_mode != "zeros":
            raise ValueError("only padding_mode='zeros' is supported")
        self.in_channels, self.out_channels, self.kernel_size = layer.in_channels, layer.out_channels, layer.kernel_size
        self._setup(layer.weight, layer.bias, prior, variational, extrinsic, active_shape, active_rate,
                    inactive_shape, inactive_rate, c, damping, init_sigma2, block_rows)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = F.conv2d(x, self.masked_mu(), self.bias, **self.conv_args)
        if self.weight_log_sigma2 is None or not self.training:
            return mean
        var = F.conv2d(x * x, self.sigma2() * self.mask, None, **self.conv_args)
        return mean + torch.sqrt(var + 1e-16) * torch.randn_like(mean)

    def to_module(self) -> nn.Conv2d:
        """A plain ``nn.Conv2d`` with the masked posterior mean as weight."""
        conv = nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, bias=self.bias is not None,
                         dtype=self.weight_mu.dtype, device=self.weight_mu.device, **self.conv_args)
        with torch.no_grad():
            conv.weight.copy_(self.masked_mu())
            if self.bias is not None:
                conv.bias.copy_(self.bias)
        return conv


# ---------------------------------------------------------------------------- model-level helpers
def wrap(module: nn.Module, prior: Any = None, **kwargs: Any) -> _TurboBayesBase:
    """Wrap an ``nn.Linear`` or ``nn.Conv2d`` in its Turbo-VBI Bayesian layer.

    A ``prior`` given as ``"mrf"`` builds the default MRF, ``"iid"`` an independent prior with
    probability ``kwargs.pop("prob", 0.5)``; other values are passed to the layer.
    """
    if isinstance(prior, str):
        if prior == "iid":
            prior = IndependentSupport(kwargs.pop("prob", 0.5))
        elif prior == "mrf":
            prior = None
        else:
            raise ValueError(f"prior must be 'mrf', 'iid', a SupportPrior or a probability, got {prior!r}")
    if isinstance(module, nn.Linear):
        return TurboBayesLinear(module, prior, **kwargs)
    if isinstance(module, nn.Conv2d):
        return TurboBayesConv2d(module, prior, **kwargs)
    raise TypeError(f"wrap supports nn.Linear and nn.Conv2d, got {type(module).__name__}")


def turbo_layers(model: nn.Module) -> Iterator[_TurboBayesBase]:
    """The Turbo-VBI layers of ``model`` in module order."""
    for m in model.modules():
        if isinstance(m, _TurboBayesBase):
            yield m


def kl_penalty(model: nn.Module) -> torch.Tensor:
    """Sum of :meth:`TurboBayesLinear.kl_penalty` over the model (add ``beta *`` it to the loss)."""
    terms = [m.kl_penalty() for m in turbo_layers(model)]
    if not terms:
        raise ValueError("the model has no Turbo-VBI layers; wrap layers with wrap(...)")
    return torch.stack(terms).sum()


def turbo_step(model: nn.Module) -> list[dict[str, float]]:
    """Run :meth:`TurboBayesLinear.turbo_step` on every Turbo-VBI layer."""
    return [m.turbo_step() for m in turbo_layers(model)]


def prune(model: nn.Module, rule: str = "posterior", threshold: float = 0.01, apply: bool = True
          ) -> list[dict[str, Any]]:
    """:meth:`TurboBayesLinear.prune` on every Turbo-VBI layer (in module order)."""
    return [m.prune(rule, threshold, apply) for m in turbo_layers(model)]


@torch.no_grad()
def magnitude_masks(model: nn.Module, sparsity: float) -> list[torch.Tensor]:
    """Global magnitude pruning baseline: keep the largest ``1 - sparsity`` fraction of weights
    (over all Turbo-VBI / Linear / Conv2d layers) and store the masks in Turbo-VBI layers."""
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must lie in [0, 1), got {sparsity!r}")
    layers = [m for m in model.modules() if isinstance(m, (_TurboBayesBase, nn.Linear, nn.Conv2d))]
    ws = [m.weight_mu if isinstance(m, _TurboBayesBase) else m.weight for m in layers]
    allw = torch.cat([w.detach().abs().flatten() for w in ws])
    k = int(round(sparsity * allw.numel()))
    thr = torch.kthvalue(allw, k).values if k > 0 else allw.min() - 1
    masks = []
    for m, w in zip(layers, ws):
        keep = w.detach().abs() > thr
        if isinstance(m, _TurboBayesBase):
            m.mask.copy_(keep & m.mask)
        else:
            w.mul_(keep)
        masks.append(keep)
    return masks


def _activation_value(acts: list[nn.Module], v: torch.Tensor) -> torch.Tensor:
    for a in acts:
        v = a(v)
    return v


@torch.no_grad()
def compress(model: nn.Sequential) -> tuple[nn.Sequential, dict[str, Any]]:
    """Apply the masks and physically remove dead neurons from a sequential model.

    Parameters
    ----------
    model : nn.Sequential
        Layers: Turbo-VBI layers, ``nn.Linear``, ``nn.Conv2d``, elementwise activations (any
        module without parameters that keeps the shape, e.g. ``nn.ReLU``, ``nn.Tanh``,
        ``nn.Dropout``), ``nn.Flatten`` and pooling layers.

    Returns
    -------
    small : nn.Sequential
        Plain ``nn.Linear``/``nn.Conv2d`` layers (masked weights are zeros) where an output
        neuron/channel whose incoming weights are all pruned is removed.  Its constant output
        :math:`\\phi(b_j)` is folded into the next layer's bias (exact for Linear -> Linear and for
        convolutions without padding; with zero padding the border pixels see the constant
        truncated).  The last layer keeps all its outputs.
    info : dict
        ``removed`` (per weight layer, the removed neuron indices) and ``params_before`` /
        ``params_after`` (non-zero weights + biases).
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError("compress expects an nn.Sequential")
    mods = [m.to_module() if isinstance(m, _TurboBayesBase) else m for m in model]
    mods = [m for m in mods]
    weight_idx = [i for i, m in enumerate(mods) if isinstance(m, (nn.Linear, nn.Conv2d))]
    before = sum(int((m.weight != 0).sum()) + (m.bias.numel() if m.bias is not None else 0)
                 for m in (mods[i] for i in weight_idx))
    removed_all: list[list[int]] = []
    new_mods = [m for m in mods]
    for pos, i in enumerate(weight_idx):
        layer = new_mods[i]
        if pos == len(weight_idx) - 1:
            removed_all.append([])
            break
        j = weight_idx[pos + 1]
        nxt = new_mods[j]
        between = mods[i + 1:j]
        W = layer.weight
        dead = ~(W.reshape(W.shape[0], -1) != 0).any(dim=1)
        if not bool(dead.any()) or int((~dead).sum()) == 0:
            removed_all.append([])
            continue
        keep = torch.nonzero(~dead).flatten()
        rem = torch.nonzero(dead).flatten()
        # constant outputs of the dead units after the in-between activations
        b = layer.bias if layer.bias is not None else torch.zeros(W.shape[0], dtype=W.dtype, device=W.device)
        acts = [m for m in between if not isinstance(m, nn.Flatten) and not isinstance(m, nn.modules.pooling._MaxPoolNd)
                and not isinstance(m, nn.modules.pooling._AvgPoolNd)]
        const = _activation_value(acts, b.clone())
        flat = any(isinstance(m, nn.Flatten) for m in between)
        nW = nxt.weight
        if isinstance(nxt, nn.Linear) and isinstance(layer, nn.Conv2d):
            if not flat:
                raise ValueError("a Conv2d followed by a Linear needs an nn.Flatten in between")
            per = nW.shape[1] // W.shape[0]
            col_keep = (keep[:, None] * per + torch.arange(per, device=W.device)[None]).flatten()
            col_rem = (rem[:, None] * per + torch.arange(per, device=W.device)[None]).flatten()
            cvals = const.repeat_interleave(per)[col_rem]
            bias_add = nW[:, col_rem] @ cvals
            newW = nW[:, col_keep]
        elif isinstance(nxt, nn.Linear):
            bias_add = nW[:, rem] @ const[rem]
            newW = nW[:, keep]
        else:  # Conv2d -> Conv2d
            bias_add = nW[:, rem].sum(dim=(2, 3)) @ const[rem]
            newW = nW[:, keep]
        # shrink the current layer
        if isinstance(layer, nn.Linear):
            small = nn.Linear(layer.in_features, len(keep), bias=layer.bias is not None, dtype=W.dtype, device=W.device)
        else:
            small = nn.Conv2d(layer.in_channels, len(keep), layer.kernel_size, stride=layer.stride,
                              padding=layer.padding, dilation=layer.dilation, bias=layer.bias is not None,
                              dtype=W.dtype, device=W.device)
        small.weight.copy_(W[keep])
        if layer.bias is not None:
            small.bias.copy_(layer.bias[keep])
        new_mods[i] = small
        if isinstance(nxt, nn.Linear):
            nn2 = nn.Linear(newW.shape[1], nxt.out_features, bias=True, dtype=W.dtype, device=W.device)
        else:
            nn2 = nn.Conv2d(newW.shape[1], nxt.out_channels, nxt.kernel_size, stride=nxt.stride, padding=nxt.padding,
                            dilation=nxt.dilation, bias=True, dtype=W.dtype, device=W.device)
        nn2.weight.copy_(newW)
        nb = nxt.bias if nxt.bias is not None else torch.zeros(nW.shape[0], dtype=W.dtype, device=W.device)
        nn2.bias.copy_(nb + bias_add)
        new_mods[j] = nn2
        removed_all.append(rem.tolist())
    after = sum(int((new_mods[i].weight != 0).sum()) + (new_mods[i].bias.numel() if new_mods[i].bias is not None else 0)
                for i in weight_idx)
    return nn.Sequential(*new_mods), {"removed": removed_all, "params_before": before, "params_after": after}


def zero_run_lengths(mask: Any) -> float:
    """Mean length of the runs of pruned (False) entries along the last axis of a 2-D mask."""
    m = np.asarray(mask.cpu() if isinstance(mask, torch.Tensor) else mask).reshape(np.shape(mask)[0], -1)
    runs = []
    for row in m:
        n = 0
        for v in row:
            if not v:
                n += 1
            elif n:
                runs.append(n)
                n = 0
        if n:
            runs.append(n)
    return float(np.mean(runs)) if runs else 0.0
