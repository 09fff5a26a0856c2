"""``import sparserec`` is fast and imports no optional dependency."""

import subprocess
import sys

OPTIONAL = ["torch", "scipy.sparse", "xarray", "h5py", "cvxpy", "sklearn", "astropy", "pyro",
            "dask", "triton", "matplotlib", "tqdm"]


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_import_loads_no_optional_dependency():
    out = _run(f"import sys, sparserec; print(','.join(m for m in {OPTIONAL!r} if m in sys.modules))")
    assert out == "", f"import sparserec pulled in: {out}"


def test_import_time_below_half_a_second():
    # best of three fresh interpreters, measuring only the import statement itself
    code = "import time; t=time.perf_counter(); import sparserec; print(time.perf_counter()-t)"
    best = min(float(_run(code)) for _ in range(3))
    assert best < 0.5, f"import sparserec took {best:.3f} s"


def test_subpackages_load_lazily():
    out = _run("import sys, sparserec; sparserec.operators; print('sparserec.operators' in sys.modules)")
    assert out == "True"
