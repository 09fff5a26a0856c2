"""CUDA C++ extension of ``cuda_ext`` (``impl="cuda"``): standalone nvcc compilation of the kernels,
lazy loading (never at import, never on CPU), and the kernel against the reference on a GPU."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from sparserec import cuda_ext
from sparserec.cuda_ext import _cpp
from sparserec.cuda_ext import reference as R

torch = pytest.importorskip("torch")
CUDA = torch.cuda.is_available()
NVCC = _cpp.find_nvcc()


# ----------------------------------------------------------------------------- compile only
@pytest.mark.skipif(NVCC is None, reason="nvcc not found (no CUDA toolkit on this machine; CI may not have one)")
def test_kernels_compile_standalone_with_nvcc(tmp_path):
    """The kernels (prox_grad_step.cu) include no torch header and compile with plain ``nvcc -c``."""
    obj = tmp_path / "prox_grad_step.o"
    cmd = [NVCC, "-std=c++17", "-O3", "-c", str(_cpp.CSRC / "prox_grad_step.cu"), "-o", str(obj)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    assert obj.stat().st_size > 0


def test_kind_codes_match_header_and_reference():
    header = (_cpp.CSRC / "prox_grad_step.h").read_text()
    codes = re.findall(r"kProx\w+ = (\d+),\s*// \"(\w+)\"", header)
    assert [name for _, name in sorted(codes, key=lambda c: int(c[0]))] == list(_cpp.KINDS)
    assert [int(c) for c, _ in codes] == list(range(len(_cpp.KINDS)))
    assert tuple(_cpp.KINDS) == tuple(R.PROX_KINDS)
    binding = (_cpp.CSRC / "binding.cpp").read_text()
    assert "make_tuple(" + ", ".join(f'"{k}"' for k in _cpp.KINDS) + ")" in binding
    for f in ("prox_grad_step.cu", "prox_grad_step.h"):  # the kernels must compile without torch headers
        assert not re.search(r"#include\s*<(torch|ATen|c10)/", (_cpp.CSRC / f).read_text()), f


# ----------------------------------------------------------------------------- CPU behaviour
def test_import_and_available_never_build(tmp_path):
    code = (
        "import sys, sparserec.cuda_ext as c\n"
        "from sparserec.cuda_ext import _cpp\n"
        "info = c.available()\n"
        "assert 'cpp' in info and isinstance(info['cpp_reason'], str), info\n"
        "assert 'torch.utils.cpp_extension' not in sys.modules\n"
        "assert _cpp._MODULE is None\n"
        "print('ok')\n")
    env = {**__import__("os").environ, "SPARSEREC_CUDA_EXT_DIR": str(tmp_path / "ext")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    assert not (tmp_path / "ext").exists()


def test_available_reports_cpp_status():
    info = cuda_ext.available()
    assert info["cpp_ops"] == ["prox_grad_step"]
    if not CUDA and not _cpp._has_prebuilt():
        assert info["cpp"] is False
        assert "no CUDA device is visible" in info["cpp_reason"]


@pytest.mark.skipif(CUDA, reason="checks the CPU-only error path")
def test_impl_cuda_on_cpu_raises_clearly_without_building(monkeypatch):
    def no_build(*a, **k):  # pragma: no cover - the point is that it is never called
        raise AssertionError("load() must not run for CPU data")

    monkeypatch.setattr(_cpp, "load", no_build)
    x = torch.randn(3, 10, dtype=torch.float64)
    with pytest.raises(ValueError, match="CUDA tensors"):
        cuda_ext.prox_grad_step(x, x, x, 0.1, 0.2, 0.5, impl="cuda")
    with pytest.raises(TypeError, match="torch CUDA tensors"):
        cuda_ext.prox_grad_step(x.numpy(), x.numpy(), x.numpy(), 0.1, 0.2, 0.5, impl="cuda")
    with pytest.raises(ValueError, match="implements only prox_grad_step"):
        cuda_ext.sbl_update(x, x.abs(), x.abs(), impl="cuda")
    assert _cpp._MODULE is None


@pytest.mark.skipif(CUDA or _cpp._has_prebuilt(), reason="checks the error when nothing can be built")
def test_load_without_cuda_explains_why(monkeypatch, tmp_path):
    monkeypatch.setenv("SPARSEREC_CUDA_EXT_DIR", str(tmp_path / "ext"))
    with pytest.raises(RuntimeError, match="no CUDA device is visible") as err:
        _cpp.load()
    assert "impl='auto'" in str(err.value) and "SPARSEREC_BUILD_EXT=1" in str(err.value)
    assert not (tmp_path / "ext").exists()


def test_registry_entry_and_default_unchanged():
    from sparserec._backend import get_kernel, list_kernels

    key = cuda_ext._CPP_KEY.format("prox_grad_step")
    assert (key, "torch", "cuda") in list_kernels()
    assert get_kernel(key, np.zeros((2, 3))) is R.prox_grad_step
    assert cuda_ext._pick("prox_grad_step", torch.zeros(2, 3), "cuda") is cuda_ext._CPP_IMPLS["prox_grad_step"]
    # impl="auto" never picks the C++ kernel
    assert cuda_ext._pick("prox_grad_step", torch.zeros(2, 3), "auto") is R.prox_grad_step


def test_nvcc_lookup_honours_cuda_home(monkeypatch, tmp_path):
    fake = tmp_path / "cuda" / "bin" / "nvcc"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setenv("CUDA_HOME", str(tmp_path / "cuda"))
    assert _cpp.find_nvcc() == str(fake)


def test_setup_py_is_a_plain_shim_without_opt_in():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in __import__("os").environ.items() if k != "SPARSEREC_BUILD_EXT"}
    out = subprocess.run([sys.executable, "setup.py", "--name"], cwd=root, capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "sparserec"
    assert "torch" not in out.stderr


# ----------------------------------------------------------------------------- on a GPU
@pytest.fixture
def poisoned(monkeypatch):
    """Output buffers of the wrapper start as NaN, so every entry the kernel misses shows up."""
    real = _cpp._alloc
    monkeypatch.setattr(_cpp, "_alloc", lambda shape, like: real(shape, like).fill_(float("nan")))


def _rand(shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype).to("cuda")


CASES = [  # (B, N, kind, group_size)
    (37, 1001, "l1", 1), (3, 777, "nonneg_l1", 1), (5, 1025, "l0", 1), (4, 999, "l12", 1),
    (37, 1001, "l21", 7), (3, 1000, "l21", 1), (6, 99, "l21", 33), (2, 3 * 517, "l21", 517),
    (4, 64, "l21", 64), (1, 1, "l1", 1), (70000, 3, "l1", 1), (66000, 6, "l21", 3),
]


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("B", "N", "kind", "group_size"), CASES)
@pytest.mark.parametrize("scalars", [False, True])
def test_cuda_cpp_matches_reference(poisoned, dtype, B, N, kind, group_size, scalars):
    z, g, xp = (_rand((B, N), dtype, s) for s in (1, 2, 3))
    if scalars:
        t, lam, beta = 0.7, 0.3, 0.4
    else:
        gen = torch.Generator().manual_seed(4)
        t = (torch.rand(B, generator=gen, dtype=dtype) + 0.2).cuda()
        lam = (torch.rand(B, generator=gen, dtype=dtype) + 0.1).cuda()
        beta = torch.rand(B, generator=gen, dtype=dtype).cuda()
    got = cuda_ext.prox_grad_step(z, g, xp, t, lam, beta, kind, group_size=group_size, impl="cuda")
    want = R.prox_grad_step(z, g, xp, t, lam, beta, kind, group_size=group_size)
    tol = 1e-5 if dtype == torch.float32 else 1e-11
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype and a.device == b.device
        assert torch.isfinite(a).all()
        assert torch.allclose(a, b, rtol=tol, atol=tol * max(1.0, float(b.abs().max())))


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_cuda_cpp_edge_cases_and_errors():
    z = torch.randn(4, 0, device="cuda", dtype=torch.float64)
    x, zn, d2, n2 = cuda_ext.prox_grad_step(z, z, z, 0.1, 0.1, 0.1, impl="cuda")
    assert x.shape == (4, 0) and torch.equal(d2, torch.zeros(4, device="cuda", dtype=torch.float64))
    assert torch.equal(n2, d2)
    y = torch.randn(3, 10, device="cuda")
    with pytest.raises(ValueError, match="multiple"):
        cuda_ext.prox_grad_step(y, y, y, 0.1, 0.1, 0.1, "l21", group_size=4, impl="cuda")
    with pytest.raises(ValueError, match="move it explicitly"):
        cuda_ext.prox_grad_step(y, y, y, torch.ones(3), 0.1, 0.1, impl="cuda")
    with pytest.raises(TypeError, match="float32 and float64"):
        h = y.half()
        cuda_ext.prox_grad_step(h, h, h, 0.1, 0.1, 0.1, impl="cuda")
    # non-contiguous inputs are accepted (made contiguous)
    w = torch.randn(10, 3, device="cuda").t()
    got = cuda_ext.prox_grad_step(w, w, w, 0.1, 0.2, 0.5, impl="cuda")
    want = R.prox_grad_step(w, w, w, 0.1, 0.2, 0.5)
    for a, b in zip(got, want):
        assert torch.allclose(a, b, atol=1e-6)
