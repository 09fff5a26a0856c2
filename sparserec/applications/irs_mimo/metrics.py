r"""Channel-estimation metrics: NMSE (squared or not, stated), QPSK symbol error rate."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["channel_nmse", "qpsk_ser"]

_QPSK = np.array([1 + 1j, -1 + 1j, -1 - 1j, 1 - 1j]) / np.sqrt(2)


def channel_nmse(H_hat: Any, H: Any, squared: bool = True) -> np.ndarray:
    r"""Per-realisation channel NMSE averaged over configurations.

    ``squared=True`` (the authors' final results):
    :math:`\frac{1}{K}\sum_k \|\hat H_k - H_k\|_F^2 / \|H_k\|_F^2`;
    ``squared=False`` (their first preprint's figure): :math:`\frac1K\sum_k \|\hat H_k - H_k\|_F/\|H_k\|_F`.

    ``H_hat`` and ``H`` have shape ``(..., K, N_B, N_M)``; the result has shape ``(...)``.
    """
    H_hat, H = np.asarray(H_hat), np.asarray(H)
    if H_hat.shape != H.shape:
        raise ValueError(f"shapes differ: {H_hat.shape} vs {H.shape}")
    num = np.linalg.norm(H_hat - H, axis=(-2, -1))
    den = np.linalg.norm(H, axis=(-2, -1))
    r = num / den
    return (r**2 if squared else r).mean(-1)


def qpsk_ser(H_hat: Any, H: Any, noise_var: Any, n_symbols: int = 100_000, seed: Any = 3) -> np.ndarray:
    r"""Symbol error rate of a QPSK uplink detected with the estimated channel.

    For each configuration k the dominant singular vectors :math:`u, v` of :math:`\hat H_k` serve
    as combiner and precoder; the symbols :math:`s` (unit energy) are sent over the true channel,
    :math:`r = u^H H_k v\, s + u^H n`, :math:`n \sim \mathcal{CN}(0, \sigma^2 I)`, and detected as
    the QPSK point nearest to :math:`r / (u^H \hat H_k v)`.  The data SNR equals the training SNR
    (``noise_var`` per realisation).  Returns the SER per realisation, averaged over k.
    """
    H_hat, H = np.asarray(H_hat), np.asarray(H)
    lead = H.shape[:-3]
    K = H.shape[-3]
    Hh = H_hat.reshape((-1, K) + H.shape[-2:])
    Ht = H.reshape((-1, K) + H.shape[-2:])
    nv = np.broadcast_to(np.asarray(noise_var, dtype=np.float64), lead).reshape(-1)
    U, _, Vh = np.linalg.svd(Hh)
    u, v = U[..., :, 0], Vh[..., 0, :].conj()
    h_hat = np.einsum("rkb,rkbm,rkm->rk", u.conj(), Hh, v)
    h = np.einsum("rkb,rkbm,rkm->rk", u.conj(), Ht, v)
    rng = np.random.default_rng(seed)
    R = Hh.shape[0]
    out = np.zeros(R)
    chunk = 20_000
    for a in range(0, n_symbols, chunk):
        m = min(chunk, n_symbols - a)
        idx = rng.integers(0, 4, size=(R, K, m))
        s = _QPSK[idx]
        noise = (rng.standard_normal((R, K, m)) + 1j * rng.standard_normal((R, K, m))) * np.sqrt(nv / 2)[:, None, None]
        r = h[..., None] * s + noise  # u has unit norm: u^H n ~ CN(0, sigma^2)
        z = r / np.where(np.abs(h_hat) > 0, h_hat, 1)[..., None]
        det = np.argmin(np.abs(z[..., None] - _QPSK) ** 2, axis=-1)
        out += (det != idx).sum(axis=(1, 2))
    return (out / (K * n_symbols)).reshape(lead)
