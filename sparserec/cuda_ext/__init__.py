r"""GPU kernels with a pure reference for each; dispatched through the backend's kernel registry.

Operations (all batch-first):

* :func:`prox_grad_step` — fused (accelerated) proximal-gradient step for ℓ1, non-negative ℓ1,
  ℓ0, ℓ1/2 and group ℓ2,1, with the stopping-rule reductions: one pass over memory instead of
  four to six;
* :func:`markov_chain_messages` — Turbo-VBI Module B on binary Markov chains (forward–backward);
* :func:`mrf_messages` — Module B on a 2-D grid MRF (damped flooding loopy BP);
* :func:`sbl_update` — the elementwise/reduction part of the SBL M-step.

Dispatch: torch tensors on CUDA use the Triton kernel when triton is installed; everything else
(numpy, torch CPU) uses the reference.  ``SPARSEREC_FORCE_REFERENCE=1`` forces the reference, and
``impl="reference" | "triton"`` picks one explicitly (``"triton"`` on CPU needs
``TRITON_INTERPRET=1`` set before the first kernel import — that is how CI tests the kernels).
``impl="cuda"`` selects the optional CUDA C++ extension (``csrc/``, loaded by
:mod:`sparserec.cuda_ext._cpp`; :func:`prox_grad_step` only, CUDA tensors only); it is never the
default.  Kernels compile lazily on first use, never at import.  :func:`available` says what is on
and why.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

from .._backend import get_kernel, register_kernel
from . import reference

__all__ = [
    "available",
    "markov_chain_messages",
    "mrf_messages",
    "prox_grad_step",
    "reference",
    "sbl_update",
]

_OPS = ("prox_grad_step", "markov_chain_messages", "mrf_messages", "sbl_update")


def _triton_module() -> Any:
    from . import _triton

    return _triton


def _make_triton(op: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(_triton_module(), op)(*args, **kwargs)

    call.__name__ = f"{op}_triton"
    return call


for _op in _OPS:
    register_kernel(f"cuda_ext.{_op}")(getattr(reference, _op))
    register_kernel(f"cuda_ext.{_op}", "torch", "cuda")(_make_triton(_op))

#: operations with a CUDA C++ implementation (``impl="cuda"``)
_CPP_OPS = ("prox_grad_step",)
#: registry operation name of the CUDA C++ alternative of ``op``
_CPP_KEY = "cuda_ext.{}.cuda_cpp"


def _make_cpp(op: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        from . import _cpp  # light: imports neither torch nor the compiler tooling

        return getattr(_cpp, op)(*args, **kwargs)

    call.__name__ = f"{op}_cuda_cpp"
    return call


# The C++ kernels are an alternative to the Triton ones for the same (torch, cuda) key, so they are
# registered under their own operation name (with the same reference) and never picked by
# impl="auto"; impl="cuda" selects them.
_CPP_IMPLS: dict[str, Any] = {}
for _op in _CPP_OPS:
    register_kernel(_CPP_KEY.format(_op))(getattr(reference, _op))
    _CPP_IMPLS[_op] = register_kernel(_CPP_KEY.format(_op), "torch", "cuda")(_make_cpp(_op))


def available() -> dict[str, Any]:
    """Which accelerated kernels are usable here, and why not if they are not.

    Returns a dict with ``triton`` (installed), ``cuda`` (a CUDA device is visible), ``interpret``
    (``TRITON_INTERPRET=1``), ``forced_reference``, ``enabled`` (Triton kernels used for CUDA
    tensors) and a human-readable ``reason``; ``cpp`` says whether the optional CUDA C++ extension
    (``impl="cuda"``) is prebuilt, built or buildable here and ``cpp_reason`` why (or why not).
    Nothing is built or compiled by this call.
    """
    from . import _cpp

    has_triton = importlib.util.find_spec("triton") is not None
    torch = sys.modules.get("torch")
    if torch is None and importlib.util.find_spec("torch") is not None:
        import torch
    cuda = bool(torch is not None and torch.cuda.is_available())
    forced = os.environ.get("SPARSEREC_FORCE_REFERENCE", "") not in ("", "0")
    interpret = os.environ.get("TRITON_INTERPRET", "") == "1"
    reasons = []
    if torch is None:
        reasons.append("torch is not installed")
    if not has_triton:
        reasons.append("triton is not installed (pip install 'sparserec[gpu]')")
    if not cuda:
        reasons.append("no CUDA device is visible")
    if forced:
        reasons.append("SPARSEREC_FORCE_REFERENCE is set")
    enabled = has_triton and cuda and not forced
    cpp, cpp_reason = _cpp.status()
    return {"triton": has_triton, "cuda": cuda, "interpret": interpret, "forced_reference": forced,
            "enabled": enabled, "ops": list(_OPS),
            "reason": "kernels enabled for CUDA tensors" if enabled else "; ".join(reasons),
            "cpp": cpp, "cpp_ops": list(_CPP_OPS), "cpp_reason": cpp_reason}


def _pick(op: str, like: Any, impl: str) -> Any:
    if impl == "auto":
        fn = get_kernel(f"cuda_ext.{op}", like)
        if fn is not getattr(reference, op) and importlib.util.find_spec("triton") is None:
            return getattr(reference, op)
        return fn
    if impl == "reference":
        return getattr(reference, op)
    if impl == "triton":
        if importlib.util.find_spec("triton") is None:
            raise ImportError("impl='triton' needs triton: pip install 'sparserec[gpu]'")
        return _make_triton(op)
    if impl == "cuda":
        if op not in _CPP_IMPLS:
            raise ValueError(f"impl='cuda' (CUDA C++ extension) implements only {', '.join(_CPP_OPS)}; use "
                             f"impl='auto', 'triton' or 'reference' for {op}")
        return _CPP_IMPLS[op]  # checks that the data are CUDA tensors before loading anything
    raise ValueError(f"impl must be 'auto', 'reference', 'triton' or 'cuda', got {impl!r}")


def prox_grad_step(z: Any, grad: Any, x_prev: Any, step: Any, lam: Any, beta: Any, kind: str = "l1",
                   group_size: int = 1, impl: str = "auto") -> tuple[Any, Any, Any, Any]:
    """Fused proximal-gradient step; see :func:`sparserec.cuda_ext.reference.prox_grad_step`."""
    if kind not in reference.PROX_KINDS:
        raise ValueError(f"unknown prox kind {kind!r}; expected one of {reference.PROX_KINDS}")
    if z.shape != grad.shape or z.shape != x_prev.shape or len(z.shape) != 2:
        raise ValueError(f"z, grad and x_prev must share one (B, N) shape, got {tuple(z.shape)}, "
                         f"{tuple(grad.shape)}, {tuple(x_prev.shape)}")
    return _pick("prox_grad_step", z, impl)(z, grad, x_prev, step, lam, beta, kind, group_size)


def _check_probs(x: Any, name: str) -> None:
    ok = bool(((x > 0) & (x < 1)).all()) if not isinstance(x, float) else 0 < x < 1
    if not ok:
        raise ValueError(f"{name} must lie in (0, 1)")


def markov_chain_messages(pi_in: Any, lam: Any, p_on: Any, p_off: Any, impl: str = "auto") -> Any:
    """Markov-chain Module B; see :func:`sparserec.cuda_ext.reference.markov_chain_messages`."""
    if len(pi_in.shape) != 2:
        raise ValueError(f"pi_in must have shape (B, Q), got {tuple(pi_in.shape)}")
    for v, nm in ((lam, "lam"), (p_on, "p_on"), (p_off, "p_off")):
        _check_probs(v, nm)
    return _pick("markov_chain_messages", pi_in, impl)(pi_in, lam, p_on, p_off)


def mrf_messages(pi_in: Any, psi_h: Any, psi_v: Any, prior_logit: Any = None, sweeps: int = 10,
                 damping: float = 0.5, messages: Any = None, impl: str = "auto") -> tuple[Any, Any]:
    """Grid-MRF Module B; see :func:`sparserec.cuda_ext.reference.mrf_messages`."""
    if len(pi_in.shape) != 3:
        raise ValueError(f"pi_in must have shape (B, R, C), got {tuple(pi_in.shape)}")
    return _pick("mrf_messages", pi_in, impl)(pi_in, psi_h, psi_v, prior_logit, sweeps, damping, messages)


def sbl_update(mu: Any, sigma_diag: Any, gamma: Any, rule: str = "em", prune: float = 0.0,
               impl: str = "auto") -> tuple[Any, Any, Any]:
    """SBL M-step elementwise part; see :func:`sparserec.cuda_ext.reference.sbl_update`."""
    if not (mu.shape == sigma_diag.shape == gamma.shape) or len(mu.shape) != 2:
        raise ValueError("mu, sigma_diag and gamma must share one (B, N) shape")
    if prune < 0 or prune >= 1:
        raise ValueError(f"prune must be in [0, 1), got {prune}")
    return _pick("sbl_update", mu, impl)(mu, sigma_diag, gamma, rule, prune)
