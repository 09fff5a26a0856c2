"""Conformance cases of the core operators (basic, structured and the algebra composites).

Sizes are tiny on purpose: the whole case x backend x dtype x batch grid must run in seconds.
"""

from __future__ import annotations

import zlib

import numpy as np

from sparserec._backend import namespace, to_backend
from sparserec.operators import (
    Block,
    BlockDiag,
    Diagonal,
    FunctionOperator,
    HStack,
    Identity,
    Kronecker,
    Matrix,
    VStack,
    Zero,
)

from ._case import Case

COMPLEX = ("complex64", "complex128")


def device_of_backend(backend: str) -> str:
    return "cuda" if backend == "torch-cuda" else "cpu"


def lib(backend: str) -> str:
    return "numpy" if backend == "numpy" else "torch"


def coef(backend: str, dtype: str, shape: tuple[int, ...], key: str, real: bool = False):
    """Seeded random coefficients of ``shape`` in ``dtype`` on ``backend``.

    Complex dtypes get genuinely complex entries unless ``real`` (real values stored complex).
    """
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    a = rng.standard_normal(shape)
    if dtype.startswith("complex") and not real:
        a = a + 1j * rng.standard_normal(shape)
    return to_backend(a.astype(dtype), lib(backend), device_of_backend(backend))


def M(backend, dtype, m, n, key):
    return Matrix(coef(backend, dtype, (m, n), key))


def D(backend, dtype, shape, key, real=False):
    return Diagonal(coef(backend, dtype, shape, key, real=real))


def sparse_matrix(backend, dtype):
    rng = np.random.default_rng(11)
    a = rng.standard_normal((5, 4)) * (rng.random((5, 4)) < 0.5)
    if dtype.startswith("complex"):
        a = a + 1j * a * rng.standard_normal((5, 4))
    a = a.astype(dtype)
    if backend == "numpy":
        import scipy.sparse as sp

        return Matrix(sp.csr_array(a))
    import torch

    return Matrix(torch.as_tensor(a, device=device_of_backend(backend)).to_sparse_csr())


def _diff(x):
    """Forward difference along the last axis, written against the array namespace."""
    return x[..., 1:] - x[..., :-1]


def _diff_adj(y):
    xp = namespace(y)
    return xp.concat([-y[..., :1], y[..., :-1] - y[..., 1:], y[..., -1:]], axis=-1)


def _diff_normal(x):
    return _diff_adj(_diff(x))


def function_operator(normal: bool):
    return FunctionOperator(_diff, _diff_adj, 5, 4, normal=_diff_normal if normal else None,
                            opnorm_bound=2.0)


def block_full(b, d):
    return Block([[M(b, d, 3, 2, "b11"), M(b, d, 3, 4, "b12")],
                  [M(b, d, 4, 2, "b21"), D(b, d, (2, 2), "b22")]])


def block_sparse_grid(b, d):
    return Block([[M(b, d, 3, 2, "s11"), M(b, d, 3, 4, "s12")],
                  [None, D(b, d, (2, 2), "s22")]])


# core bug (see tests/operators/test_core_operators.py::test_block_with_zero_blocks_to_torch):
# Block.to() calls .to on the None entries of the grid, so the round trip is skipped for grids
# holding zero blocks until the core is fixed.

CASES: list[Case] = [
    Case("identity", lambda b, d: Identity(4)),
    Case("identity-tensor", lambda b, d: Identity((2, 3))),
    Case("zero", lambda b, d: Zero(3, 4)),
    Case("zero-tensor", lambda b, d: Zero((2, 2), (3,))),
    Case("diagonal-real", lambda b, d: D(b, d, (5,), "dr", real=True)),
    Case("diagonal-complex", lambda b, d: D(b, d, (2, 3), "dc"), dtypes=COMPLEX),
    Case("matrix-dense", lambda b, d: M(b, d, 5, 4, "md")),
    Case("matrix-dense-square", lambda b, d: M(b, d, 4, 4, "mq")),
    Case("matrix-sparse", sparse_matrix),
    Case("kronecker-2-flat", lambda b, d: Kronecker([M(b, d, 3, 2, "k1"), D(b, d, (3,), "k2")],
                                                    flat=True)),
    Case("kronecker-2-tensor", lambda b, d: Kronecker([M(b, d, 3, 2, "k1"), M(b, d, 2, 3, "k3")])),
    Case("kronecker-3-tensor", lambda b, d: Kronecker(
        [M(b, d, 2, 3, "k4"), D(b, d, (2,), "k5"), M(b, d, 3, 2, "k6")])),
    Case("kronecker-3-flat", lambda b, d: Kronecker(
        [M(b, d, 2, 3, "k4"), D(b, d, (2,), "k5"), M(b, d, 3, 2, "k6")], flat=True)),
    Case("kronecker-square", lambda b, d: Kronecker([M(b, d, 3, 3, "k7"), D(b, d, (2,), "k8")])),
    Case("kronecker-tensor-factor", lambda b, d: Kronecker(
        [D(b, d, (2, 2), "k9"), M(b, d, 3, 2, "k10")])),
    Case("kronecker-identities", lambda b, d: Kronecker([Identity(2), Identity((3,))])),
    Case("block", block_full),
    Case("block-zero-blocks", block_sparse_grid),
    Case("hstack", lambda b, d: HStack([M(b, d, 3, 2, "h1"), D(b, d, (3,), "h2")])),
    Case("vstack", lambda b, d: VStack([M(b, d, 3, 2, "v1"), D(b, d, (2,), "v2")])),
    Case("blockdiag", lambda b, d: BlockDiag([M(b, d, 2, 2, "bd1"), D(b, d, (3,), "bd2")])),
    Case("product", lambda b, d: M(b, d, 3, 4, "p1") @ D(b, d, (4,), "p2") @ M(b, d, 4, 2, "p3")),
    Case("sum", lambda b, d: M(b, d, 3, 2, "s1") + M(b, d, 3, 2, "s2") - M(b, d, 3, 2, "s3")),
    Case("scaled-real", lambda b, d: -2.5 * D(b, d, (4,), "sc1")),
    Case("scaled-complex", lambda b, d: (0.5 - 2j) * M(b, d, 3, 4, "sc2")),
    Case("negated", lambda b, d: -M(b, d, 3, 2, "neg")),
    Case("power", lambda b, d: M(b, d, 3, 3, "pw") ** 3),
    Case("power-zero", lambda b, d: M(b, d, 3, 3, "pw") ** 0),
    Case("reshaped", lambda b, d: M(b, d, 6, 4, "rs").reshape(in_shape=(2, 2), out_shape=(2, 3))),
    Case("transpose", lambda b, d: M(b, d, 3, 4, "tr").T),
    Case("adjoint", lambda b, d: M(b, d, 3, 4, "ad").H),
    Case("adjoint-kronecker", lambda b, d: Kronecker([M(b, d, 3, 2, "ak1"),
                                                     D(b, d, (2,), "ak2")]).H),
    Case("normal-equations", lambda b, d: M(b, d, 5, 3, "ne").H @ M(b, d, 5, 3, "ne")
         + 0.5 * Identity(3)),
    Case("function", lambda b, d: function_operator(normal=False)),
    Case("function-with-normal", lambda b, d: function_operator(normal=True)),
]
