"""One test per bad input of the foundation: it raises at once and says what was expected."""

from __future__ import annotations

import numpy as np
import pytest

from sparserec.operators import (
    Block,
    Diagonal,
    FunctionOperator,
    HStack,
    Identity,
    Kronecker,
    Matrix,
    VStack,
)
from sparserec.operators.testing import check_operator, dottest
from sparserec.solvers import cg, lsqr

torch = pytest.importorskip("torch")

A3 = Matrix(np.eye(3) * 2.0)
A23 = Matrix(np.ones((2, 3)))
T3 = Matrix(torch.eye(3, dtype=torch.float64))

CASES = {
    # shapes
    "apply-shape": (lambda: A3.apply(np.ones(4)), ValueError,
                    r"Matrix\.apply: expected an array of shape \(\*batch, 3\), got \(4,\)"),
    "apply-too-few-dims": (lambda: Identity((2, 3)).apply(np.ones(3)), ValueError,
                           r"expected an array of shape \(\*batch, 2, 3\), got \(3,\)"),
    "adjoint-shape": (lambda: A23.adjoint(np.ones((5, 3))), ValueError,
                      r"Matrix\.adjoint: expected an array of shape \(\*batch, 2\), got \(5, 3\)"),
    "normal-shape": (lambda: A23.normal(np.ones(2)), ValueError,
                     r"Matrix\.normal: expected an array of shape \(\*batch, 3\)"),
    "compose-shape": (lambda: A23 @ Matrix(np.ones((2, 2))), ValueError,
                      r"in_shape \(3,\) of the left operator differs from out_shape \(2,\)"),
    "add-shape": (lambda: A3 + A23, ValueError,
                  r"cannot add operators with shapes in=\(3,\)/out=\(3,\) and in=\(3,\)/out=\(2,\)"),
    "sub-shape": (lambda: A3 - A23, ValueError, r"cannot add operators with shapes"),
    "reshape-size": (lambda: A3.reshape((2, 2)), ValueError, r"cannot reshape .* sizes differ"),
    "negative-shape": (lambda: Identity(-1), ValueError, r"shape entries must be non-negative"),
    "diag-non-square": (lambda: A23.diag(), ValueError, r"diag\(\) needs a square operator"),
    "diagonal-in-shape": (lambda: Diagonal(np.ones(3), in_shape=(4,)), ValueError,
                          r"diagonal of shape \(3,\) does not end with in_shape \(4,\)"),
    "matrix-not-2d": (lambda: Matrix(np.ones(3)), ValueError, r"Matrix expects a 2-D array"),
    # dtypes and types
    "apply-int": (lambda: A3.apply(np.ones(3, dtype=np.int64)), TypeError,
                  r"expects a floating or complex array, got dtype int64"),
    "apply-bool-torch": (lambda: T3.apply(torch.ones(3, dtype=torch.bool)), TypeError,
                         r"expects a floating or complex array, got dtype bool"),
    "apply-list": (lambda: A3.apply([1.0, 2.0, 3.0]), TypeError,
                   r"expects a numpy.ndarray or torch.Tensor, got list"),
    "matrix-int": (lambda: Matrix(np.ones((2, 2), dtype=int)), TypeError,
                   r"Matrix coefficients must be floating or complex, got int64"),
    "matrix-list": (lambda: Matrix([[1.0]]), TypeError, r"Matrix expects a numpy/torch array"),
    "diagonal-int": (lambda: Diagonal(np.ones(2, dtype=np.int32)), TypeError,
                     r"operator dtype must be floating or complex, got int32"),
    "diagonal-list": (lambda: Diagonal([1.0, 2.0]), TypeError, r"Diagonal expects a numpy array"),
    "function-int-dtype": (lambda: FunctionOperator(abs, abs, 2, 2, dtype=np.int64), TypeError,
                           r"operator dtype must be floating or complex"),
    "function-not-callable": (lambda: FunctionOperator(1, abs, 2, 2), TypeError,
                              r"needs callables for apply and adjoint"),
    "matmul-scalar": (lambda: A3 @ 3, TypeError, r"unsupported operand"),
    # libraries and devices
    "numpy-op-torch-data": (lambda: A3.apply(torch.ones(3, dtype=torch.float64)), TypeError,
                            r"Matrix holds numpy arrays but the input is a torch array; .*"
                            r"op\.to\(backend='torch'\)"),
    "torch-op-numpy-data": (lambda: T3.adjoint(np.ones(3)), TypeError,
                            r"Matrix holds torch arrays but the input is a numpy array"),
    "torch-op-other-device": (lambda: Matrix(torch.eye(2, device="meta")).apply(torch.ones(2)),
                              ValueError, r"Matrix lives on meta but the input is on cpu"),
    "compose-numpy-torch": (lambda: A3 @ T3, TypeError,
                            r"cannot combine operators holding arrays of different libraries"),
    "add-numpy-torch": (lambda: A3 + T3, TypeError, r"different libraries"),
    "kronecker-numpy-torch": (lambda: Kronecker([A3, T3]), TypeError, r"different libraries"),
    "block-numpy-torch": (lambda: HStack([A3, T3]), TypeError, r"different libraries"),
    "compose-devices": (lambda: T3 @ Matrix(torch.eye(3, dtype=torch.float64, device="meta")),
                        ValueError, r"cannot combine operators on different devices"),
    # Block grids
    "block-empty": (lambda: Block([]), ValueError, r"Block needs a non-empty grid"),
    "block-empty-row": (lambda: Block([[]]), ValueError, r"Block needs a non-empty grid"),
    "hstack-empty": (lambda: HStack([]), ValueError, r"non-empty grid"),
    "block-ragged": (lambda: Block([[A3, A3], [A3]]), ValueError,
                     r"every row of a Block grid must have the same number of entries"),
    "block-empty-column": (lambda: Block([[A3, None], [A3, None]]), ValueError,
                           r"every row and column of a Block grid needs at least one operator"),
    "block-heights": (lambda: HStack([A3, A23]), ValueError,
                      r"Block row 0: inconsistent heights 3 and 2"),
    "block-widths": (lambda: VStack([A3, Matrix(np.ones((3, 2)))]), ValueError,
                     r"Block column 0: inconsistent widths 3 and 2"),
    "block-entry-type": (lambda: Block([[A3, np.eye(3)]]), TypeError,
                         r"Block entry \(0, 1\) must be a LinearOperator or None"),
    # Kronecker and powers
    "kronecker-no-factors": (lambda: Kronecker([]), ValueError, r"Kronecker needs at least one factor"),
    "kronecker-bad-factor": (lambda: Kronecker([np.ones(3)]), ValueError, r"Matrix expects a 2-D"),
    "power-non-square": (lambda: A23 ** 2, ValueError,
                         r"operator power needs a square operator, got shape \(2, 3\)"),
    "power-negative": (lambda: A3 ** -1, ValueError, r"non-negative integer, got -1"),
    "power-float": (lambda: A3 ** 0.5, ValueError, r"non-negative integer, got 0.5"),
    # solvers
    "cg-negative-tol": (lambda: cg(A3, np.ones(3), tol=-1e-3), ValueError,
                        r"tol must be finite and non-negative, got -0.001"),
    "cg-nan-tol": (lambda: cg(A3, np.ones(3), tol=float("nan")), ValueError, r"tol must be finite"),
    "cg-max-iter-0": (lambda: cg(A3, np.ones(3), max_iter=0), ValueError,
                      r"max_iter must be a positive integer, got 0"),
    "cg-max-iter-float": (lambda: cg(A3, np.ones(3), max_iter=5.0), ValueError,
                          r"max_iter must be a positive integer, got 5.0"),
    "cg-nan-rhs": (lambda: cg(A3, np.array([1.0, np.nan, 0.0])), ValueError,
                   r"right-hand side b contains NaN or Inf"),
    "cg-inf-rhs-torch": (lambda: cg(T3, torch.tensor([1.0, float("inf"), 0.0], dtype=torch.float64)),
                         ValueError, r"right-hand side b contains NaN or Inf"),
    "cg-non-square": (lambda: cg(A23, np.ones(2)), ValueError, r"cg needs a square LinearOperator"),
    "cg-rhs-shape": (lambda: cg(A3, np.ones(4)), ValueError,
                     r"cg: expected an array of shape \(\*batch, 3\), got \(4,\)"),
    "cg-rhs-int": (lambda: cg(A3, np.ones(3, dtype=int)), TypeError, r"floating or complex array"),
    "cg-mixed-libraries": (lambda: cg(A3, torch.ones(3, dtype=torch.float64)), TypeError,
                           r"holds numpy arrays but the input is a torch array"),
    "lsqr-negative-damp": (lambda: lsqr(A23, np.ones(2), damp=-1.0), ValueError,
                           r"damp must be finite and non-negative"),
    "lsqr-negative-atol": (lambda: lsqr(A23, np.ones(2), atol=-1.0), ValueError,
                           r"atol must be finite and non-negative"),
    "lsqr-negative-btol": (lambda: lsqr(A23, np.ones(2), btol=-1.0), ValueError,
                           r"btol must be finite and non-negative"),
    "lsqr-max-iter-0": (lambda: lsqr(A23, np.ones(2), max_iter=0), ValueError,
                        r"max_iter must be a positive integer, got 0"),
    "lsqr-nan-rhs": (lambda: lsqr(A23, np.array([np.nan, 1.0])), ValueError,
                     r"right-hand side b contains NaN or Inf"),
    "lsqr-rhs-shape": (lambda: lsqr(A23, np.ones(3)), ValueError,
                       r"lsqr: expected an array of shape \(\*batch, 2\), got \(3,\)"),
    "lsqr-not-operator": (lambda: lsqr(np.ones((2, 3)), np.ones(2)), TypeError,
                          r"lsqr expects a sparserec LinearOperator; wrap matrices with Matrix\(A\)"),
    # the conformance kit
    "dottest-not-operator": (lambda: dottest(np.eye(2)), TypeError, r"dottest expects a sparserec"),
    "check-operator-not-operator": (lambda: check_operator(np.eye(2)), TypeError,
                                    r"check_operator expects a sparserec"),
    "check-operator-no-batch": (lambda: check_operator(A3, batch_shapes=()), ValueError,
                                r"batch_shapes must hold at least one"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name):
    fn, exc, match = CASES[name]
    with pytest.raises(exc, match=match):
        fn()


def test_cg_x0_wrong_shape_says_what_was_expected():
    with pytest.raises(ValueError, match=r"x0.*expected .*shape"):
        cg(A3, np.ones((2, 3)), x0=np.ones(4))


def test_cg_x0_mixed_library_is_type_error():
    with pytest.raises(TypeError, match="torch"):
        cg(A3, np.ones(3), x0=torch.zeros(3, dtype=torch.float64))


def test_cg_not_operator_is_type_error():
    with pytest.raises(TypeError, match=r"Matrix\(A\)"):
        cg(np.eye(3), np.ones(3))
