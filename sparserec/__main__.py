"""The ``sparserec`` command line (``python -m sparserec ...``)."""

from __future__ import annotations

import argparse
import os
import runpy
import sys
import time
from pathlib import Path


def _gallery(args: argparse.Namespace) -> int:
    root = Path(args.examples)
    scripts = sorted(root.glob("plot_*.py"))
    if not scripts:
        print(f"no examples found in {root}", file=sys.stderr)
        return 2
    os.environ.setdefault("SPARSEREC_FAST", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    failed = []
    for s in scripts:
        t0 = time.perf_counter()
        try:
            runpy.run_path(str(s), run_name="__main__")
            print(f"[ok]   {s.name} ({time.perf_counter() - t0:.1f} s)")
        except Exception as e:  # report and go on: the summary decides the exit code
            failed.append(s.name)
            print(f"[FAIL] {s.name}: {type(e).__name__}: {e}", file=sys.stderr)
        try:
            import matplotlib.pyplot as plt

            plt.close("all")
        except ImportError:
            pass
    print(f"{len(scripts) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def _demo(args: argparse.Namespace) -> int:
    """Two demos on shipped data: a batched deconvolution of the real HST galaxy, then an HDF5
    pipeline run (2,000 sparse signals, chunked, resumable) with its result file inspected."""
    from .datasets.demo import run_demo
    from .datasets.pipeline_demo import run_pipeline_demo

    print("== 1. Deconvolution of the real HST galaxy (shipped data) ==")
    rc = run_demo(out=None if args.out is None else os.path.join(args.out, "deconvolution.npz"))
    if rc:
        return rc
    print("\n== 2. HDF5 dataset pipeline: 2,000 signals, chunk by chunk ==")
    return run_pipeline_demo(out=None if args.out is None else os.path.join(args.out, "pipeline"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sparserec", description="sparserec command line")
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gallery", help="run the example gallery (fast mode by default)")
    g.add_argument("--examples", default="examples", help="folder holding plot_*.py")
    g.set_defaults(func=_gallery)
    d = sub.add_parser("demo", help="run a demo on shipped data")
    d.add_argument("--out", default=None, help="optional output folder for the demos' results")
    d.set_defaults(func=_demo)
    try:
        from .pipelines.cli import add_subcommands
    except ImportError:
        add_subcommands = None
    if add_subcommands is not None:
        add_subcommands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
