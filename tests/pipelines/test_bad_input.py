"""Every bad input gives a clear error, nothing is written, and the input is never modified."""

from __future__ import annotations

import os

import numpy as np
import pytest

from sparserec.io.arrays import InputError
from sparserec.pipelines import (
    OutputExistsError,
    PipelineConfigError,
    ResumeMismatchError,
    load_config,
    run_pipeline,
)

from ._helpers import InputGuard, make_signals, read_output, signals_config, write_toml

h5py = pytest.importorskip("h5py")


@pytest.fixture
def case(tmp_path):
    make_signals(tmp_path / "signals.h5", n=30, m=10, k=6)
    guard = InputGuard(tmp_path / "signals.h5")
    yield tmp_path, signals_config(tmp_path, chunk_size=10)
    guard.check()  # the input is never modified, whatever happened


def _run(tmp, cfg, **kw):
    write_toml(tmp / "p.toml", cfg)
    return run_pipeline(tmp / "p.toml", **kw)


def _no_output(tmp):
    assert not (tmp / "out.nc").exists() and not (tmp / "out.nc.parts").exists()


@pytest.mark.parametrize("table,key,match", [
    ("input", "file", r"\[input\] missing key 'file'"),
    ("input", "dataset", r"\[input\] missing key 'dataset'"),
    ("input", "batch_dims", r"\[input\] missing key 'batch_dims'"),
    ("model", "type", r"\[model\] missing key 'type'"),
    ("model", "dataset", r"type 'matrix' needs key 'dataset'"),
    ("output", "file", r"\[output\] missing key 'file'"),
])
def test_missing_keys(case, table, key, match):
    tmp, cfg = case
    del cfg[table][key]
    with pytest.raises(PipelineConfigError, match=match):
        _run(tmp, cfg)
    _no_output(tmp)


def test_missing_table_and_typo_are_listed_together(case):
    tmp, cfg = case
    del cfg["output"]
    cfg["input"]["batchdims"] = ["signal"]
    with pytest.raises(PipelineConfigError) as ei:
        _run(tmp, cfg)
    assert "missing table [output]" in str(ei.value) and "unknown key 'batchdims'" in str(ei.value)


@pytest.mark.parametrize("key,value,match", [
    ("chunk_size", 0, "chunk_size must be a positive integer"),
    ("on_error", "ignore", "on_error must be 'stop' or 'skip'"),
])
def test_bad_output_values(case, key, value, match):
    tmp, cfg = case
    cfg["output"][key] = value
    with pytest.raises(PipelineConfigError, match=match):
        _run(tmp, cfg)


def test_unparsable_toml(tmp_path):
    (tmp_path / "p.toml").write_text("[input\nfile = ")
    with pytest.raises(PipelineConfigError, match="cannot parse"):
        run_pipeline(tmp_path / "p.toml")
    with pytest.raises(PipelineConfigError, match="does not exist"):
        run_pipeline(tmp_path / "nope.toml")


def test_unknown_solver(case):
    tmp, cfg = case
    cfg["solver"]["name"] = "magic"
    with pytest.raises(PipelineConfigError, match="unknown solver 'magic'.*lsqr"):
        _run(tmp, cfg)
    _no_output(tmp)


def test_registered_solver_not_available_yet(case):
    tmp, cfg = case
    cfg["solver"]["name"] = "sparserec.solvers.nonexistent:solve"
    with pytest.raises(PipelineConfigError, match="not available in this installation"):
        _run(tmp, cfg)


def test_unknown_and_unavailable_presets(case):
    tmp, cfg = case
    cfg["model"] = {"type": "preset", "preset": "teleport"}
    with pytest.raises(PipelineConfigError, match="unknown application preset 'teleport'"):
        _run(tmp, cfg)
    import importlib

    from sparserec.pipelines.models import PRESETS

    for name, (mod, attr) in PRESETS.items():
        try:
            if hasattr(importlib.import_module(mod), attr):
                continue
        except ImportError:
            pass
        cfg["model"] = {"type": "preset", "preset": name}
        with pytest.raises(ValueError, match=f"preset '{name}' is not available yet"):
            _run(tmp, cfg)


def test_missing_input_file(case):
    tmp, cfg = case
    cfg["input"]["file"] = "nope.h5"
    with pytest.raises(InputError, match="does not exist"):
        _run(tmp, cfg)


def test_missing_dataset_lists_available(case):
    tmp, cfg = case
    cfg["input"]["dataset"] = "/signalz"
    with pytest.raises(InputError, match=r"'/signalz' not found.*/signals"):
        _run(tmp, cfg)
    cfg["input"]["dataset"] = "/signals"
    cfg["model"]["dataset"] = "/dict"
    with pytest.raises(InputError, match=r"'/dict' not found.*/dictionary"):
        _run(tmp, cfg)


def test_missing_dimension(case):
    tmp, cfg = case
    cfg["input"]["batch_dims"] = ["pixel"]
    with pytest.raises(InputError, match=r"dimension 'pixel' not found .*signal.*measurement"):
        _run(tmp, cfg)


def test_dimensions_that_do_not_fit_the_operator(case):
    tmp, cfg = case
    with h5py.File(tmp / "other.h5", "w") as f:
        f["dictionary"] = np.ones((11, 6))
    cfg["model"]["file"] = "other.h5"
    with pytest.raises(InputError, match=r"do not fit the forward model's output shape \(11,\)"):
        _run(tmp, cfg)
    cfg["model"]["file"] = "signals.h5"
    cfg["model"]["state_dims"] = ["a", "b"]
    with pytest.raises(PipelineConfigError, match="state_dims"):
        _run(tmp, cfg)


@pytest.mark.parametrize("how", ["truncated", "not_hdf5", "unreadable"])
def test_unreadable_input(tmp_path, how):
    make_signals(tmp_path / "signals.h5", n=30, m=10, k=6)
    p = tmp_path / "signals.h5"
    if how == "truncated":
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2])
        match = "cannot read"
    elif how == "not_hdf5":
        p.write_text("just text")
        match = "cannot read"
    else:
        if os.geteuid() == 0:
            pytest.skip("root can read any file")
        os.chmod(p, 0)
        match = "not readable"
    cfg = signals_config(tmp_path, chunk_size=10)
    write_toml(tmp_path / "p.toml", cfg)
    with pytest.raises(InputError, match=match):
        run_pipeline(tmp_path / "p.toml")
    assert not (tmp_path / "out.nc").exists()


def test_output_exists_without_resume_or_overwrite(case):
    tmp, cfg = case
    _run(tmp, cfg)
    ref = read_output(tmp / "out.nc")
    with pytest.raises(OutputExistsError, match="--resume.*--overwrite"):
        _run(tmp, cfg)
    s = _run(tmp, cfg, resume=True)  # complete: nothing to do
    assert s.already_complete
    cfg["solver"]["params"] = {"damp": 0.5}
    with pytest.raises(ResumeMismatchError, match="different configuration"):
        _run(tmp, cfg, resume=True)
    s = _run(tmp, cfg, overwrite=True)
    assert s.n_computed == 3
    assert not np.allclose(read_output(tmp / "out.nc")["estimate"], ref["estimate"])
    with pytest.raises(PipelineConfigError, match="exclude"):
        _run(tmp, cfg, resume=True, overwrite=True)


def test_output_equal_to_input_is_refused(case):
    tmp, cfg = case
    cfg["output"]["file"] = "signals.h5"
    with pytest.raises(PipelineConfigError, match="inputs are never written"):
        _run(tmp, cfg)


def test_bad_execution_settings(case):
    tmp, cfg = case
    with pytest.raises(PipelineConfigError, match="needs a scheduler address"):
        load_config(cfg, base_dir=tmp, backend="distributed")
    with pytest.raises(PipelineConfigError, match="workers must be a positive integer"):
        load_config(cfg, base_dir=tmp, workers=0)
