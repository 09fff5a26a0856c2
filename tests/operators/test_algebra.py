"""Property tests (hypothesis) of the operator algebra against dense numpy oracles."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sparserec.operators import Block, Diagonal, Kronecker, Matrix

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)
dims = st.integers(min_value=1, max_value=4)
seeds = st.integers(min_value=0, max_value=2**31 - 1)
dtypes = st.sampled_from(["float64", "complex128"])
scalars = st.complex_numbers(max_magnitude=10.0, allow_nan=False, allow_infinity=False)


def rand(rng, shape, dtype):
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def dense(op):
    return np.asarray(op.todense())


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(m=dims, k=dims, n=dims, seed=seeds, dtype=dtypes)
def test_adjoint_of_product(m, k, n, seed, dtype):
    rng = np.random.default_rng(seed)
    A, B = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
    AB = Matrix(A) @ Matrix(B)
    close(dense(AB.H), dense(Matrix(B).H @ Matrix(A).H))
    close(dense(AB.H), (A @ B).conj().T)
    y = rand(rng, (2, m), dtype)
    close(AB.H @ y, y @ (A @ B).conj())


@SETTINGS
@given(m=dims, n=dims, seed=seeds, dtype=dtypes)
def test_adjoint_of_sum(m, n, seed, dtype):
    rng = np.random.default_rng(seed)
    A, B = rand(rng, (m, n), dtype), rand(rng, (m, n), dtype)
    S = Matrix(A) + Matrix(B)
    close(dense(S.H), dense(Matrix(A).H + Matrix(B).H))
    close(dense(S.H), (A + B).conj().T)
    close(dense(Matrix(A) - Matrix(B)), A - B)


@SETTINGS
@given(m=dims, n=dims, seed=seeds, c=scalars, dtype=dtypes)
def test_adjoint_of_scaled(m, n, seed, c, dtype):
    rng = np.random.default_rng(seed)
    A = rand(rng, (m, n), dtype)
    cA = c * Matrix(A)
    close(dense(cA), c * A)
    close(dense(cA.H), np.conj(c) * A.conj().T)
    close(dense(cA.H), dense(np.conj(c) * Matrix(A).H))


@SETTINGS
@given(shapes=st.lists(st.tuples(dims, dims, dims), min_size=2, max_size=3), seed=seeds,
       dtype=dtypes)
def test_kronecker_mixed_product(shapes, seed, dtype):
    # (A1 x A2 x ...)(C1 x C2 x ...) = (A1 C1) x (A2 C2) x ...
    rng = np.random.default_rng(seed)
    As = [rand(rng, (m, k), dtype) for m, k, _ in shapes]
    Cs = [rand(rng, (k, n), dtype) for _, k, n in shapes]
    lhs = Kronecker([Matrix(a) for a in As]) @ Kronecker([Matrix(c) for c in Cs])
    rhs = Kronecker([Matrix(a) @ Matrix(c) for a, c in zip(As, Cs)])
    close(dense(lhs), dense(rhs))
    x = rand(rng, (3,) + lhs.in_shape, dtype)
    close(lhs @ x, rhs @ x)


@SETTINGS
@given(shapes=st.lists(st.tuples(dims, dims), min_size=2, max_size=3), seed=seeds,
       dtype=dtypes, flat=st.booleans(), diag_first=st.booleans())
def test_kronecker_todense_is_np_kron(shapes, seed, dtype, flat, diag_first):
    rng = np.random.default_rng(seed)
    mats = [rand(rng, s, dtype) for s in shapes]
    ops = [Matrix(a) for a in mats]
    if diag_first:  # mixed Matrix / Diagonal factors
        d = rand(rng, (shapes[0][1],), dtype)
        mats[0], ops[0] = np.diag(d), Diagonal(d)
    K = Kronecker(ops, flat=flat)
    ref = mats[0]
    for a in mats[1:]:
        ref = np.kron(ref, a)
    close(dense(K), ref)
    # C-order vec: the tensor input reshaped row-major is the flat input
    x = rand(rng, (2,) + K.in_shape, dtype)
    close(np.reshape(K @ x, (2, -1)), np.reshape(x, (2, -1)) @ ref.T)


@SETTINGS
@given(rows=st.lists(dims, min_size=1, max_size=3), cols=st.lists(dims, min_size=1, max_size=3),
       seed=seeds, dtype=dtypes, data=st.data())
def test_block_adjoint_is_conjugate_transposed_grid(rows, cols, seed, dtype, data):
    rng = np.random.default_rng(seed)
    grid, dense_grid = [], []
    for i, m in enumerate(rows):
        r, dr = [], []
        for j, n in enumerate(cols):
            # keep the diagonal of the grid (and the first row/column) filled
            empty = i != j and i > 0 and j > 0 and data.draw(st.booleans())
            a = rand(rng, (m, n), dtype)
            r.append(None if empty else Matrix(a))
            dr.append(np.zeros((m, n), dtype) if empty else a)
        grid.append(r)
        dense_grid.append(dr)
    B = Block(grid)
    ref = np.block(dense_grid)
    close(dense(B), ref)
    transposed = [[None if grid[i][j] is None else grid[i][j].H for i in range(len(rows))]
                  for j in range(len(cols))]
    close(dense(B.H), dense(Block(transposed)))
    close(dense(B.H), ref.conj().T)


@SETTINGS
@given(m=dims, n=dims, seed=seeds)
def test_transpose_is_conjugate_of_adjoint(m, n, seed):
    rng = np.random.default_rng(seed)
    A = rand(rng, (m, n), "complex128")
    op = Matrix(A)
    close(dense(op.T), A.T)
    close(dense(op.T), np.conj(dense(op.H)))
    close(dense(op.T.T), A)
    x = rand(rng, (3, m), "complex128")
    close(op.T @ x, x @ A)
