"""``sparserec run`` / ``sparserec inspect`` and the pipeline demo."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sparserec.__main__ import main

from ._helpers import InputGuard, make_signals, signals_config, write_toml

pytest.importorskip("h5py")


@pytest.fixture
def case(tmp_path):
    make_signals(tmp_path / "signals.h5", n=40, m=10, k=6)
    write_toml(tmp_path / "p.toml", signals_config(tmp_path, chunk_size=10))
    return tmp_path


def test_run_and_inspect(case, capsys):
    guard = InputGuard(case / "signals.h5")
    assert main(["run", str(case / "p.toml"), "--no-progress", "-q"]) == 0
    out = capsys.readouterr().out
    assert "4 chunks" in out and "4 computed" in out
    assert main(["run", str(case / "p.toml"), "--no-progress", "-q"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["run", str(case / "p.toml"), "--resume", "--no-progress", "-q"]) == 0
    assert "already complete" in capsys.readouterr().out
    assert main(["run", str(case / "p.toml"), "--overwrite", "--workers", "1", "--no-progress", "-q"]) == 0
    capsys.readouterr()
    assert main(["inspect", str(case / "out.nc")]) == 0
    text = capsys.readouterr().out
    for s in ("estimate  (signal: 40, atom: 6)", "provenance", "solver: lsqr", "input_sha256",
              "config_sha256", "completion: 4 chunk(s) ok, 0 skipped, of 4; complete"):
        assert s in text, s
    assert main(["inspect", str(case / "signals.h5")]) == 0
    text = capsys.readouterr().out
    assert "signals  (signal: 40, measurement: 10)  float64" in text and "provenance" not in text
    guard.check()


def test_inspect_interrupted_run(case, capsys, monkeypatch):
    from sparserec.pipelines import run_pipeline, runner

    calls = [0]
    real = runner._commit

    def commit(*a, **k):
        if calls[0] == 2:
            raise KeyboardInterrupt
        calls[0] += 1
        real(*a, **k)

    monkeypatch.setattr(runner, "_commit", commit)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(case / "p.toml")
    assert main(["inspect", str(case / "out.nc")]) == 0
    text = capsys.readouterr().out
    assert "INCOMPLETE" in text and "committed chunks: 2 of 4" in text


def test_cli_errors_exit_2(case, capsys):
    assert main(["run", str(case / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["inspect", str(case / "missing.h5")]) == 2
    (case / "junk.h5").write_text("junk")
    assert main(["inspect", str(case / "junk.h5")]) == 2


def test_cli_chunk_failure_exit_1(case, capsys):
    import h5py
    import numpy as np

    with h5py.File(case / "signals.h5", "r+") as f:
        f["signals"][12, 3] = np.nan
    assert main(["run", str(case / "p.toml"), "--no-progress", "-q"]) == 1
    assert "signal=12" in capsys.readouterr().err


def test_console_entry_subprocess(case):
    r = subprocess.run([sys.executable, "-m", "sparserec", "run", str(case / "p.toml"), "-q"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "4 chunks" in r.stdout


def test_pipeline_demo(tmp_path, capsys):
    from sparserec.datasets.pipeline_demo import run_pipeline_demo

    assert run_pipeline_demo(tmp_path, n_signals=300, verbose=True) == 0
    out = capsys.readouterr().out
    assert "sparserec pipeline demo" in out and "NMSE" in out
    assert (tmp_path / "demo_result.nc").exists() and (tmp_path / "pipeline.toml").exists()


def test_shipped_example_config_is_valid():
    from pathlib import Path

    from sparserec.pipelines import load_config

    p = Path(__file__).resolve().parents[2] / "examples" / "pipeline_demo.toml"
    cfg = load_config(p)
    assert cfg.model["type"] == "endmembers" and cfg.solver["name"] == "nnls"


def test_shipped_example_config_runs(tmp_path):
    import shutil
    from pathlib import Path

    import numpy as np

    from sparserec.datasets.pipeline_demo import make_cube_input
    from sparserec.operators import Matrix
    from sparserec.pipelines import run_pipeline
    from sparserec.pipelines._nnls import nnls

    src = Path(__file__).resolve().parents[2] / "examples" / "pipeline_demo.toml"
    shutil.copy(src, tmp_path / "p.toml")
    make_cube_input(tmp_path / "cube.h5", rows=8, cols=6, bands=30)
    run_pipeline(tmp_path / "p.toml", progress=False)
    import h5py

    with h5py.File(tmp_path / "cube.h5", "r") as f:
        Y, E, A = f["cube"][()], f["endmembers"][()], f["abundances"][()]
    with h5py.File(tmp_path / "abundances.nc", "r") as f:
        est = f["estimate"][()]
    np.testing.assert_allclose(est, nnls(Matrix(E), Y, sum_to_one=True).x, atol=1e-8)
    assert np.abs(est - A).max() < 0.05
