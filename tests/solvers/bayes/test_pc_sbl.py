"""PC-SBL: convergence-check period and device residency."""

from __future__ import annotations

import numpy as np
import pytest
from _hostsync import count_syncs

from sparserec.solvers.bayes.pc_sbl import pc_sbl

# tol=0 runs stop at max_iter on purpose
pytestmark = pytest.mark.filterwarnings("ignore::sparserec.solvers.result.ConvergenceWarning")


def _block_problem(seed=0):
    """Four block-sparse signals (one block of 5 each) seen through a 30 x 60 Gaussian matrix."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((30, 60)) / np.sqrt(30)
    x = np.zeros((4, 60))
    for b in range(4):
        s = rng.integers(0, 55)
        x[b, s:s + 5] = rng.standard_normal(5)
    return A, x @ A.T + 0.01 * rng.standard_normal((4, 30))


@pytest.mark.parametrize("learn_noise", [False, True])
def test_pc_sbl_check_every_same_iterates(learn_noise):
    A, y = _block_problem()
    a = pc_sbl(A, y, noise_var=1e-4, max_iter=25, tol=0, learn_noise=learn_noise, check_every=1)
    b = pc_sbl(A, y, noise_var=1e-4, max_iter=25, tol=0, learn_noise=learn_noise, check_every=10)
    np.testing.assert_array_equal(a.x, b.x)
    assert b.params["check_every"] == 10
    c = pc_sbl(A, y, noise_var=1e-4, max_iter=500, tol=1e-6, check_every=7)
    assert np.all(c.converged) and np.all(c.n_iter % 7 == 0)


def test_pc_sbl_check_every_validated():
    A, y = _block_problem()
    for bad in (0, -2, 2.5, True, "3"):
        with pytest.raises(ValueError, match="check_every"):
            pc_sbl(A, y, noise_var=1e-4, check_every=bad)


@pytest.mark.parametrize("learn_noise", [False, True])
def test_pc_sbl_torch_host_syncs_only_at_checks(learn_noise):
    torch = pytest.importorskip("torch")
    A, y = _block_problem()
    At, yt = torch.as_tensor(A), torch.as_tensor(y)

    def run(check_every):
        return count_syncs(lambda: pc_sbl(At, yt, noise_var=1e-4, max_iter=100, tol=0, learn_noise=learn_noise,
                                          check_every=check_every))

    n10, r10 = run(10)
    n1, _ = run(1)
    assert int(np.max(r10.n_iter)) == 100
    assert n10 <= 40 + 6 * 10 < n1, (n10, n1)
    ref = pc_sbl(A, y, noise_var=1e-4, max_iter=100, tol=0, learn_noise=learn_noise, check_every=10)
    np.testing.assert_allclose(r10.x.numpy(), ref.x, atol=1e-8)
