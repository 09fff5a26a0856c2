"""Pipeline configuration: TOML loading, validation with clear errors, normalisation, checksum."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from .models import MODEL_TYPES, PRESETS

__all__ = ["PipelineConfig", "PipelineConfigError", "load_config"]

BACKENDS = ("inprocess", "processes", "dask", "distributed")
ON_ERROR = ("stop", "skip")

_ALLOWED = {
    "input": {"file", "dataset", "variable", "format", "dims", "batch_dim", "batch_dims", "data_dims"},
    "model": {"type", "dataset", "file", "factors", "psf", "preset", "state_dims", "transpose", "layout",
              "flat", "image_shape", "params"},
    "solver": {"name", "params"},
    "output": {"file", "chunk_size", "on_error"},
    "execution": {"backend", "workers", "scheduler", "progress"},
}
_REQUIRED_BY_MODEL = {"matrix": ("dataset",), "endmembers": ("dataset",), "kronecker": ("factors",),
                      "psf": ("psf",), "preset": ("preset",)}


class PipelineConfigError(ValueError):
    """The pipeline configuration is invalid (the message lists every problem found)."""


def _toml() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    try:
        import tomli
    except ImportError as e:  # pragma: no cover - python 3.10 without tomli
        raise ImportError("reading pipeline files on Python 3.10 needs tomli: "
                          "pip install 'sparserec[io]'") from e
    return tomli


@dataclass
class PipelineConfig:
    """A validated, normalised pipeline configuration.

    Attributes
    ----------
    data : dict
        Normalised tables ``input``, ``model``, ``solver``, ``output`` (absolute paths, defaults
        filled in).  These determine the result; :attr:`sha256` is computed from them.
    execution : dict
        ``backend``, ``workers``, ``scheduler``, ``progress``: how to run, not what to compute
        (not part of the checksum, so a run may resume on another backend).
    source : str or None
        The TOML file the configuration came from.
    """

    data: dict[str, Any]
    execution: dict[str, Any] = field(default_factory=dict)
    source: str | None = None

    @property
    def sha256(self) -> str:
        """SHA-256 of the canonical JSON of :attr:`data` (sorted keys)."""
        return hashlib.sha256(self.canonical().encode()).hexdigest()

    def canonical(self) -> str:
        return json.dumps(self.data, sort_keys=True, separators=(",", ":"))

    @property
    def input(self) -> dict[str, Any]:
        return self.data["input"]

    @property
    def model(self) -> dict[str, Any]:
        return self.data["model"]

    @property
    def solver(self) -> dict[str, Any]:
        return self.data["solver"]

    @property
    def output(self) -> dict[str, Any]:
        return self.data["output"]


def _str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(s, str) for s in v)


def load_config(source: str | os.PathLike | dict[str, Any], base_dir: str | os.PathLike | None = None,
                **overrides: Any) -> PipelineConfig:
    """Load and validate a pipeline configuration.

    Parameters
    ----------
    source : path or dict
        A TOML file, or the same tables as a dict.
    base_dir : path, optional
        Folder that relative paths refer to (default: the TOML file's folder, or the working
        directory for a dict).
    **overrides
        Execution settings overriding the ``[execution]`` table (``backend``, ``workers``,
        ``scheduler``, ``progress``); ``None`` values are ignored.

    Returns
    -------
    PipelineConfig

    Raises
    ------
    PipelineConfigError
        Missing tables or keys, unknown keys (typos), wrong types or values.  Every problem
        found is listed.
    """
    src: str | None = None
    if isinstance(source, dict):
        raw = copy.deepcopy(source)
        base = os.fspath(base_dir) if base_dir is not None else os.getcwd()
    else:
        src = os.path.abspath(os.fspath(source))
        if not os.path.exists(src):
            raise PipelineConfigError(f"pipeline file {src!r} does not exist")
        try:
            with open(src, "rb") as fh:
                raw = _toml().load(fh)
        except Exception as e:  # noqa: BLE001 - TOMLDecodeError, UnicodeDecodeError, OSError
            raise PipelineConfigError(f"cannot parse pipeline file {src!r}: {e}") from e
        base = os.fspath(base_dir) if base_dir is not None else os.path.dirname(src)
    where = src or "pipeline config"
    errs: list[str] = []

    def path(p: Any) -> str:
        return os.path.normpath(os.path.join(base, os.path.expanduser(str(p))))

    for t in raw:
        if t not in _ALLOWED:
            errs.append(f"unknown table [{t}] (tables: {', '.join(_ALLOWED)})")
    tables: dict[str, dict[str, Any]] = {}
    for t in _ALLOWED:
        v = raw.get(t, {})
        if not isinstance(v, dict):
            errs.append(f"[{t}] must be a table")
            v = {}
        for k in v:
            if k not in _ALLOWED[t]:
                errs.append(f"[{t}] unknown key {k!r} (allowed: {', '.join(sorted(_ALLOWED[t]))})")
        tables[t] = v
    for t in ("input", "model", "output"):
        if t not in raw:
            errs.append(f"missing table [{t}]")

    inp, mdl, sol, out, exe = (tables[t] for t in ("input", "model", "solver", "output", "execution"))
    ninp: dict[str, Any] = {}
    if "file" not in inp:
        errs.append("[input] missing key 'file'")
    else:
        ninp["file"] = path(inp["file"])
    ds = inp.get("dataset", inp.get("variable"))
    if ds is None:
        errs.append("[input] missing key 'dataset' (HDF5 dataset path or NetCDF variable name)")
    elif not isinstance(ds, str):
        errs.append("[input] 'dataset' must be a string")
    ninp["dataset"] = ds
    fmt = inp.get("format", "auto")
    if fmt not in ("auto", "hdf5", "netcdf"):
        errs.append(f"[input] format must be 'auto', 'hdf5' or 'netcdf', got {fmt!r}")
    ninp["format"] = fmt
    bd = inp.get("batch_dims", inp.get("batch_dim"))
    if bd is None:
        errs.append("[input] missing key 'batch_dims' (the dimension(s) enumerating problems)")
    elif isinstance(bd, str):
        bd = [bd]
    elif not _str_list(bd) or not bd:
        errs.append("[input] 'batch_dims' must be a dimension name or a non-empty list of names")
    ninp["batch_dims"] = bd
    for k in ("dims", "data_dims"):
        v = inp.get(k)
        if v is not None and not _str_list(v):
            errs.append(f"[input] {k!r} must be a list of dimension names")
        ninp[k] = v

    nmdl: dict[str, Any] = {}
    mt = mdl.get("type")
    if mt is None:
        errs.append(f"[model] missing key 'type' (one of {', '.join(MODEL_TYPES)})")
    elif mt not in MODEL_TYPES:
        errs.append(f"[model] unknown type {mt!r} (one of {', '.join(MODEL_TYPES)})")
    else:
        for k in _REQUIRED_BY_MODEL[mt]:
            if k not in mdl:
                errs.append(f"[model] type {mt!r} needs key {k!r}")
    nmdl["type"] = mt
    for k in ("dataset", "psf", "preset", "layout"):
        if k in mdl:
            if not isinstance(mdl[k], str):
                errs.append(f"[model] {k!r} must be a string")
            nmdl[k] = mdl[k]
    if mt == "preset" and isinstance(mdl.get("preset"), str) and mdl["preset"] not in PRESETS:
        errs.append(f"[model] unknown application preset {mdl['preset']!r} (presets: {', '.join(PRESETS)})")
    if "factors" in mdl:
        if not _str_list(mdl["factors"]) or not mdl["factors"]:
            errs.append("[model] 'factors' must be a non-empty list of dataset names")
        nmdl["factors"] = mdl["factors"]
    if "file" in mdl:
        nmdl["file"] = path(mdl["file"])
    for k in ("state_dims",):
        if k in mdl:
            if not _str_list(mdl[k]):
                errs.append(f"[model] {k!r} must be a list of dimension names")
            nmdl[k] = mdl[k]
    for k in ("transpose", "flat"):
        if k in mdl:
            if not isinstance(mdl[k], bool):
                errs.append(f"[model] {k!r} must be true or false")
            nmdl[k] = mdl[k]
    if "image_shape" in mdl:
        v = mdl["image_shape"]
        if not (isinstance(v, list) and all(isinstance(s, int) and s > 0 for s in v)):
            errs.append("[model] 'image_shape' must be a list of positive integers")
        nmdl["image_shape"] = v
    if "params" in mdl:
        nmdl["params"] = mdl["params"]

    nsol: dict[str, Any] = {}
    name = sol.get("name")
    if name is None and mt != "preset":
        errs.append("[solver] missing key 'name' (e.g. 'lsqr', 'nnls', 'sbl', 'fista', 'omp')")
    elif name is not None and not isinstance(name, str):
        errs.append("[solver] 'name' must be a string")
    nsol["name"] = name
    params = sol.get("params", {})
    if not isinstance(params, dict):
        errs.append("[solver] 'params' must be a table")
        params = {}
    nsol["params"] = params

    nout: dict[str, Any] = {}
    if "file" not in out:
        errs.append("[output] missing key 'file'")
    else:
        nout["file"] = path(out["file"])
    cs = out.get("chunk_size", 256)
    if isinstance(cs, bool) or not isinstance(cs, int) or cs < 1:
        errs.append(f"[output] chunk_size must be a positive integer, got {cs!r}")
    nout["chunk_size"] = cs
    oe = out.get("on_error", "stop")
    if oe not in ON_ERROR:
        errs.append(f"[output] on_error must be 'stop' or 'skip', got {oe!r}")
    nout["on_error"] = oe

    nexe = {"backend": exe.get("backend"), "workers": exe.get("workers", 1),
            "scheduler": exe.get("scheduler"), "progress": exe.get("progress", True)}
    for k, v in overrides.items():
        if k not in nexe:
            raise TypeError(f"unknown execution override {k!r}")
        if v is not None:
            nexe[k] = v
    w = nexe["workers"]
    if isinstance(w, bool) or not isinstance(w, int) or w < 1:
        errs.append(f"[execution] workers must be a positive integer, got {w!r}")
    if nexe["backend"] is None:
        nexe["backend"] = ("distributed" if nexe["scheduler"] else
                           "processes" if isinstance(w, int) and w > 1 else "inprocess")
    if nexe["backend"] not in BACKENDS:
        errs.append(f"[execution] backend must be one of {', '.join(BACKENDS)}, got {nexe['backend']!r}")
    if nexe["backend"] == "distributed" and not nexe["scheduler"]:
        errs.append("[execution] backend 'distributed' needs a scheduler address (--scheduler tcp://host:port)")
    if errs:
        raise PipelineConfigError(f"{where}: invalid pipeline configuration:\n  - " + "\n  - ".join(errs))
    data = {"input": ninp, "model": nmdl, "solver": nsol, "output": nout}
    try:
        json.dumps(data)
    except TypeError as e:  # TOML datetimes in params
        raise PipelineConfigError(f"{where}: values must be numbers, strings, booleans or lists: {e}") from e
    return PipelineConfig(data=data, execution=nexe, source=src)
