"""Chunked, resumable execution of a pipeline, on one of four backends, with atomic chunk commits.

Design (see also ``docs/pipelines.rst``)
----------------------------------------
*Work*: the first batch dimension of the input is cut into ``n_chunks`` fixed ranges of
``chunk_size`` indices.  A chunk task reads only its range (read-only), solves it and returns
plain numpy arrays.  Tasks run in-process, in a local process pool, on the Dask local
(processes) scheduler or on a ``dask.distributed`` cluster; whatever the backend, only the
driver process writes.

*Commit*: the driver writes each finished chunk to ``<output>.parts/.chunk_NNNNNN.npz.tmp``,
flushes and fsyncs it, renames it atomically to ``chunk_NNNNNN.npz`` and fsyncs the folder.
The set of committed part files *is* the completion record: a chunk is either fully there or
not there, and a file name can exist only once, so no chunk is ever duplicated.  The folder
also holds ``manifest.json`` (config and input checksums, chunk bounds, the list of runs),
written the same way (temporary file, fsync, rename) before any chunk.

*Finish*: when every chunk is committed, the parts are merged chunk by chunk into
``<output>.tmp`` (NetCDF4 via h5netcdf), which is fsynced and renamed to ``<output>``; only
then are the parts removed.  A SIGKILL at any moment therefore leaves either committed parts
(resumable), or a complete output (with possibly stale parts, cleaned on the next call), never a
half-written output under its final name.

*Resume*: ``resume=True`` checks the stored config and input checksums (a different
configuration or a changed input is refused), deletes leftover ``*.tmp`` files, skips every
committed chunk and runs the others.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..io.arrays import DimMap, InputError, LazyArray, _attr_value, map_dims, read_array
from ..io.provenance import file_sha256, jsonable, now_iso, provenance
from ..io.results import SKIPPED, result_variables
from .config import PipelineConfig, PipelineConfigError, load_config
from .models import ForwardModel, PresetNotAvailableError, build_model
from .registry import SolverNotAvailableError, UnknownSolverError, resolve_solver

__all__ = ["ChunkError", "OutputExistsError", "Plan", "PipelineError", "ResumeMismatchError",
           "RunSummary", "describe_progress", "prepare", "run_pipeline", "solve_chunk"]

log = logging.getLogger("sparserec.pipelines")

#: testing hook: seconds to sleep inside every chunk task (fault-injection tests)
_DELAY_ENV = "SPARSEREC_PIPELINE_TEST_DELAY"
_PART_RE = re.compile(r"^chunk_(\d{6})\.npz$")


class PipelineError(RuntimeError):
    """A pipeline run could not proceed."""


class OutputExistsError(PipelineError, FileExistsError):
    """The output (or an interrupted run's parts) exists and neither resume nor overwrite was given."""


class ResumeMismatchError(PipelineError):
    """``--resume`` found an output from a different configuration or input file."""


class ChunkError(PipelineError):
    """A chunk failed (corrupt input, non-finite data, solver error) and ``on_error = "stop"``.

    Attributes
    ----------
    chunk : int
    location : str
        ``file:dataset[dim start:stop]``.
    """

    def __init__(self, message: str, chunk: int, location: str) -> None:
        super().__init__(message)
        self.chunk = chunk
        self.location = location


# ------------------------------------------------------------------------------------- planning
@dataclass
class _Context:
    array: LazyArray
    model: ForwardModel
    dimmap: DimMap
    solver_name: str
    solver: Callable[..., Any]
    params: dict[str, Any]


def _reader(default_file: str, fmt: str) -> Callable[[str, str | None], np.ndarray]:
    def read(name: str, file: str | None) -> np.ndarray:
        f = file or default_file
        return read_array(f, name, format=fmt if f == default_file else "auto")
    return read


def _build_context(data: dict[str, Any]) -> _Context:
    inp, mdl, sol = data["input"], data["model"], data["solver"]
    arr = LazyArray(inp["file"], inp["dataset"], format=inp["format"], dims=inp.get("dims"))
    size = dict(zip(arr.dims, arr.shape))
    for d in inp["batch_dims"] + list(inp.get("data_dims") or []):
        if d not in size:
            arr.close()
            raise InputError(f"{arr.location()}: dimension {d!r} not found (dimensions: {arr.dims}); "
                             "name the stored dimensions with [input] dims = [...] if the file has none")
    dd = inp.get("data_dims") or [d for d in arr.dims if d not in inp["batch_dims"]]
    data_shape = tuple(size[d] for d in dd)
    try:
        model = build_model(mdl, _reader(arr.path, arr.format), data_shape)
    except (PresetNotAvailableError, InputError):
        arr.close()
        raise
    except (ValueError, TypeError) as e:
        arr.close()
        raise PipelineConfigError(f"[model] {e}") from e
    op = model.operator
    dimmap = map_dims(arr.dims, arr.shape, inp["batch_dims"], op.out_shape, inp.get("data_dims"),
                      where=arr.location())
    name = sol["name"] or model.default_solver
    if name is None:
        raise PipelineConfigError("[solver] missing key 'name'")
    try:
        fn = resolve_solver(name)
    except UnknownSolverError as e:
        raise PipelineConfigError(f"[solver] {e}") from e
    except SolverNotAvailableError as e:
        raise PipelineConfigError(f"[solver] {e}") from e
    state_dims = tuple(model.state_dims)
    if len(state_dims) != len(op.in_shape):
        raise PipelineConfigError(f"[model] state_dims {state_dims} must name the {len(op.in_shape)} "
                                  f"dimension(s) of the solution (shape {op.in_shape})")
    clash = set(state_dims) & set(dimmap.batch_dims)
    if clash:
        raise PipelineConfigError(f"[model] state_dims {sorted(clash)} clash with the batch dimensions")
    return _Context(arr, model, dimmap, name, fn, dict(sol["params"]))


@dataclass
class Plan:
    """What a run will do: validated configuration, dimension mapping and chunk bounds."""

    config: PipelineConfig
    dimmap: DimMap
    state_dims: tuple[str, ...]
    state_shape: tuple[int, ...]
    solver_name: str
    bounds: list[tuple[int, int]]
    input_location: str

    @property
    def n_chunks(self) -> int:
        return len(self.bounds)

    @property
    def output(self) -> str:
        return self.config.output["file"]

    @property
    def parts(self) -> str:
        return self.output + ".parts"


def prepare(config: PipelineConfig | str | os.PathLike | dict[str, Any]) -> Plan:
    """Validate a configuration against its input file and build the plan (reads metadata only).

    Raises
    ------
    PipelineConfigError
        Bad configuration, unknown or unavailable solver, bad model.
    sparserec.io.arrays.InputError
        Missing/unreadable input file, missing dataset or dimension, dimensions that do not fit
        the forward model.
    """
    cfg = config if isinstance(config, PipelineConfig) else load_config(config)
    ctx = _build_context(cfg.data)
    try:
        n0 = ctx.dimmap.batch_shape[0]
        cs = cfg.output["chunk_size"]
        bounds = [(a, min(a + cs, n0)) for a in range(0, n0, cs)]
        out = os.path.abspath(cfg.output["file"])
        ins = {os.path.abspath(cfg.input["file"])}
        if cfg.model.get("file"):
            ins.add(os.path.abspath(cfg.model["file"]))
        if out in ins or os.path.abspath(out + ".tmp") in ins:
            raise PipelineConfigError(f"[output] file {out!r} is an input file; inputs are never written")
        return Plan(cfg, ctx.dimmap, tuple(ctx.model.state_dims), tuple(ctx.model.operator.in_shape),
                    ctx.solver_name, bounds, ctx.array.location())
    finally:
        ctx.array.close()


# ------------------------------------------------------------------------------------ chunk task
_CACHE: dict[str, _Context] = {}


def _clear_cache() -> None:
    """Close the cached input handles (the driver calls this at the end of every run)."""
    for ctx in _CACHE.values():
        ctx.array.close()
    _CACHE.clear()


def _context(data_json: str, token: str) -> _Context:
    key = data_json + token
    ctx = _CACHE.get(key)
    if ctx is None:
        _clear_cache()
        ctx = _CACHE[key] = _build_context(json.loads(data_json))
    return ctx


def solve_chunk(data_json: str, token: str, index: int, start: int, stop: int) -> dict[str, Any]:
    """Read and solve one chunk; never raises for chunk-level failures.

    Parameters
    ----------
    data_json : str
        The normalised configuration (:meth:`PipelineConfig.canonical`).
    token : str
        The input file's checksum: long-lived workers (``dask.distributed``) cache the opened
        input and the operator per (configuration, token), so a changed file is reopened.
    index, start, stop : int
        Chunk number and its range along the first batch dimension.

    Returns
    -------
    dict
        ``ok``, ``error`` (message with the chunk's location), ``vars`` (name -> (kind, array)),
        ``params`` (resolved solver parameters), ``n_warnings``, ``seconds``.
    """
    t0 = time.perf_counter()
    ctx = _context(data_json, token)
    dm = ctx.dimmap
    loc = ctx.array.location(dm.chunk_dim, start, stop)
    base: dict[str, Any] = {"chunk": index, "start": start, "stop": stop, "location": loc,
                            "host": socket.gethostname(), "pid": os.getpid()}

    def fail(msg: str) -> dict[str, Any]:
        return dict(base, ok=False, error=msg, vars={}, params={}, n_warnings=0,
                    seconds=time.perf_counter() - t0)

    try:
        block = ctx.array.read_block(dm.chunk_dim, start, stop, order=dm.order)
    except Exception as e:  # noqa: BLE001 - report any read failure with its location
        ctx.array.close()
        return fail(f"chunk {index}: cannot read input at {loc}: {type(e).__name__}: {e}")
    y = dm.to_operator_layout(block)
    nb = len(dm.batch_dims)
    finite = np.isfinite(y).reshape(y.shape[:nb] + (-1,)).all(axis=-1)
    if not finite.all():
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        pos = ", ".join(f"{d}={i + (start if k == 0 else 0)}" for k, (d, i) in
                        enumerate(zip(dm.batch_dims, first)))
        return fail(f"chunk {index}: input at {loc} holds non-finite values (NaN/Inf) in "
                    f"{int((~finite).sum())} problem(s), first at {pos}")
    delay = float(os.environ.get(_DELAY_ENV, "0") or 0)
    if delay > 0:
        time.sleep(delay)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = ctx.solver(ctx.model.operator, y, **ctx.params)
        except Exception as e:  # noqa: BLE001 - a solver failure is a chunk failure
            return fail(f"chunk {index}: solver {ctx.solver_name!r} failed on {loc}: "
                        f"{type(e).__name__}: {e}")
    try:
        variables = result_variables(res)
    except Exception as e:  # noqa: BLE001
        return fail(f"chunk {index}: solver {ctx.solver_name!r} returned an unusable result: {e}")
    n_state = tuple(y.shape[:nb]) + tuple(ctx.model.operator.in_shape)
    est = variables.get("estimate", variables.get("estimate_real"))[1]
    if tuple(est.shape) != n_state:
        return fail(f"chunk {index}: solver returned shape {est.shape}, expected {n_state}")
    return dict(base, ok=True, error=None, vars=variables, params=jsonable(res.params),
                n_warnings=len(caught),
                warning=str(caught[0].message) if caught else None,
                seconds=time.perf_counter() - t0)


# ------------------------------------------------------------------------------ commit machinery
def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write_json(path: str, obj: Any) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(os.path.dirname(path))


def _part_path(parts: str, index: int) -> str:
    return os.path.join(parts, f"chunk_{index:06d}.npz")


def _commit(parts: str, config_sha: str, res: dict[str, Any]) -> None:
    """Write one chunk's part file atomically (tmp -> fsync -> rename -> fsync dir)."""
    i = res["chunk"]
    meta = {k: res.get(k) for k in ("chunk", "start", "stop", "ok", "error", "params", "n_warnings",
                                   "warning", "seconds", "host", "pid", "location")}
    meta["config_sha256"] = config_sha
    meta["kinds"] = {k: kind for k, (kind, _) in res["vars"].items()}
    arrays = {f"v_{k}": a for k, (_, a) in res["vars"].items()}
    final = _part_path(parts, i)
    tmp = os.path.join(parts, f".chunk_{i:06d}.npz.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, __meta__=np.array(json.dumps(jsonable(meta))), **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    _fsync_dir(parts)


def _load_part(path: str, with_arrays: bool = True) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["__meta__"]))
        arrays = {k[2:]: z[k] for k in z.files if k.startswith("v_")} if with_arrays else {}
    return meta, arrays


def _scan_parts(plan: Plan, config_sha: str) -> dict[int, dict[str, Any]]:
    """Committed chunks (index -> meta); removes temporary leftovers and invalid parts."""
    done: dict[int, dict[str, Any]] = {}
    for name in sorted(os.listdir(plan.parts)):
        p = os.path.join(plan.parts, name)
        if name.endswith(".tmp"):
            os.remove(p)
            continue
        m = _PART_RE.match(name)
        if not m:
            continue
        i = int(m.group(1))
        try:
            meta, _ = _load_part(p, with_arrays=False)
            ok = (meta.get("config_sha256") == config_sha and meta.get("chunk") == i
                  and i < plan.n_chunks and (meta["start"], meta["stop"]) == tuple(plan.bounds[i]))
        except Exception:  # noqa: BLE001 - unreadable part: redo the chunk
            ok = False
        if ok:
            done[i] = meta
        else:
            log.warning("discarding invalid part file %s; chunk %d will be recomputed", p, i)
            os.remove(p)
    return done


# ------------------------------------------------------------------------------------- backends
Task = tuple[str, str, int, int, int]


def _run_inprocess(tasks: list[Task], workers: int, scheduler: str | None) -> Iterator[dict[str, Any]]:
    for t in tasks:
        yield solve_chunk(*t)


def _spawn_pool(workers: int) -> Any:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))


def _run_processes(tasks: list[Task], workers: int, scheduler: str | None) -> Iterator[dict[str, Any]]:
    from concurrent.futures import FIRST_COMPLETED, wait

    pool = _spawn_pool(workers)
    pending: set[Any] = set()
    it = iter(tasks)
    try:
        for t in it:
            pending.add(pool.submit(solve_chunk, *t))
            if len(pending) >= 2 * workers:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                nxt = next(it, None)
                if nxt is not None:
                    pending.add(pool.submit(solve_chunk, *nxt))
                yield fut.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(tasks: list[Task], workers: int, scheduler: str | None) -> Iterator[dict[str, Any]]:
    import dask

    pool = _spawn_pool(workers)
    wave = 2 * workers
    try:
        for k in range(0, len(tasks), wave):
            jobs = [dask.delayed(solve_chunk, pure=True)(*t) for t in tasks[k:k + wave]]
            yield from dask.compute(*jobs, scheduler="processes", pool=pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_distributed(tasks: list[Task], workers: int, scheduler: str | None) -> Iterator[dict[str, Any]]:
    import dask
    from distributed import Client, as_completed

    client = Client(scheduler)
    try:
        n_workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
    except TypeError:  # older distributed
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    limit = 2 * n_workers
    it = iter(tasks)
    futures = []
    try:
        for t in it:
            futures.append(client.compute(dask.delayed(solve_chunk, pure=True)(*t)))
            if len(futures) >= limit:
                break
        ac = as_completed(futures)
        for fut in ac:
            res = fut.result()
            nxt = next(it, None)
            if nxt is not None:
                ac.add(client.compute(dask.delayed(solve_chunk, pure=True)(*nxt)))
            yield res
    finally:
        client.close()


_BACKENDS: dict[str, Callable[[list[Task], int, str | None], Iterator[dict[str, Any]]]] = {
    "inprocess": _run_inprocess,
    "processes": _run_processes,
    "dask": _run_dask,
    "distributed": _run_distributed,
}


# --------------------------------------------------------------------------------------- merging
def _fill(dtype: np.dtype) -> Any:
    if dtype.kind == "f":
        return np.nan
    if dtype.kind in "iu":
        return SKIPPED if dtype.kind == "i" else 0
    return 0


def _merge(plan: Plan, manifest: dict[str, Any], done: dict[int, dict[str, Any]]) -> None:
    h5netcdf = __import__("sparserec.io._deps", fromlist=["require"]).require("h5netcdf")
    cfg = plan.config
    dm = plan.dimmap
    specs: dict[str, tuple[str, np.dtype]] = {}
    params: dict[str, Any] = dict(cfg.solver["params"])
    for i in sorted(done):
        if done[i]["ok"]:
            meta, arrs = _load_part(_part_path(plan.parts, i))
            specs = {k: (meta["kinds"][k], a.dtype) for k, a in arrs.items()}
            for k, v in (meta.get("params") or {}).items():
                if not (k in params and isinstance(v, str) and v.startswith("<array")):
                    params[k] = v
            break
    if not specs:
        specs = {"estimate": ("state", np.dtype("float64")), "status": ("batch", np.dtype("int8")),
                 "converged": ("batch", np.dtype("uint8")), "n_iter": ("batch", np.dtype("int32"))}
    tmp = plan.output + ".tmp"
    if os.path.exists(tmp):
        os.remove(tmp)
    bsizes = dict(zip(dm.batch_dims, dm.batch_shape))
    ssizes = dict(zip(plan.state_dims, plan.state_shape))
    cs = cfg.output["chunk_size"]
    errors = []
    with h5netcdf.File(tmp, "w") as f:
        f.dimensions = {**bsizes, **ssizes, "chunk": plan.n_chunks}
        vs = {}
        for k, (kind, dt) in specs.items():
            dims = dm.batch_dims + (plan.state_dims if kind == "state" else ())
            shape = tuple({**bsizes, **ssizes}[d] for d in dims)
            chunks = (min(cs, shape[0]),) + shape[1:]
            vs[k] = f.create_variable(k, dims, dt, chunks=chunks, fillvalue=_fill(dt))
        cst = f.create_variable("chunk_status", ("chunk",), np.int8)
        cstart = f.create_variable("chunk_start", ("chunk",), np.int64)
        cstop = f.create_variable("chunk_stop", ("chunk",), np.int64)
        cst.attrs["description"] = "0: solved, 1: skipped (on_error = 'skip'); see chunk_errors"
        vs["status"].attrs["description"] = ("sparserec.Status code per problem (0 CONVERGED, 1 MAX_ITER, "
                                             "2 CALLBACK_STOP, 3 DIVERGED, 4 NONFINITE), -1: chunk skipped")
        status = np.zeros(plan.n_chunks, np.int8)
        for i, (a, b) in enumerate(plan.bounds):
            meta = done[i]
            if meta["ok"]:
                _, arrs = _load_part(_part_path(plan.parts, i))
                for k, v in vs.items():
                    if k in arrs:
                        v[a:b] = arrs[k]
            else:
                status[i] = 1
                errors.append({"chunk": i, "start": a, "stop": b, "error": meta["error"]})
                for v in vs.values():
                    v[a:b] = np.full((b - a,) + v.shape[1:], _fill(v.dtype), dtype=v.dtype)
        cst[:] = status
        cstart[:] = np.array([a for a, _ in plan.bounds], np.int64)
        cstop[:] = np.array([b for _, b in plan.bounds], np.int64)
        attrs = provenance(
            plan.solver_name, params, input_file=cfg.input["file"], input_dataset=cfg.input["dataset"],
            input_sha256=manifest["input_sha256"], start_time=manifest["created"], end_time=now_iso(),
            config=cfg.canonical(), config_sha256=manifest["config_sha256"],
            model_type=cfg.model["type"], batch_dims=list(dm.batch_dims), data_dims=list(dm.data_dims),
            state_dims=list(plan.state_dims), chunk_dim=dm.chunk_dim, chunk_size=cs,
            n_chunks=plan.n_chunks, n_chunks_skipped=len(errors), on_error=cfg.output["on_error"],
            chunk_errors=errors, runs=manifest["runs"], complete=1)
        for k, v in attrs.items():
            f.attrs[k] = v
    _fsync_file(tmp)
    os.replace(tmp, plan.output)
    _fsync_dir(os.path.dirname(os.path.abspath(plan.output)))
    shutil.rmtree(plan.parts, ignore_errors=True)


# ------------------------------------------------------------------------------------ the driver
@dataclass
class RunSummary:
    """What :func:`run_pipeline` did.

    Attributes
    ----------
    output : str
    n_chunks : int
    n_resumed : int
        Chunks already committed by an earlier run (skipped now).
    n_computed : int
        Chunks computed by this call.
    n_skipped : int
        Chunks skipped because of errors (``on_error = "skip"``), over all runs.
    errors : list of str
    seconds : float
    n_problems : int
    already_complete : bool
    """

    output: str
    n_chunks: int
    n_resumed: int = 0
    n_computed: int = 0
    n_skipped: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    n_problems: int = 0
    already_complete: bool = False

    def __str__(self) -> str:
        if self.already_complete:
            return f"{self.output}: already complete ({self.n_chunks} chunks)"
        rate = self.n_problems / self.seconds if self.seconds > 0 else float("nan")
        return (f"{self.output}: {self.n_chunks} chunks ({self.n_resumed} resumed, {self.n_computed} "
                f"computed, {self.n_skipped} skipped) in {self.seconds:.2f} s, {rate:,.0f} problems/s")


def _read_result_attrs(path: str) -> dict[str, Any]:
    from ..io._deps import require

    h5py = require("h5py")
    try:
        with h5py.File(path, "r") as f:
            return {k: _attr_value(v) for k, v in f.attrs.items()}
    except OSError:
        return {}


def _remove_output(plan: Plan) -> None:
    for p in (plan.output, plan.output + ".tmp"):
        if os.path.exists(p):
            os.remove(p)
    if os.path.isdir(plan.parts):
        shutil.rmtree(plan.parts)


def run_pipeline(config: PipelineConfig | str | os.PathLike | dict[str, Any], *, resume: bool = False,
                 overwrite: bool = False, workers: int | None = None, scheduler: str | None = None,
                 backend: str | None = None, progress: bool | None = None) -> RunSummary:
    """Run a pipeline chunk by chunk, committing each chunk atomically.

    Parameters
    ----------
    config : PipelineConfig, path to a TOML file, or dict
    resume : bool
        Continue an interrupted run (skip committed chunks).  Refused if the output came from a
        different configuration or input file.
    overwrite : bool
        Delete an existing output (and an interrupted run's parts) first.
    workers : int, optional
        Number of worker processes (``processes`` / ``dask`` backends).
    scheduler : str, optional
        ``dask.distributed`` scheduler address (implies the ``distributed`` backend).
    backend : {"inprocess", "processes", "dask", "distributed"}, optional
    progress : bool, optional
        Show a tqdm progress bar.

    Returns
    -------
    RunSummary

    Raises
    ------
    PipelineConfigError, sparserec.io.arrays.InputError
        Invalid configuration or input (nothing is written).
    OutputExistsError
        The output exists (or an interrupted run's parts) without ``resume``/``overwrite``.
    ResumeMismatchError
        ``resume`` with a different configuration or changed input.
    ChunkError
        A chunk failed and ``on_error = "stop"`` (chunks committed so far are kept).
    """
    t0 = time.perf_counter()
    if isinstance(config, PipelineConfig):  # re-validate with the execution overrides applied
        exe = dict(config.execution)
        if scheduler and backend is None:
            exe["backend"] = None
        cfg = load_config({**config.data, "execution": {k: v for k, v in exe.items() if v is not None}},
                          workers=workers, scheduler=scheduler, backend=backend, progress=progress)
        cfg.source = config.source
    else:
        cfg = load_config(config, workers=workers, scheduler=scheduler, backend=backend, progress=progress)
    if resume and overwrite:
        raise PipelineConfigError("--resume and --overwrite exclude each other")
    plan = prepare(cfg)
    sha = cfg.sha256
    summary = RunSummary(plan.output, plan.n_chunks, n_problems=0)
    if os.path.exists(plan.output):
        if overwrite:
            _remove_output(plan)
        elif resume:
            attrs = _read_result_attrs(plan.output)
            if attrs.get("config_sha256") != sha:
                raise ResumeMismatchError(
                    f"{plan.output} exists but was produced by a different configuration "
                    f"(config sha256 {attrs.get('config_sha256', '?')[:12]}... != {sha[:12]}...); "
                    "use --overwrite or another output file")
            if int(attrs.get("complete", 0)) == 1:
                if os.path.isdir(plan.parts):
                    shutil.rmtree(plan.parts)
                summary.already_complete = True
                summary.seconds = time.perf_counter() - t0
                log.info("%s is already complete", plan.output)
                return summary
        else:
            raise OutputExistsError(f"output {plan.output} exists; use --resume to continue it or "
                                    "--overwrite to replace it")
    elif os.path.isdir(plan.parts) and not resume:
        if overwrite:
            _remove_output(plan)
        else:
            raise OutputExistsError(f"an interrupted run left {plan.parts}; use --resume to finish it or "
                                    "--overwrite to start again")
    out_dir = os.path.dirname(os.path.abspath(plan.output))
    if not os.path.isdir(out_dir):
        raise PipelineConfigError(f"[output] folder {out_dir!r} does not exist")

    handler = logging.FileHandler(plan.output + ".log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.setLevel(logging.INFO)
    log.addHandler(handler)
    old_level = log.level
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)
    try:
        return _execute(plan, cfg, sha, resume, summary, t0)
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
        handler.close()


def _execute(plan: Plan, cfg: PipelineConfig, sha: str, resume: bool, summary: RunSummary,
             t0: float) -> RunSummary:
    input_sha = file_sha256(cfg.input["file"])
    model_sha = file_sha256(cfg.model["file"]) if cfg.model.get("file") else None
    run_rec = {"start": now_iso(), "host": socket.gethostname(), "pid": os.getpid(),
               "backend": cfg.execution["backend"], "workers": cfg.execution["workers"]}
    man_path = os.path.join(plan.parts, "manifest.json")
    manifest: dict[str, Any] | None = None
    if os.path.exists(man_path):
        try:
            with open(man_path) as fh:
                manifest = json.load(fh)
        except (OSError, ValueError):
            manifest = None
    if manifest is not None:
        if manifest.get("config_sha256") != sha:
            raise ResumeMismatchError(
                f"the interrupted run in {plan.parts} used a different configuration "
                f"(config sha256 {str(manifest.get('config_sha256'))[:12]}... != {sha[:12]}...); refusing "
                "to mix results: use --overwrite to start again")
        if manifest.get("input_sha256") != input_sha or manifest.get("model_sha256") != model_sha:
            raise ResumeMismatchError(
                f"the input file changed since the interrupted run in {plan.parts} (sha256 differs); "
                "refusing to mix results: use --overwrite to start again")
        manifest["runs"].append(run_rec)
    else:
        os.makedirs(plan.parts, exist_ok=True)
        for name in os.listdir(plan.parts):  # no manifest: nothing can have been committed
            os.remove(os.path.join(plan.parts, name))
        manifest = {"config_sha256": sha, "input_sha256": input_sha, "model_sha256": model_sha,
                    "created": run_rec["start"], "n_chunks": plan.n_chunks,
                    "bounds": [list(b) for b in plan.bounds], "config": cfg.data, "runs": [run_rec]}
    _atomic_write_json(man_path, manifest)
    done = _scan_parts(plan, sha)
    summary.n_resumed = len(done)
    todo = [i for i in range(plan.n_chunks) if i not in done]
    data_json = cfg.canonical()
    tasks: list[Task] = [(data_json, input_sha, i, *plan.bounds[i]) for i in todo]
    exe = cfg.execution
    log.info("run %s: %d chunk(s) of %d along %r, %d already committed, backend %s", cfg.source or "config",
             plan.n_chunks, cfg.output["chunk_size"], plan.dimmap.chunk_dim, len(done), exe["backend"])
    bar = _progress(plan.n_chunks, len(done), bool(exe["progress"]))
    on_error = cfg.output["on_error"]
    n_prob_per_idx = int(np.prod(plan.dimmap.batch_shape[1:], dtype=np.int64))
    try:
        results: Iterable[dict[str, Any]] = _BACKENDS[exe["backend"]](tasks, int(exe["workers"]),
                                                                     exe["scheduler"])
        for res in results:
            if not res["ok"]:
                log.error("%s", res["error"])
                if on_error == "stop":
                    if hasattr(results, "close"):
                        results.close()
                    raise ChunkError(f"{res['error']} (on_error = 'stop'; {len(done)} chunk(s) committed "
                                     "are kept: fix the input and rerun with --overwrite)",
                                     res["chunk"], res["location"])
                log.warning("skipping chunk %d (on_error = 'skip')", res["chunk"])
            elif res.get("n_warnings"):
                log.warning("chunk %d: %d warning(s), e.g. %s", res["chunk"], res["n_warnings"],
                            res["warning"])
            _commit(plan.parts, sha, res)
            done[res["chunk"]] = {"ok": res["ok"], "error": res["error"]}
            summary.n_computed += 1
            summary.n_problems += (res["stop"] - res["start"]) * n_prob_per_idx
            if bar is not None:
                bar.update(1)
    finally:
        _clear_cache()
        if bar is not None:
            bar.close()
    summary.errors = [m["error"] for m in done.values() if not m["ok"]]
    summary.n_skipped = len(summary.errors)
    _merge(plan, manifest, done)
    summary.seconds = time.perf_counter() - t0
    log.info("%s", summary)
    return summary


def _progress(total: int, initial: int, show: bool) -> Any:
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total, initial=initial, unit="chunk", desc="sparserec run", leave=False)


def describe_progress(output: str | os.PathLike) -> str | None:
    """Describe an interrupted run's committed chunks (``<output>.parts``), or None if there is none."""
    parts = os.fspath(output) + ".parts"
    man = os.path.join(parts, "manifest.json")
    if not os.path.exists(man):
        return None
    with open(man) as fh:
        manifest = json.load(fh)
    n = manifest["n_chunks"]
    names = [m for m in os.listdir(parts) if _PART_RE.match(m)]
    skipped = 0
    for name in names:
        try:
            meta, _ = _load_part(os.path.join(parts, name), with_arrays=False)
            skipped += not meta["ok"]
        except Exception:  # noqa: BLE001
            pass
    lines = [f"{output}: INCOMPLETE run (resume with `sparserec run CONFIG --resume`)",
             f"  committed chunks: {len(names)} of {n} ({skipped} skipped)",
             f"  config sha256: {manifest['config_sha256']}",
             f"  input sha256: {manifest['input_sha256']}",
             f"  started: {manifest['created']}; runs: {len(manifest['runs'])}"]
    return "\n".join(lines)
