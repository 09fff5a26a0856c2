"""Fault tests: SIGKILL at random moments then --resume; corrupt/truncated/NaN input chunks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sparserec.pipelines import ChunkError, run_pipeline

from ._helpers import InputGuard, make_signals, read_output, signals_config, write_toml

h5py = pytest.importorskip("h5py")

N_CHUNKS = 24
CHUNK = 10


@pytest.fixture(scope="module")
def kill_setup(tmp_path_factory):
    """Input, config and an uninterrupted reference run; returns (folder, reference arrays)."""
    tmp = tmp_path_factory.mktemp("kill")
    make_signals(tmp / "signals.h5", n=N_CHUNKS * CHUNK - 3, m=12, k=8)  # last chunk is partial
    cfg = signals_config(tmp, "lsqr", {"atol": 1e-10, "btol": 1e-10}, chunk_size=CHUNK,
                         output="ref.nc")
    write_toml(tmp / "ref.toml", cfg)
    run_pipeline(tmp / "ref.toml")
    return tmp, read_output(tmp / "ref.nc")


def _run_cli(cfg: Path, *extra: str, delay: float = 0.0) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", SPARSEREC_PIPELINE_TEST_DELAY=str(delay))
    cmd = [sys.executable, "-m", "sparserec", "run", str(cfg), "--no-progress", "-q", *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_and_resume(tmp: Path, ref: dict, seeds: range) -> None:
    guard = InputGuard(tmp / "signals.h5")
    cfg = signals_config(tmp, "lsqr", {"atol": 1e-10, "btol": 1e-10}, chunk_size=CHUNK, output="out.nc")
    write_toml(tmp / "kill.toml", cfg)
    delay = 0.02
    # time a full CLI run once, so that kills are spread over start-up, chunks, merge and clean-up
    t0 = time.perf_counter()
    p = _run_cli(tmp / "kill.toml", "--overwrite", delay=delay)
    assert p.wait(120) == 0, p.stderr.read().decode()
    full = time.perf_counter() - t0
    phases = {"before": 0, "partial": 0, "after": 0}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        p = _run_cli(tmp / "kill.toml", "--overwrite", delay=delay)
        time.sleep(rng.uniform(0.0, 1.1 * full))
        p.send_signal(signal.SIGKILL)
        p.wait(60)
        parts = tmp / "out.nc.parts"
        n_parts = len(list(parts.glob("chunk_*.npz"))) if parts.exists() else 0
        phases["partial" if n_parts else ("after" if (tmp / "out.nc").exists() else "before")] += 1
        s = run_pipeline(tmp / "kill.toml", resume=True, progress=False)
        assert s.already_complete or s.n_resumed + s.n_computed == N_CHUNKS
        out = read_output(tmp / "out.nc")
        assert set(out) == set(ref)
        for k in ref:  # every stored array, bit for bit
            np.testing.assert_array_equal(out[k], ref[k], err_msg=f"seed {seed}: {k} differs")
        # completion record: every chunk exactly once, all solved
        starts = out["chunk_start"]
        assert len(starts) == N_CHUNKS and len(set(starts.tolist())) == N_CHUNKS
        assert (out["chunk_status"] == 0).all()
        assert not parts.exists() and not (tmp / "out.nc.tmp").exists()
        with h5py.File(tmp / "out.nc", "r") as f:
            assert int(np.asarray(f.attrs["complete"]).ravel()[0]) == 1
        guard.check()
    assert phases["partial"] >= 1, phases


def test_sigkill_then_resume_bit_for_bit_20_runs(kill_setup):
    # 20 seeded kills take ~40 s on a loaded 2-core machine (< 60 s): part of the default run
    tmp, ref = kill_setup
    _kill_and_resume(tmp, ref, range(20))


@pytest.mark.slow
def test_sigkill_then_resume_bit_for_bit_50_more_runs(kill_setup):
    tmp, ref = kill_setup
    _kill_and_resume(tmp, ref, range(100, 150))


def _corrupt_chunk(path: Path, dataset: str, chunk_index: int) -> tuple[int, int]:
    """Overwrite the stored (compressed) bytes of one HDF5 chunk with garbage."""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(chunk_index)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + 8)
        fh.write(b"\xde\xad\xbe\xef" * max(1, (info.size - 16) // 4))
    return info.byte_offset, info.size


@pytest.mark.parametrize("kind", ["garbage", "nan"])
def test_corrupt_chunk_stop_and_skip(tmp_path, kind):
    d = make_signals(tmp_path / "signals.h5", n=80, m=12, k=8, chunks=(10, 12), compression="gzip")
    if kind == "garbage":
        _corrupt_chunk(tmp_path / "signals.h5", "/signals", 3)  # rows 30:40
    else:
        with h5py.File(tmp_path / "signals.h5", "r+") as f:
            f["signals"][35, 4] = np.nan
    guard = InputGuard(tmp_path / "signals.h5")
    cfg = signals_config(tmp_path, "lsqr", {"atol": 1e-10, "btol": 1e-10}, chunk_size=10, on_error="stop")
    write_toml(tmp_path / "stop.toml", cfg)
    with pytest.raises(ChunkError) as ei:
        run_pipeline(tmp_path / "stop.toml")
    msg = str(ei.value)
    assert "signals.h5:/signals[signal 30:40]" in msg and ei.value.chunk == 3
    if kind == "nan":
        assert "signal=35" in msg and "non-finite" in msg
    assert not (tmp_path / "out.nc").exists()  # stopped: no final output, committed parts kept
    assert len(list((tmp_path / "out.nc.parts").glob("chunk_*.npz"))) == 3
    assert "chunk 3" in (tmp_path / "out.nc.log").read_text()
    guard.check()

    cfg["output"]["on_error"] = "skip"
    cfg["output"]["file"] = "skip.nc"
    write_toml(tmp_path / "skip.toml", cfg)
    s = run_pipeline(tmp_path / "skip.toml")
    assert s.n_skipped == 1 and "signal 30:40" in s.errors[0]
    out = read_output(tmp_path / "skip.nc")
    assert list(out["chunk_status"]) == [0, 0, 0, 1, 0, 0, 0, 0]
    assert np.isnan(out["estimate"][30:40]).all() and (out["status"][30:40] == -1).all()
    from sparserec.operators import Matrix
    from sparserec.solvers import lsqr

    good = np.r_[0:30, 40:80]
    ref = lsqr(Matrix(d["D"]), d["Y"][good], atol=1e-10, btol=1e-10).x
    np.testing.assert_allclose(out["estimate"][good], ref, rtol=1e-8, atol=1e-10)
    with h5py.File(tmp_path / "skip.nc", "r") as f:
        assert "signal 30:40" in f.attrs["chunk_errors"]
    from sparserec.io import describe

    text = describe(tmp_path / "skip.nc")
    assert "7 chunk(s) ok, 1 skipped, of 8; complete" in text and "skipped chunk 3" in text
    guard.check()


def test_resume_after_stop_is_refused_when_input_changed(tmp_path):
    make_signals(tmp_path / "signals.h5", n=40, m=12, k=8)
    with h5py.File(tmp_path / "signals.h5", "r+") as f:
        f["signals"][25, 0] = np.inf
    write_toml(tmp_path / "p.toml", signals_config(tmp_path, chunk_size=10))
    with pytest.raises(ChunkError):
        run_pipeline(tmp_path / "p.toml")
    with h5py.File(tmp_path / "signals.h5", "r+") as f:  # the user repairs the input
        f["signals"][25, 0] = 0.0
    from sparserec.pipelines import ResumeMismatchError

    with pytest.raises(ResumeMismatchError, match="input file changed"):
        run_pipeline(tmp_path / "p.toml", resume=True)
    s = run_pipeline(tmp_path / "p.toml", overwrite=True)
    assert s.n_computed == 4
