"""Batched cg and lsqr against scipy (problem by problem) and numpy closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as sla

from sparserec._backend import to_numpy
from sparserec.operators import Diagonal, Identity, Kronecker, Matrix
from sparserec.solvers import ConvergenceWarning, Status, cg, lsqr

# an unexpected non-convergence must fail the test
pytestmark = pytest.mark.filterwarnings("error::sparserec.solvers.result.ConvergenceWarning")


def rand(shape, dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def hpd(n, dtype="float64", seed=0, cond=10.0):
    Q, _ = np.linalg.qr(rand((n, n), dtype, seed))
    ev = np.geomspace(1.0, cond, n)
    A = (Q * ev) @ Q.conj().T
    return ((A + A.conj().T) / 2).astype(dtype)


# ---------------------------------------------------------------------- cg
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
@pytest.mark.parametrize("batch", [(), (4,), (2, 3)])
def test_cg_matches_solve(dtype, batch):
    A = hpd(8, dtype, seed=1)
    b = rand(batch + (8,), dtype, seed=2)
    res = cg(Matrix(A), b, tol=1e-12)
    assert res.status == Status.CONVERGED and res.converged.shape == batch
    assert res.x.dtype == np.dtype(dtype) and res.x.shape == b.shape
    ref = np.linalg.solve(A, b.reshape(-1, 8).T).T.reshape(b.shape)
    np.testing.assert_allclose(res.x, ref, rtol=1e-9, atol=1e-10)
    assert res.history["residual"].shape == (int(res.n_iter.max()),) + batch
    assert np.all(res.history["residual"][-1] <= 1e-12)


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_cg_matches_scipy_per_column(dtype):
    A = hpd(12, dtype, seed=3, cond=100.0)
    B = rand((5, 12), dtype, seed=4)
    res = cg(Matrix(A), B, tol=1e-10)
    for k in range(5):
        xs, info = sla.cg(A, B[k], rtol=1e-10, maxiter=200)
        assert info == 0
        np.testing.assert_allclose(res.x[k], xs, rtol=1e-7, atol=1e-8)
        # same Krylov method: the iteration counts agree up to the stopping-test details
        assert abs(int(res.n_iter[k]) - _scipy_cg_iters(A, B[k], 1e-10)) <= 1


def _scipy_cg_iters(A, b, rtol):
    count = [0]
    sla.cg(A, b, rtol=rtol, maxiter=200, callback=lambda xk: count.__setitem__(0, count[0] + 1))
    return count[0]


def test_cg_per_problem_iterations_differ():
    d = np.arange(1.0, 9.0)
    A = Diagonal(d)
    b = np.zeros((3, 8))
    b[0, 0] = 1.0  # eigenvector: one iteration
    b[1, :2] = 1.0  # two eigenvalues: two iterations
    b[2] = rand((8,), seed=5)  # all eight eigenvalues
    res = cg(A, b, tol=1e-12)
    np.testing.assert_array_equal(res.n_iter, [1, 2, 8])
    np.testing.assert_allclose(res.x, b / d, atol=1e-12)


def test_cg_x0_and_preconditioner():
    A = hpd(10, seed=6, cond=50.0)
    scale = np.geomspace(1.0, 1e3, 10)
    As = A * scale[:, None] * scale[None, :]  # badly scaled SPD
    b = rand((2, 10), seed=7)
    ref = np.linalg.solve(As, b.T).T
    plain = cg(Matrix(As), b, tol=1e-10, max_iter=500)
    jac = cg(Matrix(As), b, tol=1e-10, M=Diagonal(1.0 / np.diag(As)))
    np.testing.assert_allclose(jac.x, ref, rtol=1e-6)
    assert jac.params["preconditioned"] and jac.n_iter.max() < plain.n_iter.max()
    warm = cg(Matrix(As), b, x0=ref + 1e-9 * rand((2, 10), seed=8), tol=1e-8,
              M=Diagonal(1.0 / np.diag(As)))
    assert warm.n_iter.max() < jac.n_iter.max()
    np.testing.assert_allclose(warm.x, ref, rtol=1e-6)
    exact = cg(Matrix(As), b, x0=ref, tol=1e-8)
    np.testing.assert_allclose(exact.x, ref)


def test_cg_normal_equations_operator():
    B = rand((12, 6), "complex128", seed=9)
    lam = 0.3
    A = Matrix(B).H @ Matrix(B) + lam * Identity(6)
    y = rand((3, 12), "complex128", seed=10)
    res = cg(A, Matrix(B).adjoint(y), tol=1e-12)
    ref = np.linalg.solve(B.conj().T @ B + lam * np.eye(6), (y @ B.conj()).T).T
    np.testing.assert_allclose(res.x, ref, rtol=1e-9)


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
def test_cg_numpy_torch_parity(dtype):
    torch = pytest.importorskip("torch")
    A = hpd(6, dtype, seed=11)
    b = rand((3, 6), dtype, seed=12)
    tol = 1e-5 if dtype in ("float32", "complex64") else 1e-12
    rn = cg(Matrix(A), b, tol=tol, max_iter=60)
    rt = cg(Matrix(torch.as_tensor(A)), torch.as_tensor(b), tol=tol, max_iter=60)
    assert isinstance(rt.x, torch.Tensor) and rt.x.dtype == getattr(torch, dtype)
    np.testing.assert_allclose(to_numpy(rt.x), rn.x, rtol=10 * tol, atol=10 * tol)
    assert np.abs(rt.n_iter - rn.n_iter).max() <= 1


def test_cg_max_iter_status_and_warning():
    A = hpd(10, seed=13, cond=1e4)
    with pytest.warns(ConvergenceWarning, match=r"cg: 2 of 2 problem\(s\) did not converge"):
        res = cg(Matrix(A), rand((2, 10), seed=14), tol=1e-12, max_iter=2)
    assert res.status == Status.MAX_ITER and not res.converged.any()
    np.testing.assert_array_equal(res.n_iter, [2, 2])


def test_cg_callback_stop():
    A = hpd(10, seed=15, cond=1e3)
    res = cg(Matrix(A), rand((2, 10), seed=16), tol=1e-14, callback=lambda s: s.iteration >= 3)
    assert res.status == Status.CALLBACK_STOP
    np.testing.assert_array_equal(res.n_iter, [3, 3])


def test_cg_promotes_real_rhs_for_complex_operator():
    A = hpd(4, "complex128", seed=17)
    b = rand((4,), seed=18)
    res = cg(Matrix(A), b, tol=1e-12)
    assert res.x.dtype == np.complex128
    np.testing.assert_allclose(res.x, np.linalg.solve(A, b), rtol=1e-9)


# ---------------------------------------------------------------------- lsqr
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
@pytest.mark.parametrize("shape", [(12, 5), (5, 12)])  # over- and under-determined
def test_lsqr_matches_lstsq(dtype, shape):
    A = rand(shape, dtype, seed=19)
    b = rand((3, shape[0]), dtype, seed=20)
    res = lsqr(Matrix(A), b, atol=1e-12, btol=1e-12)
    assert res.status == Status.CONVERGED
    ref = np.linalg.lstsq(A, b.T, rcond=None)[0].T  # minimum-norm least squares
    np.testing.assert_allclose(res.x, ref, rtol=1e-8, atol=1e-9)
    assert res.history["residual"].shape[1:] == (3,)
    assert res.history["normal_residual"].shape[1:] == (3,)


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
@pytest.mark.parametrize("damp", [0.0, 0.7])
def test_lsqr_matches_scipy_per_column(dtype, damp):
    A = rand((15, 8), dtype, seed=21)
    B = rand((4, 15), dtype, seed=22)
    res = lsqr(Matrix(A), B, damp=damp, atol=1e-12, btol=1e-12)
    for k in range(4):
        xs = sla.lsqr(A, B[k], damp=damp, atol=1e-12, btol=1e-12, iter_lim=200)[0]
        np.testing.assert_allclose(res.x[k], xs, rtol=1e-8, atol=1e-9)
    ref = np.linalg.solve(A.conj().T @ A + damp**2 * np.eye(8), (B @ A.conj()).T).T
    np.testing.assert_allclose(res.x, ref, rtol=1e-8, atol=1e-9)
    assert res.params["damp"] == damp


def test_lsqr_per_problem_iterations_differ():
    A = np.diag(np.arange(1.0, 9.0))
    b = np.zeros((3, 8))
    b[0, 0] = 1.0
    b[1, :3] = 1.0
    b[2] = rand((8,), seed=23)
    res = lsqr(Matrix(A), b, atol=1e-12, btol=1e-12)
    assert res.n_iter[0] < res.n_iter[1] < res.n_iter[2]
    np.testing.assert_allclose(res.x, b / np.arange(1.0, 9.0), atol=1e-10)


def test_lsqr_tensor_shaped_operator():
    A1, A2 = rand((4, 3), seed=24), rand((5, 2), seed=25)
    K = Kronecker([Matrix(A1), Matrix(A2)])
    y = rand((2, 4, 5), seed=26)
    res = lsqr(K, y, atol=1e-12, btol=1e-12)
    assert res.x.shape == (2, 3, 2)
    ref = np.linalg.lstsq(np.kron(A1, A2), y.reshape(2, 20).T, rcond=None)[0].T
    np.testing.assert_allclose(res.x.reshape(2, 6), ref, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
def test_lsqr_numpy_torch_parity(dtype):
    torch = pytest.importorskip("torch")
    A = rand((10, 4), dtype, seed=27)
    b = rand((2, 10), dtype, seed=28)
    tol = 1e-6 if dtype == "float32" else 1e-12
    rn = lsqr(Matrix(A), b, atol=tol, btol=tol, max_iter=50)
    rt = lsqr(Matrix(torch.as_tensor(A)), torch.as_tensor(b), atol=tol, btol=tol, max_iter=50)
    assert isinstance(rt.x, torch.Tensor) and rt.x.dtype == getattr(torch, dtype)
    np.testing.assert_allclose(to_numpy(rt.x), rn.x, rtol=1e-3 if dtype == "float32" else 1e-9,
                               atol=1e-4 if dtype == "float32" else 1e-10)


def test_lsqr_max_iter_warns():
    with pytest.warns(ConvergenceWarning, match="lsqr"):
        res = lsqr(Matrix(rand((20, 10), seed=29)), rand((20,), seed=30), atol=1e-14, btol=1e-14,
                   max_iter=2)
    assert res.status == Status.MAX_ITER and int(res.n_iter) == 2


def test_zero_rhs_gives_zero_solution():
    A = Matrix(hpd(4, seed=31))
    assert np.all(cg(A, np.zeros((2, 4))).x == 0)
    r = lsqr(A, np.zeros((2, 4)))
    assert np.all(r.x == 0) and r.status == Status.CONVERGED


# ---------------------------------------------------------------------- regression tests of fixed core bugs
def test_lsqr_damped_residual_history():
    A = rand((15, 8), seed=32)
    b = rand((15,), seed=33)
    damp = 0.7
    res = lsqr(Matrix(A), b, damp=damp, atol=1e-12, btol=1e-12)
    r2 = np.sqrt(np.sum((b - A @ res.x) ** 2) + damp**2 * np.sum(res.x**2))
    assert res.history["residual"][-1] == pytest.approx(r2, rel=1e-6)


def test_trivial_problems_report_zero_iterations():
    A = Matrix(hpd(4, seed=34))
    assert int(cg(A, np.zeros(4)).n_iter) == 0
    assert int(lsqr(A, np.zeros(4)).n_iter) == 0


@pytest.mark.parametrize("solver", ["cg", "lsqr"])
def test_nonfinite_operator_output_marks_only_that_problem(solver):
    d = np.tile(np.arange(1.0, 5.0), (2, 1))
    d[1, 2] = np.nan  # the operator of problem 1 produces NaN
    A = Diagonal(d, in_shape=(4,))
    b = np.ones((2, 4))
    with pytest.warns(ConvergenceWarning, match="NONFINITE"):
        res = cg(A, b, tol=1e-10) if solver == "cg" else lsqr(A, b, atol=1e-12, btol=1e-12)
    np.testing.assert_array_equal(res.problem_status, [Status.CONVERGED, Status.NONFINITE])
    assert res.status == Status.NONFINITE
    np.testing.assert_allclose(res.x[0], 1.0 / d[0], rtol=1e-8)
