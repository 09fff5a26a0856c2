"""Sparse Bayesian learning: SBL (EM), M-SBL, Kronecker SBL (AM, SVD, pattern-coupled), Turbo-VBI and Pyro models.

Public solvers: :func:`sbl`, :func:`msbl`, :func:`kronecker_sbl`.  The Kronecker M-steps
(:func:`am_mstep`, :func:`svd_mstep`) and the shared E-step helpers
(:mod:`sparserec.solvers.bayes._common`) are exposed for reuse and testing.
"""

from .kronecker_sbl import am_mstep, coupling_matrix, kronecker_sbl, svd_mstep
from .msbl import msbl
from .pc_sbl import pc_sbl
from .sbl import sbl
from .support_priors import IndependentSupport, MarkovChainSupport, MRFSupport
from .turbo_vbi import turbo_vbi

__all__ = ["IndependentSupport", "MRFSupport", "MarkovChainSupport", "am_mstep", "coupling_matrix",
           "kronecker_sbl", "msbl", "pc_sbl", "pyro_models", "sbl", "svd_mstep", "turbo_pruning", "turbo_vbi"]


def __getattr__(name: str):
    # torch/pyro-dependent modules load on first access only
    if name in ("turbo_pruning", "pyro_models"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'sparserec.solvers.bayes' has no attribute {name!r}")
