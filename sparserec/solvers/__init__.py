"""Solvers returning :class:`~sparserec.solvers.result.SolverResult`.

Subpackages: :mod:`~sparserec.solvers.convex` (ISTA/FISTA, ADMM, OMP, PCP, CVXPY references),
:mod:`~sparserec.solvers.bayes` (SBL, M-SBL, Kronecker SBL, Turbo-VBI),
:mod:`~sparserec.solvers.unmixing`, :mod:`~sparserec.solvers.privacy` and
:mod:`~sparserec.solvers.unfolding` (torch modules).  The batched Krylov solvers :func:`cg` and
:func:`lsqr` live here.
"""

from .linear import cg, lsqr
from .result import ConvergenceMonitor, ConvergenceWarning, SolverResult, SolverState, Status

__all__ = [
    "ConvergenceMonitor",
    "ConvergenceWarning",
    "SolverResult",
    "SolverState",
    "Status",
    "cg",
    "lsqr",
]
