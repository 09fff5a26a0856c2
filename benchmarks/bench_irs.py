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
    return rows


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=1))
