r"""The IRS training model as a Kronecker operator, the ground-truth sparse vector, and the
conversion of a sparse angular estimate back to cascaded channels.

Stacked received signal (configuration k slowest, then pilot t, then BS antenna b fastest):

.. math:: y = (\Phi_1 \otimes \Phi_2 \otimes \Phi_3)\, x + n,\quad
          \Phi_1 = \Theta^T D_I\ (K_2\times G),\ \Phi_2 = S^T \bar A_M\ (K_1\times G),\
          \Phi_3 = A_B\ (N_B\times G),

with :math:`x \in \mathbb{C}^{G^3}` in C order ``x[j, g_M, g_B]`` (j the IRS difference-angle
index).  The only non-zeros of the ground truth are
:math:`x[(g_D - s_I - l) \bmod G,\ g_M,\ s_B + l'] = c\,\alpha_l\beta_{l'}`,
:math:`c = N_I\sqrt{N_B N_M}/L`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...operators import Kronecker, Matrix
from .system import Channels, IRSSystem, Training

__all__ = ["cascaded_channels", "measurement_factors", "measurement_operator", "received_signal", "true_sparse"]


def measurement_factors(system: IRSSystem, training: Training, r: int = 0) -> list[np.ndarray]:
    """The three factors ``[Phi_1, Phi_2, Phi_3]`` for realisation ``r``."""
    s = system
    phi1 = training.theta[r] @ s.D_irs()                    # (K2, G)
    phi2 = training.S[r].T @ s.A_ms().conj()                 # (K1, G)
    return [phi1, phi2, s.A_bs()]


def measurement_operator(system: IRSSystem, training: Training, r: int = 0, flat: bool = True) -> Kronecker:
    """Kronecker operator (Phi_1 ⊗ Phi_2 ⊗ Phi_3) of realisation ``r`` (flat M x G^3 by default)."""
    return Kronecker([Matrix(f) for f in measurement_factors(system, training, r)], flat=flat)


def true_sparse(system: IRSSystem, channels: Channels) -> np.ndarray:
    """Ground-truth angular vectors, shape (R, G^3) (C order over (j, g_M, g_B))."""
    s = system
    R, L, G = channels.H_im.shape[0], s.n_paths, s.grid
    c = s.n_irs * np.sqrt(s.n_bs * s.n_ms) / L
    X = np.zeros((R, G, G, G), complex)
    l = np.arange(L)
    for r in range(R):
        j = (channels.g_irs_aod[r] - channels.s_irs[r] - l) % G
        gb = channels.s_bs[r] + l
        X[r][np.ix_(j, [channels.g_ms[r]], gb)] = c * np.outer(channels.alpha[r], channels.beta[r])[:, None, :]
    return X.reshape(R, -1)


def received_signal(system: IRSSystem, channels: Channels, training: Training, snr_db: Any = None,
                    seed: Any = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Physically simulated received pilots, stacked as (R, M) in (k, t, b) order.

    :math:`y_{k,t} = H_{BI}\mathrm{diag}(\theta_k) H_{IM} s_t + n_{k,t}` with
    :math:`\sigma^2 = (\|\bar y\|^2/M)/10^{\mathrm{SNR}/10}` per realisation (``snr_db=None``: no
    noise).  Returns ``(y, y_clean, noise_var)``.
    """
    H = np.einsum("rbi,rki,rim->rkbm", channels.H_bi, training.theta, channels.H_im)   # (R, K2, NB, NM)
    Y = np.einsum("rkbm,rmt->rktb", H, training.S)                                      # (R, K2, K1, NB)
    R = Y.shape[0]
    yc = Y.reshape(R, -1)
    if snr_db is None:
        return yc.copy(), yc, np.zeros(R)
    snr = np.broadcast_to(np.asarray(snr_db, dtype=np.float64), (R,))
    nv = (np.abs(yc) ** 2).mean(1) / 10 ** (snr / 10)
    rng = np.random.default_rng(seed)
    n = (rng.standard_normal(yc.shape) + 1j * rng.standard_normal(yc.shape)) * np.sqrt(nv / 2)[:, None]
    return yc + n, yc, nv


def cascaded_channels(system: IRSSystem, x: Any, theta: Any) -> np.ndarray:
    r"""Cascaded channels :math:`\hat H_k = H_{BI}\mathrm{diag}(\theta_k)H_{IM}` from angular
    vectors, for any IRS configurations.

    Parameters
    ----------
    x : (..., G^3) complex
        Angular vectors (C order (j, g_M, g_B)).
    theta : (..., K, N_I)
        IRS configurations (broadcast against the leading dims of ``x``).

    Returns
    -------
    H : (..., K, N_B, N_M) complex, with
        :math:`\hat H_k[b, m] = \sum_{j, g_M, g_B} (\theta_k^T D_I)_j\,\bar A_M[m, g_M]\,A_B[b, g_B]\,x[j, g_M, g_B]`.
    """
    s = system
    x = np.asarray(x)
    if x.shape[-1] != s.grid**3:
        raise ValueError(f"x must have length G^3 = {s.grid ** 3} in its last axis, got {x.shape[-1]}")
    X = x.reshape(x.shape[:-1] + (s.grid,) * 3)
    phi1 = np.asarray(theta) @ s.D_irs()                       # (..., K, G)
    return np.einsum("...kj,mg,bh,...jgh->...kbm", phi1, s.A_ms().conj(), s.A_bs(), X)
