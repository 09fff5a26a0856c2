"""benchmarks/run.py: results of several runs (e.g. CPU groups and a GPU group measured on a lent
machine) are merged into one results file, each group keeping the conditions it was measured in."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def runner(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("_bench_run", ROOT / "benchmarks" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "ROOT", tmp_path)
    monkeypatch.setattr(mod, "RESULTS", tmp_path / "latest.json")
    monkeypatch.setattr(mod, "DOC_MD", tmp_path / "benchmarks.md")
    monkeypatch.setattr(mod, "DOC_RST", tmp_path / "tables.inc")
    return mod


def _info(date, cuda=None, quick=False, threads=1):
    return {"date_utc": date, "platform": "Linux", "processor": "x86_64", "python": "3.11",
            "cpu_count": 2 if cuda is None else 16, "threads_requested": threads, "numpy": "2",
            "cuda": cuda, "quick": quick}


def _row(module, bench, case, t):
    return {"module": module, "benchmark": bench, "case": case, "sparserec_s": t, "peer": "p",
            "peer_s": 2 * t, "ratio": 2.0, "target": ">= 1x", "met": True, "notes": ""}


def test_merge_keeps_other_groups_and_their_conditions(runner, tmp_path):
    cpu = _info("2026-01-01 00:00 UTC", quick=True)
    runner.write_results([_row("convex", "lasso", "a", 1.0), _row("sbl", "sbl", "b", 2.0)],
                         {"convex", "sbl"}, cpu, [], keep_others=False)
    gpu_file = tmp_path / "gpu.json"
    gpu = _info("2026-02-02 00:00 UTC", cuda="NVIDIA H100 80GB HBM3", threads=None)
    gpu_file.write_text(json.dumps({"machine": gpu, "quick": False, "modules": ["cuda_ext"], "errors": [],
                                    "rows": [_row("cuda_ext", "cuda_ext", "fused step", 0.001),
                                             _row("convex", "lasso", "stale", 9.0)]}))
    assert runner.merge(gpu_file) == 0
    out = json.loads((tmp_path / "latest.json").read_text())
    cases = sorted(r["case"] for r in out["rows"])
    assert cases == ["a", "b", "fused step"]  # only the rows of the modules the other run ran
    assert out["machines"]["cuda_ext"]["cuda"] == "NVIDIA H100 80GB HBM3"
    assert out["machines"]["convex"]["date_utc"] == "2026-01-01 00:00 UTC"
    md = (tmp_path / "benchmarks.md").read_text()
    assert "Measured 2026-02-02 00:00 UTC, full mode, default threads, GPU NVIDIA H100 80GB HBM3" in md
    assert "Measured 2026-01-01 00:00 UTC, quick mode, threads pinned to 1, 2 CPUs, no GPU (`bench_sbl.py`)" in md
    assert "``bench_cuda_ext.py``" in (tmp_path / "tables.inc").read_text()
    # a later CPU run of one module replaces only that module's rows and conditions
    runner.write_results([_row("sbl", "sbl", "b2", 3.0)], {"sbl"}, _info("2026-03-03 00:00 UTC"), [],
                         keep_others=True)
    out = json.loads((tmp_path / "latest.json").read_text())
    assert sorted(r["case"] for r in out["rows"]) == ["a", "b2", "fused step"]
    assert out["machines"]["cuda_ext"]["cuda"] and out["machines"]["sbl"]["date_utc"].startswith("2026-03-03")


def test_merge_rejects_a_file_that_is_not_results(runner, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SystemExit, match="not a benchmarks results file"):
        runner.merge(bad)
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"modules": ["x"], "rows": []}))
    with pytest.raises(SystemExit, match="no rows"):
        runner.merge(empty)
