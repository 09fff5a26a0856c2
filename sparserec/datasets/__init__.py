"""Small shipped datasets, generators and a dependency-free FITS reader; never downloads.

Shipped data (``sparserec/datasets/data``, each folder with its licence):

- ``astronomy/``: a real HST COSMOS galaxy stamp, its PSF, an SDSS PSF and the same galaxy as a
  ground-based image (GalSim licence), loaded by :func:`load_hst_galaxy`.

Generators: :func:`make_sparse_signal`, :func:`make_compressed_sensing`.
"""

from .astronomy import data_path, load_hst_galaxy
from .fits import FITSError, read_fits
from .synthetic import CompressedSensingProblem, make_compressed_sensing, make_sparse_signal

__all__ = [
    "CompressedSensingProblem",
    "FITSError",
    "data_path",
    "load_hst_galaxy",
    "make_compressed_sensing",
    "make_sparse_signal",
    "read_fits",
]
