"""IRS-MIMO experiment timing and accuracy (issue 7): the paper's configuration, 5 SNRs, the three
Kronecker methods; full mode 50 trials per SNR (target: < 10 minutes on a 2-core CPU), quick mode 5.

Rows report the wall time of the whole experiment and, per method, the mean / median NMSE at 20 dB
next to the authors' released values (mean 0.10 / 0.070 / 0.0029 for SVD / AM / PC-KroSBL).
"""

from __future__ import annotations

import json
import sys
import time

PAPER_MEAN_20DB = {"svd-krosbl": 0.10, "am-krosbl": 0.070, "pc-krosbl": 0.0029}


def run(quick: bool) -> list[dict]:
    import warnings

    from sparserec.applications.irs_mimo.experiment import run_experiment

    trials = 5 if quick else 50
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    ds = run_experiment(snrs=[4, 8, 12, 16, 20], trials=trials, n_symbols=10_000 if quick else 100_000)
    wall = time.perf_counter() - t0
    rows = [{"benchmark": "irs", "case": f"5 SNRs x {trials} trials x 3 Kronecker methods (paper config)",
             "sparserec_s": wall, "peer": "", "peer_s": None, "ratio": None,
             "target": "< 600 s for 50 trials" if not quick else "", "met": (wall < 600) if not quick else None,
             "notes": f"mean solve time per trial {float(ds.seconds.mean()):.2f} s"}]
    for m in ds.method.values:
        sel = ds.nmse.sel({"method": m}).sel(snr=20.0)
        rows.append({"benchmark": "irs", "case": f"{m} NMSE at 20 dB ({trials} trials)",
                     "sparserec_s": float(ds.seconds.sel({"method": m}).mean()), "peer": "authors' released mean",
                     "peer_s": None, "ratio": None, "target": "PC: within 1.5x of 0.0029" if m == "pc-krosbl" else "",
                     "met": (float(sel.mean()) <= 1.5 * 0.0029) if m == "pc-krosbl" else None,
                     "notes": f"mean {float(sel.mean()):.4f}, median {float(sel.median()):.4f} "
                              f"(paper mean {PAPER_MEAN_20DB[str(m)]})"})
    return rows + _device_rows(quick)


def _device_rows(quick: bool) -> list[dict]:
    """Issue 7 on a GPU: the three Kronecker methods at 20 dB with one shared training design, each
    SNR's realisations solved as one batch on the device, against the default experiment (one
    realisation at a time, numpy) on this machine's CPU.  ``SPARSEREC_BENCH_DRY_RUN=1`` runs the
    device path on torch CPU at a small size (to check it without a GPU; figures meaningless)."""
    import os
    import warnings

    from sparserec.applications.irs_mimo.experiment import run_experiment

    dry = os.environ.get("SPARSEREC_BENCH_DRY_RUN") == "1"
    case = "IRS 20 dB, 3 Kronecker methods: realisations batched on the GPU vs the CPU experiment"
    try:
        import torch
    except ImportError:
        torch = None
    if torch is None or not (dry or torch.cuda.is_available()):
        why = "torch not installed" if torch is None else "no CUDA device"
        return [{"benchmark": "irs", "case": case, "sparserec_s": None, "peer": "", "peer_s": None,
                 "ratio": None, "target": "report", "met": None, "notes": f"skipped: {why}"}]
    dev = "cpu" if dry else "cuda"
    trials = 3 if dry else (10 if quick else 50)
    kw = dict(snrs=[20], methods=["svd-krosbl", "am-krosbl", "pc-krosbl"], n_symbols=1000)
    warnings.simplefilter("ignore")

    def sync() -> None:
        if dev == "cuda":
            torch.cuda.synchronize()

    run_experiment(trials=2, shared_training=True, device=dev, **kw)  # warm-up (context, kernels)
    sync()
    t0 = time.perf_counter()
    gpu = run_experiment(trials=trials, shared_training=True, device=dev, **kw)
    sync()
    t_dev = time.perf_counter() - t0
    t0 = time.perf_counter()
    cpu = run_experiment(trials=trials, **kw)
    t_cpu = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_experiment(trials=trials, shared_training=True, **kw)
    t_cpub = time.perf_counter() - t0

    def med(ds) -> str:
        return ", ".join(f"{m.split('-')[0]} {float(ds.nmse.sel({'method': m}).median()):.4f}"
                         for m in ds.method.values)

    name = torch.cuda.get_device_name(0) if dev == "cuda" else "torch CPU (dry run)"
    return [{"benchmark": "irs", "case": f"{case} ({trials} realisations)", "sparserec_s": t_dev,
             "peer": "the default experiment on the CPU (numpy, one realisation at a time)",
             "peer_s": t_cpu, "ratio": t_cpu / t_dev, "target": "report", "met": None,
             "notes": f"device {name}; batched on the CPU (numpy, shared design) {t_cpub:.1f} s; "
                      f"median NMSE device (shared design) {med(gpu)}; CPU experiment {med(cpu)}"}]


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=1))
