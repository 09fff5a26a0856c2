"""Every gallery example (``examples/plot_*.py``) runs to completion in fast mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
TIMEOUT_S = 120

pytest.importorskip("matplotlib")


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    env = dict(os.environ, SPARSEREC_FAST="1", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    try:
        proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        pytest.fail(f"{script.name} ran longer than {TIMEOUT_S} s in fast mode\n"
                    f"--- stderr ---\n{err[-4000:]}")
    assert proc.returncode == 0, (
        f"{script.name} exited with {proc.returncode}\n--- stderr ---\n{proc.stderr[-6000:]}"
        f"\n--- stdout (tail) ---\n{proc.stdout[-2000:]}")


def test_gallery_is_not_empty():
    assert EXAMPLES, "no examples/plot_*.py found"
    assert (ROOT / "examples" / "GALLERY_HEADER.rst").exists()
