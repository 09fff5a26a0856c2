"""Deterministic crash points of the commit protocol (the random SIGKILL tests are in test_faults)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from sparserec.pipelines import OutputExistsError, ResumeMismatchError, run_pipeline

from ._helpers import make_signals, read_output, signals_config, write_toml

pytest.importorskip("h5py")


@pytest.fixture
def case(tmp_path):
    make_signals(tmp_path / "signals.h5", n=45, m=10, k=6)
    cfg = signals_config(tmp_path, chunk_size=10)
    write_toml(tmp_path / "p.toml", cfg)
    cfg_ref = signals_config(tmp_path, chunk_size=10, output="ref.nc")
    write_toml(tmp_path / "ref.toml", cfg_ref)
    run_pipeline(tmp_path / "ref.toml")
    return tmp_path, read_output(tmp_path / "ref.nc")


class _Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in the pipeline can catch it."""


def _interrupted(tmp, monkeypatch, n_commits: int = 3, in_merge: bool = False) -> None:
    """Leave an interrupted run: the process 'dies' right after ``n_commits`` commits."""
    from sparserec.pipelines import runner

    real_commit = runner._commit
    count = [0]

    def commit(*a, **k):
        if count[0] == n_commits:
            raise _Killed()
        real_commit(*a, **k)
        count[0] += 1

    def merge(*a, **k):
        raise _Killed()

    with monkeypatch.context() as m:
        m.setattr(runner, "_commit", commit)
        if in_merge:
            m.setattr(runner, "_merge", merge)
        with pytest.raises(_Killed):
            run_pipeline(tmp / "p.toml")


def _same(tmp, ref):
    out = read_output(tmp / "out.nc")
    for k in ref:
        np.testing.assert_array_equal(out[k], ref[k], err_msg=k)


def test_interrupted_run_needs_resume(case, monkeypatch):
    tmp, ref = case
    _interrupted(tmp, monkeypatch)
    with pytest.raises(OutputExistsError, match="interrupted run"):
        run_pipeline(tmp / "p.toml")
    s = run_pipeline(tmp / "p.toml", resume=True)
    assert (s.n_resumed, s.n_computed) == (3, 2)
    _same(tmp, ref)


def test_crash_during_part_write_leaves_only_a_tmp_file(case, monkeypatch):
    tmp, ref = case
    _interrupted(tmp, monkeypatch)
    parts = tmp / "out.nc.parts"
    (parts / ".chunk_000003.npz.tmp").write_bytes(b"half a zip")
    s = run_pipeline(tmp / "p.toml", resume=True)
    assert (s.n_resumed, s.n_computed) == (3, 2)
    _same(tmp, ref)


def test_invalid_part_is_recomputed(case, monkeypatch):
    tmp, ref = case
    _interrupted(tmp, monkeypatch)
    (tmp / "out.nc.parts" / "chunk_000001.npz").write_bytes(b"not a zip")
    s = run_pipeline(tmp / "p.toml", resume=True)
    assert (s.n_resumed, s.n_computed) == (2, 3)
    _same(tmp, ref)


def test_crash_during_merge(case, monkeypatch):
    tmp, ref = case
    _interrupted(tmp, monkeypatch, n_commits=5, in_merge=True)  # all 5 committed, killed in merge
    (tmp / "out.nc.tmp").write_bytes(b"partial hdf5")
    s = run_pipeline(tmp / "p.toml", resume=True)
    assert (s.n_resumed, s.n_computed) == (5, 0)
    _same(tmp, ref)
    assert not (tmp / "out.nc.tmp").exists()


def test_crash_after_final_rename_before_cleanup(case):
    tmp, ref = case
    shutil.copy(tmp / "ref.nc", tmp / "out.nc")  # complete output but stale parts
    (tmp / "out.nc.parts").mkdir()
    (tmp / "out.nc.parts" / "chunk_000000.npz").write_bytes(b"stale")
    with pytest.raises(ResumeMismatchError):  # ref.nc has the ref config (other output name)
        run_pipeline(tmp / "p.toml", resume=True)
    run_pipeline(tmp / "p.toml", overwrite=True)
    (tmp / "out.nc.parts").mkdir()
    s = run_pipeline(tmp / "p.toml", resume=True)
    assert s.already_complete and not (tmp / "out.nc.parts").exists()


def test_resume_refuses_other_config(case, monkeypatch):
    tmp, ref = case
    _interrupted(tmp, monkeypatch)
    cfg = signals_config(tmp, chunk_size=5)
    write_toml(tmp / "p.toml", cfg)
    with pytest.raises(ResumeMismatchError, match="different configuration"):
        run_pipeline(tmp / "p.toml", resume=True)


def test_resume_on_another_backend(case, monkeypatch):
    tmp, ref = case
    _interrupted(tmp, monkeypatch)
    s = run_pipeline(tmp / "p.toml", resume=True, backend="dask", workers=1)
    assert s.n_computed == 2
    out = read_output(tmp / "out.nc")
    np.testing.assert_allclose(out["estimate"], ref["estimate"], rtol=1e-12, atol=1e-14)
    import h5py

    with h5py.File(tmp / "out.nc", "r") as f:
        runs = f.attrs["runs"]
        assert '"inprocess"' in runs and '"dask"' in runs
