r"""Hyperspectral unmixing solvers (batch-first: pixels ``(*batch, L)``, endmembers ``(L, K)``).

* :func:`fcls`: fully constrained least squares, exact active set (batched, chunked, numpy/torch),
  or ADMM;
* :func:`sunsal`, :func:`clsunsal`: sparse (library) unmixing by ADMM;
* :func:`vca`, :func:`spa`: endmember extraction (:func:`estimate_snr` helper);
* :func:`nmf`, :func:`l12_nmf`: blind multiplicative NMF with sum-to-one, and its L1/2 variant;
* :func:`rrlbs_style`: the robust l2,1-over-channels / learned-guidance-map lp method
  (an "RRLbS-style" reconstruction), blind or supervised; :func:`channel_weights`,
  :func:`l12_lambda` helpers.
"""

from .endmembers import estimate_snr, spa, vca
from .fcls import fcls
from .nmf import channel_weights, l12_lambda, l12_nmf, nmf, rrlbs_style
from .sunsal import clsunsal, sunsal

__all__ = [
    "channel_weights",
    "clsunsal",
    "estimate_snr",
    "fcls",
    "l12_lambda",
    "l12_nmf",
    "nmf",
    "rrlbs_style",
    "spa",
    "sunsal",
    "vca",
]
