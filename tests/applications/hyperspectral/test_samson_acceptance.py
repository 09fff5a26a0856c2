"""Acceptance on the shipped real Samson scene: VCA+FCLS (spec test 15), blind NMF (18), and the robustness of
the RRLbS-style method to corrupted channels (issue acceptance; spec tests 24, 25).

Default-run versions use a 2x spatial subsample of Samson (48x48 pixels, all three materials present) and
200 iterations to stay fast; the full-size versions are marked ``slow``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from sparserec.applications import hyperspectral as hs
from sparserec.solvers.unmixing import fcls, l12_nmf, nmf, rrlbs_style, vca


@pytest.fixture(scope="module")
def samson():
    try:
        return hs.load_samson()
    except FileNotFoundError as e:
        pytest.skip(f"Samson data absent: {e}")


def test_vca_fcls_ten_seeds(samson):  # spec test 15
    sads, rmses = [], []
    for seed in range(10):
        E = vca(samson.Y, 3, random_state=seed).x
        A = fcls(np.clip(E, 0, None), samson.Y).x
        m = hs.evaluate(samson.E, samson.A, E, A)
        sads.append(m["mean_sad"])
        rmses.append(m["armse"])
    assert 4.0 <= np.median(sads) <= 8.0
    assert np.median(rmses) <= 0.20


def _corrupted_runs(scene, n_iter):
    Yc, bad = hs.corrupt_channels(scene.Y, 0.1, kind="noise", random_state=0)
    good = np.setdiff1d(np.arange(scene.n_bands), bad)
    out = {}
    for name, fn in (("robust", rrlbs_style), ("nmf", nmf)):
        for lab, Y in (("clean", scene.Y), ("corrupted", Yc)):
            r = fn(Y, 3, max_iter=n_iter, tol=0, random_state=0)
            out[name, lab] = hs.evaluate(scene.E, scene.A, r.extras["endmembers"], r.x, bands=good)
            out[name, lab, "result"] = r
    return out, Yc, good


@pytest.fixture(scope="module")
def subsampled_runs(samson):
    sc = samson.crop(slice(0, None, 2), slice(0, None, 2))
    return sc, *_corrupted_runs(sc, 200)


def test_robust_no_worse_than_nmf_clean(subsampled_runs):
    sc, out, Yc, good = subsampled_runs
    assert out["robust", "clean"]["armse"] <= 1.02 * out["nmf", "clean"]["armse"]
    assert out["robust", "clean"]["mean_sad"] <= 8.0


def test_robust_to_corrupted_channels(subsampled_runs):  # issue acceptance, spec test 24
    sc, out, Yc, good = subsampled_runs
    clean, corr = out["robust", "clean"]["armse"], out["robust", "corrupted"]["armse"]
    assert corr <= 1.10 * clean  # issue: within 10 % (spec test 24 asks 5 %)
    assert corr <= 1.05 * clean
    assert out["nmf", "corrupted"]["armse"] >= 1.5 * out["nmf", "clean"]["armse"]  # Frobenius NMF degrades
    assert corr <= out["nmf", "corrupted"]["armse"]
    F = out["robust", "corrupted", "result"].extras["objective_history"]
    assert np.max(np.diff(F) / np.abs(F[:-1])) <= 1e-9


def test_same_start_frobenius_variants(subsampled_runs):  # spec test 25 ("expected" check, margin recorded)
    sc, out, Yc, good = subsampled_runs
    rob = out["robust", "corrupted", "result"]
    start = dict(E0=rob.extras["init_endmembers"], A0=rob.extras["init_abundances"], max_iter=200, tol=0)
    fro = nmf(Yc, **start)
    l12 = l12_nmf(Yc, lam=0.1, **start)
    m_fro = hs.evaluate(sc.E, sc.A, fro.extras["endmembers"], fro.x, bands=good)
    m_l12 = hs.evaluate(sc.E, sc.A, l12.extras["endmembers"], l12.x, bands=good)
    rob_rmse = out["robust", "corrupted"]["armse"]
    assert rob_rmse <= m_fro["armse"] * 1.05
    assert rob_rmse <= m_l12["armse"] * 1.05


@pytest.mark.slow
def test_full_samson_nmf_1000(samson):  # spec test 18
    r = nmf(samson.Y, 3, max_iter=1000, tol=0, random_state=0)
    m = hs.evaluate(samson.E, samson.A, r.extras["endmembers"], r.x)
    assert m["mean_sad"] <= 8.0 and m["armse"] <= 0.25


@pytest.mark.slow
def test_full_samson_robustness_and_runtime(samson):  # spec tests 24 and 26
    t0 = time.perf_counter()
    out, Yc, good = _corrupted_runs(samson, 500)
    elapsed = (time.perf_counter() - t0) / 4
    assert out["robust", "corrupted"]["armse"] <= 1.05 * out["robust", "clean"]["armse"]
    assert out["robust", "corrupted"]["armse"] <= out["nmf", "corrupted"]["armse"]
    assert elapsed <= 30.0
