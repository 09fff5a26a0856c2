r"""LISTA: ISTA for sparse coding unrolled into a network with learned per-layer weights.

The unrolled iteration and the classical solver share one step function, :func:`ista_step`,
and one proximal map, :func:`sparserec.prox.prox_l1`: at initialisation a :class:`LISTA`
network with :math:`K` layers computes exactly :math:`K` iterations of
:func:`sparserec.solvers.convex.ista` (same step, same threshold).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..convex.proximal_gradient import ista_step

__all__ = ["LISTA", "ista_step"]


class LISTA(nn.Module):
    r"""Learned ISTA (Gregor & LeCun, 2010), initialised as :math:`K` exact ISTA iterations.

    Parameters
    ----------
    A : array of shape ``(m, n)`` or LinearOperator
        Dictionary / sensing matrix (operators are densified with ``todense()``).
    lam : float
        :math:`\lambda \ge 0` of the Lasso whose ISTA iterations are unrolled.
    n_layers : int, default 16
        Number of layers :math:`K`.
    step : float, optional
        ISTA step :math:`\gamma`; default :math:`1/\|A\|_2^2`.
    parametrization : {"full", "coupled"}, default "full"
        ``"full"``: learned :math:`G_k` (n×n, init :math:`A^T A`) and :math:`H_k` (n×m, init
        :math:`A^T`), surrogate gradient :math:`G_k x - H_k y` (Gregor–LeCun LISTA);
        ``"coupled"``: learned :math:`W_k` (m×n, init :math:`A`), gradient
        :math:`W_k^T (A x - y)` (LISTA-CP, Chen et al., 2018).
    tied : bool, default False
        Share the weights (not the thresholds and steps) across layers.
    learn_step : bool, default True
        Learn the per-layer steps :math:`\gamma_k` (else fixed at :math:`\gamma`).
    dtype : torch.dtype, optional
        Default: float64 for float64 input, else float32.

    Notes
    -----
    Layer :math:`k` computes

    .. math:: x_{k+1} = \mathrm{prox}_{\theta_k\|\cdot\|_1}\bigl(x_k - \gamma_k\, g_k(x_k, y)\bigr),
              \qquad x_0 = 0,

    through :func:`ista_step` and :func:`sparserec.prox.prox_l1`, with learned thresholds
    :math:`\theta_k` (init :math:`\gamma\lambda`, clipped at 0), steps :math:`\gamma_k` (init
    :math:`\gamma`) and weights of :math:`g_k`.  At initialisation
    :math:`g_k = A^T(Ax - y)`, so the network output equals
    ``ista(A, y, lam=lam, step=step, max_iter=K, tol=0).x``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sparserec.solvers.unfolding import LISTA
    >>> A = np.random.default_rng(0).standard_normal((10, 20))
    >>> net = LISTA(A, lam=0.1, n_layers=5)
    >>> net(torch.zeros(3, 10, dtype=torch.float64)).shape
    torch.Size([3, 20])
    """

    def __init__(self, A: Any, lam: float, n_layers: int = 16, step: float | None = None,
                 parametrization: str = "full", tied: bool = False, learn_step: bool = True,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if hasattr(A, "todense") and not isinstance(A, (np.ndarray, torch.Tensor)):
            A = A.todense()
        if isinstance(A, torch.Tensor):
            A = A.detach().cpu().numpy()
        A = np.asarray(A)
        if A.ndim != 2:
            raise ValueError(f"A must be a 2-D matrix, got shape {A.shape}")
        if np.iscomplexobj(A):
            raise TypeError("LISTA supports real matrices only")
        if not np.isfinite(A).all():
            raise ValueError("A contains NaN or Inf")
        if isinstance(n_layers, bool) or not isinstance(n_layers, (int, np.integer)) or n_layers < 1:
            raise ValueError(f"n_layers must be a positive integer, got {n_layers!r}")
        lam = float(lam)
        if not np.isfinite(lam) or lam < 0:
            raise ValueError(f"lam must be finite and non-negative, got {lam}")
        if parametrization not in ("full", "coupled"):
            raise ValueError(f"parametrization must be 'full' or 'coupled', got {parametrization!r}")
        if dtype is None:
            dtype = torch.float64 if A.dtype == np.float64 else torch.float32
        L = float(np.linalg.norm(A, 2)) ** 2
        if step is None:
            step = 1.0 / L if L > 0 else 1.0
        if not 0 < step:
            raise ValueError(f"step must be positive, got {step}")
        self.m, self.n = A.shape
        self.n_layers = int(n_layers)
        self.parametrization = parametrization
        self.lam, self.step0 = lam, float(step)
        At = torch.as_tensor(A, dtype=dtype)
        self.register_buffer("A", At)
        n_w = 1 if tied else n_layers

        def rep(t: torch.Tensor) -> nn.ParameterList:
            return nn.ParameterList([nn.Parameter(t.clone()) for _ in range(n_w)])

        if parametrization == "full":
            self.G = rep(At.T @ At)
            self.H = rep(At.T.clone())
        else:
            self.W = rep(At.clone())
        self.thresh = nn.Parameter(torch.full((n_layers,), step * lam, dtype=dtype))
        steps = torch.full((n_layers,), float(step), dtype=dtype)
        if learn_step:
            self.steps = nn.Parameter(steps)
        else:
            self.register_buffer("steps", steps)
        self.tied = tied

    def gradient(self, k: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Learned surrogate of :math:`A^T(Ax - y)` at layer ``k`` (batch-first rows)."""
        j = 0 if self.tied else k
        if self.parametrization == "full":
            return x @ self.G[j].T - y @ self.H[j].T
        return (x @ self.A.T - y) @ self.W[j]

    def forward(self, y: torch.Tensor, return_all: bool = False) -> torch.Tensor | list[torch.Tensor]:
        """Sparse codes :math:`x_K` for measurements ``y`` of shape ``(*batch, m)``.

        With ``return_all=True`` the list :math:`[x_1, \\dots, x_K]` is returned.
        """
        if not isinstance(y, torch.Tensor):
            y = torch.as_tensor(np.asarray(y), dtype=self.A.dtype)
        if y.ndim < 1 or y.shape[-1] != self.m:
            raise ValueError(f"y must have shape (*batch, {self.m}), got {tuple(y.shape)}")
        y = y.to(self.A.dtype)
        x = torch.zeros(*y.shape[:-1], self.n, dtype=y.dtype, device=y.device)
        xs = []
        for k in range(self.n_layers):
            x = ista_step(x, self.gradient(k, x, y), self.steps[k], torch.clamp(self.thresh[k], min=0.0))
            xs.append(x)
        return xs if return_all else x
