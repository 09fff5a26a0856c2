"""cuda_ext kernels vs their pure-torch references (GPU only).

On a CUDA device: the fused proximal-gradient step at 2**26 elements (time, effective GB/s,
fraction of the measured device-to-device copy bandwidth; target >= 70 % of copy bandwidth and
>= 2x over the unfused torch path), the batched Markov-chain forward-backward and the MRF sweep;
then the solver targets of issue 13: batched ``fista`` on 256 problems of 2000 x 10000 (float32,
100 iterations, shared dictionary) and batched ``sbl`` on 64 problems of 500 x 2000 (float64, to
convergence), each against the same code on torch CPU tensors on this machine's CPU (all its
cores; target >= 30x), with the achieved TFLOP/s of the dominant products.
Without CUDA it returns one row saying why nothing was measured.

``SPARSEREC_BENCH_DRY_RUN=1`` runs the solver rows on torch CPU "as the device" at small sizes,
to check the code path on a machine without a GPU (the figures are then meaningless).
"""

from __future__ import annotations

import time

from bench_sbl import _ard_problem  # run.py and direct runs put this folder on sys.path


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
    import os

    from sparserec import cuda_ext
    from sparserec.cuda_ext import reference as R

    if os.environ.get("SPARSEREC_BENCH_DRY_RUN") == "1":
        return solver_rows(torch, "cpu", lambda: None, quick, small=True)
    info = cuda_ext.available()
    if not info["enabled"]:
        return [{"benchmark": "cuda_ext", "case": "all kernels", "sparserec_s": None, "peer": "", "peer_s": None,
                 "ratio": None, "target": "", "met": None, "notes": f"skipped: {info['reason']}"}]
    from sparserec.cuda_ext import _triton as T

    dev = "cuda"
    sync = torch.cuda.synchronize
    rows = _kernel_rows(torch, T, R, dev, sync, quick)
    return rows + solver_rows(torch, dev, sync, quick)


def _kernel_rows(torch, T, R, dev, sync, quick: bool) -> list[dict]:
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


def solver_rows(torch, dev: str, sync, quick: bool, small: bool = False) -> list[dict]:
    """Batched FISTA and SBL on ``dev`` vs the same calls on torch CPU tensors."""
    import numpy as np

    from sparserec.operators import Matrix
    from sparserec.solvers.bayes import sbl
    from sparserec.solvers.convex import fista

    rows = []
    rng = np.random.default_rng(0)
    B, m, n = (8, 200, 1000) if small else ((64, 2000, 10000) if quick else (256, 2000, 10000))
    A = (rng.standard_normal((m, n)) / np.sqrt(m)).astype(np.float32)
    X = np.zeros((B, n), np.float32)
    for b in range(B):
        X[b, rng.choice(n, n // 100, replace=False)] = rng.standard_normal(n // 100)
    Y = X @ A.T + 0.01 * rng.standard_normal((B, m)).astype(np.float32)

    def run_fista(d):
        Ad, Yd = torch.as_tensor(A, device=d), torch.as_tensor(Y, device=d)
        return lambda: fista(Matrix(Ad), Yd, "l1", lam=0.05, max_iter=100, tol=0, record_every=0,
                             check_every=100)

    t_dev = _timeit(run_fista(dev), sync, 3)
    t_cpu = _timeit(run_fista("cpu"), lambda: None, 1)
    flops = 100 * 2 * 2 * B * m * n  # two products per iteration
    rows.append({"benchmark": "cuda_ext", "case": f"batched fista {B} x ({m} x {n}) float32, 100 it.",
                 "sparserec_s": t_dev, "peer": f"same call, torch CPU ({torch.get_num_threads()} threads)",
                 "peer_s": t_cpu, "ratio": t_cpu / t_dev, "target": ">= 30x", "met": t_cpu / t_dev >= 30,
                 "notes": f"{flops / t_dev / 1e12:.1f} TFLOP/s on the device, {flops / t_cpu / 1e12:.2f} on CPU"})
    B, M, N, K = (4, 100, 400, 8) if small else ((16, 500, 2000, 20) if quick else (64, 500, 2000, 20))
    A, X, Y = _ard_problem(B, M=M, N=N, K=K, rng=rng)  # the ARD benchmark's problem (bench_sbl)
    out = {}

    def run_sbl(d):
        Ad, Yd = torch.as_tensor(A, device=d), torch.as_tensor(Y, device=d)

        def f():
            out[d] = sbl(Ad, Yd, check_every=5, record_every=0)
        return f

    t_dev = _timeit(run_sbl(dev), sync, 3)
    t_cpu = _timeit(run_sbl("cpu"), lambda: None, 1)
    nm = {d: float(np.median(np.sum((r.x.detach().cpu().numpy() - X) ** 2, -1) / np.sum(X ** 2, -1)))
          for d, r in out.items()}
    rows.append({"benchmark": "cuda_ext", "case": f"batched sbl {B} x ({M} x {N}) float64, to convergence",
                 "sparserec_s": t_dev, "peer": f"same call, torch CPU ({torch.get_num_threads()} threads)",
                 "peer_s": t_cpu, "ratio": t_cpu / t_dev, "target": ">= 30x", "met": t_cpu / t_dev >= 30,
                 "notes": f"median NMSE device {nm[dev]:.2e}, CPU {nm['cpu']:.2e}; "
                          f"iterations {int(out[dev].n_iter.max())} / {int(out['cpu'].n_iter.max())}"})
    return rows


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=1))
