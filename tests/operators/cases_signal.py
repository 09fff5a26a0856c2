"""Conformance cases of the signal operators: convolution, sampling, differences, wavelets and
the scipy/pylops wrappers.  Every instance is tiny (at most ~300 entries in and out)."""

from __future__ import annotations

import zlib

import numpy as np

from sparserec._backend import to_backend
from sparserec.operators import (
    DWT,
    FFTConvolve,
    FiniteDifference,
    Gradient,
    Mask,
    Restriction,
    Starlet,
    from_pylops,
    from_scipy,
)

from ._case import Case


def _lib(backend: str) -> tuple[str, str]:
    if backend == "numpy":
        return "numpy", "cpu"
    return "torch", ("cuda" if backend.endswith("cuda") else "cpu")


def _coef(backend: str, dtype: str, shape: tuple[int, ...], key: str):
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    lib, dev = _lib(backend)
    return to_backend(a.astype(dtype), lib, dev)


def _conv(kshape, in_shape, mode, method="fft", center=None):
    key = f"conv-{kshape}-{in_shape}-{mode}"

    def factory(backend, dtype):
        return FFTConvolve(_coef(backend, dtype, kshape, key), in_shape, mode=mode, center=center,
                           method=method)

    return factory


def _mask(backend, dtype):
    m = np.random.default_rng(3).random((6, 7)) > 0.4
    lib, dev = _lib(backend)
    return Mask(to_backend(m, lib, dev))


def _scipy_op(backend, dtype):
    from scipy.sparse.linalg import aslinearoperator as sp_aslinearoperator

    return from_scipy(sp_aslinearoperator(_coef("numpy", dtype, (7, 5), "scipy")))


def _pylops_op(backend, dtype):
    import pylops

    return from_pylops(pylops.MatrixMult(_coef("numpy", dtype, (6, 4), "pylops"), dtype=dtype))


def _pylops_nd(backend, dtype):
    import pylops

    d = _coef("numpy", dtype, (3, 4), "pylops-diag")
    return from_pylops(pylops.Diagonal(d, dtype=dtype))


def _fd(kind, boundary):
    def factory(backend, dtype):
        return FiniteDifference((5, 6), 0, kind, boundary)

    return factory


CASES: list[Case] = [
    # FFTConvolve: every mode, 1-D / 2-D, odd and even kernels, fft and direct
    Case("fftconvolve-1d-same", _conv((5,), (16,), "same")),
    Case("fftconvolve-1d-same-even", _conv((4,), (13,), "same")),
    Case("fftconvolve-1d-full", _conv((4,), (11,), "full")),
    Case("fftconvolve-1d-circular", _conv((5,), (12,), "circular")),
    Case("fftconvolve-1d-circular-center", _conv((4,), (9,), "circular", center=(0,))),
    Case("fftconvolve-2d-same", _conv((3, 3), (6, 7), "same")),
    Case("fftconvolve-2d-full", _conv((2, 3), (5, 4), "full")),
    Case("fftconvolve-2d-circular", _conv((3, 2), (6, 5), "circular")),
    Case("fftconvolve-direct-1d-same", _conv((3,), (10,), "same", method="direct")),
    Case("fftconvolve-direct-2d-circular", _conv((3, 3), (5, 6), "circular", method="direct")),
    Case("fftconvolve-direct-2d-full", _conv((2, 2), (4, 5), "full", method="direct")),
    # sampling
    Case("restriction-flat", lambda b, d: Restriction((5, 6), [0, 3, 7, 29, 11, 12, 18])),
    Case("restriction-multi", lambda b, d: Restriction((4, 5), (np.array([0, 1, 3]), np.array([4, 0, 2])))),
    Case("restriction-repeated", lambda b, d: Restriction(12, [1, 1, 5, 11, 5, 1])),
    Case("mask-2d", _mask),
    # finite differences / gradient
    *[Case(f"finitediff-{k}-{bd}", _fd(k, bd))
      for k in ("forward", "backward", "centered") for bd in ("periodic", "neumann")],
    Case("finitediff-1d-last-axis", lambda b, d: FiniteDifference(9)),
    Case("gradient-2d-neumann", lambda b, d: Gradient((6, 7))),
    Case("gradient-2d-periodic", lambda b, d: Gradient((6, 6), boundary="periodic")),
    Case("gradient-3d-axes", lambda b, d: Gradient((3, 4, 5), axes=(0, 2), kind="centered")),
    # starlet
    Case("starlet-1d-gen1", lambda b, d: Starlet(32, n_scales=3)),
    Case("starlet-1d-gen2", lambda b, d: Starlet(20, n_scales=4, generation=2)),
    Case("starlet-2d-gen1", lambda b, d: Starlet((8, 8), n_scales=2)),
    Case("starlet-2d-gen2", lambda b, d: Starlet((6, 7), n_scales=2, generation=2)),
    # DWT
    Case("dwt-haar-1d", lambda b, d: DWT(16, "haar")),
    Case("dwt-db4-1d", lambda b, d: DWT(32, "db4", levels=2)),
    Case("dwt-db8-1d", lambda b, d: DWT(16, "db8", levels=1)),
    Case("dwt-db2-2d", lambda b, d: DWT((8, 8), "db2")),
    Case("dwt-haar-3d", lambda b, d: DWT((4, 4, 4), "haar")),
    Case("dwt-db3-axis", lambda b, d: DWT((3, 16), "db3", levels=2, axes=(1,))),
    # interop wrappers (numpy only)
    Case("interop-scipy", _scipy_op, backends=("numpy",), skip_checks=("backend",)),
    Case("interop-pylops", _pylops_op, backends=("numpy",), skip_checks=("backend",)),
    Case("interop-pylops-nd", _pylops_nd, backends=("numpy",), skip_checks=("backend",)),
]
