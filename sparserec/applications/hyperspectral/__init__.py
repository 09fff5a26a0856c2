r"""Hyperspectral unmixing application.

* Data: :class:`Scene`, the shipped real scenes (:func:`load_samson`, :func:`load_sim`, sha256
  pinned), layout converters (:func:`cube_to_matrix`, :func:`matrix_to_cube`; row-major pixels);
* IO: ``.mat`` (HySUPP/MiSiCNet layouts, v7.3 via h5py), HDF5/NetCDF (dims ``y, x, band``), ENVI
  images and spectral libraries, writers with provenance;
* Simulator: library or synthetic endmembers, Dirichlet/block/smooth abundances, SNR-exact noise,
  corrupted channels;
* Metrics: SAD, RMSE, aRMSE, eRMSE, SRE, reconstruction error, AAD, Hungarian alignment;
* :func:`unmix` (cube to ``xarray.Dataset``) and :func:`stream_fcls` (chunked FCLS from HDF5).

xarray and h5py are imported only by the functions that need them.
"""

from .data import SHA256, Scene, cube_to_matrix, data_dir, load_samson, load_scene, load_sim, matrix_to_cube
from .io import (
    load_hysupp_mat,
    read_cube,
    read_envi,
    read_envi_library,
    read_mat,
    save_hysupp_mat,
    write_cube,
    write_envi,
    write_unmixing,
)
from .metrics import aad, align, armse, ermse, evaluate, reconstruction_error, rmse_per_map, sad, sre
from .simulate import (
    add_noise,
    block_abundances,
    corrupt_channels,
    dirichlet_abundances,
    library_spectra,
    simulate_scene,
    smooth_abundances,
    synthetic_spectra,
)
from .unmix import METHODS, stream_fcls, unmix

__all__ = [
    "METHODS",
    "SHA256",
    "Scene",
    "aad",
    "add_noise",
    "align",
    "armse",
    "block_abundances",
    "corrupt_channels",
    "cube_to_matrix",
    "data_dir",
    "dirichlet_abundances",
    "ermse",
    "evaluate",
    "library_spectra",
    "load_hysupp_mat",
    "load_samson",
    "load_scene",
    "load_sim",
    "matrix_to_cube",
    "read_cube",
    "read_envi",
    "read_envi_library",
    "read_mat",
    "reconstruction_error",
    "rmse_per_map",
    "sad",
    "save_hysupp_mat",
    "simulate_scene",
    "smooth_abundances",
    "sre",
    "stream_fcls",
    "synthetic_spectra",
    "unmix",
    "write_cube",
    "write_envi",
    "write_unmixing",
]
