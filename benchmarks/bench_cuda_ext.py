"""cuda_ext kernels vs their pure-torch references (GPU only).

On a CUDA device: the fused proximal-gradient step at 2**26 elements (time, effective GB/s,
fraction of the measured device-to-device copy bandwidth; target >= 70 % of copy bandwidth and
>= 2x over the unfused torch path), the batched Markov-chain forward-backward and the MRF sweep.
Without CUDA it returns one row saying why nothing was measured.
"""

from __future__ import annotations

import time


def _timeit(fn, sync, repeat=20):
    fn()
    sync()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool) -> list[dict]:
    try:
        import torch
    except ImportError:
        return [{"benchmark": "cuda_ext", "case": "all kernels", "sparserec_s": None, "peer": "", "peer_s": None,
                 "ratio": None, "target": "", "met": None, "notes": "skipped: torch not installed"}]
    from sparserec import cuda_ext
    from sparserec.cuda_ext import reference as R

    info = cuda_ext.available()
    if not info["enabled"]:
        return [{"benchmark": "cuda_ext", "case": "all kernels", "sparserec_s": None, "peer": "", "peer_s": None,
                 "ratio": None, "target": "", "met": None, "notes": f"skipped: {info['reason']}"}]
    from sparserec.cuda_ext import _triton as T

    dev = "cuda"
    sync = torch.cuda.synchronize
    rows = []
    n = 2**24 if quick else 2**26
    B = 64
    z, g, xp = (torch.randn(B, n // B, device=dev) for _ in range(3))
    t, lam, beta = (torch.rand(B, device=dev) for _ in range(3))
    buf = torch.empty_like(z)
    t_copy = _timeit(lambda: buf.copy_(z), sync)
    copy_bw = 2 * z.numel() * 4 / t_copy
    for kind in ("l1", "nonneg_l1", "l0", "l12", "l21"):
        tk = _timeit(lambda k=kind: T.prox_grad_step(z, g, xp, t, lam, beta, k, group_size=16), sync)
        tr = _timeit(lambda k=kind: R.prox_grad_step(z, g, xp, t, lam, beta, k, group_size=16), sync)
        moved = 5 * z.numel() * 4  # read z, grad, x_prev; write x, z_next
        bw = moved / tk
        rows.append({"benchmark": "cuda_ext", "case": f"fused prox-grad step {kind}, {n:.2e} float32",
                     "sparserec_s": tk, "peer": "unfused torch reference", "peer_s": tr, "ratio": tr / tk,
                     "target": ">= 2x and >= 70% copy BW", "met": (tr / tk >= 2) and (bw / copy_bw >= 0.7),
                     "notes": f"{bw / 1e9:.0f} GB/s = {100 * bw / copy_bw:.0f}% of copy {copy_bw / 1e9:.0f} GB/s"})
    pin = torch.rand(4096, 1024, device=dev)
    tk = _timeit(lambda: T.markov_chain_messages(pin, 0.1, 0.05, 0.3), sync, 5)
    tr = _timeit(lambda: R.markov_chain_messages(pin, 0.1, 0.05, 0.3), sync, 3)
    rows.append({"benchmark": "cuda_ext", "case": "Markov chain fwd-bwd 4096 chains x 1024", "sparserec_s": tk,
                 "peer": "batched torch reference", "peer_s": tr, "ratio": tr / tk, "target": "", "met": None,
                 "notes": ""})
    pin = torch.rand(64, 256, 256, device=dev)
    psi = [[0.7, 0.3], [0.4, 0.6]]
    tk = _timeit(lambda: T.mrf_messages(pin, psi, psi, sweeps=10), sync, 5)
    tr = _timeit(lambda: R.mrf_messages(pin, psi, psi, sweeps=10), sync, 5)
    rows.append({"benchmark": "cuda_ext", "case": "MRF loopy BP 64 x 256x256, 10 sweeps", "sparserec_s": tk,
                 "peer": "torch reference", "peer_s": tr, "ratio": tr / tk, "target": "", "met": None,
                 "notes": ""})
    return rows


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=1))
