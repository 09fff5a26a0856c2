"""Tests of the Pyro sparse-regression models (ARD/SBL, horseshoe, spike-and-slab)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pyro")

from sparserec.solvers.bayes.pyro_models import fit  # noqa: E402
from sparserec.solvers.bayes.sbl import sbl  # noqa: E402


@pytest.fixture(autouse=True)
def _quiet():
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _problem(M=30, N=15, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((M, N)) / np.sqrt(M)
    x = np.zeros(N)
    x[[1, 5, 9 % N]] = [1.5, -1.0, 0.8]
    return A, A @ x + 0.05 * rng.standard_normal(M), x


def test_ard_svi_matches_sbl():
    """Variational EM in Pyro (MVN q(x), point alpha) reproduces SBL's posterior mean."""
    A, y, x = _problem()
    ref = sbl(A, y, noise_var=0.0025, prune=0.0, update="mackay", tol=1e-8, max_iter=2000)  # same fixed point as EM
    res = fit(A, y, "ard", noise_var=0.0025, num_steps=600, lr=0.08, num_samples=400)
    err = np.max(np.abs(res.x - ref.x)) / np.max(np.abs(ref.x))
    assert err < 0.05, err
    big = np.abs(ref.x) > 0.5
    sd_ref = np.sqrt(ref.extras["posterior_var"][big])
    sd = np.sqrt(res.extras["posterior_var"][big])
    assert np.all(np.abs(sd / sd_ref - 1) < 0.35)
    assert res.extras["samples"].shape == (400, 15)
    assert res.history["loss"].shape == (600,)
    assert set(np.flatnonzero(res.extras["support"])) >= {1, 5, 9}


def test_spike_slab_nuts_tiny():
    A, y, x = _problem(M=20, N=8)
    res = fit(A, y, "spike_slab", inference="nuts", num_samples=30, warmup_steps=30, noise_var=0.0025,
              max_tree_depth=4)
    ip = res.extras["inclusion_prob"]
    assert ip[1] > 0.9 and ip[5] > 0.9
    assert np.all(res.extras["ci_low"] <= res.extras["ci_high"])
    assert np.max(np.abs(res.x - x)) < 0.2


def test_horseshoe_svi():
    A, y, x = _problem(M=20, N=8)
    res = fit(A, y, "horseshoe", num_steps=250, lr=0.03, guide="normal", num_samples=200)
    assert np.max(np.abs(res.x - x)) < 0.25
    assert float(res.extras["noise_var"]) > 0


@pytest.mark.slow
def test_horseshoe_nuts():
    A, y, x = _problem(M=20, N=8)
    res = fit(A, y, "horseshoe", inference="nuts", num_samples=100, warmup_steps=100)
    assert np.max(np.abs(res.x - x)) < 0.2


def test_torch_inputs_and_bad_input():
    A, y, _ = _problem(M=12, N=10)
    res = fit(torch.as_tensor(A), torch.as_tensor(y), "ard", noise_var=0.01, num_steps=50, num_samples=20)
    assert isinstance(res.x, torch.Tensor)
    with pytest.raises(ValueError, match="model"):
        fit(A, y, "lasso")
    with pytest.raises(ValueError, match="inference"):
        fit(A, y, "ard", inference="hmc")
    with pytest.raises(ValueError, match="shape|must be"):
        fit(A, y[:-1], "ard")
    with pytest.raises(ValueError, match="NaN"):
        fit(A, np.full_like(y, np.nan), "ard")
    with pytest.raises(ValueError, match="complex"):
        fit(A + 0j, y, "ard")
    with pytest.raises(ValueError, match="noise_var"):
        fit(A, y, "ard", noise_var=-1.0)
    with pytest.raises(ValueError, match="ard-em"):
        fit(A, y, "horseshoe", guide="ard-em")
