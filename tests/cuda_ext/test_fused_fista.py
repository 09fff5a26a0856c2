"""ista/fista with the fused proximal-gradient step (``fused=``): same iterates and iteration counts
as the unfused path, on torch CPU (reference), under the Triton interpreter, and on CUDA."""

from __future__ import annotations

import numpy as np
import pytest

from sparserec import cuda_ext
from sparserec.prox.penalties import L0, L1, GroupL21, Lp, NuclearNorm
from sparserec.solvers.convex import fista, ista

from .conftest import CUDA, HAS_TRITON, needs_triton

torch = pytest.importorskip("torch")

# penalty, positivity, lam scale
CASES = {
    "l1": (L1(), False, 1.0),
    "nonneg_l1": (L1(), True, 1.0),
    "l21": (GroupL21(groups=np.repeat(np.arange(12), 5)), False, 3.0),
    "l21_whole": (GroupL21(), False, 5.0),
    "l0": (L0(), False, 0.3),
}


def _problem(dtype=torch.float64, device="cpu", B=4, m=30, n=60, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    x = np.zeros((B, n))
    for b in range(B):
        x[b, rng.choice(n, 4, replace=False)] = rng.standard_normal(4) * 3
    y = x @ A.T + 0.01 * rng.standard_normal((B, m))
    lam = np.linspace(0.2, 2.0, B)
    t = lambda a: torch.as_tensor(a, dtype=dtype, device=device)  # noqa: E731
    return t(A), t(y), t(lam)


def _spy(monkeypatch):
    calls = []
    real = cuda_ext.prox_grad_step

    def spy(*args, **kwargs):
        calls.append(kwargs.get("impl", "auto"))
        return real(*args, **kwargs)

    monkeypatch.setattr(cuda_ext, "prox_grad_step", spy)
    return calls


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("solver,kw", [(fista, {}), (fista, {"restart": "function"}), (fista, {"restart": None}),
                                       (fista, {"backtracking": True}), (ista, {})])
def test_fused_matches_unfused_torch_cpu(monkeypatch, case, solver, kw):
    pen, pos, scale = CASES[case]
    A, y, lam = _problem()
    common = dict(positivity=pos, tol=1e-8, max_iter=400, check_every=3, **kw)
    want = solver(A, y, pen, lam * scale, fused=False, **common)
    calls = _spy(monkeypatch)
    got = solver(A, y, pen, lam * scale, fused=True, **common)
    assert calls and set(calls) == {"auto"}
    assert got.params["fused"] == ("l21" if case.startswith("l21") else case)
    assert want.params["fused"] is None
    assert isinstance(got.x, torch.Tensor)
    assert np.array_equal(np.asarray(got.n_iter), np.asarray(want.n_iter))
    if case == "l21":
        # index groups: the unfused group norms go through a membership matmul (other rounding),
        # which can flip a function-restart decision taken on an objective tie
        assert torch.allclose(got.x, want.x, rtol=1e-6, atol=1e-7)
        return
    assert torch.allclose(got.x, want.x, rtol=1e-12, atol=1e-12)
    hg, hw = got.history["rel_change"], want.history["rel_change"]
    assert np.allclose(np.asarray(hg), np.asarray(hw), rtol=1e-10, atol=1e-14)


def test_fused_auto_off_on_cpu_and_l12_close(monkeypatch):
    A, y, lam = _problem()
    calls = _spy(monkeypatch)
    res = fista(A, y, "l1", lam, tol=1e-6)  # fused=None: torch CPU is not accelerated
    assert not calls and res.params["fused"] is None
    want = fista(A, y, Lp(0.5), lam, tol=1e-8, fused=False)
    got = fista(A, y, Lp(0.5), lam, tol=1e-8, fused=True)
    assert calls and got.params["fused"] == "l12"
    assert torch.allclose(got.x, want.x, atol=1e-9)


def test_fused_numpy_reference_and_scalar_lam():
    A, y, _ = _problem()
    A, y = A.numpy(), y.numpy()
    want = fista(A, y[0], "l1", 0.7, tol=1e-8, fused=False)
    got = fista(A, y[0], "l1", 0.7, tol=1e-8, fused=True)
    assert isinstance(got.x, np.ndarray) and got.x.shape == (60,)
    assert np.array_equal(got.n_iter, want.n_iter) and np.allclose(got.x, want.x, rtol=1e-12, atol=1e-12)


@needs_triton
@pytest.mark.parametrize("case", ["l1", "nonneg_l1", "l21"])
def test_fused_triton_matches_unfused(monkeypatch, case):
    pen, pos, scale = CASES[case]
    dev = "cuda" if CUDA else "cpu"
    A, y, lam = _problem(torch.float32, dev, B=3, m=20, n=40 if case != "l21" else 60)
    common = dict(positivity=pos, tol=1e-4, max_iter=60)
    want = fista(A, y, pen, lam * scale, fused=False, **common)
    calls = _spy(monkeypatch)
    got = fista(A, y, pen, lam * scale, fused="triton", **common)
    assert calls and set(calls) == {"triton"}
    assert torch.allclose(got.x, want.x, rtol=1e-4, atol=1e-5)
    assert np.abs(np.asarray(got.n_iter) - np.asarray(want.n_iter)).max() <= 1


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA or not HAS_TRITON, reason="needs a CUDA device and triton")
def test_fused_auto_on_cuda(monkeypatch):
    A, y, lam = _problem(torch.float64, "cuda")
    want = fista(A, y, "l1", lam, tol=1e-8, fused=False)
    calls = _spy(monkeypatch)
    got = fista(A, y, "l1", lam, tol=1e-8)
    assert calls and got.params["fused"] == "l1"
    assert got.x.device.type == "cuda"
    assert torch.allclose(got.x, want.x, atol=1e-10)


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
@pytest.mark.parametrize("case", sorted(CASES) + ["l12"])
def test_fused_cuda_cpp_matches_unfused(monkeypatch, case):
    """fused='cuda': the CUDA C++ kernel (built on first use) gives the unfused iterates up to
    rounding (its reductions are combined with atomics, so not bit for bit)."""
    pen, pos, scale = CASES[case] if case != "l12" else (Lp(0.5), False, 0.3)
    if not cuda_ext.available()["cpp"]:  # loaded, prebuilt, built or buildable here
        pytest.skip(cuda_ext.available()["cpp_reason"])
    A, y, lam = _problem(torch.float64, "cuda")
    common = dict(positivity=pos, tol=1e-8, max_iter=400, check_every=3)
    want = fista(A, y, pen, lam * scale, fused=False, **common)
    calls = _spy(monkeypatch)
    got = fista(A, y, pen, lam * scale, fused="cuda", **common)
    assert calls and set(calls) == {"cuda"} and got.params["fused"] is not None
    assert got.x.device.type == "cuda"
    assert torch.allclose(got.x, want.x, rtol=1e-7, atol=1e-9)
    assert np.abs(np.asarray(got.n_iter) - np.asarray(want.n_iter)).max() <= 3


@pytest.mark.parametrize("solver", [fista, ista])
def test_fused_unsupported_raises(solver):
    A, y, lam = _problem()
    with pytest.raises(ValueError, match="fused=True is not supported with penalty NuclearNorm"):
        solver(A, y, NuclearNorm(), lam, fused=True)
    with pytest.raises(ValueError, match="positivity=True"):
        solver(A, y, L0(), lam, positivity=True, fused=True)
    with pytest.raises(ValueError, match="penalty L1\\(weights"):
        solver(A, y, L1(weights=torch.ones(60, dtype=torch.float64)), lam, fused=True)
    with pytest.raises(ValueError, match="penalty GroupL21"):
        solver(A, y, GroupL21(groups=np.arange(60) % 3), lam, fused=True)
    with pytest.raises(ValueError, match="complex data"):
        solver(A.to(torch.complex128), y.to(torch.complex128), "l1", lam, fused=True)
    with pytest.raises(ValueError, match="fused must be"):
        solver(A, y, "l1", lam, fused="cpp")
    if not CUDA:  # the C++ kernel only takes CUDA tensors: a clear error, before anything is built
        with pytest.raises(ValueError, match="fused='cuda'.*needs torch CUDA tensors, got cpu tensors"):
            solver(A, y, "l1", lam, fused="cuda")
    with pytest.raises(ValueError, match="fused='cuda'.*needs torch CUDA tensors, got ndarray"):
        solver(A.numpy(), y.numpy(), "l1", lam.numpy(), fused="cuda")
    with pytest.raises(ValueError, match="needs torch"):
        solver(A.numpy(), y.numpy(), "l1", lam.numpy(), fused="triton")
    # unsupported penalties simply run unfused with fused=None / False
    assert solver(A, y, NuclearNorm(), 0.1, max_iter=5).params["fused"] is None


def test_fused_analysis_raises():
    from sparserec.operators import Identity

    A, y, lam = _problem(n=30)
    with pytest.raises(ValueError, match="analysis operator"):
        fista(A, y, "l1", lam, analysis=Identity((30,)), fused=True)
