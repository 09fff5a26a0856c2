r"""Lazy loader and Python wrapper of the optional CUDA C++ extension of ``cuda_ext``.

The CUDA C++ sources live in ``sparserec/cuda_ext/csrc``: ``prox_grad_step.cu`` (kernels, pure
CUDA) and ``binding.cpp`` (the torch binding).  The compiled module is found, in this order:

1. ``sparserec.cuda_ext._C``, built ahead of time by ``SPARSEREC_BUILD_EXT=1 pip install
   --no-build-isolation -e .`` (see ``setup.py``);
2. a JIT build with :func:`torch.utils.cpp_extension.load` on first use on a CUDA machine, cached
   under :func:`cache_dir` (later processes reuse it; ninja rebuilds only when a source changed).

Nothing happens at import: this module imports neither torch nor the compiler tooling, and a
build starts only from :func:`load`, which the wrapper calls only after checking that its inputs
are CUDA tensors.  :func:`status` says, without building, whether the extension is usable.
"""

from __future__ import annotations

import importlib
import importlib.util
import numbers
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

__all__ = ["CSRC", "SOURCES", "cache_dir", "find_nvcc", "load", "prox_grad_step", "status"]

#: folder of the CUDA C++ sources
CSRC = Path(__file__).resolve().with_name("csrc")
#: translation units of the extension (the kernels compile standalone; the binding needs torch)
SOURCES = ("binding.cpp", "prox_grad_step.cu")
#: penalty names in the order of the ``ProxKind`` codes of ``csrc/prox_grad_step.h``
KINDS = ("l1", "nonneg_l1", "l0", "l12", "l21")

_EXT_NAME = "sparserec_cuda_ext_cpp"
_PREBUILT = "sparserec.cuda_ext._C"
_MODULE: Any = None
_BUILD_ERROR: str | None = None
_LOCK = threading.Lock()


def _torch() -> Any:
    import torch

    return torch


def find_nvcc() -> str | None:
    """Path of ``nvcc`` as :mod:`torch.utils.cpp_extension` would find it, or None.

    Looks in ``$CUDA_HOME/bin``, ``$CUDA_PATH/bin``, on ``PATH`` and in ``/usr/local/cuda/bin``.
    """
    for var in ("CUDA_HOME", "CUDA_PATH"):
        root = os.environ.get(var)
        if root and (Path(root) / "bin" / "nvcc").is_file():
            return str(Path(root) / "bin" / "nvcc")
    found = shutil.which("nvcc")
    if found:
        return found
    default = Path("/usr/local/cuda/bin/nvcc")
    return str(default) if default.is_file() else None


def cache_dir() -> Path:
    """Build folder of the JIT-compiled extension (not created here).

    ``$SPARSEREC_CUDA_EXT_DIR`` if set, else ``$XDG_CACHE_HOME/sparserec/cuda_ext/<tag>`` (default
    ``~/.cache``), where ``<tag>`` names the torch, CUDA and Python versions so that builds for
    different toolchains never mix.
    """
    env = os.environ.get("SPARSEREC_CUDA_EXT_DIR")
    if env:
        return Path(env)
    torch = _torch()
    tag = f"torch{torch.__version__}-cu{torch.version.cuda}-py{sys.version_info[0]}{sys.version_info[1]}"
    tag = "".join(c if c.isalnum() or c in "-_." else "_" for c in tag)
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "sparserec" / "cuda_ext" / tag


def _has_prebuilt() -> bool:
    try:
        return importlib.util.find_spec(_PREBUILT) is not None
    except (ImportError, ValueError):  # pragma: no cover - broken package metadata
        return False


def status() -> tuple[bool, str]:
    """Whether the extension is usable here, and why (never builds anything).

    Returns
    -------
    ok : bool
        True when the module is loaded, prebuilt, already built in :func:`cache_dir`, or buildable
        (torch with CUDA, a visible device, ``nvcc`` and ``ninja``).
    reason : str
        Human-readable explanation; when ``ok`` is False, every missing requirement.
    """
    if _MODULE is not None:
        return True, f"loaded ({getattr(_MODULE, '__file__', _EXT_NAME)})"
    if _has_prebuilt():
        return True, f"prebuilt module {_PREBUILT} (SPARSEREC_BUILD_EXT=1 install)"
    if importlib.util.find_spec("torch") is None:
        return False, "torch is not installed (pip install 'sparserec[torch]')"
    torch = _torch()
    reasons = []
    if torch.version.cuda is None:
        reasons.append(f"torch {torch.__version__} is a CPU-only build (torch.version.cuda is None)")
    if not torch.cuda.is_available():
        reasons.append("no CUDA device is visible")
    nvcc = find_nvcc()
    if nvcc is None:
        reasons.append("nvcc not found (install the CUDA toolkit, set CUDA_HOME or put nvcc on PATH)")
    if shutil.which("ninja") is None:
        reasons.append("ninja not found (pip install ninja; torch.utils.cpp_extension.load needs it)")
    if _BUILD_ERROR is not None:
        reasons.append(f"the build failed in this process: {_BUILD_ERROR.strip().splitlines()[-1]}")
    if reasons:
        return False, "CUDA C++ extension unavailable: " + "; ".join(reasons)
    d = cache_dir()
    if any(d.glob(f"{_EXT_NAME}*.so")):
        return True, f"built, cached in {d}"
    return True, f"buildable: compiles on first use with {nvcc} into {d} (about a minute)"


def load(verbose: bool | None = None) -> Any:
    """The compiled extension module, building it on first use if needed.

    Parameters
    ----------
    verbose : bool, optional
        Show the compiler output (default: ``$SPARSEREC_CUDA_EXT_VERBOSE=1``).

    Raises
    ------
    RuntimeError
        When there is no prebuilt module and the extension cannot be built here (the message lists
        every missing requirement), or when the build fails.
    """
    global _MODULE, _BUILD_ERROR
    if _MODULE is not None:
        return _MODULE
    with _LOCK:
        if _MODULE is not None:  # pragma: no cover - another thread won
            return _MODULE
        if _has_prebuilt():
            mod = importlib.import_module(_PREBUILT)
        else:
            ok, why = status()
            if not ok:
                raise RuntimeError(
                    f"{why}. Use impl='auto' (Triton on CUDA, reference elsewhere), 'triton' or 'reference'; "
                    "or build the extension ahead of time with "
                    "SPARSEREC_BUILD_EXT=1 pip install --no-build-isolation -e .")
            from torch.utils import cpp_extension

            build = cache_dir()
            build.mkdir(parents=True, exist_ok=True)
            if verbose is None:
                verbose = os.environ.get("SPARSEREC_CUDA_EXT_VERBOSE", "") == "1"
            try:
                mod = cpp_extension.load(
                    name=_EXT_NAME, sources=[str(CSRC / s) for s in SOURCES], extra_include_paths=[str(CSRC)],
                    extra_cflags=["-O3"], extra_cuda_cflags=["-O3"], build_directory=str(build), verbose=verbose)
            except Exception as exc:
                _BUILD_ERROR = str(exc) or type(exc).__name__
                raise RuntimeError(
                    f"building the sparserec CUDA C++ extension in {build} failed: {exc}. Rerun with "
                    "SPARSEREC_CUDA_EXT_VERBOSE=1 to see the compiler output") from exc
        if tuple(getattr(mod, "PROX_KINDS", ())) != KINDS:
            raise RuntimeError(f"the CUDA C++ extension {mod!r} does not match this sparserec (kind table "
                               f"{getattr(mod, 'PROX_KINDS', None)} != {KINDS}); rebuild it")
        _MODULE = mod
        return mod


def _per_problem(v: Any, name: str, z: Any, torch: Any) -> Any:
    B = z.shape[0]
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        return torch.full((B,), float(v), dtype=z.dtype, device=z.device)
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"impl='cuda': {name} must be a float or a torch tensor of shape (B,), got {type(v).__name__}")
    if v.device != z.device:
        raise ValueError(f"impl='cuda': {name} is on {v.device} but z is on {z.device}; move it explicitly")
    if tuple(v.shape) != (B,):
        raise ValueError(f"impl='cuda': {name} must have shape (B,) = ({B},), got {tuple(v.shape)}")
    return v.to(dtype=z.dtype).contiguous()


def _alloc(shape: tuple[int, ...], like: Any) -> Any:
    """Uninitialised output buffer (tests poison it through this hook)."""
    return sys.modules["torch"].empty(shape, dtype=like.dtype, device=like.device)


def prox_grad_step(z: Any, grad: Any, x_prev: Any, step: Any, lam: Any, beta: Any, kind: str = "l1",
                   group_size: int = 1) -> tuple[Any, Any, Any, Any]:
    """CUDA C++ version of :func:`sparserec.cuda_ext.reference.prox_grad_step`.

    Same arguments and results; inputs must be float32/float64 torch tensors on a CUDA device
    (checked before anything is loaded or built).  Per-problem ``step``, ``lam``, ``beta`` are
    floats or (B,) tensors on the same device (cast to the dtype of ``z``).

    Raises
    ------
    TypeError
        Inputs that are not torch tensors, or an unsupported dtype.
    ValueError
        Inputs not on one CUDA device, bad shapes, unknown ``kind``, ``N`` not a multiple of
        ``group_size`` for ``l21``.
    RuntimeError
        The extension cannot be loaded or built here (see :func:`status`).
    """
    torch = sys.modules.get("torch")
    if torch is None or not all(isinstance(a, torch.Tensor) for a in (z, grad, x_prev)):
        raise TypeError("impl='cuda' (CUDA C++ extension) takes torch CUDA tensors; got "
                        f"{type(z).__module__}.{type(z).__name__}: use impl='auto' or 'reference' for numpy")
    if z.device.type != "cuda":
        raise ValueError(f"impl='cuda' (CUDA C++ extension) runs on CUDA tensors, got tensors on {z.device}: "
                         "move them with .to('cuda') or use impl='auto' / 'reference' on CPU")
    for a, nm in ((grad, "grad"), (x_prev, "x_prev")):
        if a.device != z.device:
            raise ValueError(f"impl='cuda': {nm} is on {a.device} but z is on {z.device}; move it explicitly")
        if a.dtype != z.dtype:
            raise TypeError(f"impl='cuda': {nm} has dtype {a.dtype} but z has {z.dtype}")
    if z.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"impl='cuda' supports float32 and float64, got {z.dtype}")
    if len(z.shape) != 2 or z.shape != grad.shape or z.shape != x_prev.shape:
        raise ValueError("z, grad and x_prev must share one (B, N) shape")
    if kind not in KINDS:
        raise ValueError(f"unknown prox kind {kind!r}; expected one of {KINDS}")
    N = z.shape[1]
    if kind == "l21" and (int(group_size) < 1 or N % int(group_size)):
        raise ValueError(f"N={N} is not a multiple of group_size={group_size}")
    st, lm, bt = (_per_problem(v, nm, z, torch) for v, nm in ((step, "step"), (lam, "lam"), (beta, "beta")))
    mod = load()
    z, grad, x_prev = z.contiguous(), grad.contiguous(), x_prev.contiguous()
    B = z.shape[0]
    x_new, z_next = _alloc((B, N), z), _alloc((B, N), z)
    diff2, norm2 = _alloc((B,), z), _alloc((B,), z)  # zeroed by the launcher before accumulation
    mod.prox_grad_step_out(z, grad, x_prev, st, lm, bt, x_new, z_next, diff2, norm2, KINDS.index(kind),
                           int(group_size))
    return x_new, z_next, diff2, norm2
