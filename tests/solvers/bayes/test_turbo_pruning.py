"""Tests of Turbo-VBI structured pruning of torch layers (spec ``turbo_vbi.md`` §8, §10.14)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from sparserec.solvers.bayes.support_priors import IndependentSupport, MRFSupport  # noqa: E402
from sparserec.solvers.bayes.turbo_pruning import (  # noqa: E402
    TurboBayesConv2d,
    TurboBayesLinear,
    compress,
    kl_penalty,
    magnitude_masks,
    prune,
    turbo_step,
    wrap,
    zero_run_lengths,
)


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)


def test_kl_zero_at_prior():
    layer = wrap(nn.Linear(6, 4, dtype=torch.float64))
    with torch.no_grad():
        layer.weight_mu.zero_()
        layer.weight_log_sigma2.copy_(-torch.log(layer.rho))
    assert float(kl_penalty(layer).detach()) == 0.0
    pt = wrap(nn.Linear(6, 4, dtype=torch.float64), variational="point")
    with torch.no_grad():
        pt.weight_mu.fill_(2.0)
    assert math.isclose(float(pt.kl_penalty().detach()), 0.5 * float((pt.rho * 4.0).sum()), rel_tol=1e-12)


@pytest.mark.parametrize("extrinsic", ["cavity", "paper"])
def test_turbo_step_closed_forms(extrinsic):
    torch.manual_seed(0)
    prior = IndependentSupport(0.3)
    layer = TurboBayesLinear(nn.Linear(5, 3, dtype=torch.float64), prior, extrinsic=extrinsic)
    with torch.no_grad():
        layer.weight_log_sigma2.copy_(torch.log(torch.rand(3, 5, dtype=torch.float64) * 0.05 + 1e-3))
    a, b, ab, bb = layer.hyper
    c = 0.5
    mu = layer.weight_mu.detach().numpy().copy()
    s2 = layer.sigma2().detach().numpy().copy()
    rho0 = layer.rho.numpy().copy()
    pit0 = layer.support_prob.numpy().copy()
    pi = 0.3
    layer.turbo_step()
    m2 = mu ** 2 + s2
    if extrinsic == "cavity":
        v = 1 / (1 / s2 - rho0)
        r = v * mu / s2
        ok = 1 / s2 - rho0 > 1e-12 * rho0
        s1, s0 = b / a, bb / ab
        msg = np.where(ok, c * np.log((v + s0) / (v + s1)) + c * r ** 2 * (1 / (v + s0) - 1 / (v + s1)), 0.0)
        post = 1 / (1 + np.exp(-(np.clip(msg, -23, 23) + np.log(pi / (1 - pi)))))
        pit = 0.5 * pit0 + 0.5 * post
    else:
        from scipy.special import digamma, gammaln

        at = pit0 * a + (1 - pit0) * ab + c
        bt = pit0 * b + (1 - pit0) * bb + c * m2
        rho, lnrho = at / bt, digamma(at) - np.log(bt)

        def ell(sh, rt):
            return sh * np.log(rt) - gammaln(sh) + (sh - 1) * lnrho - rt * rho

        pit = 1 / (1 + np.exp(-(np.log(pi / (1 - pi)) + ell(a, b) - ell(ab, bb))))
    at = pit * a + (1 - pit) * ab + c
    bt = pit * b + (1 - pit) * bb + c * m2
    np.testing.assert_allclose(layer.support_prob.numpy(), pit, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.rho.numpy(), at / bt, rtol=1e-12)


def _teacher(rng, n_in=64, n_out=32, frac=0.25, run=16):
    W = np.zeros((n_out, n_in))
    act = rng.choice(n_out, int(frac * n_out), replace=False)
    for j in act:
        st = rng.integers(0, n_in - run + 1)
        W[j, st:st + run] = rng.choice([-1, 1]) * rng.uniform(0.05, 1.0, run)
    return W, set(act.tolist())


def _train(prior, seed=0, n=200, noise=1.0, epochs=30):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    W, act = _teacher(rng)
    X = torch.tensor(rng.standard_normal((n, 64)))
    Y = X @ torch.tensor(W).T + noise * torch.tensor(rng.standard_normal((n, 32)))
    layer = wrap(nn.Linear(64, 32, dtype=torch.float64), prior, variational="point")
    opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
    for ep in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, 100):
            idx = perm[i:i + 100]
            nll = 0.5 * ((layer(X[idx]) - Y[idx]) ** 2).sum() / noise ** 2
            loss = (n / len(idx)) * nll + kl_penalty(layer)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if ep >= 4 and ep % 2 == 0:
            turbo_step(layer)
    out = prune(layer)[0]
    pred = set(np.flatnonzero(out["mask"].any(1).numpy()).tolist())
    f1 = 2 * len(pred & act) / (len(pred) + len(act))
    return f1, zero_run_lengths(out["mask"]), out


def test_teacher_student_recovers_active_neurons():
    """64 -> 32, 25 % active neurons, each with a contiguous run of 16 active inputs."""
    mrf = MRFSupport.from_transition((32, 64), p01=0.05, p11=0.9, p01_v=0.25, p11_v=0.25)
    f1_mrf, run_mrf, out = _train(mrf)
    f1_iid, run_iid, _ = _train(IndependentSupport(0.25 * 0.25))
    assert f1_mrf >= 0.9
    assert run_mrf >= 1.5 * run_iid, (run_mrf, run_iid)
    assert len(out["removable"]) >= 20


def test_compress_removes_dead_neurons_exactly():
    torch.manual_seed(1)
    model = nn.Sequential(wrap(nn.Linear(10, 8, dtype=torch.float64)), nn.Tanh(),
                          wrap(nn.Linear(8, 6, dtype=torch.float64)), nn.ReLU(), nn.Linear(6, 3, dtype=torch.float64))
    l1, l2 = model[0], model[2]
    with torch.no_grad():
        l1.mask[[1, 4]] = False
        l2.mask[5] = False
        l2.mask[0, :3] = False
    model.eval()
    x = torch.randn(7, 10, dtype=torch.float64)
    ref = model(x)
    small, info = compress(model)
    assert info["removed"][:2] == [[1, 4], [5]]
    assert small[0].out_features == 6 and small[2].in_features == 6 and small[2].out_features == 5
    torch.testing.assert_close(small(x), ref, rtol=1e-12, atol=1e-12)
    assert info["params_after"] < info["params_before"]


def test_conv_wrapper_and_grid():
    torch.manual_seed(2)
    conv = nn.Conv2d(3, 4, 3, padding=1, dtype=torch.float64)
    layer = TurboBayesConv2d(conv)
    assert layer.grid_shape == (4, 27)
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    layer.eval()
    torch.testing.assert_close(layer(x), conv(x))
    layer.train()
    assert layer(x).shape == (2, 4, 8, 8)
    stats = layer.turbo_step()
    assert 0 <= stats["active_fraction"] <= 1
    out = layer.prune(rule="magnitude", threshold=10.0)
    assert out["removable"] == [0, 1, 2, 3]
    model = nn.Sequential(TurboBayesConv2d(nn.Conv2d(1, 4, 3, dtype=torch.float64)), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 4 * 4, 2, dtype=torch.float64))
    with torch.no_grad():
        model[0].mask[2] = False
    model.eval()
    xi = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    small, info = compress(model)
    assert info["removed"][0] == [2]
    torch.testing.assert_close(small(xi), model(xi))


def test_magnitude_baseline_and_block_rows():
    model = nn.Sequential(wrap(nn.Linear(8, 6)), nn.ReLU(), wrap(nn.Linear(6, 2)))
    masks = magnitude_masks(model, 0.5)
    frac = sum(int(m.sum()) for m in masks) / sum(m.numel() for m in masks)
    assert abs(frac - 0.5) < 0.05
    layer = wrap(nn.Linear(8, 6), MRFSupport.from_transition((3, 8), 0.1, 0.7), block_rows=3)
    layer.turbo_step()


def test_bad_input():
    with pytest.raises(ValueError, match="grid"):
        wrap(nn.Linear(8, 6), MRFSupport.from_transition((5, 8), 0.1, 0.7))
    with pytest.raises(ValueError, match="inactive_rate"):
        wrap(nn.Linear(8, 6), inactive_rate=0.0)
    with pytest.raises(ValueError, match="block_rows"):
        wrap(nn.Linear(8, 6), block_rows=4)
    with pytest.raises(TypeError):
        wrap(nn.LSTM(3, 3))
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        wrap(nn.Linear(8, 6), "iid", prob=1.5)
    with pytest.raises(ValueError, match="rule"):
        wrap(nn.Linear(8, 6)).prune(rule="random")
