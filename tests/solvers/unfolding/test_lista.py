"""LISTA: at initialisation it equals K iterations of the package's ISTA; it trains; bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sparserec.operators import Matrix  # noqa: E402
from sparserec.solvers.convex import ista  # noqa: E402
from sparserec.solvers.unfolding import LISTA, ista_step  # noqa: E402


def _problem(seed=0, m=20, n=40, batch=4):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n)) / np.sqrt(m)
    X = np.zeros((batch, n))
    for b in range(batch):
        X[b, rng.choice(n, 3, replace=False)] = rng.standard_normal(3) * 2
    Y = X @ A.T + 0.01 * rng.standard_normal((batch, m))
    return A, X, Y


@pytest.mark.parametrize("parametrization", ["full", "coupled"])
@pytest.mark.parametrize("tied", [False, True])
def test_lista_at_init_equals_k_ista_iterations(parametrization, tied):
    A, _, Y = _problem()
    K, lam = 9, 0.05
    net = LISTA(A, lam, K, parametrization=parametrization, tied=tied)
    out = net(torch.as_tensor(Y)).detach().numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ista(Matrix(A), Y, lam=lam, step=net.step0, max_iter=K, tol=0.0)
    assert int(ref.n_iter.max()) == K
    np.testing.assert_allclose(out, ref.x, atol=1e-12, rtol=0)
    xs = net(torch.as_tensor(Y), return_all=True)
    assert len(xs) == K


def test_ista_step_is_the_classical_update():
    A, _, Y = _problem(batch=1)
    x = np.zeros(A.shape[1])
    g = A.T @ (A @ x - Y[0])
    out = ista_step(x, g, 0.5, 0.5 * 0.1)
    expect = np.sign(-0.5 * g) * np.maximum(np.abs(0.5 * g) - 0.05, 0)
    np.testing.assert_allclose(out, expect)


def test_lista_training_beats_ista_with_same_depth():
    torch.manual_seed(0)
    A, _, _ = _problem()
    rng = np.random.default_rng(2)
    Xtr = np.zeros((128, 40))
    for b in range(128):
        Xtr[b, rng.choice(40, 3, replace=False)] = rng.standard_normal(3) * 2
    Ytr = torch.as_tensor(Xtr @ A.T)
    Xtr = torch.as_tensor(Xtr)
    net = LISTA(A, 0.05, 5)
    with torch.no_grad():
        err0 = float(((net(Ytr) - Xtr) ** 2).mean())
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(100):
        opt.zero_grad()
        loss = ((net(Ytr) - Xtr) ** 2).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        err1 = float(((net(Ytr) - Xtr) ** 2).mean())
    assert err1 < 0.5 * err0


def test_lista_bad_input():
    A, _, Y = _problem()
    with pytest.raises(ValueError, match="2-D matrix"):
        LISTA(np.zeros(5), 0.1)
    with pytest.raises(ValueError, match="lam"):
        LISTA(A, -1.0)
    with pytest.raises(ValueError, match="n_layers"):
        LISTA(A, 0.1, 0)
    with pytest.raises(ValueError, match="parametrization"):
        LISTA(A, 0.1, parametrization="tied")
    with pytest.raises(ValueError, match=r"\(\*batch, 20\)"):
        LISTA(A, 0.1, 2)(torch.zeros(3, 7, dtype=torch.float64))
    assert LISTA(Matrix(A), 0.1, 2)(torch.as_tensor(Y)).shape == (4, 40)
