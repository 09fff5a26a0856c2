"""Convex and greedy solvers: ISTA/FISTA, ADMM, Condat-Vu primal-dual, OMP/IHT/HTP/Kronecker OMP,
PCP robust PCA and IPI, and CVXPY reference formulations.

Every solver is batched (``y`` of shape ``(*batch, *out_shape)``) with per-problem ``lam`` and
per-problem convergence, on numpy and torch from one code path.  The CVXPY formulations live in
:mod:`sparserec.solvers.convex.cvx` (imported on demand; CVXPY is optional).
"""

from .admm import admm
from .greedy import htp, iht, komp, omp
from .pcp import ipi, pcp
from .primal_dual import condat_vu
from .proximal_gradient import fista, ista, lasso

__all__ = ["admm", "condat_vu", "fista", "htp", "iht", "ipi", "ista", "komp", "lasso", "omp", "pcp"]
