"""Run sparserec's benchmarks and write the results.

Usage::

    python benchmarks/run.py [--quick] [--only NAME ...] [--threads N] [--no-write]

Imports every ``benchmarks/bench_*.py`` module (or only ``bench_NAME.py``), calls its
``run(quick)`` (a list of row dicts, see ``benchmarks/README.md``), prints one table, and writes

- ``benchmarks/results/latest.json``: the rows plus the machine and library versions;
- ``docs/benchmarks.md``: one Markdown table per benchmark group, with the conditions;
- ``docs/benchmarks_tables.inc``: the same tables in reStructuredText (included by the Sphinx
  page ``docs/performance.rst``).

With ``--only``, rows of the other groups already in ``latest.json`` are kept, so the docs always
show every group.  ``--threads N`` pins BLAS/OpenMP and torch to ``N`` threads; it must be applied
before numpy is imported, so this script sets the environment and re-executes itself.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import math
import os
import platform
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "latest.json"
DOC_MD = ROOT / "docs" / "benchmarks.md"
DOC_RST = ROOT / "docs" / "benchmarks_tables.inc"

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
COLUMNS = ("case", "sparserec_s", "peer", "peer_s", "ratio", "target", "met", "notes")


def _pin_threads(n: int) -> None:
    """Set thread counts (environment before numpy loads; torch and threadpoolctl after)."""
    for v in _THREAD_VARS:
        os.environ[v] = str(n)
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:  # pragma: no cover - torch is optional
        pass
    try:  # numpy may already be loaded by site customisations
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        pass


def machine_info(threads: int | None) -> dict[str, Any]:
    """Description of the machine and library versions recorded with every run."""
    import numpy as np

    info: dict[str, Any] = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "threads_requested": threads,
        "numpy": np.__version__,
    }
    try:
        info["load_avg_1min"] = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # pragma: no cover - not on every OS
        pass
    try:
        info["cpu_affinity"] = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on every OS
        pass
    for mod in ("scipy", "torch", "pylops", "sklearn"):
        try:
            m = __import__(mod)
            info[mod] = getattr(m, "__version__", "?")
        except ImportError:
            info[mod] = None
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [{k: p.get(k) for k in ("internal_api", "version", "num_threads")}
                        for p in threadpool_info() if p.get("user_api") == "blas"]
    except ImportError:
        info["blas"] = None
    try:
        import sparserec

        info["sparserec"] = sparserec.__version__
    except ImportError:  # pragma: no cover
        info["sparserec"] = None
    return info


def discover(only: list[str] | None) -> list[Path]:
    mods = sorted(HERE.glob("bench_*.py"))
    if only:
        wanted = {o.removeprefix("bench_").removesuffix(".py") for o in only}
        mods = [m for m in mods if m.stem.removeprefix("bench_") in wanted]
        missing = wanted - {m.stem.removeprefix("bench_") for m in mods}
        if missing:
            raise SystemExit(f"no benchmark module for {sorted(missing)} in {HERE}")
    return mods


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"_sparserec_bench_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.path.insert(0, str(HERE))
    try:
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
    finally:
        sys.path.remove(str(HERE))
    return mod


def _clean(v: Any) -> Any:
    """JSON-safe values (numpy scalars -> Python, NaN/inf -> None)."""
    if hasattr(v, "item") and not isinstance(v, (list, dict, str)):
        try:
            v = v.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(w) for k, w in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(w) for w in v]
    return v


def run_modules(paths: list[Path], quick: bool) -> tuple[list[dict[str, Any]], list[str]]:
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    for p in paths:
        t0 = time.perf_counter()
        print(f"== {p.name} ({'quick' if quick else 'full'})", flush=True)
        try:
            out = _load(p).run(quick)
        except Exception:  # one failing module must not hide the others' results
            tb = traceback.format_exc()
            print(tb, file=sys.stderr)
            errors.append(f"{p.name}: {tb.strip().splitlines()[-1]}")
            continue
        for r in out:
            r = {k: _clean(v) for k, v in r.items()}
            r.setdefault("benchmark", p.stem.removeprefix("bench_"))
            r["module"] = p.stem.removeprefix("bench_")
            if r.get("ratio") is None and r.get("peer_s") and r.get("sparserec_s"):
                r["ratio"] = r["peer_s"] / r["sparserec_s"]
            r["quick"] = quick
            rows.append(r)
        print(f"   {len(out)} rows in {time.perf_counter() - t0:.1f} s", flush=True)
    return rows, errors


# ------------------------------------------------------------------ formatting
def _fmt_time(s: Any) -> str:
    if s is None:
        return ""
    s = float(s)
    if s >= 1.0:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def _fmt(key: str, v: Any) -> str:
    if v is None:
        return ""
    if key.endswith("_s"):
        return _fmt_time(v)
    if key == "ratio":
        return f"{float(v):.2f}×"
    if key == "met":
        return {True: "yes", False: "**no**"}.get(v, "")
    return str(v)


def format_text(rows: list[dict[str, Any]]) -> str:
    cols = ("benchmark",) + COLUMNS[:-1]
    table = [[_fmt(c, r.get(c)).replace("**", "") for c in cols] for r in rows]
    widths = [max([len(c)] + [len(t[i]) for t in table]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(t, widths)) for t in table]
    return "\n".join(lines)


def _groups(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(str(r.get("benchmark", "?")), []).append(r)
    return out


def _conditions(info: dict[str, Any], quick: bool) -> list[str]:
    blas = info.get("blas") or []
    blas_s = ", ".join(f"{b.get('internal_api')} {b.get('version')} ({b.get('num_threads')} threads)"
                       for b in blas) or "unknown"
    thr = info.get("threads_requested")
    return [
        f"Measured {info['date_utc']} on {info['platform']} ({info['processor']}), "
        f"{info['cpu_count']} CPUs visible"
        + (f", {info['cpu_affinity']} usable" if info.get("cpu_affinity") else "")
        + (f", GPU {info['cuda']}" if info.get("cuda") else ", no GPU") + ".",
        f"Threads: {'pinned to ' + str(thr) if thr else 'left at the defaults'}; torch threads: "
        f"{info.get('torch_threads')}; BLAS: {blas_s}.  Load average (1 min) at the start: "
        f"{info.get('load_avg_1min')} (other jobs were running when it exceeds the CPU count).",
        f"Software: Python {info['python']}, sparserec {info.get('sparserec')}, numpy "
        f"{info['numpy']}, scipy {info.get('scipy')}, torch {info.get('torch')}, pylops "
        f"{info.get('pylops')}.",
        "Times are the best of at least 3 repeats (`time.perf_counter`), sparserec and the peer "
        "measured in the same run on the same inputs; `ratio` = peer time / sparserec time "
        "(above 1: sparserec is faster).  `target` is the issue's goal and `met` says whether "
        "this run reached it.  `notes` gives the agreement between the two results and the "
        "conditions." + (" **Quick mode** (reduced sizes)." if quick else ""),
        "The machine may be shared with other jobs: treat single figures as indicative and "
        "compare ratios.",
    ]


def _measured(rs: list[dict[str, Any]], machines: dict[str, dict[str, Any]]) -> str:
    """One line on where and how the rows of a group were measured (their modules' runs)."""
    parts = []
    for mod in dict.fromkeys(str(r.get("module")) for r in rs):
        mi = machines.get(mod)
        if not mi:
            continue
        thr = mi.get("threads_requested")
        parts.append(
            f"{mi.get('date_utc')}, " + ("quick mode" if mi.get("quick") else "full mode")
            + f", {'threads pinned to ' + str(thr) if thr else 'default threads'}, "
            + (f"GPU {mi['cuda']}" if mi.get("cuda") else f"{mi.get('cpu_count')} CPUs, no GPU")
            + f" (`bench_{mod}.py`)")
    return "Measured " + "; ".join(parts) + "." if parts else ""


def format_markdown(rows: list[dict[str, Any]], info: dict[str, Any], quick: bool,
                    errors: list[str], machines: dict[str, dict[str, Any]] | None = None) -> str:
    machines = machines or {}
    out = ["# Benchmarks", "",
           "Generated by `python benchmarks/run.py`; do not edit by hand (raw results: "
           "`benchmarks/results/latest.json`).  Each group says when and how it was measured; "
           "the conditions below are those of the latest run.", ""]
    out += [f"- {c}" for c in _conditions(info, quick)]
    out.append("")
    for g, rs in _groups(rows).items():
        line = _measured(rs, machines)
        out += [f"## {g}", ""] + ([line, ""] if line else [])
        out += ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
        for r in rs:
            cells = [_fmt(c, r.get(c)).replace("|", "\\|").replace("\n", " ") for c in COLUMNS]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    if errors:
        out += ["## Failed modules", ""] + [f"- `{e}`" for e in errors] + [""]
    return "\n".join(out)


def _rst_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("*", "\\*").replace("`", "\\`").replace("|", "\\|")


def format_rst(rows: list[dict[str, Any]], info: dict[str, Any], quick: bool,
               errors: list[str], machines: dict[str, dict[str, Any]] | None = None) -> str:
    def lit(c: str) -> str:
        return re.sub(r"`([^`]+)`", r"``\1``", c)

    out = [".. generated by benchmarks/run.py; do not edit", ""]
    out += ["- " + lit(c) for c in _conditions(info, quick)]
    out.append("")
    for g, rs in _groups(rows).items():
        line = _measured(rs, machines or {})
        out += [g, "-" * max(len(g), 3), ""] + ([lit(line), ""] if line else [])
        out += [".. list-table::", "   :header-rows: 1", ""]
        out.append("   * - " + "\n     - ".join(COLUMNS))
        for r in rs:
            cells = [_rst_escape(_fmt(c, r.get(c)).replace("**", "")) or " " for c in COLUMNS]
            out.append("   * - " + "\n     - ".join(cells))
        out.append("")
    if errors:
        out += ["Failed modules", "--------------", ""] + [f"- ``{e}``" for e in errors] + [""]
    return "\n".join(out)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (CI smoke run)")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run only bench_NAME.py module(s)")
    ap.add_argument("--threads", type=int, default=None,
                    help="pin BLAS/OpenMP and torch to this many threads (default: leave as is)")
    ap.add_argument("--no-write", action="store_true", help="print only; write no files")
    ap.add_argument("--merge", metavar="JSON",
                    help="run nothing: take the rows of the modules that another run's results file "
                         "holds (e.g. one measured on a lent GPU machine), keep the other modules' "
                         "rows, and rewrite the results and the docs tables")
    args = ap.parse_args(argv)
    if args.merge:
        return merge(Path(args.merge))

    if args.threads is not None:
        if args.threads < 1:
            ap.error("--threads must be >= 1")
        if os.environ.get("_SPARSEREC_BENCH_PINNED") != str(args.threads) and __name__ == "__main__":
            env = dict(os.environ, _SPARSEREC_BENCH_PINNED=str(args.threads))
            env.update({v: str(args.threads) for v in _THREAD_VARS})
            os.execve(sys.executable, [sys.executable, str(Path(__file__).resolve()),
                                       *(argv if argv is not None else sys.argv[1:])], env)
        _pin_threads(args.threads)

    sys.path.insert(0, str(ROOT))  # run from a checkout without installing
    paths = discover(args.only)
    info = machine_info(args.threads)
    rows, errors = run_modules(paths, args.quick)
    print()
    print(format_text(rows))
    for e in errors:
        print(f"FAILED {e}", file=sys.stderr)
    if args.no_write:
        return 1 if errors else 0

    ran = {p.stem.removeprefix("bench_") for p in paths}
    info = dict(info, quick=args.quick)
    write_results(rows, ran, info, errors, keep_others=bool(args.only))
    return 1 if errors else 0


def _machines_of(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-module run conditions of a results file (older files: the one run's, for its modules)."""
    if "machines" in payload:
        return dict(payload["machines"])
    mi = dict(payload.get("machine") or {}, quick=payload.get("quick"))
    return {m: mi for m in payload.get("modules", [])}


def write_results(rows: list[dict[str, Any]], ran: set[str], info: dict[str, Any], errors: list[str],
                  keep_others: bool, machines: dict[str, dict[str, Any]] | None = None) -> None:
    """Write ``latest.json`` and the docs tables: ``rows`` replace the rows of the modules ``ran``;
    with ``keep_others`` the other modules' rows (and their run conditions) are kept."""
    kept: list[dict[str, Any]] = []
    known: dict[str, dict[str, Any]] = {}
    if keep_others and RESULTS.exists():
        try:
            old = json.loads(RESULTS.read_text())
            kept = [r for r in old.get("rows", []) if r.get("module") not in ran]
            known = {m: v for m, v in _machines_of(old).items() if m not in ran}
        except (json.JSONDecodeError, OSError):
            kept = []
    known.update(machines if machines is not None else {m: info for m in ran})
    all_rows = kept + rows
    payload = {"machine": info, "quick": info.get("quick"), "modules": sorted(ran), "errors": errors,
               "machines": known, "rows": all_rows}
    _atomic_write(RESULTS, json.dumps(_clean(payload), indent=1) + "\n")
    _atomic_write(DOC_MD, format_markdown(all_rows, info, bool(info.get("quick")), errors, known))
    _atomic_write(DOC_RST, format_rst(all_rows, info, bool(info.get("quick")), errors, known))
    print(f"\nwrote {RESULTS.relative_to(ROOT)}, {DOC_MD.relative_to(ROOT)}, "
          f"{DOC_RST.relative_to(ROOT)}")


def merge(path: Path) -> int:
    """``--merge``: the rows of the modules that ``path`` ran replace ours; nothing is run."""
    try:
        other = json.loads(path.read_text())
        mods = set(other["modules"])
        rows = [r for r in other["rows"] if r.get("module") in mods]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SystemExit(f"--merge: {path} is not a benchmarks results file ({exc})") from exc
    if not rows:
        raise SystemExit(f"--merge: {path} holds no rows of the modules it ran ({sorted(mods)})")
    machines = {m: v for m, v in _machines_of(other).items() if m in mods}
    write_results(rows, mods, dict(other.get("machine") or {}, quick=other.get("quick")),
                  list(other.get("errors", [])), keep_others=True, machines=machines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
