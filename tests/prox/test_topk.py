"""``topk_mask`` / ``project_l0_ball``: brute force, batching, ties, edge cases, backends, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from sparserec import prox as P
from tests.conftest import BACKENDS, HAS_TORCH, convert

RNG = np.random.default_rng(77)


def _to_np(a):
    return a.cpu().numpy() if hasattr(a, "cpu") else np.asarray(a)


def _brute(x, k, axis=-1):
    """Reference mask: sort each vector by (-|x_i|, i) in pure Python; keep the first k."""
    xm = np.moveaxis(np.asarray(x), axis, -1)
    flat = xm.reshape(-1, xm.shape[-1])
    ks = np.broadcast_to(np.asarray(k), xm.shape[:-1]).reshape(-1)
    out = np.zeros(flat.shape, dtype=bool)
    for r, (row, kr) in enumerate(zip(flat, ks)):
        idx = sorted(range(len(row)), key=lambda i: (-abs(row[i]), i))
        out[r, idx[: max(int(kr), 0)]] = True
    return np.moveaxis(out.reshape(xm.shape), -1, axis)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
@pytest.mark.parametrize("k", [0, 1, 3, 7, 8, 20])
def test_topk_mask_against_brute_force(backend, dtype, k):
    x = RNG.standard_normal((2, 3, 8))
    if dtype.startswith("complex"):
        x = x + 1j * RNG.standard_normal(x.shape)
    x = x.astype(dtype)
    got = P.topk_mask(convert(x, backend), k)
    assert tuple(got.shape) == x.shape
    np.testing.assert_array_equal(_to_np(got), _brute(x, k))
    z = _to_np(P.project_l0_ball(convert(x, backend), k))
    assert z.dtype == x.dtype
    np.testing.assert_array_equal(z, np.where(_brute(x, k), x, 0))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_topk_mask_axis_and_per_problem_k(backend, axis):
    x = RNG.standard_normal((5, 6, 7))
    bshape = tuple(s for i, s in enumerate(x.shape) if i != axis % 3)
    k = RNG.integers(0, 9, bshape)  # includes 0 and values >= n
    got = _to_np(P.topk_mask(convert(x, backend), convert(k, backend), axis=axis))
    np.testing.assert_array_equal(got, _brute(x, k, axis))
    # a numpy k with torch x, and a k broadcasting over part of the batch
    got = _to_np(P.topk_mask(convert(x, backend), k, axis=axis))
    np.testing.assert_array_equal(got, _brute(x, k, axis))
    kb = k[:1]
    got = _to_np(P.topk_mask(convert(x, backend), kb, axis=axis))
    np.testing.assert_array_equal(got, _brute(x, kb, axis))


@pytest.mark.parametrize("backend", BACKENDS)
def test_topk_mask_ties_keep_smaller_index(backend):
    x = np.array([[1.0, -2.0, 2.0, 1.0, -1.0, 0.0],
                  [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                  [3.0, -3.0, 3.0, -3.0, 3.0, -3.0]])
    for k in range(7):
        got = _to_np(P.topk_mask(convert(x, backend), k))
        np.testing.assert_array_equal(got, _brute(x, k))
        assert (got.sum(-1) == k).all()
    np.testing.assert_array_equal(_to_np(P.topk_mask(convert(x, backend), 2))[0], [0, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(_to_np(P.topk_mask(convert(x, backend), 3))[0], [1, 1, 1, 0, 0, 0])
    # complex ties on the modulus
    c = np.array([1j, -1.0, 1.0, 0.5])
    np.testing.assert_array_equal(_to_np(P.topk_mask(convert(c, backend), 2)), [True, True, False, False])


@pytest.mark.parametrize("backend", BACKENDS)
def test_topk_mask_edge_k_and_order(backend):
    x = RNG.standard_normal((4, 5))
    xb = convert(x, backend)
    assert not _to_np(P.topk_mask(xb, 0)).any()
    assert _to_np(P.topk_mask(xb, 5)).all() and _to_np(P.topk_mask(xb, 50)).all()
    np.testing.assert_array_equal(_to_np(P.project_l0_ball(xb, 0)), np.zeros_like(x))
    np.testing.assert_array_equal(_to_np(P.project_l0_ball(xb, 5)), x)
    mask, order = P.topk_mask(xb, np.array([0, 2, 5, 9]), return_order=True)
    order = _to_np(order)
    np.testing.assert_array_equal(order, np.argsort(-np.abs(x), axis=-1, kind="stable"))
    np.testing.assert_array_equal(_to_np(mask), _brute(x, [0, 2, 5, 9]))
    # one vector (no batch axis)
    np.testing.assert_array_equal(_to_np(P.topk_mask(convert(x[0], backend), 2)), _brute(x[0], 2))


def test_project_l0_ball_is_a_projection():
    """The kept entries give the closest k-sparse vector (exhaustive check over all supports)."""
    from itertools import combinations

    x = RNG.standard_normal(7)
    for k in range(8):
        best = min(np.sum(x ** 2) - np.sum(x[list(S)] ** 2) for S in combinations(range(7), k))
        np.testing.assert_allclose(np.sum((P.project_l0_ball(x, k) - x) ** 2), best, atol=1e-12)


def test_topk_mask_bad_input():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="non-negative"):
        P.topk_mask(x, -1)
    with pytest.raises(ValueError, match="non-negative"):
        P.project_l0_ball(x, np.array([1, -1]))
    with pytest.raises(ValueError, match="broadcast"):
        P.topk_mask(x, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="axis"):
        P.topk_mask(np.array(1.0), 1)
    for bad in (1.5, True, "2", None):
        with pytest.raises(TypeError):
            P.topk_mask(x, bad)
    with pytest.raises(TypeError, match="integer dtype"):
        P.topk_mask(x, np.array([1.0, 2.0]))
    with pytest.raises(TypeError):
        P.topk_mask(np.array([1, 2, 3]), 1)  # integer x
    with pytest.raises(TypeError):
        P.topk_mask([1.0, 2.0], 1)


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
def test_topk_mask_torch_k_no_host_sync():
    import torch

    x = torch.as_tensor(RNG.standard_normal((3, 6)))
    k = torch.tensor([1, 2, 3])
    seen = []
    orig = torch.Tensor.item, torch.Tensor.__bool__, torch.Tensor.__int__, torch.Tensor.__index__

    def spy(name, f):
        def g(self, *a, **kw):
            seen.append(name)
            return f(self, *a, **kw)
        return g

    torch.Tensor.item, torch.Tensor.__bool__ = spy("item", orig[0]), spy("bool", orig[1])
    torch.Tensor.__int__, torch.Tensor.__index__ = spy("int", orig[2]), spy("index", orig[3])
    try:
        m = P.topk_mask(x, k)
        z = P.project_l0_ball(x, k)
    finally:
        torch.Tensor.item, torch.Tensor.__bool__, torch.Tensor.__int__, torch.Tensor.__index__ = orig
    assert seen == []
    np.testing.assert_array_equal(m.numpy(), _brute(x.numpy(), [1, 2, 3]))
    np.testing.assert_array_equal(z.numpy(), np.where(m.numpy(), x.numpy(), 0))
    with pytest.raises(TypeError, match="torch tensor"):
        P.topk_mask(x.numpy(), k)
