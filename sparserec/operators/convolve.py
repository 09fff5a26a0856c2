r"""n-D convolution operators (FFT-based, with a direct option for small kernels)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._backend import (
    complex_dtype,
    dtype_name,
    is_array,
    is_complex_dtype,
    is_torch,
    namespace,
    result_dtype,
    to_numpy,
)
from .base import LinearOperator, _as_shape
from .basic import _cast

__all__ = ["FFTConvolve", "next_fast_len_235"]

_MODES = ("circular", "same", "full")
_NP_FFT_OUT = int(np.__version__.split(".")[0]) >= 2  # numpy.fft's ``out=`` (numpy 2.0)
_CHUNK_BYTES = 1 << 20  # complex work per chunk of a batched numpy apply (fits L2)
_METHODS = ("fft", "direct")


def next_fast_len_235(n: int) -> int:
    """Smallest 2,3,5-smooth integer ``>= n`` (a fast FFT length for every FFT library).

    Parameters
    ----------
    n : int
        Target length (``n >= 1``).

    Returns
    -------
    int

    Examples
    --------
    >>> next_fast_len_235(97)
    100
    """
    n = int(n)
    if n <= 1:
        return 1
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            # smallest power of two times p35 that reaches n
            q = -(-n // p35)
            p2 = 1 << (q - 1).bit_length()
            cand = p2 * p35
            if cand < best:
                best = cand
            p35 *= 3
        p5 *= 5
    return best


# ---------------------------------------------------------------------- FFT dispatch
def _fft(x: Any, s: tuple[int, ...], axes: tuple[int, ...], real: bool) -> Any:
    if is_torch(x):
        import torch

        return (torch.fft.rfftn if real else torch.fft.fftn)(x, s=s, dim=axes)
    import scipy.fft as sfft

    return (sfft.rfftn if real else sfft.fftn)(x, s=s, axes=axes)


def _ifft(X: Any, s: tuple[int, ...], axes: tuple[int, ...], real: bool) -> Any:
    if is_torch(X):
        import torch

        return (torch.fft.irfftn if real else torch.fft.ifftn)(X, s=s, dim=axes)
    import scipy.fft as sfft

    return (sfft.irfftn if real else sfft.ifftn)(X, s=s, axes=axes)


def _zeros_like_shape(x: Any, shape: tuple[int, ...]) -> Any:
    xp = namespace(x)
    if is_torch(x):
        return xp.zeros(shape, dtype=x.dtype, device=x.device)
    return xp.zeros(shape, dtype=x.dtype)


def _embed(y: Any, start: Sequence[int], size: Sequence[int]) -> Any:
    """Zero array of trailing shape ``size`` with ``y`` written at offset ``start``."""
    nd = len(size)
    b = tuple(y.shape[: y.ndim - nd])
    z = _zeros_like_shape(y, b + tuple(size))
    sl = (Ellipsis,) + tuple(slice(s, s + n) for s, n in zip(start, y.shape[y.ndim - nd:]))
    z[sl] = y
    return z


def _crop(y: Any, start: Sequence[int], size: Sequence[int]) -> Any:
    sl = (Ellipsis,) + tuple(slice(s, s + n) for s, n in zip(start, size))
    return y[sl]


class FFTConvolve(LinearOperator):
    r"""n-D convolution with a fixed kernel over the trailing axes, by FFT (or directly).

    Parameters
    ----------
    kernel : array (numpy or torch), real or complex
        Convolution kernel :math:`k`; ``kernel.ndim`` must equal ``len(in_shape)``.  The
        operator's backend, device and dtype are those of the kernel.
    in_shape : int or tuple of int
        Shape of one input signal/image.
    mode : {"same", "circular", "full"}, default "same"
        ``"circular"``: periodic convolution, ``out_shape = in_shape``.  ``"same"``: linear
        (zero-padded) convolution cropped to ``in_shape``, centred like
        ``scipy.signal.fftconvolve(..., mode="same")``.  ``"full"``: the whole linear
        convolution, ``out_shape = in_shape + kernel.shape - 1``.
    center : tuple of int, optional
        Index of the kernel sample that sits at the output sample's position.  Default
        ``k // 2`` for ``"circular"`` and ``(k - 1) // 2`` for ``"same"`` (the scipy convention;
        both agree for odd kernel sizes).  Not allowed with ``"full"``.
    method : {"fft", "direct"}, default "fft"
        ``"direct"`` sums shifted copies of the input, one per kernel tap (fast for kernels of
        a few taps, exact in every precision); ``"fft"`` is the default for larger kernels.

    Attributes
    ----------
    kernel : array
    mode, method : str
    center : tuple of int
    fft_shape : tuple of int
        Transform size: ``in_shape`` (circular) or a 2,3,5-smooth length
        :math:`\geq n + k - 1` per axis (same/full).

    Notes
    -----
    With :math:`N` = ``in_shape``, :math:`K` = ``kernel.shape`` and the centre :math:`c`:

    * circular: :math:`y_n = \sum_m k_m\, x_{(n - m + c) \bmod N}`;
    * full: :math:`y_n = \sum_m k_m\, x_{n - m}`, :math:`0 \le n < N + K - 1` (zero outside);
    * same: :math:`y_n = \sum_m k_m\, x_{n + c - m}`, :math:`0 \le n < N`.

    All are computed as a pointwise product of spectra on a grid of size ``fft_shape`` (zero
    padding makes the circular product equal to the linear one), with ``rfftn`` when both the
    kernel and the data are real and ``fftn`` otherwise.  The kernel spectrum
    :math:`\hat k` is cached (per precision) and rebuilt after :meth:`to`.

    The adjoint is the correlation with the conjugate kernel, :math:`\hat y \mapsto
    \overline{\hat k}\,\hat y`, preceded by the adjoint of the crop (zero embedding) and
    followed by the crop to ``in_shape``; it is exact, not an approximation.  For circular and
    full modes the normal operator is fused into one transform pair,
    :math:`A^H A x = \mathcal F^{-1}(|\hat k|^2 \hat x)` (cropped).

    Implementation: the ``same``-mode offset is folded into the cached spectrum as a phase ramp,
    so every mode is "zero-pad at offset 0, filter, crop at offset 0".  numpy batches are
    filtered in chunks of about 1 MiB of spectrum with pruned separable transforms (padding
    rows are never transformed, the inverse is cropped axis by axis); the chunks run on
    ``n`` threads inside ``scipy.fft.set_workers(n)``.  torch tensors use one batched
    ``torch.fft`` call.

    ``opnorm_bound()`` is :math:`\max_\omega |\hat k(\omega)|` on the transform grid: the exact
    norm for circular mode (a circulant matrix is normal) and an upper bound for same/full
    modes, which are sub-matrices of the circulant of size ``fft_shape``.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import FFTConvolve
    >>> k = np.array([1.0, 2.0, 1.0]) / 4
    >>> A = FFTConvolve(k, 5, mode="same")
    >>> np.round(A @ np.array([0.0, 0.0, 4.0, 0.0, 0.0]), 12) + 0.0
    array([0., 1., 2., 1., 0.])
    >>> A.opnorm_bound() <= 1.0 + 1e-12
    True
    """

    _array_attrs = ("kernel",)

    def __init__(self, kernel: Any, in_shape: int | Sequence[int], mode: str = "same",
                 center: Sequence[int] | None = None, method: str = "fft") -> None:
        if not is_array(kernel):
            raise TypeError(
                f"FFTConvolve expects the kernel as a numpy array or torch tensor, got "
                f"{type(kernel).__name__}")
        if mode not in _MODES:
            raise ValueError(f"FFTConvolve mode must be one of {_MODES}, got {mode!r}")
        if method not in _METHODS:
            raise ValueError(f"FFTConvolve method must be one of {_METHODS}, got {method!r}")
        shape = _as_shape(in_shape)
        ksh = tuple(int(s) for s in kernel.shape)
        if len(ksh) != len(shape):
            raise ValueError(
                f"FFTConvolve: kernel.ndim ({len(ksh)}) must equal len(in_shape) ({len(shape)}); "
                "the kernel acts on the trailing len(in_shape) axes")
        if any(s == 0 for s in ksh) or any(s == 0 for s in shape):
            raise ValueError("FFTConvolve needs non-empty kernel and input shapes")
        name = dtype_name(kernel.dtype)
        if not (name.startswith("float") or name.startswith("complex")):
            raise TypeError(f"FFTConvolve kernel must be floating or complex, got dtype {name}")
        if mode == "full":
            if center is not None:
                raise ValueError("center has no meaning for mode='full'")
            cen = tuple(0 for _ in ksh)
            out = tuple(n + k - 1 for n, k in zip(shape, ksh))
        else:
            if center is None:
                cen = tuple(k // 2 for k in ksh) if mode == "circular" else tuple((k - 1) // 2 for k in ksh)
            else:
                cen = tuple(int(c) for c in center)
                if len(cen) != len(ksh) or any(not 0 <= c < k for c, k in zip(cen, ksh)):
                    raise ValueError(f"center {tuple(center)} must index the kernel of shape {ksh}")
            out = shape
        if mode == "circular" and any(k > n for k, n in zip(ksh, shape)):
            raise ValueError(
                f"circular convolution needs kernel.shape {ksh} <= in_shape {shape} on every axis")
        super().__init__(shape, out, kernel.dtype)
        self.kernel = kernel
        self.mode = mode
        self.method = method
        self.center = cen
        self.kernel_shape = ksh
        if mode == "circular":
            self.fft_shape = shape
        else:
            self.fft_shape = tuple(self._fast_len(n + k - 1) for n, k in zip(shape, ksh))
        self._spec: dict[str, Any] = {}

    def _fast_len(self, n: int) -> int:
        if not is_torch(self.kernel):
            import scipy.fft as sfft

            return int(sfft.next_fast_len(n, real=True))
        return next_fast_len_235(n)

    def _after_to(self) -> None:
        self._spec = {}
        if self.mode != "circular":
            self.fft_shape = tuple(self._fast_len(n + k - 1)
                                   for n, k in zip(self.in_shape, self.kernel_shape))

    # ------------------------------------------------------------------ helpers
    def _axes(self, x: Any) -> tuple[int, ...]:
        d = len(self.in_shape)
        return tuple(range(x.ndim - d, x.ndim))

    def _padded_kernel(self, dt: Any) -> Any:
        """Kernel of dtype ``dt`` placed on the transform grid (wrapped for circular mode)."""
        k = _cast(self.kernel, dt)
        if self.mode != "circular":
            return k
        # circular: kp[(m - c) mod N] = k[m]  <=> roll of the zero-padded kernel by -c
        kp = _embed(k, (0,) * k.ndim, self.in_shape)
        xp = namespace(kp)
        return xp.roll(kp, tuple(-c for c in self.center), axis=tuple(range(k.ndim)))

    def _spectrum(self, real: bool, dt: Any) -> Any:
        key = f"{'r' if real else 'c'}:{dtype_name(dt)}"
        if key not in self._spec:
            kp = self._padded_kernel(dt if real else complex_dtype(dt))
            self._spec[key] = _fft(kp, self.fft_shape, tuple(range(kp.ndim)), real)
        return self._spec[key]

    def _plan(self, x: Any) -> tuple[Any, bool, Any]:
        dt = result_dtype(self.dtype, x.dtype)
        real = not is_complex_dtype(dt)
        return _cast(x, dt), real, dt

    def _shifted_spectrum(self, real: bool, dt: Any, conj: bool) -> Any:
        r"""Kernel spectrum times the phase ramp :math:`e^{+2\pi i k c / N}` (``"same"`` mode).

        Cropping the circular product at offset :math:`c` equals a crop at offset 0 of the
        product with this ramp (a circular shift by :math:`-c`), and the adjoint's zero
        embedding at offset :math:`c` is the conjugate ramp: the ``"same"`` apply and adjoint are
        then "pad at 0 -> filter -> crop at 0", with no embedding copy and no offset bookkeeping.
        """
        key = f"shift:{int(conj)}:{'r' if real else 'c'}:{dtype_name(dt)}"
        if key not in self._spec:
            K = self._spectrum(real, dt)
            nd = len(self.fft_shape)
            ph = np.zeros(tuple(K.shape), dtype=np.float64)
            for ax, (N, c) in enumerate(zip(self.fft_shape, self.center)):
                k = np.arange(K.shape[ax], dtype=np.float64)
                sh = [1] * nd
                sh[ax] = -1
                ph = ph + (2.0 * np.pi * ((k * c) % N) / N).reshape(sh)
            ramp = np.exp(1j * ph)
            if is_torch(K):
                import torch

                ramp = torch.as_tensor(ramp, dtype=K.dtype, device=K.device)
            else:
                ramp = ramp.astype(K.dtype)
            F = K * ramp
            self._spec[key] = namespace(F).conj(F) if conj else F
        return self._spec[key]

    def _conj_spectrum(self, real: bool, dt: Any) -> Any:
        key = f"conj:{'r' if real else 'c'}:{dtype_name(dt)}"
        if key not in self._spec:
            K = self._spectrum(real, dt)
            self._spec[key] = namespace(K).conj(K)
        return self._spec[key]

    def _power_spectrum(self, real: bool, dt: Any) -> Any:
        key = f"pow:{'r' if real else 'c'}:{dtype_name(dt)}"
        if key not in self._spec:
            K = self._spectrum(real, dt)
            xp = namespace(K)
            self._spec[key] = xp.real(K) ** 2 + xp.imag(K) ** 2
        return self._spec[key]

    def _filter(self, x: Any, conj: bool, power: bool = False, shift: bool = False) -> Any:
        """Filter ``x`` (zero-padded at offset 0 to ``fft_shape``) by the kernel's spectrum
        (conjugated, squared or phase-shifted) and crop the result at offset 0 to
        ``in_shape`` or ``out_shape`` (trailing axes)."""
        x, real, dt = self._plan(x)
        axes = self._axes(x)
        if power:
            F = self._power_spectrum(real, dt)
        elif shift:
            F = self._shifted_spectrum(real, dt, conj)
        else:
            F = self._conj_spectrum(real, dt) if conj else self._spectrum(real, dt)
        out = self.in_shape if (conj or power) else self.out_shape
        if is_torch(x):
            y = _ifft(_fft(x, self.fft_shape, axes, real) * F, self.fft_shape, axes, real)
            return _crop(y, (0,) * len(axes), out)
        # numpy: the batch is processed in chunks whose complex spectra stay cache-resident
        # (~1 MiB): transforming a whole 64-image batch axis by axis streams ~40 MB through
        # memory per pass and was measured slower than a loop of single applies.
        nd = len(axes)
        bshape = tuple(x.shape[: x.ndim - nd])
        nb = math.prod(bshape)
        per_item = math.prod(self.fft_shape) * np.dtype(dt).itemsize  # ~ bytes of one spectrum
        ch = max(1, _CHUNK_BYTES // max(per_item, 1))
        if nb <= ch:
            return self._filter_np(x, F, real, axes, out)
        xb = x.reshape((nb,) + tuple(x.shape[x.ndim - nd:]))
        # the last inverse transform of every chunk writes straight into the result (full
        # transform length on the last axis, cropped by a view: no copy of the batch)
        rdt = np.dtype(dt)
        res = np.empty((nb,) + tuple(out[:-1]) + (self.fft_shape[-1],),
                       dtype=rdt)
        ax1 = tuple(range(1, nd + 1))

        def run(i: int) -> None:
            self._filter_np(xb[i:i + ch], F, real, ax1, out, res[i:i + ch])

        import scipy.fft as sfft

        nw = min(int(sfft.get_workers()), -(-nb // ch))
        if nw > 1:  # ``scipy.fft.set_workers(n)``: chunks run on n threads (FFTs release the GIL)
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(nw) as ex:
                list(ex.map(run, range(0, nb, ch)))
        else:
            for i in range(0, nb, ch):
                run(i)
        res = res.reshape(bshape + tuple(res.shape[1:]))
        return res[..., : out[-1]] if out[-1] < self.fft_shape[-1] else res

    def _filter_np(self, x: Any, F: Any, real: bool, axes: tuple[int, ...], out: tuple[int, ...],
                   buf: Any = None) -> Any:
        import scipy.fft as sfft

        # numpy: pruned separable transforms.  Forward: the last axis is transformed on the
        # rows that hold data only (no padded zero rows), the other axes are zero-padded by the
        # transform itself.  Inverse: each leading axis is cropped right after its transform,
        # so the last (real) axis is inverted for the kept rows only.  The complex batch arrays
        # are owned here: the product and the inverse transforms run in place.
        N = self.fft_shape
        if real:
            X = sfft.rfft(x, n=N[-1], axis=axes[-1])
        else:
            X = sfft.fft(x, n=N[-1], axis=axes[-1])
        for ax, n in zip(axes[:-1], N[:-1]):
            X = sfft.fft(X, n=n, axis=ax, overwrite_x=True)
        X *= F
        for i, (ax, n) in enumerate(zip(axes[:-1], N[:-1])):
            X = sfft.ifft(X, n=n, axis=ax, overwrite_x=True)
            if out[i] < n:
                X = X[(Ellipsis, slice(0, out[i])) + (slice(None),) * (len(axes) - 1 - i)]
        if buf is not None:
            if _NP_FFT_OUT:  # numpy >= 2: numpy.fft writes into ``buf`` (same pocketfft kernels)
                (np.fft.irfft if real else np.fft.ifft)(X, n=N[-1], axis=axes[-1], out=buf)
            else:
                buf[...] = (sfft.irfft if real else sfft.ifft)(X, n=N[-1], axis=axes[-1], overwrite_x=True)
            return buf
        if real:
            y = sfft.irfft(X, n=N[-1], axis=axes[-1], overwrite_x=True)
        else:
            y = sfft.ifft(X, n=N[-1], axis=axes[-1], overwrite_x=True)
        return y[..., : out[-1]] if out[-1] < N[-1] else y

    # ------------------------------------------------------------------ direct method
    def _taps(self) -> list[tuple[tuple[int, ...], Any]]:
        knp = to_numpy(self.kernel)
        return [(idx, self.kernel[idx]) for idx in np.ndindex(*self.kernel_shape) if knp[idx] != 0]

    def _direct(self, x: Any, adjoint: bool) -> Any:
        """Sum over kernel taps; used for ``method="direct"``."""
        dt = result_dtype(self.dtype, x.dtype)
        x = _cast(x, dt)
        xp = namespace(x)
        d = len(self.in_shape)
        axes = self._axes(x)
        b = tuple(x.shape[: x.ndim - d])
        taps = self._taps()
        if self.mode == "circular":
            out = _zeros_like_shape(x, b + self.in_shape)
            for m, km in taps:
                shift = tuple(mi - ci for mi, ci in zip(m, self.center))
                if adjoint:
                    out = out + xp.conj(_cast(km, dt)) * xp.roll(x, tuple(-s for s in shift), axis=axes)
                else:
                    out = out + _cast(km, dt) * xp.roll(x, shift, axis=axes)
            return out
        full = tuple(n + k - 1 for n, k in zip(self.in_shape, self.kernel_shape))
        if not adjoint:
            out = _zeros_like_shape(x, b + full)
            for m, km in taps:
                sl = (Ellipsis,) + tuple(slice(mi, mi + n) for mi, n in zip(m, self.in_shape))
                out[sl] = out[sl] + _cast(km, dt) * x
            if self.mode == "same":
                out = _crop(out, self.center, self.in_shape)
            return out
        if self.mode == "same":
            x = _embed(x, self.center, full)
        out = _zeros_like_shape(x, b + self.in_shape)
        for m, km in taps:
            out = out + xp.conj(_cast(km, dt)) * _crop(x, m, self.in_shape)
        return out

    # ------------------------------------------------------------------ operator API
    def _apply(self, x: Any) -> Any:
        if self.method == "direct":
            return self._direct(x, adjoint=False)
        return self._filter(x, conj=False, shift=self.mode == "same")

    def _adjoint(self, y: Any) -> Any:
        if self.method == "direct":
            return self._direct(y, adjoint=True)
        return self._filter(y, conj=True, shift=self.mode == "same")

    def _normal(self, x: Any) -> Any:
        if self.method == "direct" or self.mode == "same":
            return self._adjoint(self._apply(x))
        return self._filter(x, conj=False, power=True)

    def opnorm_bound(self) -> float:
        r""":math:`\max |\hat k|` on the transform grid (exact for circular mode)."""
        K = self._spectrum(False, self.dtype)
        xp = namespace(K)
        return float(xp.max(xp.abs(K))) if math.prod(K.shape) else 0.0
