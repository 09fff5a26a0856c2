"""Registry-driven conformance: every case x backend x dtype x batch shape passes check_operator.

Cases come from every ``tests/operators/cases_*.py`` module (see ``registry.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

from sparserec._backend import to_backend
from sparserec.operators.testing import check_operator

from .registry import CASES, IMPORT_ERRORS

try:
    import torch

    HAS_TORCH, HAS_CUDA = True, torch.cuda.is_available()
except ImportError:  # pragma: no cover
    HAS_TORCH = HAS_CUDA = False

BACKENDS = ["numpy"] + (["torch-cpu"] if HAS_TORCH else []) + (["torch-cuda"] if HAS_CUDA else [])
BATCHES = [(), (3,), (2, 3)]


def _params():
    out = []
    for case in CASES:
        for backend in BACKENDS:
            if backend.split("-")[0] not in case.backends:
                continue
            marks = [pytest.mark.gpu] if backend == "torch-cuda" else []
            for dtype in case.dtypes:
                for batch in BATCHES:
                    bid = "x".join(map(str, batch)) or "single"
                    out.append(pytest.param(case, backend, dtype, batch, marks=marks,
                                            id=f"{case.name}-{backend}-{dtype}-{bid}"))
    return out


def test_case_modules_import():
    assert not IMPORT_ERRORS, "cases modules failed to import:\n" + "\n".join(
        f"{k}:\n{v}" for k, v in IMPORT_ERRORS.items())


def test_registry_collects_core_cases():
    names = {c.name for c in CASES}
    assert {"identity", "matrix-sparse", "kronecker-3-flat", "blockdiag", "function"} <= names


@pytest.mark.parametrize(("case", "backend", "dtype", "batch"), _params())
def test_conformance(case, backend, dtype, batch):
    op = case.factory(backend, dtype)
    device = "cuda" if backend == "torch-cuda" else "cpu"
    like = to_backend(np.zeros(0, dtype=dtype), backend.split("-")[0], device)
    report = check_operator(op, like=like, batch_shapes=(batch,), seed=0,
                            skip=tuple(case.skip_checks))
    assert report["adjoint"] <= (1e-4 if dtype in ("float32", "complex64") else 1e-10)


# ---------------------------------------------------------------------- the kit itself
from sparserec.operators import FunctionOperator, Identity, Matrix  # noqa: E402
from sparserec.operators.testing import CHECKS, dottest  # noqa: E402


def _cplx(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def test_dottest_passes_and_is_deterministic():
    A = Matrix(_cplx((6, 4)))
    e1, e2 = dottest(A), dottest(A)
    assert e1 == e2 and e1 < 1e-14


def test_dottest_error_is_scale_invariant():
    A = _cplx((6, 4))
    e1 = dottest(Matrix(A.astype(np.complex64)))
    e2 = dottest(Matrix((1e6 * A).astype(np.complex64)))
    assert e1 < 1e-6 and e2 < 1e-6 and abs(e1 - e2) < 1e-6


def test_dottest_detects_missing_conjugation():
    A = _cplx((6, 4))
    bad = FunctionOperator(lambda x: x @ A.T, lambda y: y @ A, 4, 6, dtype=np.complex128)
    with pytest.raises(AssertionError, match=r"dottest failed .*scaled error"):
        dottest(bad)
    assert dottest(bad, raise_error=False) > 1e-3


def test_dottest_real_inner_product_for_real_linear_operators():
    # x -> conj(x) is only R-linear and self-adjoint for Re<.,.>
    op = FunctionOperator(np.conj, np.conj, 5, 5, dtype=np.complex128)
    with pytest.raises(AssertionError):
        dottest(op)
    op.is_real_linear_only = True
    assert dottest(op) < 1e-14


def test_dottest_follows_like():
    torch = pytest.importorskip("torch")
    assert dottest(Identity(3), like=torch.zeros(0, dtype=torch.float32)) == 0.0
    with pytest.raises(TypeError, match="like must be"):
        dottest(Identity(3), like=[1.0])


def test_check_operator_reports_every_check():
    rep = check_operator(Matrix(np.arange(12.0).reshape(4, 3)))
    assert set(rep) == set(CHECKS)
    assert rep["diag"] == "skipped: operator is not square"
    assert all(isinstance(v, (float, str)) for v in rep.values())
    sub = check_operator(Identity(3), checks=("adjoint", "batch"))
    assert set(sub) == {"adjoint", "batch"}


def test_check_operator_rejects_unknown_check():
    with pytest.raises(ValueError, match="unknown check"):
        check_operator(Identity(2), checks=("adjointness",))
    with pytest.raises(ValueError, match="unknown check"):
        check_operator(Identity(2), skip=("nope",))


def test_check_operator_detects_wrong_opnorm_bound():
    A = np.diag([3.0, 1.0])
    op = FunctionOperator(lambda x: x @ A.T, lambda y: y @ A, 2, 2, dtype=np.float64, opnorm_bound=2.0)
    with pytest.raises(AssertionError, match=r"check_operator\[opnorm\].*below the power-iteration"):
        check_operator(op, skip=("backend",))


def test_check_operator_detects_batch_mixing():
    def f(x):
        return x * (x.shape[0] if x.ndim > 1 else 1)

    op = FunctionOperator(f, f, 3, 3, dtype=np.float64)
    with pytest.raises(AssertionError, match=r"check_operator\[batch\].*mixes batch entries"):
        check_operator(op, batch_shapes=((4,),), skip=("backend",))


def test_check_operator_detects_wrong_output_dtype():
    op = FunctionOperator(lambda x: x.astype(np.float64), lambda y: y.astype(np.float64), 3, 3)
    with pytest.raises(AssertionError, match=r"check_operator\[dtype\].*expected result_dtype"):
        check_operator(op, like=np.zeros(0, np.float32), skip=("backend",))


def test_check_operator_detects_wrong_orthogonal_flag():
    op = Matrix(np.array([[1.0, 1.0], [0.0, 1.0]]))
    op.is_orthogonal = True
    with pytest.raises(AssertionError, match=r"check_operator\[orthogonal\]"):
        check_operator(op)


def test_check_operator_detects_wrong_normal_and_names_all_failures():
    op = FunctionOperator(lambda x: 2 * x, lambda y: 2 * y, 3, 3, dtype=np.float64,
                          normal=lambda x: 3 * x)
    with pytest.raises(AssertionError) as info:
        check_operator(op, skip=("backend",))
    msg = str(info.value)
    assert "check_operator[normal]" in msg and "adjoint(apply(x))" in msg


def test_check_operator_turns_exceptions_into_failures():
    class Broken(Matrix):
        def to(self, *args, **kwargs):
            raise RuntimeError("cannot move")

    pytest.importorskip("torch")
    with pytest.raises(AssertionError, match=r"check_operator\[backend\]: raised RuntimeError"):
        check_operator(Broken(np.eye(2)))


def test_check_operator_detects_wrong_dense_and_diag():
    class BadDiag(Matrix):
        def _diag(self):
            return np.zeros(2)

    with pytest.raises(AssertionError, match=r"check_operator\[diag\]"):
        check_operator(BadDiag(np.eye(2) * 3), skip=("backend",))


def test_kit_docstring_examples():
    import doctest

    import sparserec.operators.testing as kit

    out = doctest.testmod(kit, optionflags=doctest.ELLIPSIS)
    assert out.attempted > 0 and out.failed == 0
