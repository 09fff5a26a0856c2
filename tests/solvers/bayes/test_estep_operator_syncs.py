"""The matrix-free (CG) E-step honours the solvers' ``check_every`` (issue 13: host syncs on torch)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _hostsync import count_host_syncs

from sparserec.operators import FunctionOperator, Matrix
from sparserec.solvers.bayes._common import estep_operator
from sparserec.solvers.bayes.sbl import sbl
from sparserec.solvers.bayes.turbo_vbi import turbo_vbi

torch = pytest.importorskip("torch")

def _problem(seed=0, M=20, N=40, B=2, k=3):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((M, N)) / np.sqrt(M)
    x = np.zeros((B, N))
    for b in range(B):
        x[b, rng.choice(N, k, replace=False)] = rng.standard_normal(k)
    return A, x @ A.T + 0.01 * rng.standard_normal((B, M))


def _operator(A):
    """A matrix-free operator (not a dense Matrix), so sbl takes its CG E-step."""
    return FunctionOperator(lambda v: v @ A.T, lambda v: v @ A, (A.shape[1],), (A.shape[0],), dtype=A.dtype)


def _run_turbo(A, y, check_every):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return turbo_vbi(A, y, method="cg", diag_probes=8, max_iter=10, tol=0, check_every=check_every, rng=0)


def test_turbo_vbi_cg_syncs_follow_check_every():
    A, y = _problem()
    At, yt = torch.as_tensor(A), torch.as_tensor(y)
    with count_host_syncs() as c1:
        r1 = _run_turbo(At, yt, 1)
    with count_host_syncs() as c10:
        r10 = _run_turbo(At, yt, 10)
    # before issue 13 the inner CG tested convergence at every step whatever check_every was
    # (about 1,000 syncs for either value here); now about 180 with check_every=10
    assert c10.n * 4 < c1.n, (c1.n, c10.n)
    for ce, rt in ((1, r1), (10, r10)):
        rn = _run_turbo(A, y, ce)
        np.testing.assert_allclose(rt.x.numpy(), rn.x, atol=1e-6)
        np.testing.assert_allclose(rt.extras["posterior_var"].numpy(), rn.extras["posterior_var"], atol=1e-6)
    np.testing.assert_allclose(r10.x.numpy(), r1.x.numpy(), atol=1e-5)


def test_turbo_vbi_cg_default_check_every_unchanged_on_numpy():
    A, y = _problem(seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = turbo_vbi(A, y, method="cg", diag_probes=8, max_iter=10, tol=0, rng=0)
    np.testing.assert_array_equal(_run_turbo(A, y, 1).x, ref.x)


def test_sbl_operator_form_syncs_follow_check_every():
    A, y = _problem(seed=2)
    At, yt = torch.as_tensor(A), torch.as_tensor(y)

    def run(op, data, ce):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sbl(op, data, form="operator", n_probes=8, max_iter=10, tol=0, check_every=ce)

    with count_host_syncs() as c1:
        r1 = run(_operator(At), yt, 1)
    with count_host_syncs() as c10:
        r10 = run(_operator(At), yt, 10)
    assert c10.n * 3 < c1.n, (c1.n, c10.n)
    for ce, rt in ((1, r1), (10, r10)):
        np.testing.assert_allclose(rt.x.numpy(), run(_operator(A), y, ce).x, atol=1e-6)


@pytest.mark.parametrize("check_every", [1, 7])
def test_estep_operator_check_every_accuracy(check_every):
    """A coarser check only refines the solves: same posterior up to the CG tolerance."""
    A, y = _problem(seed=3)
    rng = np.random.default_rng(0)
    gamma = rng.uniform(0.1, 1.0, (2, A.shape[1]))
    nv = np.array([1e-2, 1e-1])
    ref = estep_operator(Matrix(A), y, gamma, nv, diag="exact", cg_tol=1e-12)
    got = estep_operator(Matrix(A), y, gamma, nv, diag="exact", cg_tol=1e-6, check_every=check_every)
    np.testing.assert_allclose(got["mean"], ref["mean"], atol=1e-5)
    np.testing.assert_allclose(got["var"], ref["var"], atol=1e-5)
    gt = estep_operator(Matrix(torch.as_tensor(A)), torch.as_tensor(y), torch.as_tensor(gamma), torch.as_tensor(nv),
                        diag="exact", cg_tol=1e-6, check_every=check_every)
    np.testing.assert_allclose(gt["mean"].numpy(), got["mean"], atol=1e-10)
    np.testing.assert_allclose(gt["var"].numpy(), got["var"], atol=1e-10)
