"""Core operators against dense numpy oracles; conversions, norms and diagonals."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from sparserec._backend import dtype_name, to_backend, to_numpy
from sparserec.operators import (
    AdjointOperator,
    Block,
    BlockDiag,
    Diagonal,
    FunctionOperator,
    HStack,
    Identity,
    Kronecker,
    Matrix,
    PowerOperator,
    ProductOperator,
    ReshapedOperator,
    ScaledOperator,
    SumOperator,
    TransposeOperator,
    VStack,
    Zero,
)
from sparserec.operators.testing import dottest

torch = pytest.importorskip("torch")
HAS_CUDA = torch.cuda.is_available()
BACKENDS = ["numpy", "torch"]


def rand(shape, dtype="complex128", seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def on(a, backend):
    return to_backend(a, backend)


def assert_dense_oracle(op, ref, backend, dtype="complex128", batch=(2,), rtol=1e-12):
    """apply/adjoint/todense of ``op`` equal the dense matrix ``ref`` (C-order vec)."""
    m, n = ref.shape
    assert op.shape == (m, n)
    np.testing.assert_allclose(to_numpy(op.todense(like=on(np.zeros(0, dtype), backend))), ref,
                               rtol=rtol, atol=rtol)
    x = rand(batch + op.in_shape, dtype, seed=1)
    y = rand(batch + op.out_shape, dtype, seed=2)
    Ax = to_numpy(op.apply(on(x, backend)))
    AHy = to_numpy(op.adjoint(on(y, backend)))
    assert Ax.shape == batch + op.out_shape and AHy.shape == batch + op.in_shape
    np.testing.assert_allclose(Ax.reshape(batch + (m,)), x.reshape(batch + (n,)) @ ref.T,
                               rtol=rtol, atol=rtol)
    np.testing.assert_allclose(AHy.reshape(batch + (n,)), y.reshape(batch + (m,)) @ ref.conj(),
                               rtol=rtol, atol=rtol)


# ---------------------------------------------------------------------- elementary operators
@pytest.mark.parametrize("backend", BACKENDS)
def test_identity_and_zero(backend):
    assert_dense_oracle(Identity((2, 3)), np.eye(6), backend)
    assert_dense_oracle(Zero((2, 2), (3,)), np.zeros((3, 4)), backend)
    assert Identity(4).opnorm_bound() == 1.0 and Zero(3).opnorm_bound() == 0.0
    np.testing.assert_array_equal(Identity(3).diag(), np.ones(3))
    np.testing.assert_array_equal(Zero(3).diag(), np.zeros(3))


@pytest.mark.parametrize("backend", BACKENDS)
def test_diagonal(backend):
    d = rand((2, 3), seed=3)
    op = Diagonal(on(d, backend))
    assert_dense_oracle(op, np.diag(d.ravel()), backend)
    assert op.opnorm_bound() == pytest.approx(np.abs(d).max())
    np.testing.assert_allclose(to_numpy(op.diag()), d)
    x = rand((4, 2, 3), seed=4)
    np.testing.assert_allclose(to_numpy(op.normal(on(x, backend))), np.abs(d) ** 2 * x)


def test_diagonal_with_per_problem_entries():
    d = rand((4, 3), seed=5)  # one diagonal per problem of a batch of 4
    op = Diagonal(d, in_shape=(3,))
    assert op.in_shape == (3,)
    x = rand((4, 3), seed=6)
    np.testing.assert_allclose(op @ x, d * x)
    np.testing.assert_allclose(op.adjoint(x), d.conj() * x)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_matrix_dense(backend, dtype):
    A = rand((4, 3), dtype, seed=7)
    op = Matrix(on(A, backend))
    assert_dense_oracle(op, A, backend, dtype, batch=(2, 5))
    assert op.opnorm_bound() >= np.linalg.norm(A, 2)
    assert op.opnorm_bound() == pytest.approx(np.linalg.norm(A, 2), rel=1e-5)
    np.testing.assert_allclose(to_numpy(Matrix(on(A[:3], backend)).diag()), np.diag(A[:3]))
    x = rand((3,), dtype, seed=8)
    np.testing.assert_allclose(to_numpy(op(on(x, backend))), A @ x)
    np.testing.assert_allclose(to_numpy(op @ on(x, backend)), A @ x)


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_matrix_sparse_scipy_and_torch(dtype):
    A = rand((5, 4), dtype, seed=9) * (rand((5, 4), "float64", seed=10) > 0)
    assert_dense_oracle(Matrix(sp.csr_array(A)), A, "numpy", dtype)
    assert_dense_oracle(Matrix(sp.coo_matrix(A)), A, "numpy", dtype)
    assert_dense_oracle(Matrix(torch.as_tensor(A).to_sparse_csr()), A, "torch", dtype)
    assert_dense_oracle(Matrix(torch.as_tensor(A).to_sparse()), A, "torch", dtype)  # COO -> CSR
    np.testing.assert_allclose(Matrix(sp.csr_array(A[:4])).diag(), np.diag(A[:4]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_function_operator(backend):
    A = rand((3, 4), seed=11)
    At = on(A, backend)
    op = FunctionOperator(lambda x: x @ At.T, lambda y: y @ At.conj(), 4, 3,
                          dtype=At.dtype, opnorm_bound=10.0)
    assert_dense_oracle(op, A, backend)
    assert op.opnorm_bound() == 10.0 and op.backend is None


# ---------------------------------------------------------------------- composites
@pytest.mark.parametrize("backend", BACKENDS)
def test_composites_against_dense(backend):
    A, B, C = rand((3, 4), seed=12), rand((4, 2), seed=13), rand((3, 4), seed=14)
    S = rand((3, 3), seed=15)
    opA, opB, opC, opS = (Matrix(on(a, backend)) for a in (A, B, C, S))
    c = 0.5 - 1.5j
    assert_dense_oracle(opA @ opB, A @ B, backend)
    assert isinstance(opA @ opB, ProductOperator)
    assert len((opA @ opB @ Identity(2)).ops) == 3  # flattened
    assert_dense_oracle(opA + opC, A + C, backend)
    assert_dense_oracle(opA - opC, A - C, backend)
    assert isinstance(opA + opC, SumOperator)
    assert_dense_oracle(c * opA, c * A, backend)
    assert_dense_oracle(opA * c, c * A, backend)
    assert_dense_oracle(opA / 4, A / 4, backend)
    assert_dense_oracle(-opA, -A, backend)
    assert isinstance(c * opA, ScaledOperator)
    assert_dense_oracle(opS ** 3, np.linalg.matrix_power(S, 3), backend)
    assert_dense_oracle(opS ** 0, np.eye(3), backend)
    assert isinstance(opS ** 2, PowerOperator)
    assert_dense_oracle(opA.reshape((2, 2), (3, 1)), A, backend)
    assert isinstance(opA.reshape((2, 2)), ReshapedOperator)
    assert_dense_oracle(opA.T, A.T, backend)
    assert isinstance(opA.T, TransposeOperator)
    assert_dense_oracle(opA.H, A.conj().T, backend)
    assert isinstance(opA.H, AdjointOperator) and opA.H.H is opA
    assert_dense_oracle(opA.H @ opA + 0.5 * Identity(4), A.conj().T @ A + 0.5 * np.eye(4), backend)
    np.testing.assert_allclose(to_numpy((c * opS).diag()), c * np.diag(S))
    np.testing.assert_allclose(to_numpy(opS.H.diag()), np.diag(S).conj())
    np.testing.assert_allclose(to_numpy((opS + opS.H).diag()), 2 * np.diag(S).real)


def test_composite_opnorm_bounds():
    A, B = rand((3, 4), seed=16), rand((4, 2), seed=17)
    nA, nB = np.linalg.norm(A, 2), np.linalg.norm(B, 2)
    opA, opB = Matrix(A), Matrix(B)
    assert (opA @ opB).opnorm_bound() == pytest.approx(nA * nB, rel=1e-5)
    assert (opA + opA).opnorm_bound() == pytest.approx(2 * nA, rel=1e-5)
    assert (-3j * opA).opnorm_bound() == pytest.approx(3 * nA, rel=1e-5)
    assert (Matrix(A[:3, :3]) ** 2).opnorm_bound() == pytest.approx(np.linalg.norm(A[:3, :3], 2) ** 2,
                                                                   rel=1e-5)
    assert opA.H.opnorm_bound() == opA.opnorm_bound() == opA.T.opnorm_bound()
    f = FunctionOperator(lambda x: x, lambda y: y, 3, 3)
    assert (f @ f).opnorm_bound() is None


# ---------------------------------------------------------------------- structured
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("flat", [False, True])
def test_kronecker_against_np_kron(backend, flat):
    A, B, C = rand((3, 2), seed=18), rand((2, 4), seed=19), rand((2, 2), seed=20)
    d = rand((3,), seed=21)
    K2 = Kronecker([Matrix(on(A, backend)), Diagonal(on(d, backend))], flat=flat)
    assert_dense_oracle(K2, np.kron(A, np.diag(d)), backend)
    K3 = Kronecker([on(A, backend), on(B, backend), on(C, backend)], flat=flat)  # arrays wrapped
    assert_dense_oracle(K3, np.kron(np.kron(A, B), C), backend)
    assert K3.in_shape == ((16,) if flat else (2, 4, 2))
    assert K3.tensor_in_shape == (2, 4, 2) and K3.tensor_out_shape == (3, 2, 2)
    Kt = Kronecker([Diagonal(on(rand((2, 2), seed=22), backend)), Matrix(on(A, backend))], flat=flat)
    assert_dense_oracle(Kt, np.kron(np.diag(rand((2, 2), seed=22).ravel()), A), backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_kronecker_vec_identity(backend):
    # (A x B) vec_C(X) = vec_C(A X B^T)
    A, B, X = rand((3, 2), seed=23), rand((4, 5), seed=24), rand((2, 5), seed=25)
    K = Kronecker([Matrix(on(A, backend)), Matrix(on(B, backend))])
    np.testing.assert_allclose(to_numpy(K @ on(X, backend)), A @ X @ B.T, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_kronecker_diag_normal_and_norm(backend):
    S1, S2, d = rand((3, 3), seed=26), rand((2, 2), seed=27), rand((4,), seed=28)
    K = Kronecker([Matrix(on(S1, backend)), Matrix(on(S2, backend)), Diagonal(on(d, backend))])
    np.testing.assert_allclose(to_numpy(K.diag()),
                               np.kron(np.kron(np.diag(S1), np.diag(S2)), d).reshape(3, 2, 4))
    Kf = Kronecker([Matrix(on(S1, backend)), Diagonal(on(d, backend))], flat=True)
    np.testing.assert_allclose(to_numpy(Kf.diag()), np.kron(np.diag(S1), d))
    x = on(rand((2, 3, 2, 4), seed=29), backend)
    np.testing.assert_allclose(to_numpy(K.normal(x)), to_numpy(K.adjoint(K.apply(x))), rtol=1e-12)
    dense = np.kron(np.kron(S1, S2), np.diag(d))
    assert K.opnorm_bound() == pytest.approx(np.linalg.norm(dense, 2), rel=1e-5)
    assert K.opnorm_bound() >= np.linalg.norm(dense, 2)
    assert Kronecker([Identity(2), Identity(3)]).is_orthogonal


def test_kronecker_opnorm_estimate_is_product_and_cached():
    A, B = rand((5, 3), seed=30), rand((4, 4), seed=31)
    K = Kronecker([Matrix(A), Matrix(B)])
    est = K.opnorm_estimate(n_iter=500, tol=1e-12)
    assert est == pytest.approx(np.linalg.norm(np.kron(A, B), 2), rel=1e-6)
    assert K.opnorm_estimate() == est and K._opnorm_cache == est


@pytest.mark.parametrize("backend", BACKENDS)
def test_block_family_against_np_block(backend):
    A, B, C = rand((3, 2), seed=32), rand((3, 4), seed=33), rand((4, 2), seed=34)
    d = rand((2, 2), seed=35)
    opA, opB, opC = (Matrix(on(a, backend)) for a in (A, B, C))
    opD = Diagonal(on(d, backend))
    Dd = np.diag(d.ravel())
    assert_dense_oracle(Block([[opA, opB], [opC, opD]]), np.block([[A, B], [C, Dd]]), backend)
    assert_dense_oracle(Block([[opA, opB], [None, opD]]),
                        np.block([[A, B], [np.zeros((4, 2)), Dd]]), backend)
    assert_dense_oracle(HStack([opA, opB]), np.hstack([A, B]), backend)
    assert_dense_oracle(VStack([opA, opC]), np.vstack([A, C]), backend)
    S = rand((2, 2), seed=36)
    bd = BlockDiag([Matrix(on(S, backend)), opD])
    ref = np.block([[S, np.zeros((2, 4))], [np.zeros((4, 2)), Dd]])
    assert_dense_oracle(bd, ref, backend)
    np.testing.assert_allclose(to_numpy(bd.diag()), np.diag(ref))
    assert bd.opnorm_bound() == pytest.approx(np.linalg.norm(ref, 2), rel=1e-5)
    blk = Block([[opA, opB], [opC, opD]])
    assert blk.opnorm_bound() >= np.linalg.norm(np.block([[A, B], [C, Dd]]), 2)


def test_block_mixed_real_complex_blocks_promote():
    A = rand((2, 2), "float64", seed=37)
    Bc = rand((2, 2), "complex128", seed=38)
    op = HStack([Matrix(A), Matrix(Bc)])
    x = rand((4,), "float64", seed=39)
    y = op @ x
    assert y.dtype == np.complex128
    np.testing.assert_allclose(y, np.hstack([A, Bc]) @ x)
    np.testing.assert_allclose(op.adjoint(rand((2,), "float64", seed=40)),
                               np.hstack([A, Bc]).conj().T @ rand((2,), "float64", seed=40))


# ---------------------------------------------------------------------- norms
@pytest.mark.parametrize("backend", BACKENDS)
def test_opnorm_estimate_matches_spectral_norm_and_is_cached(backend):
    A = rand((6, 4), seed=41)
    op = FunctionOperator(lambda x: x @ At.T, lambda y: y @ At.conj(), 4, 6,
                          dtype=np.complex128 if backend == "numpy" else torch.complex128)
    At = on(A, backend)
    est = op.opnorm_estimate(n_iter=500, tol=1e-12, like=on(np.zeros(0, "complex128"), backend))
    assert est == pytest.approx(np.linalg.norm(A, 2), rel=1e-6)
    assert est <= np.linalg.norm(A, 2) * (1 + 1e-12)  # a Rayleigh quotient: never above
    assert op._opnorm_cache == est
    assert op.opnorm_estimate(n_iter=1, seed=5) == est  # cached: no new iteration
    assert op.opnorm() == pytest.approx(1.01 * est)  # no closed-form bound: 1 % margin
    m = Matrix(on(A, backend))
    assert m.opnorm() == m.opnorm_bound()  # bound preferred when there is one
    assert m.opnorm_estimate(n_iter=500, tol=1e-12) == pytest.approx(np.linalg.norm(A, 2), rel=1e-6)


def test_opnorm_estimate_of_zero_operator():
    assert Zero(3, 2).opnorm_estimate(n_iter=5) == 0.0


# ---------------------------------------------------------------------- conversions
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_to_round_trips(dtype):
    A = rand((4, 3), dtype, seed=42)
    op = Matrix(A)
    t = op.to(backend="torch")
    assert t.backend == "torch" and op.backend == "numpy"  # original unchanged
    assert str(t.device) == "cpu" and t.dtype == getattr(torch, dtype)
    x = rand((2, 3), dtype, seed=43)
    np.testing.assert_allclose(to_numpy(t @ torch.as_tensor(x)), x @ A.T)
    back = t.to(backend="numpy")
    assert back.backend == "numpy" and back.dtype == np.dtype(dtype)
    np.testing.assert_allclose(back @ x, x @ A.T)
    lo = op.to(dtype="complex64" if dtype.startswith("complex") else "float32")
    assert dtype_name(lo.dtype) in ("float32", "complex64")
    assert dtype_name((lo @ x.astype(lo.A.dtype)).dtype) == dtype_name(lo.dtype)
    assert op.to(device="cpu").backend == "numpy"
    t2 = op.to(device=torch.device("cpu"), backend="torch", dtype="complex128")
    assert t2.dtype == torch.complex128


def test_to_converts_children_and_keeps_norm_cache():
    A, d = rand((3, 2), seed=44), rand((2,), seed=45)
    K = Kronecker([Matrix(A), Diagonal(d)])
    K.opnorm_estimate()
    Kt = K.to(backend="torch")
    assert all(f.backend == "torch" for f in Kt.factors) and Kt.backend == "torch"
    assert Kt._opnorm_cache == K._opnorm_cache
    P = (Matrix(A).H @ Matrix(A)).to(backend="torch")
    assert P.backend == "torch" and all(o.backend == "torch" for o in P.ops)
    H = Matrix(A).H.to(backend="torch")
    assert H.H.backend == "torch" and H.backend == "torch"


def test_sparse_round_trip_scipy_torch():
    A = sp.random(5, 4, density=0.5, random_state=0, format="csr")
    op = Matrix(A)
    t = op.to(backend="torch")
    assert t.backend == "torch" and t._kind == "torch_sparse"
    back = t.to(backend="numpy")
    assert back._kind == "scipy"
    np.testing.assert_allclose(back.todense(), A.toarray())
    x = rand((3, 4), "float64", seed=46)
    np.testing.assert_allclose(to_numpy(t @ torch.as_tensor(x)), x @ A.toarray().T)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
def test_to_cuda_round_trip():
    A = rand((4, 3), seed=47)
    t = Matrix(A).to(device="cuda")
    assert t.backend == "torch" and t.device.type == "cuda"
    x = rand((2, 3), seed=48)
    np.testing.assert_allclose(to_numpy(t @ torch.as_tensor(x, device="cuda")), x @ A.T)
    np.testing.assert_allclose(t.to(backend="numpy") @ x, x @ A.T)


def test_repr_and_call():
    op = Matrix(np.ones((2, 3)))
    assert "2x3" in repr(op) and "numpy" in repr(op)
    assert "any" in repr(Identity(2))
    np.testing.assert_array_equal(op(np.ones(3)), [3.0, 3.0])


# ---------------------------------------------------------------------- regression tests of fixed core bugs
def test_block_with_zero_blocks_to_torch():
    bd = BlockDiag([Matrix(np.eye(2)), Matrix(np.eye(3))])
    t = bd.to(backend="torch")
    np.testing.assert_allclose(to_numpy(t @ torch.ones(5, dtype=torch.float64)), np.ones(5))


def test_diag_of_kronecker_with_identity_factor_on_torch():
    K = Kronecker([Identity(2), Matrix(torch.eye(3, dtype=torch.float64) * 2)])
    d = K.diag()
    assert isinstance(d, torch.Tensor)
    np.testing.assert_allclose(to_numpy(d), np.full((2, 3), 2.0))


def test_identity_and_zero_with_dtype_promote_input():
    x = np.ones(3, np.float32)
    assert Identity(3, dtype=np.complex128).apply(x).dtype == np.complex128
    assert Zero(3, dtype=np.complex128).apply(x).dtype == np.complex128


def test_scaled_by_complex_with_zero_imaginary_part_stays_real():
    op = Matrix(np.eye(2)) * (2 + 0j)
    assert op.dtype == np.float64
    assert op.apply(np.ones(2)).dtype == np.float64


def test_real_linear_flag_propagates():
    op = FunctionOperator(np.conj, np.conj, 3, 3, dtype=np.complex128)
    op.is_real_linear_only = True
    assert dottest(op) < 1e-12
    for derived in (op.T, op ** 3, HStack([op, op])):
        assert derived.is_real_linear_only, type(derived).__name__
        assert dottest(derived) < 1e-12


def test_converted_adjoint_keeps_involution():
    H = Matrix(rand((3, 2), seed=49)).H.to(backend="torch")
    assert H.H.H is H
