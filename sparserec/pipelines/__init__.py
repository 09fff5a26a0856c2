"""Chunked, resumable HDF5 dataset processing, the Dask backend and the sparserec command line.

A pipeline is a TOML file naming an input dataset, its batch dimension(s), a forward model, a
solver and an output file (see ``docs/pipelines.rst``)::

    from sparserec.pipelines import run_pipeline
    summary = run_pipeline("pipeline.toml", resume=True)

or ``sparserec run pipeline.toml [--resume] [--overwrite] [--workers N] [--scheduler ADDR]``.
Submodules are imported lazily (no h5py/xarray/dask at ``import sparserec.pipelines``).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "PipelineConfig": "config",
    "PipelineConfigError": "config",
    "load_config": "config",
    "run_pipeline": "runner",
    "prepare": "runner",
    "RunSummary": "runner",
    "PipelineError": "runner",
    "ChunkError": "runner",
    "OutputExistsError": "runner",
    "ResumeMismatchError": "runner",
    "register_solver": "registry",
    "resolve_solver": "registry",
    "available_solvers": "registry",
    "UnknownSolverError": "registry",
    "SolverNotAvailableError": "registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
