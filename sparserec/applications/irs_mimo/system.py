r"""IRS-aided MIMO uplink: system description, array responses, dictionaries, channel simulator
and training design (batched over realisations, seeded).

Model (spec §7).  Half-wavelength ULAs; array response
:math:`a_N(\omega) = N^{-1/2}[1, e^{j\pi\omega}, \dots, e^{j\pi(N-1)\omega}]^T`, spatial
frequency :math:`\omega \in [-1, 1)`, grid :math:`\omega_g = -1 + 2g/G`.  On-grid channels with
``L`` contiguous paths (0-based path offsets ``l = 0..L-1``):

.. math::
    H_{IM} = \sqrt{N_M N_I / L}\sum_l \alpha_l\, a_{N_I}(\omega_{s_I+l})\, a_{N_M}(\omega_{g_M})^H,\qquad
    H_{BI} = \sqrt{N_B N_I / L}\sum_l \beta_l\, a_{N_B}(\omega_{s_B+l})\, a_{N_I}(\omega_{g_D})^H,

:math:`\alpha_l, \beta_l \sim \mathcal{CN}(0, 1)`.  Training: ``K2`` IRS configurations
:math:`\theta_k \in \{\pm N_I^{-1/2}\}^{N_I}` (redrawn while
:math:`\|H_{BI}\,\mathrm{diag}(\theta_k) H_{IM}\|_F < 10^{-5}`), ``K1`` QPSK pilots (columns of
:math:`S \in \mathbb{C}^{N_M\times K_1}`, entries scaled by :math:`N_M^{-1/2}`).

The IRS is a 1-D ULA here, as in the authors' code; a UPA IRS (``irs_shape=(n1, n2)``) uses the
Kronecker product of two ULA responses and the same training design, but then the difference-angle
Kronecker model of :mod:`.model` does not apply (use the dense model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Channels", "IRSSystem", "Training", "array_response", "simulate_channels", "design_training"]


@dataclass(frozen=True)
class IRSSystem:
    """Sizes of the IRS-aided uplink (defaults: the paper's configuration).

    Attributes
    ----------
    n_bs, n_ms, n_irs : int
        Antennas at the BS (N_B), at the MS (N_M) and IRS elements (N_I).
    grid : int
        Angular grid size G (must be >= max(N_B, N_M)).
    n_paths : int
        Paths per cluster L.
    n_pilots, n_configs : int
        Pilots per configuration K1 and IRS configurations K2.
    """

    n_bs: int = 16
    n_ms: int = 6
    n_irs: int = 256
    grid: int = 18
    n_paths: int = 3
    n_pilots: int = 3
    n_configs: int = 6

    def __post_init__(self) -> None:
        for nm in ("n_bs", "n_ms", "n_irs", "grid", "n_paths"):
            if int(getattr(self, nm)) < 1:
                raise ValueError(f"{nm} must be >= 1, got {getattr(self, nm)}")
        if self.n_pilots < 1 or self.n_configs < 1:
            raise ValueError(f"need at least one pilot and one IRS configuration, got K1={self.n_pilots}, "
                             f"K2={self.n_configs}")
        if self.grid < max(self.n_bs, self.n_ms):
            raise ValueError(f"grid G={self.grid} is smaller than the arrays (N_B={self.n_bs}, N_M={self.n_ms}); "
                             "the dictionaries would be underdetermined per mode")
        if self.n_paths >= self.grid:
            raise ValueError("n_paths must be smaller than the grid")

    @property
    def n_measurements(self) -> int:
        """M = K1 K2 N_B."""
        return self.n_pilots * self.n_configs * self.n_bs

    @property
    def n_unknowns(self) -> int:
        """N = G^3."""
        return self.grid**3

    def omega(self) -> np.ndarray:
        """Grid spatial frequencies -1 + 2g/G."""
        return -1.0 + 2.0 * np.arange(self.grid) / self.grid

    def A_bs(self) -> np.ndarray:
        """BS dictionary A_B (N_B x G)."""
        return array_response(self.n_bs, self.omega())

    def A_ms(self) -> np.ndarray:
        """MS dictionary A_M (N_M x G)."""
        return array_response(self.n_ms, self.omega())

    def D_irs(self) -> np.ndarray:
        """Difference-angle IRS matrix D_I (N_I x G): ``D[n, j] = exp(-2i pi j n / G) / N_I``."""
        n = np.arange(self.n_irs)[:, None]
        j = np.arange(self.grid)[None, :]
        return np.exp(-2j * np.pi * j * n / self.grid) / self.n_irs


def array_response(n: int, omega: Any) -> np.ndarray:
    r"""ULA responses :math:`a_n(\omega)` as columns: shape ``(n, len(omega))`` (or ``(n,)``)."""
    w = np.asarray(omega, dtype=np.float64)
    k = np.arange(n).reshape((n,) + (1,) * w.ndim)
    return np.exp(1j * np.pi * k * w) / np.sqrt(n)


@dataclass
class Channels:
    """Simulated channels for ``R`` realisations (arrays have a leading realisation axis).

    Attributes
    ----------
    H_im : (R, N_I, N_M) complex
    H_bi : (R, N_B, N_I) complex
    g_ms, g_irs_aod, s_irs, s_bs : (R,) int
        MS AoD index, IRS AoD index (of H_BI), first IRS AoA index (of H_IM), first BS AoA index.
    alpha, beta : (R, L) complex
        Path gains of H_IM and H_BI.
    """

    H_im: np.ndarray
    H_bi: np.ndarray
    g_ms: np.ndarray
    g_irs_aod: np.ndarray
    s_irs: np.ndarray
    s_bs: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray


def simulate_channels(system: IRSSystem, n_realisations: int = 1, seed: Any = 0) -> Channels:
    """Draw on-grid MS->IRS and IRS->BS channels for ``n_realisations`` at once (seeded)."""
    if n_realisations < 1:
        raise ValueError("n_realisations must be >= 1")
    rng = np.random.default_rng(seed)
    s, R, L, G = system, int(n_realisations), system.n_paths, system.grid
    w = s.omega()
    g_ms = rng.integers(0, G, R)
    g_d = rng.integers(0, G, R)
    s_i = rng.integers(0, G - L + 1, R)
    s_b = rng.integers(0, G - L + 1, R)
    cn = lambda *sh: (rng.standard_normal(sh) + 1j * rng.standard_normal(sh)) / np.sqrt(2)  # noqa: E731
    alpha, beta = cn(R, L), cn(R, L)
    l = np.arange(L)
    a_i_in = array_response(s.n_irs, w[s_i[:, None] + l])          # (N_I, R, L)
    a_m = array_response(s.n_ms, w[g_ms])                            # (N_M, R)
    a_b = array_response(s.n_bs, w[s_b[:, None] + l])               # (N_B, R, L)
    a_i_out = array_response(s.n_irs, w[g_d])                        # (N_I, R)
    H_im = np.sqrt(s.n_ms * s.n_irs / L) * np.einsum("rl,irl,mr->rim", alpha, a_i_in, a_m.conj())
    H_bi = np.sqrt(s.n_bs * s.n_irs / L) * np.einsum("rl,brl,ir->rbi", beta, a_b, a_i_out.conj())
    return Channels(H_im, H_bi, g_ms, g_d, s_i, s_b, alpha, beta)


@dataclass
class Training:
    """Training design: IRS configurations ``theta`` (R, K2, N_I) and pilots ``S`` (R, N_M, K1)."""

    theta: np.ndarray
    S: np.ndarray
    n_redraws: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def design_training(system: IRSSystem, channels: Channels, seed: Any = 1, shared: bool = False,
                    max_redraws: int = 100) -> Training:
    r"""Random :math:`\pm N_I^{-1/2}` IRS configurations (redrawn when the cascaded channel
    :math:`H_{BI}\mathrm{diag}(\theta)H_{IM}` has Frobenius norm < 1e-5) and QPSK pilots
    scaled by :math:`N_M^{-1/2}`.  ``shared=True`` uses one design for every realisation (then
    one measurement operator serves the whole batch); the redraw check is then applied to all
    realisations at once."""
    rng = np.random.default_rng(seed)
    s = system
    R = channels.H_im.shape[0]
    Rd = 1 if shared else R
    theta = rng.choice([-1.0, 1.0], size=(Rd, s.n_configs, s.n_irs)) / np.sqrt(s.n_irs)
    redraws = np.zeros(Rd, np.int64)
    for _ in range(max_redraws):
        H = np.einsum("rbi,rki,rim->rkbm", channels.H_bi, np.broadcast_to(theta, (R,) + theta.shape[1:]),
                      channels.H_im)
        bad = np.linalg.norm(H, axis=(2, 3)) < 1e-5            # (R, K2)
        if shared:
            bad = bad.any(axis=0, keepdims=True)
        if not bad.any():
            break
        r, k = np.nonzero(bad)
        theta[r, k] = rng.choice([-1.0, 1.0], size=(r.size, s.n_irs)) / np.sqrt(s.n_irs)
        np.add.at(redraws, r, 1)
    else:
        raise RuntimeError("could not draw a non-degenerate IRS configuration")
    qpsk = (rng.choice([-1.0, 1.0], size=(Rd, s.n_ms, s.n_pilots))
            + 1j * rng.choice([-1.0, 1.0], size=(Rd, s.n_ms, s.n_pilots))) / np.sqrt(2)
    S = qpsk / np.sqrt(s.n_ms)
    if shared:
        theta = np.broadcast_to(theta, (R,) + theta.shape[1:]).copy()
        S = np.broadcast_to(S, (R,) + S.shape[1:]).copy()
        redraws = np.broadcast_to(redraws, (R,)).copy()
    return Training(theta, S, redraws)
