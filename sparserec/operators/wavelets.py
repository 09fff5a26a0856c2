r"""Wavelet transforms that run on numpy and torch (CPU/CUDA): the isotropic undecimated
starlet (à trous B3-spline) and the orthogonal periodized discrete wavelet transform."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._backend import dtype_name, is_torch, namespace, real_dtype, resolve_dtype
from .base import LinearOperator, _as_shape

__all__ = ["DWT", "Starlet", "WAVELETS", "wavelet_filter"]

# ---------------------------------------------------------------------- filters
#: Daubechies scaling (low-pass synthesis) filters, extremal phase, normalised to sum sqrt(2)
#: (Daubechies, "Ten Lectures on Wavelets", 1992, Table 6.1).  ``db1`` is Haar.
_DAUBECHIES: dict[int, tuple[float, ...]] = {
    1: (0.7071067811865476, 0.7071067811865476),
    2: (0.48296291314453416, 0.8365163037378079, 0.2241438680420134, -0.12940952255126037),
    3: (0.33267055295008263, 0.8068915093110925, 0.45987750211849154, -0.13501102001025458,
        -0.08544127388202666, 0.03522629188570953),
    4: (0.2303778133088965, 0.7148465705529157, 0.6308807679298589, -0.027983769416859854,
        -0.18703481171909309, 0.030841381835560764, 0.0328830116668852, -0.010597401785069032),
    5: (0.16010239797419293, 0.6038292697971896, 0.7243085284377729, 0.13842814590132074,
        -0.24229488706638203, -0.032244869584638375, 0.07757149384004572, -0.006241490212798274,
        -0.012580751999081999, 0.0033357252854737712),
    6: (0.11154074335010947, 0.49462389039845306, 0.7511339080210954, 0.31525035170919763,
        -0.22626469396543983, -0.12976686756726194, 0.09750160558732304, 0.027522865530305727,
        -0.03158203931748603, 0.0005538422011614961, 0.004777257510945511, -0.0010773010853084796),
    7: (0.07785205408500918, 0.3965393194819173, 0.7291320908462351, 0.4697822874051931,
        -0.14390600392856498, -0.22403618499387498, 0.07130921926683026, 0.08061260915108308,
        -0.03802993693501441, -0.01657454163066688, 0.01255099855609984, 0.0004295779729213665,
        -0.0018016407040474908, 0.00035371379997452024),
    8: (0.05441584224310401, 0.31287159091429995, 0.6756307362972898, 0.5853546836542067,
        -0.015829105256349306, -0.2840155429615469, 0.0004724845739132828, 0.12874742662047847,
        -0.017369301001807547, -0.044088253930794755, 0.013981027917398282, 0.008746094047405777,
        -0.004870352993451574, -0.00039174037337694705, 0.0006754494064505693,
        -0.00011747678412476953),
}

#: names accepted by :class:`DWT`
WAVELETS: tuple[str, ...] = ("haar",) + tuple(f"db{k}" for k in range(1, 9))


def wavelet_filter(wavelet: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    r"""Low-pass :math:`h` and high-pass :math:`g` filters of an orthogonal wavelet.

    Parameters
    ----------
    wavelet : str
        ``"haar"`` or ``"db1"`` ... ``"db8"``.

    Returns
    -------
    h, g : tuple of float
        Scaling filter (:math:`\sum_m h_m = \sqrt 2`) and wavelet filter obtained by the
        quadrature-mirror rule :math:`g_m = (-1)^m h_{L-1-m}`.

    Examples
    --------
    >>> h, g = wavelet_filter("haar")
    >>> [round(v, 6) for v in g]
    [0.707107, -0.707107]
    """
    name = str(wavelet).lower()
    if name not in WAVELETS:
        raise ValueError(f"unknown wavelet {wavelet!r}; available: {', '.join(WAVELETS)}")
    h = _DAUBECHIES[1 if name == "haar" else int(name[2:])]
    L = len(h)
    g = tuple(((-1) ** m) * h[L - 1 - m] for m in range(L))
    return h, g


# ---------------------------------------------------------------------- helpers
def _index(ndim: int, ax: int, i: Any) -> tuple[Any, ...]:
    return (slice(None),) * ax + (i,)


def _copy(x: Any) -> Any:
    return x.clone() if is_torch(x) else x.copy()


class _SparseAxis:
    """An ``n x n`` sparse matrix applied along one axis, stored in gather form (host numpy):
    ``(A x)_r = sum_t w[t, r] * x[idx[t, r]]``."""

    def __init__(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int) -> None:
        order = np.lexsort((cols, rows))
        rows, cols, vals = rows[order], cols[order], vals[order]
        counts = np.bincount(rows, minlength=n)
        m = int(counts.max()) if counts.size else 0
        start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        pos = np.arange(rows.size) - start[rows]
        self.idx = np.zeros((m, n), dtype=np.int64)
        self.w = np.zeros((m, n), dtype=np.float64)
        self.idx[pos, rows] = cols
        self.w[pos, rows] = vals
        self._cache: dict[tuple[str, str], tuple[Any, Any]] = {}

    def transpose(self) -> _SparseAxis:
        m, n = self.idx.shape
        rows = np.repeat(np.arange(n)[None, :], m, axis=0).ravel()
        keep = self.w.ravel() != 0
        return _SparseAxis(self.idx.ravel()[keep], rows[keep], self.w.ravel()[keep], n)

    def dense(self) -> np.ndarray:
        m, n = self.idx.shape
        out = np.zeros((n, n))
        np.add.at(out, (np.repeat(np.arange(n)[None, :], m, axis=0), self.idx), self.w)
        return out

    def _on(self, like: Any, ax_after: int) -> tuple[Any, Any]:
        """Flat gather index ``(m * n,)`` and weights ``(m, n, 1, ..., 1)`` for ``like``."""
        rdt = dtype_name(real_dtype(like.dtype))
        key = (str(like.device) if is_torch(like) else "numpy", f"{rdt}:{ax_after}")
        if key not in self._cache:
            m, n = self.idx.shape
            w = self.w.reshape((m, n) + (1,) * ax_after)
            if is_torch(like):
                import torch

                idx = torch.as_tensor(self.idx.reshape(-1), device=like.device)
                wt = torch.as_tensor(w, dtype=resolve_dtype(rdt, "torch"), device=like.device)
            else:
                idx, wt = self.idx.reshape(-1), w.astype(rdt)
            self._cache[key] = (idx, wt)
        return self._cache[key]

    def __call__(self, x: Any, ax: int) -> Any:
        """Apply along axis ``ax`` of ``x``: one gather, one product, one sum."""
        xp = namespace(x)
        m, n = self.idx.shape
        idx, w = self._on(x, x.ndim - ax - 1)
        v = xp.take(x, idx, axis=ax)
        v = xp.reshape(v, tuple(x.shape[:ax]) + (m, n) + tuple(x.shape[ax + 1:]))
        return xp.sum(v * w, axis=ax)


# ---------------------------------------------------------------------- starlet
_B3 = (1.0 / 16, 4.0 / 16, 6.0 / 16, 4.0 / 16, 1.0 / 16)


def _fold(k: np.ndarray, n: int) -> np.ndarray:
    """Half-sample symmetric boundary: ``... x1 x0 | x0 x1 ... x_{n-1} | x_{n-1} ...``."""
    k = np.mod(k, 2 * n)
    return np.where(k >= n, 2 * n - 1 - k, k)


def _b3_response(w: np.ndarray) -> np.ndarray:
    return (6.0 + 8.0 * np.cos(w) + 2.0 * np.cos(2.0 * w)) / 16.0


class _AtrousAxis:
    """B3 filter dilated by ``s`` along one axis of length ``n`` with the symmetric boundary.

    ``H = S P``: ``P`` pads by ``2 s`` on both sides by index folding (one gather), ``S`` is the
    valid correlation with the 5 taps (5 slices).  ``H^T = P^T S^T``: ``S^T`` adds 5 shifted
    copies into a zero array, ``P^T`` folds the padding back (a sparse gather).
    """

    def __init__(self, n: int, s: int) -> None:
        self.n, self.s = n, s
        k = np.arange(n + 4 * s)
        self.pad_idx = _fold(k - 2 * s, n)
        self.fold_T = _SparseAxis(self.pad_idx, k, np.ones(k.size), n)
        self._cache: dict[str, Any] = {}

    def _pad_idx(self, like: Any) -> Any:
        if not is_torch(like):
            return self.pad_idx
        key = str(like.device)
        if key not in self._cache:
            import torch

            self._cache[key] = torch.as_tensor(self.pad_idx, device=like.device)
        return self._cache[key]

    def __call__(self, x: Any, ax: int) -> Any:
        xp = namespace(x)
        xpad = xp.take(x, self._pad_idx(x), axis=ax)
        out = None
        for o in range(5):
            v = _B3[o] * xpad[_index(x.ndim, ax, slice(o * self.s, o * self.s + self.n))]
            out = v if out is None else out + v
        return out

    def transpose(self, y: Any, ax: int) -> Any:
        xp = namespace(y)
        shape = tuple(y.shape[:ax]) + (self.n + 4 * self.s,) + tuple(y.shape[ax + 1:])
        z = xp.zeros(shape, dtype=y.dtype, device=y.device) if is_torch(y) else np.zeros(shape, y.dtype)
        for o in range(5):
            sl = _index(y.ndim, ax, slice(o * self.s, o * self.s + self.n))
            z[sl] = z[sl] + _B3[o] * y
        n, p = self.n, 2 * self.s
        if p > n:  # padding wider than the signal: general folding
            return self.fold_T(z, ax)
        # fold the two mirrored pads back onto the edges (disjoint slices of our own array)
        x = z[_index(y.ndim, ax, slice(p, p + n))]
        x[_index(y.ndim, ax, slice(0, p))] += xp.flip(z[_index(y.ndim, ax, slice(0, p))], axis=ax)
        x[_index(y.ndim, ax, slice(n - p, n))] += xp.flip(
            z[_index(y.ndim, ax, slice(n + p, n + 2 * p))], axis=ax)
        return x




class Starlet(LinearOperator):
    r"""Isotropic undecimated wavelet transform (starlet, à trous algorithm, B3-spline).

    Parameters
    ----------
    shape : int or tuple of int
        Shape of one signal/image/volume (1-D, 2-D or n-D; the filter is separable).
    n_scales : int, default 4
        Number of wavelet scales :math:`J`.
    generation : {1, 2}, default 1
        First- or second-generation starlet (see Notes).

    Attributes
    ----------
    n_scales, generation : int

    Notes
    -----
    Let :math:`h = [1, 4, 6, 4, 1]/16` (the B3 spline), applied separably along every axis,
    and :math:`H_j` the convolution with :math:`h` dilated by :math:`2^{j}` (à trous: holes of
    :math:`2^j - 1` zeros).  With :math:`c_0 = x` and :math:`c_j = H_{j-1} c_{j-1}`:

    * first generation: :math:`w_j = c_{j-1} - c_j`, so :math:`x = c_J + \sum_j w_j`;
    * second generation: :math:`w_j = c_{j-1} - H_{j-1} c_j`, inverted by
      :math:`c_{j-1} = w_j + H_{j-1} c_j`.

    ``apply`` is the analysis: out_shape ``(J + 1, *shape)`` holding :math:`w_1, \dots, w_J`
    then :math:`c_J`.  :meth:`reconstruct` is the exact inverse (synthesis), which is *not*
    the adjoint (``adjoint``/``.H``), computed exactly by reverse accumulation.

    Boundary: half-sample symmetric (mirror with the edge sample repeated,
    ``numpy.pad(mode="symmetric")``), applied by index folding with period :math:`2n`, so it is
    valid for any dilation, even :math:`2^j > n`.  With this boundary every :math:`H_j` is
    diagonalised by the DCT-II basis with eigenvalues :math:`\hat h(2^j\omega_k)`,
    :math:`\hat h(\omega) = (6 + 8\cos\omega + 2\cos 2\omega)/16`,
    :math:`\omega_k = \pi k / n`, hence the exact norm returned by :meth:`opnorm_bound`,

    .. math:: \|W\|_2^2 = \max_{k} \sum_{j=1}^{J+1} |\hat w_j(\omega_k)|^2 .

    The starlet is a frame but not a tight one (``is_tight_frame = False``).
    :meth:`noise_factors` gives the standard deviation of each plane of the transform of unit
    white Gaussian noise away from the boundary, :math:`\|\psi_j\|_2` (the :math:`\ell_2`
    norm of the impulse response of scale :math:`j`), computed exactly from the filter.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import Starlet
    >>> W = Starlet((32, 32), n_scales=3)
    >>> x = np.random.default_rng(0).standard_normal((32, 32))
    >>> c = W @ x
    >>> c.shape
    (4, 32, 32)
    >>> bool(np.allclose(W.reconstruct(c), x))
    True
    >>> np.round(W.noise_factors()[:3], 4)
    array([0.8908, 0.2007, 0.0855])
    """

    def __init__(self, shape: int | Sequence[int], n_scales: int = 4, generation: int = 1) -> None:
        shp = _as_shape(shape)
        if len(shp) == 0 or any(s < 1 for s in shp):
            raise ValueError(f"Starlet needs a non-empty shape, got {shp}")
        if not isinstance(n_scales, (int, np.integer)) or n_scales < 1:
            raise ValueError(f"n_scales must be a positive integer, got {n_scales!r}")
        if generation not in (1, 2):
            raise ValueError(f"generation must be 1 or 2, got {generation!r}")
        super().__init__(shp, (int(n_scales) + 1,) + shp, None)
        self.n_scales = int(n_scales)
        self.generation = int(generation)
        self._filters: dict[tuple[int, int], _AtrousAxis] = {}

    def _filter(self, n: int, j: int) -> _AtrousAxis:
        key = (n, j)
        if key not in self._filters:
            self._filters[key] = _AtrousAxis(n, 2 ** j)
        return self._filters[key]

    def _smooth(self, x: Any, j: int, transpose: bool = False) -> Any:
        nb = x.ndim - len(self.in_shape)
        for a, n in enumerate(self.in_shape):
            if n == 1:
                continue
            f = self._filter(n, j)
            x = f.transpose(x, nb + a) if transpose else f(x, nb + a)
        return x

    #: per-chunk working-set target on CPU (bytes): the a-trous passes stream several padded
    #: temporaries per image, so large batches are processed in cache-sized blocks
    _cpu_block_bytes = 1 << 20

    def _blocked(self, fn: Any, z: Any, nd: int) -> Any:
        """Apply ``fn`` to cache-sized blocks of the flattened batch (CPU only; one call on GPU)."""
        xp = namespace(z)
        on_gpu = is_torch(z) and z.device.type != "cpu"
        batch = tuple(z.shape[: z.ndim - nd])
        nbatch = math.prod(batch)
        per = math.prod(z.shape[z.ndim - nd:]) * z.dtype.itemsize if hasattr(z.dtype, "itemsize") else \
            math.prod(z.shape[z.ndim - nd:]) * (z.element_size() if is_torch(z) else 8)
        blk = max(1, self._cpu_block_bytes // max(per, 1))
        if on_gpu or nbatch <= blk or not batch:
            return fn(z)
        flat = xp.reshape(z, (nbatch,) + tuple(z.shape[z.ndim - nd:]))
        outs = [fn(flat[i:i + blk]) for i in range(0, nbatch, blk)]
        out = xp.concat(outs, axis=0)
        return xp.reshape(out, batch + tuple(out.shape[1:]))

    def _apply(self, x: Any) -> Any:
        return self._blocked(self._apply_block, x, len(self.in_shape))

    def _adjoint(self, y: Any) -> Any:
        return self._blocked(self._adjoint_block, y, len(self.out_shape))

    def _apply_block(self, x: Any) -> Any:
        xp = namespace(x)
        nb = x.ndim - len(self.in_shape)
        c = x
        planes = []
        for j in range(self.n_scales):
            cn = self._smooth(c, j)
            planes.append(c - cn if self.generation == 1 else c - self._smooth(cn, j))
            c = cn
        planes.append(c)
        return xp.stack(planes, axis=nb)

    def _adjoint_block(self, y: Any) -> Any:
        nb = y.ndim - len(self.out_shape)
        G = y[_index(y.ndim, nb, self.n_scales)]
        for j in range(self.n_scales - 1, -1, -1):
            w = y[_index(y.ndim, nb, j)]
            if self.generation == 1:
                G = self._smooth(G - w, j, transpose=True) + w
            else:
                G = self._smooth(G - self._smooth(w, j, transpose=True), j, transpose=True) + w
        return G

    def reconstruct(self, coeffs: Any) -> Any:
        r"""Exact inverse of the analysis (synthesis), ``(*batch, J + 1, *shape) -> (*batch, *shape)``.

        First generation: :math:`x = c_J + \sum_j w_j`; second generation:
        :math:`c_{j-1} = w_j + H_{j-1} c_j` from :math:`j = J` down to 1.
        """
        y = self._check_input(coeffs, self.out_shape, "reconstruct")
        xp = namespace(y)
        nb = y.ndim - len(self.out_shape)
        if self.generation == 1:
            return xp.sum(y, axis=nb)
        c = y[_index(y.ndim, nb, self.n_scales)]
        for j in range(self.n_scales - 1, -1, -1):
            c = self._smooth(c, j) + y[_index(y.ndim, nb, j)]
        return c

    # ------------------------------------------------------------------ closed forms
    def _responses_1d(self) -> list[np.ndarray]:
        """Impulse responses (infinite domain) of c_0..c_J and, for gen 2, of H_{j-1} c_j,
        all centred on one common grid."""
        J = self.n_scales
        half = 2 * (2 ** (J + 1) - 1)  # enough room for gen-2's extra smoothing
        L = 2 * half + 1
        a = np.zeros(L)
        a[half] = 1.0
        out = [a]
        for j in range(J):
            out.append(self._conv_dilated(out[-1], j))
        return out

    @staticmethod
    def _conv_dilated(a: np.ndarray, j: int) -> np.ndarray:
        s = 2 ** j
        out = np.zeros_like(a)
        for o in range(5):
            sh = (o - 2) * s
            out += _B3[o] * np.roll(a, sh)
        return out

    def noise_factors(self) -> np.ndarray:
        r"""Standard deviation of each plane for unit white Gaussian noise (away from edges).

        Returns
        -------
        numpy.ndarray of shape (n_scales + 1,)
            :math:`\sigma_j = \|\psi_j\|_2` for :math:`w_1, \dots, w_J`, then for :math:`c_J`.
            For the separable n-D filter, with 1-D responses :math:`a, b`,
            :math:`\|\otimes^d a - \otimes^d b\|^2 = (a\cdot a)^d - 2 (a\cdot b)^d + (b\cdot b)^d`.
        """
        d = len(self.in_shape)
        resp = self._responses_1d()
        out = []
        for j in range(1, self.n_scales + 1):
            a = resp[j - 1]
            b = resp[j] if self.generation == 1 else self._conv_dilated(resp[j], j - 1)
            v = (a @ a) ** d - 2 * (a @ b) ** d + (b @ b) ** d
            out.append(math.sqrt(max(v, 0.0)))
        c = resp[-1]
        out.append(math.sqrt((c @ c) ** d))
        return np.asarray(out)

    def frequency_responses(self) -> np.ndarray:
        r"""Eigenvalues :math:`\hat w_j(\omega_k)` of every plane on the DCT-II grid, shape
        ``(n_scales + 1, *shape)`` (exact with the symmetric boundary)."""
        d = len(self.in_shape)
        J = self.n_scales
        # per axis: A_j(w) for j = 0..J and the gen-2 extra factor
        per_axis = []
        for n in self.in_shape:
            w = np.pi * np.arange(n) / n
            A = [np.ones(n)]
            for j in range(J):
                A.append(A[-1] * _b3_response((2 ** j) * w))
            per_axis.append((w, A))

        def outer(vs: list[np.ndarray]) -> np.ndarray:
            out = np.ones((1,) * d)
            for k, v in enumerate(vs):
                out = out * v.reshape((1,) * k + (-1,) + (1,) * (d - k - 1))
            return out

        planes = []
        for j in range(1, J + 1):
            prev = outer([A[j - 1] for _, A in per_axis])
            if self.generation == 1:
                cur = outer([A[j] for _, A in per_axis])
            else:
                cur = outer([A[j] * _b3_response((2 ** (j - 1)) * w) for w, A in per_axis])
            planes.append(prev - cur)
        planes.append(outer([A[J] for _, A in per_axis]))
        return np.stack(planes)

    def opnorm_bound(self) -> float:
        r"""Exact :math:`\|W\|_2` (symmetric boundary: DCT-II diagonalisation, see Notes)."""
        if self._opnorm_exact is None:
            R = self.frequency_responses()
            self._opnorm_exact = float(np.sqrt(np.max(np.sum(R ** 2, axis=0))))
        return self._opnorm_exact

    _opnorm_exact: float | None = None


# ---------------------------------------------------------------------- DWT
def _analysis_axis(x: Any, ax: int, h: Sequence[float], g: Sequence[float]) -> Any:
    """One periodized analysis step along axis ``ax``: ``[a | d]`` with
    ``a_k = sum_m h_m x_{(2k+m) mod n}``, ``d_k = sum_m g_m x_{(2k+m) mod n}``."""
    xp = namespace(x)
    n = x.shape[ax]
    xr = xp.reshape(x, tuple(x.shape[:ax]) + (n // 2, 2) + tuple(x.shape[ax + 1:]))
    xe = xr[_index(xr.ndim, ax + 1, 0)]
    xo = xr[_index(xr.ndim, ax + 1, 1)]
    a = d = None
    for q in range(len(h) // 2):
        e = xp.roll(xe, -q, axis=ax) if q else xe
        o = xp.roll(xo, -q, axis=ax) if q else xo
        va = h[2 * q] * e + h[2 * q + 1] * o
        vd = g[2 * q] * e + g[2 * q + 1] * o
        a = va if a is None else a + va
        d = vd if d is None else d + vd
    return xp.concat([a, d], axis=ax)


def _synthesis_axis(y: Any, ax: int, h: Sequence[float], g: Sequence[float]) -> Any:
    """Inverse (= adjoint) of :func:`_analysis_axis`."""
    xp = namespace(y)
    n = y.shape[ax]
    half = n // 2
    a = y[_index(y.ndim, ax, slice(0, half))]
    d = y[_index(y.ndim, ax, slice(half, n))]
    xe = xo = None
    for q in range(len(h) // 2):
        ve = h[2 * q] * a + g[2 * q] * d
        vo = h[2 * q + 1] * a + g[2 * q + 1] * d
        if q:
            ve = xp.roll(ve, q, axis=ax)
            vo = xp.roll(vo, q, axis=ax)
        xe = ve if xe is None else xe + ve
        xo = vo if xo is None else xo + vo
    out = xp.stack([xe, xo], axis=ax + 1)
    return xp.reshape(out, tuple(y.shape))


class DWT(LinearOperator):
    r"""Orthogonal periodized discrete wavelet transform (1-D, 2-D or n-D separable).

    Parameters
    ----------
    shape : int or tuple of int
        Shape of one input; every transformed axis must be divisible by ``2 ** levels``.
    wavelet : str, default "haar"
        ``"haar"`` or a Daubechies wavelet ``"db1"`` ... ``"db8"`` (see :data:`WAVELETS`).
    levels : int, optional
        Number of decomposition levels; default: the largest :math:`J` such that
        :math:`2^J` divides every transformed axis (full dyadic decomposition).
    axes : sequence of int, optional
        Axes of ``shape`` to transform (default: all).

    Attributes
    ----------
    wavelet : str
    levels : int
    axes : tuple of int
    filters : tuple of tuple of float
        ``(h, g)``: scaling and wavelet filters (see :func:`wavelet_filter`).

    Notes
    -----
    One level along an axis of (even) length :math:`n` computes, with periodic indices,

    .. math:: a_k = \sum_m h_m x_{(2k + m) \bmod n}, \qquad d_k = \sum_m g_m x_{(2k+m) \bmod n},
       \qquad g_m = (-1)^m h_{L-1-m},

    for :math:`k < n/2`, which is an orthogonal map for every even :math:`n` (the filters
    are orthonormal to their even shifts).  It is evaluated with even/odd polyphase
    components and ``roll``\ s (no gather, no Python loop over the batch), so it runs on
    torch/CUDA as well as numpy.

    Layout (coefficients packed in place, ``out_shape = in_shape``, the usual "Mallat"
    layout): after one level, along every transformed axis the first half holds the low-pass
    and the second half the high-pass output; level :math:`l + 1` transforms again the corner
    where every transformed axis is low-pass, of size :math:`n / 2^{l}` per axis.  In 1-D the
    vector is ``[cA_J, cD_J, cD_{J-1}, ..., cD_1]`` with ``cD_l`` of length :math:`n/2^l`; in
    2-D the detail blocks of level :math:`l` sit at ``[:m, m:2m]``, ``[m:2m, :m]`` and
    ``[m:2m, m:2m]`` with :math:`m = n / 2^{l}`.

    The transform is orthogonal: :math:`W^H W = W W^H = I`, ``adjoint`` is the inverse and
    ``opnorm_bound() == 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import DWT
    >>> W = DWT(4, "haar", levels=1)
    >>> np.round(W @ np.array([1.0, 3.0, 2.0, 2.0]), 6)
    array([ 2.828427,  2.828427, -1.414214,  0.      ])
    >>> x = np.random.default_rng(0).standard_normal((2, 16, 16))
    >>> W2 = DWT((16, 16), "db4", levels=2)
    >>> bool(np.allclose(W2.H @ (W2 @ x), x))
    True
    """

    is_orthogonal = True
    is_tight_frame = True
    frame_constant = 1.0

    def __init__(self, shape: int | Sequence[int], wavelet: str = "haar", levels: int | None = None,
                 axes: Sequence[int] | None = None) -> None:
        shp = _as_shape(shape)
        self.filters = wavelet_filter(wavelet)
        nd = len(shp)
        if nd == 0:
            raise ValueError("DWT needs a non-empty shape")
        if axes is None:
            axes = tuple(range(nd))
        ax = []
        for a in axes:
            a = int(a)
            if not -nd <= a < nd:
                raise ValueError(f"axis {a} is out of range for shape {shp}")
            ax.append(a % nd)
        if len(set(ax)) != len(ax) or not ax:
            raise ValueError(f"axes must be distinct and non-empty, got {tuple(axes)}")
        sizes = [shp[a] for a in ax]
        if levels is None:
            J = 0
            while all(s % (2 ** (J + 1)) == 0 for s in sizes):
                J += 1
            if J == 0:
                raise ValueError(
                    f"DWT: the transformed axes {sizes} of shape {shp} must be even (divisible by "
                    "2 ** levels)")
        else:
            if not isinstance(levels, (int, np.integer)) or levels < 1:
                raise ValueError(f"levels must be a positive integer, got {levels!r}")
            J = int(levels)
            bad = [s for s in sizes if s % (2 ** J) != 0]
            if bad:
                raise ValueError(
                    f"DWT with levels={J} needs every transformed axis divisible by 2**{J} = {2 ** J}; "
                    f"shape {shp} has axes of length {bad}. Pad the data or lower levels.")
        super().__init__(shp, shp, None)
        self.wavelet = str(wavelet).lower()
        self.levels = J
        self.axes = tuple(ax)

    def _corner(self, nb: int, lev: int) -> tuple[Any, ...]:
        sl = [slice(None)] * (nb + len(self.in_shape))
        for a in self.axes:
            sl[nb + a] = slice(0, self.in_shape[a] // (2 ** lev))
        return tuple(sl)

    def _apply(self, x: Any) -> Any:
        h, g = self.filters
        nb = x.ndim - len(self.in_shape)
        out = x
        for lev in range(self.levels):
            region = out if lev == 0 else out[self._corner(nb, lev)]
            for a in self.axes:
                region = _analysis_axis(region, nb + a, h, g)
            if lev == 0:
                out = region
            else:
                out[self._corner(nb, lev)] = region
        return out

    def _adjoint(self, y: Any) -> Any:
        h, g = self.filters
        nb = y.ndim - len(self.out_shape)
        if self.levels > 1:
            y = _copy(y)
        for lev in range(self.levels - 1, -1, -1):
            region = y if lev == 0 else y[self._corner(nb, lev)]
            for a in reversed(self.axes):
                region = _synthesis_axis(region, nb + a, h, g)
            if lev == 0:
                return region
            y[self._corner(nb, lev)] = region
        return y  # pragma: no cover

    def _normal(self, x: Any) -> Any:
        return x

    def inverse(self, coeffs: Any) -> Any:
        """Inverse transform (equal to the adjoint for this orthogonal transform)."""
        return self.adjoint(coeffs)

    def opnorm_bound(self) -> float:
        return 1.0
