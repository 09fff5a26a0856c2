r"""Building blocks of the unfolded RPCA networks: conv stacks, ConvLSTM cell, contrast layer.

All convolutions are 3×3, stride 1, "same" padding, with bias unless stated otherwise.
Convolution weights are initialised Xavier-normal with zero bias; BatchNorm starts at
:math:`\gamma = 1, \beta = 0` (:func:`init_weights`).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "ChannelAttention",
    "ContrastLayer",
    "ConvLSTMCell",
    "DeepContrastPrior",
    "ResidualBlock",
    "conv3x3",
    "conv_stack",
    "init_weights",
]


def conv3x3(cin: int, cout: int, bias: bool = True) -> nn.Conv2d:
    """3×3 convolution, stride 1, padding 1."""
    return nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding=1, bias=bias)


def conv_stack(channels: int, n_hidden: int, batch_norm: bool) -> nn.Sequential:
    r"""``conv 1→C [BN] ReLU; n_hidden × [conv C→C [BN] ReLU]; conv C→1``.

    Parameters
    ----------
    channels : int
        Hidden width :math:`C`.
    n_hidden : int
        Number of hidden :math:`C \to C` layers.
    batch_norm : bool
        Insert a BatchNorm after every hidden convolution (BAM / IRM) or not (OEM).

    Notes
    -----
    Parameter count: :math:`(9C + C) + n(9C^2 + C) + (9C + 1)` plus :math:`2C(n + 1)` with
    BatchNorm; for :math:`C = 32` that is 28,609 with ``n = 3`` and BN, 56,097 with ``n = 6``
    without BN.
    """
    layers: list[nn.Module] = [conv3x3(1, channels)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(channels))
    layers.append(nn.ReLU(inplace=True))
    for _ in range(n_hidden):
        layers.append(conv3x3(channels, channels))
        if batch_norm:
            layers.append(nn.BatchNorm2d(channels))
        layers.append(nn.ReLU(inplace=True))
    layers.append(conv3x3(channels, 1))
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    r"""``x + conv(ReLU(conv(x)))`` with :math:`C \to C` 3×3 convolutions."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = conv3x3(channels, channels)
        self.conv2 = conv3x3(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(torch.relu(self.conv1(x)))


class ConvLSTMCell(nn.Module):
    r"""Convolutional LSTM cell whose state is carried across unfolded stages.

    Parameters
    ----------
    channels : int
        Input and hidden width :math:`C` (3×3 gate convolutions :math:`C \to C`).
    first : bool, default False
        Build only the convolutions used at the first step (state ``None``): the input,
        output and candidate gates on :math:`x`.  The forget gate on :math:`x` and the four
        gates on :math:`h` would never be evaluated, so they are omitted (this is what makes
        the RPCANet++ count 2,915,342 rather than 2,961,582 for 6 stages).

    Notes
    -----
    With state :math:`(h, c)` the cell computes

    .. math::
        i = \sigma(W_{xi} * x + W_{hi} * h),\quad f = \sigma(W_{xf} * x + W_{hf} * h),\quad
        o = \sigma(W_{xo} * x + W_{ho} * h),\quad j = \tanh(W_{xj} * x + W_{hj} * h),

    .. math:: c' = f \odot c + i \odot j, \qquad h' = o \odot \tanh(c').

    At the first step (no state) only the :math:`x` gates are used and there is no forget
    gate and no :math:`\tanh` on the cell: :math:`c' = i \odot j`, :math:`h' = o \odot c'`
    (the RPCANet++ convention).
    """

    def __init__(self, channels: int, first: bool = False) -> None:
        super().__init__()
        self.channels = channels
        self.first = first
        self.conv_xi = conv3x3(channels, channels)
        self.conv_xo = conv3x3(channels, channels)
        self.conv_xj = conv3x3(channels, channels)
        if not first:
            self.conv_xf = conv3x3(channels, channels)
            self.conv_hi = conv3x3(channels, channels)
            self.conv_hf = conv3x3(channels, channels)
            self.conv_ho = conv3x3(channels, channels)
            self.conv_hj = conv3x3(channels, channels)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Return ``(h, (h, c))``."""
        if state is None:
            i = torch.sigmoid(self.conv_xi(x))
            o = torch.sigmoid(self.conv_xo(x))
            j = torch.tanh(self.conv_xj(x))
            c = i * j
            h = o * c
            return h, (h, c)
        if self.first:
            raise RuntimeError("this ConvLSTMCell was built with first=True (no recurrent gates) and "
                               "cannot take a previous state")
        h0, c0 = state
        i = torch.sigmoid(self.conv_xi(x) + self.conv_hi(h0))
        f = torch.sigmoid(self.conv_xf(x) + self.conv_hf(h0))
        o = torch.sigmoid(self.conv_xo(x) + self.conv_ho(h0))
        j = torch.tanh(self.conv_xj(x) + self.conv_hj(h0))
        c = f * c0 + i * j
        h = o * torch.tanh(c)
        return h, (h, c)


class ChannelAttention(nn.Module):
    r"""Squeeze-excitation weights :math:`\theta(X) = \sigma(BN(W_2 \mathrm{ReLU}(BN(W_1 \mathrm{GAP}(X)))))`.

    ``W_1`` is a 1×1 convolution :math:`C \to C/r`, ``W_2`` :math:`C/r \to C` (both with bias);
    returns shape ``(B, C, 1, 1)``.
    """

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        mid = max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, mid, kernel_size=1)
        self.bn1 = nn.BatchNorm2d(mid)
        self.fc2 = nn.Conv2d(mid, channels, kernel_size=1)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = x.mean(dim=(2, 3), keepdim=True)
        return torch.sigmoid(self.bn2(self.fc2(torch.relu(self.bn1(self.fc1(g))))))


class ContrastLayer(nn.Module):
    r"""Learned centre-minus-surround local contrast with channel attention.

    Parameters
    ----------
    channels : int
        :math:`C`.
    kernel_size : int, default 17
        Spatial support of the :math:`C \times C` kernel :math:`W` (odd; padding
        ``kernel_size // 2``, no bias).
    reduction : int, default 4
        Channel-attention reduction.

    Notes
    -----
    .. math:: \mathrm{out} = \theta(X) \odot (X * \bar W) - (X * W),
              \qquad \bar W = \textstyle\sum_{u,v} W[:, :, u, v],

    :math:`\bar W` being the 1×1 kernel of the spatial sums of :math:`W`.  For an input that
    is locally constant the two terms cancel when :math:`\theta = 1`, so the layer responds
    to local contrast, a learned version of the LCM-type priors of small-target detection.
    """

    def __init__(self, channels: int, kernel_size: int = 17, reduction: int = 4) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.attention = ChannelAttention(channels, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w_bar = self.conv.weight.sum(dim=(2, 3), keepdim=True)
        centre = nn.functional.conv2d(x, w_bar)
        return self.attention(x) * centre - self.conv(x)


class DeepContrastPrior(nn.Module):
    r"""DCPM :math:`c(X)`: conv 1→C, ReLU, :class:`ContrastLayer`, BN, LeakyReLU(0.1), conv C→1.

    Notes
    -----
    Parameter count for :math:`C = 32`, 17×17 kernel: 320 + 295,936 + 632 + 64 + 289 = 297,241.
    """

    def __init__(self, channels: int, kernel_size: int = 17, reduction: int = 4) -> None:
        super().__init__()
        self.head = conv3x3(1, channels)
        self.contrast = ContrastLayer(channels, kernel_size, reduction)
        self.bn = nn.BatchNorm2d(channels)
        self.tail = conv3x3(channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.contrast(torch.relu(self.head(x)))
        return self.tail(nn.functional.leaky_relu(self.bn(z), 0.1))


def init_weights(module: nn.Module) -> None:
    """Xavier-normal convolution weights, zero biases, BatchNorm ``gamma = 1, beta = 0``."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.xavier_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
