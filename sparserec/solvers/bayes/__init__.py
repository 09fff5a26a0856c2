"""Sparse Bayesian learning: SBL (EM), M-SBL, Kronecker SBL (AM, SVD, pattern-coupled), Turbo-VBI and Pyro models.

Public solvers: :func:`sbl`, :func:`msbl`, :func:`kronecker_sbl`.  The Kronecker M-steps
(:func:`am_mstep`, :func:`svd_mstep`) and the shared E-step helpers
(:mod:`sparserec.solvers.bayes._common`) are exposed for reuse and testing.
"""

from .kronecker_sbl import am_mstep, coupling_matrix, kronecker_sbl, svd_mstep
from .msbl import msbl
from .pc_sbl import pc_sbl
from .sbl import sbl

__all__ = ["am_mstep", "coupling_matrix", "kronecker_sbl", "msbl", "pc_sbl", "sbl", "svd_mstep"]
