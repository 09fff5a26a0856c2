"""scATAC streaming benchmark: 1,000,000 cells x 50,000 peaks (quick: 200,000 cells) through peak
statistics, TF-IDF, a randomized-SVD sketch pass and non-zero tokenization, in a fresh process;
reports cells/s and the peak RSS growth (target < 400 MB)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import json, resource, sys
    import numpy as np, scipy.sparse, h5py
    from sparserec.applications.scatac.stream import stream_job
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = stream_job(sys.argv[1], 20_000)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rss_mb": (peak - base) / 1024, "seconds": out["seconds"],
                      "cells_per_s": out["cells_per_s"], "n_tokens": out["n_tokens"]}))
""")


def run(quick: bool) -> list[dict]:
    from sparserec.applications.scatac.synthetic import write_synthetic_h5ad

    n_cells = 200_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "cells.h5ad"
        write_synthetic_h5ad(str(path), n_cells, 50_000, nnz_per_cell=10, chunk_size=50_000, seed=0)
        res = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True, text=True,
                             check=True)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    return [{
        "benchmark": "scatac",
        "case": f"stream {n_cells:,} cells x 50,000 peaks (10 nnz/cell), chunk 20,000",
        "sparserec_s": out["seconds"], "peer": "", "peer_s": None, "ratio": None,
        "target": "extra RSS < 400 MB", "met": out["rss_mb"] < 400,
        "notes": f"{out['cells_per_s']:,.0f} cells/s, peak RSS growth {out['rss_mb']:.0f} MB, "
                 f"{out['n_tokens']:,} tokens",
    }]


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=1))
