r"""Proximal maps and projections, batched on numpy and torch from one code path.

Functions follow ``prox_f(x, thresh)`` = :math:`\arg\min_z \tfrac12\|z-x\|^2 + t f(z)` with
thresholds broadcasting against ``x`` (scalar or per problem); projections are named
``project_*`` (:func:`project_l0_ball` keeps the ``k`` largest magnitudes, the hard-thresholding
step of IHT, and :func:`topk_mask` returns that support).  :class:`Penalty` objects bundle a
prox with the function value for solvers (``pen(x, step, lam)``, ``pen.value(x, lam, ndim)``).
"""

from .elementwise import lp_threshold, prox_cel0, prox_l0, prox_l1, prox_lp
from .group import project_group_ball, project_spectral_ball, prox_group_l21, prox_nuclear
from .penalties import (
    CEL0,
    L0,
    L1,
    Box,
    GroupL21,
    Lp,
    NonNegative,
    NuclearNorm,
    Penalty,
    Simplex,
    SumTo,
    TotalVariation,
    ZeroPenalty,
    get_penalty,
)
from .projections import (
    project_box,
    project_l0_ball,
    project_l1_ball,
    project_linf_ball,
    project_nonneg,
    project_simplex,
    project_sum_to,
    topk_mask,
)
from .tv import gradient_nd, gradient_nd_adjoint, prox_tv

__all__ = [
    "CEL0",
    "L0",
    "L1",
    "Box",
    "GroupL21",
    "Lp",
    "NonNegative",
    "NuclearNorm",
    "Penalty",
    "Simplex",
    "SumTo",
    "TotalVariation",
    "ZeroPenalty",
    "get_penalty",
    "gradient_nd",
    "gradient_nd_adjoint",
    "lp_threshold",
    "project_box",
    "project_group_ball",
    "project_l0_ball",
    "project_l1_ball",
    "project_linf_ball",
    "project_nonneg",
    "project_simplex",
    "project_spectral_ball",
    "project_sum_to",
    "prox_cel0",
    "prox_group_l21",
    "prox_l0",
    "prox_l1",
    "prox_lp",
    "prox_nuclear",
    "prox_tv",
    "topk_mask",
]
