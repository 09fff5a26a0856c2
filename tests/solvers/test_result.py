"""The solver result contract: SolverResult, Status and ConvergenceMonitor."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sparserec.solvers import ConvergenceMonitor, ConvergenceWarning, SolverResult, SolverState, Status
from sparserec.solvers.result import check_max_iter, check_tol


def run(crits, max_iter, tol=1e-3, **kw):
    """Drive a monitor with a list of per-iteration criterion arrays; return (monitor, result)."""
    crits = [np.asarray(c, dtype=float) for c in crits]
    batch = crits[0].shape
    x = np.zeros(batch + (2,))
    mon = ConvergenceMonitor(batch, x, max_iter, tol, **kw)
    for k in range(max_iter):
        c = crits[min(k, len(crits) - 1)]
        if mon.step(c, x, residual=c):
            break
    return mon, mon.result(x, params={"tol": tol, "max_iter": max_iter, "name": "t", "flag": True},
                           extras={"gamma": np.ones(batch), "post": np.ones(batch + (2,)),
                                   "other": np.ones(5)})


def test_status_enum_order():
    assert [s.name for s in Status] == ["CONVERGED", "MAX_ITER", "CALLBACK_STOP", "DIVERGED",
                                         "NONFINITE"]
    assert Status.CONVERGED < Status.MAX_ITER < Status.NONFINITE


def test_result_is_frozen():
    _, res = run([[0.0]], 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.x = None
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.status = Status.MAX_ITER


def test_per_problem_convergence_and_counts():
    crits = [[1, 1, 1], [1e-4, 1, 1], [1e-4, 1, 1], [1e-4, 1e-5, 1]]
    with pytest.warns(ConvergenceWarning, match=r"1 of 3 problem\(s\) did not converge \(status MAX_ITER\)"):
        mon, res = run(crits, 6)
    np.testing.assert_array_equal(res.n_iter, [2, 4, 6])
    np.testing.assert_array_equal(res.converged, [True, True, False])
    np.testing.assert_array_equal(res.problem_status, [0, 0, Status.MAX_ITER])
    assert res.status == Status.MAX_ITER and res.batch_shape == (3,)
    assert res.n_iter.dtype == np.int64 and res.converged.dtype == bool


def test_all_converged_no_warning(recwarn):
    _, res = run([[1.0, 1.0], [0.0, 0.0]], 10)
    assert res.status == Status.CONVERGED and res.converged.all()
    np.testing.assert_array_equal(res.n_iter, [2, 2])
    assert not [w for w in recwarn if issubclass(w.category, ConvergenceWarning)]


def test_single_problem_batch_shape():
    _, res = run([1.0, 0.0], 5)
    assert res.batch_shape == () and res.n_iter.shape == () and int(res.n_iter) == 2


def test_history_shapes_and_record_every():
    with pytest.warns(ConvergenceWarning):
        _, res = run([np.ones((2, 3))], 5, record_every=2)
    h = res.history
    np.testing.assert_array_equal(h["iteration"], [2, 4])
    assert h["time"].shape == (2,) and np.all(np.diff(h["time"]) >= 0)
    assert h["residual"].shape == (2, 2, 3)
    with pytest.warns(ConvergenceWarning):
        _, res0 = run([np.ones(2)], 3, record_every=0)
    assert res0.history == {}


def test_check_every_delays_convergence_test():
    _, res = run([[0.0, 0.0]], 10, check_every=3)
    np.testing.assert_array_equal(res.n_iter, [3, 3])
    assert res.status == Status.CONVERGED


def test_callback_stop_and_state(recwarn):
    seen = []

    def cb(state):
        assert isinstance(state, SolverState)
        seen.append((state.iteration, state.active.copy(), set(state.metrics)))
        return state.iteration == 2

    _, res = run([[1.0, 1e-9]] + [[1.0, 1.0]] * 5, 6, callback=cb)
    assert res.status == Status.CALLBACK_STOP
    np.testing.assert_array_equal(res.problem_status, [Status.CALLBACK_STOP, Status.CONVERGED])
    np.testing.assert_array_equal(res.n_iter, [2, 1])
    assert [s[0] for s in seen] == [1, 2]
    np.testing.assert_array_equal(seen[0][1], [True, False])  # problem 1 converged at iteration 1
    assert {"criterion", "residual"} <= seen[0][2]
    assert not [w for w in recwarn if issubclass(w.category, ConvergenceWarning)]


def test_nonfinite_criterion_freezes_problem():
    with pytest.warns(ConvergenceWarning, match="NONFINITE"):
        _, res = run([[1.0, np.nan], [0.0, 0.0]], 5)
    np.testing.assert_array_equal(res.problem_status, [Status.CONVERGED, Status.NONFINITE])
    np.testing.assert_array_equal(res.converged, [True, False])
    np.testing.assert_array_equal(res.n_iter, [2, 1])
    assert res.status == Status.NONFINITE


def test_mark_and_mask():
    x = np.zeros((3, 4))
    mon = ConvergenceMonitor((3,), x, 10, 1e-6)
    assert mon.mask(x).shape == (3, 1)
    mon.mark(np.array([False, True, False]), Status.DIVERGED)
    np.testing.assert_array_equal(mon.mask(x)[:, 0], [True, False, True])
    mon.step(np.zeros(3), x)
    with pytest.warns(ConvergenceWarning, match="DIVERGED"):
        res = mon.result(x)
    np.testing.assert_array_equal(res.problem_status, [0, Status.DIVERGED, 0])


def test_monitor_on_torch():
    torch = pytest.importorskip("torch")
    x = torch.zeros(2, 3, dtype=torch.float64)
    mon = ConvergenceMonitor((2,), x, 4, 1e-3)
    mon.step(torch.tensor([1e-4, 1.0], dtype=torch.float64), x, residual=torch.tensor([1.0, 2.0]))
    with pytest.warns(ConvergenceWarning):
        for _ in range(3):
            mon.step(torch.tensor([1e-4, 1.0], dtype=torch.float64), x)
        res = mon.result(x)
    np.testing.assert_array_equal(res.n_iter, [1, 4])
    assert isinstance(res.history["residual"], np.ndarray)
    d = res.to_dict()
    assert isinstance(d["x"], np.ndarray) and d["x"].shape == (2, 3)


def test_to_dict():
    with pytest.warns(ConvergenceWarning):
        _, res = run([[0.0, 1.0]], 3)
    d = res.to_dict()
    assert set(d) == {"solver", "x", "status", "problem_status", "converged", "n_iter", "history",
                      "params", "extras"}
    assert d["status"] == "MAX_ITER" and d["params"]["tol"] == 1e-3
    assert d["problem_status"] is not res.problem_status  # copies
    np.testing.assert_array_equal(d["n_iter"], res.n_iter)
    assert d["history"]["residual"].shape == (3, 2)
    assert isinstance(d["extras"]["gamma"], np.ndarray)


def test_to_xarray_dims_and_attrs():
    pytest.importorskip("xarray")
    with pytest.warns(ConvergenceWarning):
        _, res = run([[0.0, 1.0]], 3)
    ds = res.to_xarray()
    assert ds["x"].dims == ("batch_0", "state_0")
    assert ds["converged"].dims == ("batch_0",) and ds["status"].dims == ("batch_0",)
    assert ds["history_residual"].dims == ("record", "batch_0")
    assert ds["history_iteration"].dims == ("record",)
    assert ds["gamma"].dims == ("batch_0",) and ds["post"].dims == ("batch_0", "state_0")
    assert ds["other"].dims == ("other_0",)
    assert ds.attrs["status"] == "MAX_ITER" and ds.attrs["param_tol"] == 1e-3
    assert ds.attrs["param_name"] == "t" and ds.attrs["param_flag"] == 1
    named = res.to_xarray(batch_dims=("pixel",), state_dims=("band",))
    assert named["x"].dims == ("pixel", "band")
    with pytest.raises(ValueError, match="batch_dims needs 1 names"):
        res.to_xarray(batch_dims=("a", "b"))
    with pytest.raises(ValueError, match="state_dims needs 1 names"):
        res.to_xarray(state_dims=())


def test_repr():
    _, res = run([[0.0, 0.0]], 3)
    assert "status=CONVERGED" in repr(res) and "converged=2/2" in repr(res)


def test_validators():
    assert check_max_iter(np.int64(3)) == 3
    for bad in (0, -1, 2.5, True, None):
        with pytest.raises(ValueError, match="max_iter must be a positive integer"):
            check_max_iter(bad)
    assert check_tol(0) == 0.0
    for bad in (-1e-3, np.inf, np.nan):
        with pytest.raises(ValueError, match="must be finite and non-negative"):
            check_tol(bad)
    with pytest.raises(TypeError, match="atol must be a number"):
        check_tol("x", "atol")


def test_solver_result_direct_construction():
    res = SolverResult(x=np.zeros(2), status=Status.CONVERGED, problem_status=np.zeros((), int),
                       converged=np.ones((), bool), n_iter=np.ones((), int))
    assert res.history == {} and res.params == {} and res.solver == ""
