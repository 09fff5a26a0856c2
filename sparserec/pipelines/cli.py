"""``sparserec run`` and ``sparserec inspect`` subcommands (hooked in by ``sparserec.__main__``)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

__all__ = ["add_subcommands", "cmd_inspect", "cmd_run"]


def _setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    lg = logging.getLogger("sparserec")
    if not any(getattr(h, "_sparserec_cli", False) for h in lg.handlers):
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        h._sparserec_cli = True  # type: ignore[attr-defined]
        lg.addHandler(h)
    lg.setLevel(min(level, logging.INFO))
    for h in lg.handlers:
        if getattr(h, "_sparserec_cli", False):
            h.setLevel(level)


def cmd_run(args: argparse.Namespace) -> int:
    """Run a pipeline file; exit codes: 0 done, 1 a chunk failed (stop), 2 bad config/input/output."""
    from ..io.arrays import InputError
    from .config import PipelineConfigError
    from .runner import ChunkError, OutputExistsError, ResumeMismatchError, run_pipeline

    _setup_logging(args.verbose)
    try:
        summary = run_pipeline(args.config, resume=args.resume, overwrite=args.overwrite,
                               workers=args.workers, scheduler=args.scheduler, backend=args.backend,
                               progress=False if args.no_progress else None)
    except (PipelineConfigError, InputError, OutputExistsError, ResumeMismatchError) as e:
        print(f"sparserec run: error: {e}", file=sys.stderr)
        return 2
    except ChunkError as e:
        print(f"sparserec run: chunk failed: {e}", file=sys.stderr)
        return 1
    print(summary)
    for err in summary.errors:
        print(f"  skipped: {err}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    """Describe a data or result file (and an interrupted run's progress)."""
    from ..io import describe
    from ..io.arrays import InputError
    from .runner import describe_progress

    path = args.file
    progress = describe_progress(path)
    if not os.path.exists(path):
        if progress is not None:
            print(progress)
            return 0
        print(f"sparserec inspect: error: {path} does not exist", file=sys.stderr)
        return 2
    try:
        print(describe(path, max_attrs=args.max_attrs))
    except InputError as e:
        print(f"sparserec inspect: error: {e}", file=sys.stderr)
        return 2
    if progress is not None:
        print(progress)
    return 0


def add_subcommands(sub: Any) -> None:
    """Add ``run`` and ``inspect`` to the ``sparserec`` argument parser's subparsers."""
    r = sub.add_parser("run", help="run a pipeline (TOML) chunk by chunk, resumable",
                       description="Run a sparserec pipeline file chunk by chunk.  Each finished "
                                   "chunk is committed atomically; an interrupted run continues "
                                   "with --resume.")
    r.add_argument("config", help="pipeline file (TOML)")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue an interrupted run")
    g.add_argument("--overwrite", action="store_true", help="replace an existing output")
    r.add_argument("--workers", type=int, default=None, help="worker processes (local process pool)")
    r.add_argument("--scheduler", default=None, help="dask.distributed scheduler address tcp://host:port")
    r.add_argument("--backend", choices=("inprocess", "processes", "dask", "distributed"), default=None,
                   help="execution backend (default: from the file, else inferred)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument("-v", "--verbose", action="count", default=1, help="more logging (-vv: debug)")
    r.add_argument("-q", "--quiet", dest="verbose", action="store_const", const=0, help="warnings only")
    r.set_defaults(func=cmd_run)
    i = sub.add_parser("inspect", help="show datasets, dims, attributes, provenance and completion",
                       description="Describe an HDF5/NetCDF4 file; for sparserec results also the "
                                   "provenance and the completion record.")
    i.add_argument("file")
    i.add_argument("--max-attrs", type=int, default=12, help="attributes shown per object")
    i.set_defaults(func=cmd_inspect)
