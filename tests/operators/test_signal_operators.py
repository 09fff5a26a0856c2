"""Oracle tests of the signal operators: FFTConvolve, Restriction/Mask, FiniteDifference/Gradient,
Starlet, DWT and the scipy/pylops interop.  Conformance (adjoint, batch, dtype, backends) is run
by ``test_conformance.py`` over ``cases_signal.py``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.signal

from sparserec.operators import (
    DWT,
    WAVELETS,
    FFTConvolve,
    FiniteDifference,
    FunctionOperator,
    Gradient,
    Kronecker,
    Mask,
    Restriction,
    Starlet,
    aslinearoperator,
    asoperator,
    from_pylops,
    from_scipy,
    wavelet_filter,
)
from sparserec.operators.convolve import next_fast_len_235

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(20261122)


def rand(*shape, cplx=False, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    return a + 1j * rng.standard_normal(shape) if cplx else a


def dot_err(A, cplx=True, batch=(2,)):
    x = rand(*batch, *A.in_shape, cplx=cplx, seed=1)
    y = rand(*batch, *A.out_shape, cplx=cplx, seed=2)
    lhs, rhs = np.vdot(A @ x, y), np.vdot(x, A.H @ y)
    return abs(lhs - rhs) / max(abs(lhs), 1e-300)


def dense_norm(A):
    return np.linalg.norm(A.todense(), 2)


def circular_ref(x, k, center):
    """Periodic convolution by np.fft, kernel sample ``center`` at the output position."""
    axes = tuple(range(x.ndim - k.ndim, x.ndim))
    kp = np.zeros(x.shape[-k.ndim:], dtype=k.dtype)
    kp[tuple(slice(0, s) for s in k.shape)] = k
    kp = np.roll(kp, tuple(-c for c in center), axis=tuple(range(k.ndim)))
    return np.fft.ifftn(np.fft.fftn(x, axes=axes) * np.fft.fftn(kp), axes=axes)


# ---------------------------------------------------------------------- FFTConvolve
@pytest.mark.parametrize("mode", ["same", "full"])
@pytest.mark.parametrize(("kshape", "ishape"), [((5,), (17,)), ((4,), (9,)), ((3, 4), (8, 7)),
                                               ((2, 5), (6, 6)), ((2, 3, 2), (4, 5, 3))])
@pytest.mark.parametrize("method", ["fft", "direct"])
def test_fftconvolve_matches_scipy(mode, kshape, ishape, method):
    k = rand(*kshape, seed=3)
    x = rand(3, *ishape, seed=4)
    A = FFTConvolve(k, ishape, mode=mode, method=method)
    ref = np.stack([scipy.signal.fftconvolve(xi, k, mode=mode) for xi in x])
    out = A @ x
    assert out.shape == ref.shape == (3, *A.out_shape)
    np.testing.assert_allclose(out, ref, atol=1e-12)
    assert dot_err(A) < 1e-13


@pytest.mark.parametrize("mode", ["same", "full"])
def test_fftconvolve_1d_matches_np_convolve_complex(mode):
    k = rand(6, cplx=True, seed=5)
    x = rand(4, 15, cplx=True, seed=6)
    A = FFTConvolve(k, 15, mode=mode)
    ref = np.stack([np.convolve(xi, k, mode="full") for xi in x])
    if mode == "same":
        s = (len(k) - 1) // 2
        ref = ref[:, s:s + 15]
    np.testing.assert_allclose(A @ x, ref, atol=1e-12)


@pytest.mark.parametrize(("kshape", "ishape", "center"), [((5,), (12,), None), ((4,), (9,), (0,)),
                                                         ((3, 2), (6, 5), None), ((4, 4), (8, 8), (1, 3))])
@pytest.mark.parametrize("method", ["fft", "direct"])
def test_fftconvolve_circular_matches_fft_oracle(kshape, ishape, center, method):
    k = rand(*kshape, seed=7)
    x = rand(2, *ishape, cplx=True, seed=8)
    A = FFTConvolve(k, ishape, mode="circular", center=center, method=method)
    c = center if center is not None else tuple(s // 2 for s in kshape)
    np.testing.assert_allclose(A @ x, circular_ref(x, k, c), atol=1e-12)
    # the closed-form norm is exact for circular convolution
    assert A.opnorm_bound() == pytest.approx(dense_norm(A), rel=1e-12)
    np.testing.assert_allclose(A.normal(x), A.H @ (A @ x), atol=1e-12)


@pytest.mark.parametrize("mode", ["same", "full"])
def test_fftconvolve_norm_bound_valid_and_normal(mode):
    A = FFTConvolve(rand(3, 3, seed=9), (7, 6), mode=mode)
    n = dense_norm(A)
    assert n <= A.opnorm_bound() * (1 + 1e-12)
    assert A.opnorm_bound() <= 1.5 * n  # a useful bound, not a crude one
    x = rand(2, 7, 6, seed=10)
    np.testing.assert_allclose(A.normal(x), A.H @ (A @ x), atol=1e-12)


def test_fftconvolve_dtypes_follow_inputs():
    k32 = rand(3, seed=1).astype(np.float32)
    A = FFTConvolve(k32, 8)
    assert (A @ rand(8).astype(np.float32)).dtype == np.float32
    assert (A @ rand(8, cplx=True).astype(np.complex64)).dtype == np.complex64
    assert (A @ rand(8)).dtype == np.float64
    B = FFTConvolve(rand(3, cplx=True).astype(np.complex128), 8)
    assert (B @ rand(8).astype(np.float32)).dtype == np.complex128


@pytest.mark.parametrize("mode", ["same", "full", "circular"])
def test_fftconvolve_numpy_torch_equal(mode):
    k = rand(3, 4, seed=11)
    x = rand(2, 8, 9, cplx=True, seed=12)
    A = FFTConvolve(k, (8, 9), mode=mode)
    At = A.to(backend="torch")
    xt = torch.as_tensor(x)
    yt = At @ xt
    assert isinstance(yt, torch.Tensor) and yt.dtype == torch.complex128
    np.testing.assert_allclose(yt.numpy(), A @ x, atol=1e-12)
    np.testing.assert_allclose((At.H @ yt).numpy(), A.H @ (A @ x), atol=1e-11)
    # torch kernel on real data uses the rfft path
    np.testing.assert_allclose((At @ xt.real).numpy(), A @ x.real, atol=1e-12)
    assert At.opnorm_bound() == pytest.approx(A.opnorm_bound(), rel=1e-12)


def test_fftconvolve_errors():
    with pytest.raises(ValueError, match="kernel.ndim"):
        FFTConvolve(np.ones((3, 3)), 10)
    with pytest.raises(ValueError, match="mode"):
        FFTConvolve(np.ones(3), 10, mode="valid")
    with pytest.raises(ValueError, match="method"):
        FFTConvolve(np.ones(3), 10, method="winograd")
    with pytest.raises(ValueError, match="circular"):
        FFTConvolve(np.ones(12), 10, mode="circular")
    with pytest.raises(ValueError, match="center"):
        FFTConvolve(np.ones(3), 10, mode="full", center=(1,))
    with pytest.raises(ValueError, match="center"):
        FFTConvolve(np.ones(3), 10, center=(3,))
    with pytest.raises(TypeError, match="floating"):
        FFTConvolve(np.ones(3, dtype=np.int64), 10)
    with pytest.raises(TypeError):
        FFTConvolve([1.0, 2.0], 10)
    A = FFTConvolve(np.ones(3), 10)
    with pytest.raises(TypeError, match="torch"):
        A @ torch.ones(10, dtype=torch.float64)


def test_next_fast_len_235():
    for n in [1, 2, 7, 11, 13, 97, 1000, 1025, 4097]:
        m = next_fast_len_235(n)
        assert m >= n
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        assert r == 1
        assert all(not _is_235(j) for j in range(n, m))


def _is_235(m):
    for p in (2, 3, 5):
        while m % p == 0:
            m //= p
    return m == 1


# ---------------------------------------------------------------------- sampling
def test_restriction_flat_multi_and_adjoint():
    x = rand(3, 4, 5, seed=13)
    R = Restriction((4, 5), [0, 7, -1, 12])
    np.testing.assert_array_equal(R @ x, x.reshape(3, 20)[:, [0, 7, 19, 12]])
    R2 = Restriction((4, 5), (np.array([0, 1, 3]), np.array([0, 2, -1])))
    np.testing.assert_array_equal(R2 @ x, x[:, [0, 1, 3], [0, 2, 4]])
    R3 = Restriction((4, 5), np.array([[0, 0], [1, 2], [3, 4]]))
    np.testing.assert_array_equal(R3.flat_indices, R2.flat_indices)
    y = rand(3, 4, seed=14)
    z = R.H @ y
    assert z.shape == (3, 4, 5)
    np.testing.assert_array_equal(z.reshape(3, 20)[:, [0, 7, 19, 12]], y)
    assert np.count_nonzero(z) == y.size
    assert R.opnorm_bound() == 1.0 == pytest.approx(dense_norm(R))
    Rr = Restriction(6, [1, 1, 1, 4])
    assert Rr.opnorm_bound() == pytest.approx(dense_norm(Rr)) == pytest.approx(np.sqrt(3))
    assert dot_err(Rr) < 1e-14
    assert Restriction(6, []).opnorm_bound() == 0.0
    assert Restriction(4, [3, 1, 0, 2]).is_orthogonal


def test_restriction_torch_and_errors():
    R = Restriction((4, 5), [0, 7, 19])
    x = rand(2, 4, 5, cplx=True, seed=15)
    yt = R @ torch.as_tensor(x)
    np.testing.assert_array_equal(yt.numpy(), R @ x)
    np.testing.assert_array_equal((R.H @ yt).numpy(), R.H @ (R @ x))
    with pytest.raises(IndexError):
        Restriction(5, [5])
    with pytest.raises(TypeError, match="integer"):
        Restriction(5, [0.5])
    with pytest.raises(ValueError, match="index arrays"):
        Restriction((2, 2), (np.array([0]),))


def test_mask_is_projection():
    m = RNG.random((5, 6)) > 0.5
    M = Mask(m)
    x = rand(2, 5, 6, cplx=True, seed=16)
    np.testing.assert_array_equal(M @ x, x * m)
    np.testing.assert_array_equal(M.H @ x, x * m)
    assert M.opnorm_bound() == 1.0
    assert Mask(np.zeros(3, bool)).opnorm_bound() == 0.0
    Mt = M.to(backend="torch", dtype="float32")
    assert Mt.mask.dtype == torch.bool
    np.testing.assert_array_equal((Mt @ torch.as_tensor(x)).numpy(), x * m)
    with pytest.raises(TypeError, match="boolean"):
        Mask(np.ones(3))


# ---------------------------------------------------------------------- differences
def _fd_ref(x, axis, kind, bd):
    if bd == "periodic":
        f = np.roll(x, -1, axis) - x
        b = x - np.roll(x, 1, axis)
    else:
        f = np.diff(x, axis=axis, append=np.take(x, [-1], axis=axis))
        b = np.diff(x, axis=axis, prepend=np.take(x, [0], axis=axis))
    return {"forward": f, "backward": b, "centered": (f + b) / 2}[kind]


@pytest.mark.parametrize("kind", ["forward", "backward", "centered"])
@pytest.mark.parametrize("bd", ["periodic", "neumann"])
def test_finite_difference_oracle(kind, bd):
    x = rand(2, 6, 7, seed=17)
    for ax in (0, 1, -1):
        D = FiniteDifference((6, 7), axis=ax, kind=kind, boundary=bd)
        np.testing.assert_allclose(D @ x, _fd_ref(x, 1 + ax % 2, kind, bd), atol=1e-14)
        assert dot_err(D) < 1e-13
        assert dense_norm(D) <= D.opnorm_bound() * (1 + 1e-12)


def _div_ref(p):
    """Discrete divergence (Neumann, backward differences) written by hand, 2-D."""
    px, py = p[..., 0, :, :], p[..., 1, :, :]
    dx = np.zeros_like(px)
    dx[..., 0, :] = px[..., 0, :]
    dx[..., 1:-1, :] = px[..., 1:-1, :] - px[..., :-2, :]
    dx[..., -1, :] = -px[..., -2, :]
    dy = np.zeros_like(py)
    dy[..., :, 0] = py[..., :, 0]
    dy[..., :, 1:-1] = py[..., :, 1:-1] - py[..., :, :-2]
    dy[..., :, -1] = -py[..., :, -2]
    return dx + dy


def test_gradient_adjoint_is_minus_divergence():
    G = Gradient((6, 5))
    p = rand(3, 2, 6, 5, seed=18)
    np.testing.assert_allclose(G.H @ p, -_div_ref(p), atol=1e-14)
    np.testing.assert_allclose(G.divergence(p), _div_ref(p), atol=1e-14)
    x = rand(3, 6, 5, seed=19)
    g = G @ x
    np.testing.assert_allclose(g[:, 0], np.diff(x, axis=1, append=x[:, -1:, :]), atol=1e-14)
    np.testing.assert_allclose(g[:, 1], np.diff(x, axis=2, append=x[:, :, -1:]), atol=1e-14)
    # periodic version: -div = backward differences adjoint, checked by the dot test
    Gp = Gradient((6, 5), boundary="periodic")
    assert dot_err(Gp) < 1e-13


def test_gradient_norm_bounds():
    G = Gradient((8, 6), boundary="periodic")  # even sizes: bound sqrt(4 d) is attained
    assert G.opnorm_bound() == pytest.approx(np.sqrt(8.0))
    assert dense_norm(G) == pytest.approx(G.opnorm_bound(), rel=1e-12)
    G3 = Gradient((3, 4, 5))
    assert G3.opnorm_bound() == pytest.approx(np.sqrt(12.0))
    assert G3.opnorm_estimate() <= G3.opnorm_bound()
    assert FiniteDifference(8, boundary="periodic").opnorm_bound() == pytest.approx(
        dense_norm(FiniteDifference(8, boundary="periodic")))


def test_differences_torch_and_errors():
    x = rand(2, 5, 6, cplx=True, seed=20)
    G = Gradient((5, 6), kind="centered")
    np.testing.assert_allclose((G @ torch.as_tensor(x)).numpy(), G @ x, atol=1e-14)
    gt = G @ torch.as_tensor(x.real.astype(np.float32))
    assert gt.dtype == torch.float32 and gt.shape == (2, 2, 5, 6)
    with pytest.raises(ValueError, match="kind"):
        FiniteDifference(5, kind="upwind")
    with pytest.raises(ValueError, match="boundary"):
        Gradient((4, 4), boundary="dirichlet")
    with pytest.raises(ValueError, match="out of range"):
        FiniteDifference((4, 4), axis=2)
    with pytest.raises(ValueError, match="repeated"):
        Gradient((4, 4), axes=(0, -2))


# ---------------------------------------------------------------------- starlet
@pytest.mark.parametrize("gen", [1, 2])
@pytest.mark.parametrize("shape", [(37,), (9, 12), (4, 5, 6)])
def test_starlet_reconstruction_and_adjoint(gen, shape):
    W = Starlet(shape, n_scales=3, generation=gen)
    x = rand(2, *shape, cplx=True, seed=21)
    c = W @ x
    assert c.shape == (2, 4, *shape)
    np.testing.assert_allclose(W.reconstruct(c), x, atol=1e-12)
    if gen == 1:
        np.testing.assert_allclose(np.sum(c, axis=1), x, atol=1e-12)
    assert dot_err(W) < 1e-13
    assert not W.is_tight_frame


def test_starlet_first_scale_1d_by_hand():
    # interior samples: w_1 = x - h * x with h = [1, 4, 6, 4, 1] / 16
    x = rand(40, seed=22)
    c = Starlet(40, n_scales=2) @ x
    h = np.array([1, 4, 6, 4, 1]) / 16
    c1 = np.convolve(x, h, mode="same")
    np.testing.assert_allclose(c[0, 2:-2], (x - c1)[2:-2], atol=1e-14)
    # second scale: filter dilated by 2 (holes), interior only
    h2 = np.array([1, 0, 4, 0, 6, 0, 4, 0, 1]) / 16
    c2 = np.convolve(c1, h2, mode="same")
    np.testing.assert_allclose(c[2, 8:-8], c2[8:-8], atol=1e-14)
    # symmetric boundary: c1[0] = (x1 + 4 x0 + 6 x0 + 4 x1 + x2) / 16
    assert c[0, 0] == pytest.approx(x[0] - (x[1] + 4 * x[0] + 6 * x[0] + 4 * x[1] + x[2]) / 16)


@pytest.mark.parametrize("gen", [1, 2])
@pytest.mark.parametrize("shape", [(40,), (10, 9)])
def test_starlet_norm_is_exact(gen, shape):
    W = Starlet(shape, n_scales=3, generation=gen)
    assert W.opnorm_bound() == pytest.approx(dense_norm(W), rel=1e-10)


@pytest.mark.parametrize("gen", [1, 2])
def test_starlet_noise_factors_monte_carlo(gen):
    W = Starlet((192, 192), n_scales=4, generation=gen)
    noise = np.random.default_rng(7).standard_normal((192, 192))
    c = W @ noise
    emp = c[:, 40:-40, 40:-40].std(axis=(1, 2))
    nf = W.noise_factors()
    assert nf.shape == (5,)
    np.testing.assert_allclose(emp[:3], nf[:3], rtol=0.05)
    np.testing.assert_allclose(emp[3:], nf[3:], rtol=0.3)  # few independent samples at coarse scales


def test_starlet_noise_factors_exact_1d():
    # 1-D first scale: w_1 = (delta - h) has norm^2 = (1 - 6/16)^2 + 2 (4/16)^2 + 2 (1/16)^2
    nf = Starlet(64, n_scales=2).noise_factors()
    assert nf[0] == pytest.approx(np.sqrt((10 / 16) ** 2 + 2 * (4 / 16) ** 2 + 2 * (1 / 16) ** 2))


def test_starlet_torch_equal_and_errors():
    W = Starlet((12, 10), n_scales=3, generation=2)
    x = rand(2, 12, 10, seed=23)
    ct = W @ torch.as_tensor(x)
    np.testing.assert_allclose(ct.numpy(), W @ x, atol=1e-13)
    np.testing.assert_allclose(W.reconstruct(ct).numpy(), x, atol=1e-12)
    c32 = W @ torch.as_tensor(x, dtype=torch.float32)
    assert c32.dtype == torch.float32
    with pytest.raises(ValueError, match="n_scales"):
        Starlet(16, n_scales=0)
    with pytest.raises(ValueError, match="generation"):
        Starlet(16, generation=3)


# ---------------------------------------------------------------------- DWT
def test_daubechies_filters():
    s3 = np.sqrt(3.0)
    h2, _ = wavelet_filter("db2")
    np.testing.assert_allclose(h2, np.array([1 + s3, 3 + s3, 3 - s3, 1 - s3]) / (4 * np.sqrt(2)), atol=1e-15)
    for name in WAVELETS:
        h, g = map(np.asarray, wavelet_filter(name))
        L = len(h)
        assert h.sum() == pytest.approx(np.sqrt(2), abs=1e-14)
        for m in range(L // 2):  # orthonormal to even shifts, and to the high-pass
            assert np.dot(h[: L - 2 * m], h[2 * m:]) == pytest.approx(float(m == 0), abs=1e-14)
            assert np.dot(h[: L - 2 * m], g[2 * m:]) == pytest.approx(0.0, abs=1e-14)
        k = np.arange(L)
        for p in range(L // 2):  # vanishing moments of the wavelet
            assert np.dot(g, k ** p) == pytest.approx(0.0, abs=1e-9 * max(1, L ** p))


def test_dwt_haar_by_hand():
    x = np.array([1.0, 3.0, 2.0, 2.0, 5.0, 1.0, 0.0, 4.0])
    r = 1 / np.sqrt(2)
    a1 = (x[0::2] + x[1::2]) * r
    d1 = (x[0::2] - x[1::2]) * r
    a2 = (a1[0::2] + a1[1::2]) * r
    d2 = (a1[0::2] - a1[1::2]) * r
    a3 = (a2[0] + a2[1]) * r
    d3 = (a2[0] - a2[1]) * r
    np.testing.assert_allclose(DWT(8, "haar") @ x, np.concatenate([[a3], [d3], d2, d1]), atol=1e-15)
    np.testing.assert_allclose(DWT(8, "haar", levels=1) @ x, np.concatenate([a1, d1]), atol=1e-15)
    # 2-D, one level: Mallat quadrants
    X = rand(4, 4, seed=24)
    C = DWT((4, 4), "haar", levels=1) @ X
    lo = lambda v, ax: (np.take(v, [0, 2], ax) + np.take(v, [1, 3], ax)) * r  # noqa: E731
    hi = lambda v, ax: (np.take(v, [0, 2], ax) - np.take(v, [1, 3], ax)) * r  # noqa: E731
    np.testing.assert_allclose(C[:2, :2], lo(lo(X, 0), 1), atol=1e-15)
    np.testing.assert_allclose(C[:2, 2:], hi(lo(X, 0), 1), atol=1e-15)
    np.testing.assert_allclose(C[2:, :2], lo(hi(X, 0), 1), atol=1e-15)
    np.testing.assert_allclose(C[2:, 2:], hi(hi(X, 0), 1), atol=1e-15)


@pytest.mark.parametrize("wavelet", WAVELETS)
def test_dwt_orthogonal_and_perfect_reconstruction(wavelet):
    for shape, levels in [((32,), None), ((8, 16), 2), ((4, 4, 8), 2)]:
        W = DWT(shape, wavelet, levels=levels)
        if np.prod(shape) <= 128:
            D = W.todense()
            np.testing.assert_allclose(D.T @ D, np.eye(D.shape[0]), atol=1e-12)
            np.testing.assert_allclose(D @ D.T, np.eye(D.shape[0]), atol=1e-12)
        x = rand(3, *shape, cplx=True, seed=25)
        c = W @ x
        np.testing.assert_allclose(W.H @ c, x, atol=1e-12)
        np.testing.assert_allclose(W.inverse(c), x, atol=1e-12)
        assert np.linalg.norm(c) == pytest.approx(np.linalg.norm(x), rel=1e-12)
        assert W.is_orthogonal and W.opnorm_bound() == 1.0


def test_dwt_axes_and_default_levels():
    W = DWT((3, 24), "db2", axes=(1,))
    assert W.levels == 3 and W.axes == (1,)
    x = rand(3, 24, seed=26)
    c = W @ x
    np.testing.assert_allclose(c, np.stack([DWT(24, "db2") @ xi for xi in x]), atol=1e-14)
    assert DWT((16, 8)).levels == 3


def test_dwt_torch_equal():
    W = DWT((16, 16), "db4", levels=2)
    x = rand(2, 16, 16, cplx=True, seed=27)
    ct = W @ torch.as_tensor(x)
    assert ct.dtype == torch.complex128
    np.testing.assert_allclose(ct.numpy(), W @ x, atol=1e-13)
    np.testing.assert_allclose((W.H @ ct).numpy(), x, atol=1e-12)
    c32 = W @ torch.as_tensor(x.real, dtype=torch.float32)
    assert c32.dtype == torch.float32
    np.testing.assert_allclose(c32.numpy(), W @ x.real, atol=1e-5)


def test_dwt_errors():
    with pytest.raises(ValueError, match=r"divisible by 2\*\*3"):
        DWT((16, 12), levels=3)
    with pytest.raises(ValueError, match="unknown wavelet"):
        DWT(16, "sym4")
    with pytest.raises(ValueError, match="even"):
        DWT(15)
    with pytest.raises(ValueError, match="levels"):
        DWT(16, levels=0)
    with pytest.raises(ValueError, match="out of range"):
        DWT((4, 4), axes=(2,))


# ---------------------------------------------------------------------- interop
def test_aslinearoperator_lsqr_kronecker_and_convolve():
    from scipy.sparse.linalg import lsqr

    A, B = rand(6, 3, seed=28), rand(5, 4, seed=29)
    K = Kronecker([A, B], flat=True)
    L = aslinearoperator(K)
    assert L.shape == (30, 12)
    x = rand(12, seed=30)
    np.testing.assert_allclose(L @ x, np.kron(A, B) @ x, atol=1e-12)
    np.testing.assert_allclose(L.rmatvec(rand(30, seed=31)), np.kron(A, B).T @ rand(30, seed=31), atol=1e-12)
    sol = lsqr(L, K @ x, atol=1e-14, btol=1e-14)[0]
    np.testing.assert_allclose(sol, x, atol=1e-9)

    C = FFTConvolve(np.outer([0.25, 0.5, 0.25], [0.5, 0.5]), (6, 5), mode="full")
    Lc = aslinearoperator(C)
    xc = rand(6, 5, seed=32)
    sol = lsqr(Lc, (C @ xc).ravel(), atol=1e-14, btol=1e-14, iter_lim=2000)[0]
    np.testing.assert_allclose(sol.reshape(6, 5), xc, atol=1e-7)
    np.testing.assert_allclose(Lc.H.matmat(np.eye(C.shape[0])), Lc.matmat(np.eye(C.shape[1])).T, atol=1e-13)


def test_aslinearoperator_matmat_is_one_batched_apply():
    calls = []

    def f(x):
        calls.append(x.shape)
        return 2.0 * x

    op = FunctionOperator(f, f, (2, 3), (2, 3), dtype=np.float64)
    L = aslinearoperator(op)
    Y = L.matmat(rand(6, 5, seed=33))
    assert Y.shape == (6, 5) and calls == [(5, 2, 3)]
    L.rmatmat(rand(6, 4, seed=34))
    assert calls[-1] == (4, 2, 3) and len(calls) == 2


def test_aslinearoperator_rejects_torch_operator():
    op = FFTConvolve(torch.ones(3, dtype=torch.float64), 5)
    with pytest.raises(TypeError, match="numpy"):
        aslinearoperator(op)


def test_from_scipy_and_asoperator():
    import scipy.sparse as sp
    from scipy.sparse.linalg import aslinearoperator as sp_aslinop

    M = rand(7, 5, cplx=True, seed=35)
    S = from_scipy(sp_aslinop(M))
    X = rand(2, 3, 5, seed=36)
    np.testing.assert_allclose(S @ X, X @ M.T, atol=1e-13)
    assert (S @ X).dtype == np.complex128
    np.testing.assert_allclose(S.H @ (S @ X), X @ M.T @ M.conj(), atol=1e-12)
    assert dot_err(S) < 1e-13
    with pytest.raises(TypeError, match="numpy-only"):
        S @ torch.ones(5, dtype=torch.complex128)
    with pytest.raises(TypeError):
        S.to(backend="torch")
    sp_m = sp.random(6, 4, density=0.5, random_state=0, format="csr")
    for obj in (M, torch.as_tensor(M), sp_m, sp_aslinop(M)):
        op = asoperator(obj)
        assert op.shape == tuple(obj.shape)
    assert asoperator(S) is S
    with pytest.raises(TypeError, match="cannot convert"):
        asoperator("A")
    with pytest.raises(ValueError, match="2-D"):
        asoperator(np.ones(3))


def test_from_pylops_and_pylops_solver():
    pylops = pytest.importorskip("pylops")
    rng = np.random.default_rng(37)
    P = pylops.MatrixMult(rng.standard_normal((9, 5)))
    A = from_pylops(P)
    X = rand(4, 5, seed=38)
    np.testing.assert_allclose(A @ X, X @ P.A.T, atol=1e-13)
    assert dot_err(A) < 1e-13
    # n-D shapes from dims/dimsd
    F = pylops.FirstDerivative((4, 6), axis=1, dtype="float64")
    B = from_pylops(F)
    assert B.in_shape == (4, 6) and B.out_shape == (4, 6)
    Z = rand(3, 4, 6, seed=39)
    np.testing.assert_allclose(B @ Z, np.stack([(F @ z.ravel()).reshape(4, 6) for z in Z]), atol=1e-13)
    assert asoperator(P).shape == (9, 5)
    # round trip back to pylops and solve with pylops' own least-squares solver
    x = rand(5, seed=40)
    Pback = pylops.aslinearoperator(aslinearoperator(A))
    xs = pylops.optimization.basic.lsqr(Pback, P @ x, niter=50, atol=1e-14, btol=1e-14)[0]
    np.testing.assert_allclose(xs, x, atol=1e-10)


def test_import_does_not_load_scipy_or_pylops():
    code = ("import sys, sparserec, sparserec.operators; "
            "bad = [m for m in ('scipy', 'pylops') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("mode", ["same", "full", "circular"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_fftconvolve_chunked_batch_matches_single_applies(mode, dtype):
    """Large numpy batches are filtered in cache-sized chunks (pruned transforms, output written
    in place); results equal single applies and scipy's fftconvolve."""
    from scipy.signal import fftconvolve

    from sparserec.operators import FFTConvolve

    rng = np.random.default_rng(0)
    k = rng.standard_normal((5, 4)).astype(dtype)
    C = FFTConvolve(k, (40, 50), mode=mode)
    X = rng.standard_normal((3, 70, 40, 50)).astype(dtype)   # 210 images: several chunks
    yb = C @ X
    assert yb.shape == (3, 70) + C.out_shape and yb.dtype == dtype
    np.testing.assert_array_equal(yb[1, 5], C @ X[1, 5])
    xb = C.H @ yb
    np.testing.assert_array_equal(xb[2, 9], C.H @ yb[2, 9])
    import scipy.fft

    with scipy.fft.set_workers(2):   # chunks on two threads: identical results
        np.testing.assert_array_equal(C @ X, yb)
    if mode != "circular":
        tol = 1e-4 if dtype == np.float32 else 1e-10
        ref = fftconvolve(X[0, 3].astype(np.complex128), k.astype(np.complex128), mode=mode)
        np.testing.assert_allclose(yb[0, 3], ref, atol=tol * np.abs(ref).max())
