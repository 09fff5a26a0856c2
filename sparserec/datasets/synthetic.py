r"""Seeded generators of synthetic sparse-recovery problems (numpy, batch-first)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CompressedSensingProblem", "make_compressed_sensing", "make_sparse_signal"]

_AMPLITUDES = ("gaussian", "rademacher", "uniform")


def _rng(seed: Any) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _check_int(v: Any, name: str, minimum: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(v)


def make_sparse_signal(n_features: int, n_nonzero: int, n_signals: int | None = None, *,
                       complex_: bool = False, amplitude: str = "gaussian", min_abs: float = 0.0,
                       seed: Any = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Random ``n_nonzero``-sparse vectors with a uniformly random support.

    Parameters
    ----------
    n_features : int
        Length of each signal.
    n_nonzero : int
        Number of non-zeros of each signal (``<= n_features``); every signal of a batch gets its
        own support.
    n_signals : int, optional
        Batch size.  ``None`` gives one signal without batch dimension.
    complex_ : bool, default False
        Complex (circularly-symmetric) amplitudes.
    amplitude : {"gaussian", "rademacher", "uniform"}
        Law of the non-zeros: standard (complex) normal; random sign (random unit-modulus
        phase when complex); or uniform modulus in [1, 2] with random sign/phase.
    min_abs : float, default 0
        Non-zero magnitudes below ``min_abs`` are pushed up to it (keeps the support
        identifiable).
    seed : int, numpy.random.Generator or None

    Returns
    -------
    x : ndarray of shape ``(n_signals, n_features)`` or ``(n_features,)``
        float64, or complex128 when ``complex_``.
    support : ndarray of bool, same shape as ``x``

    Examples
    --------
    >>> from sparserec.datasets import make_sparse_signal
    >>> x, s = make_sparse_signal(100, 5, n_signals=3, seed=0)
    >>> x.shape, s.sum(axis=1).tolist()
    ((3, 100), [5, 5, 5])
    """
    n_features = _check_int(n_features, "n_features", 1)
    n_nonzero = _check_int(n_nonzero, "n_nonzero", 0)
    if n_nonzero > n_features:
        raise ValueError(f"n_nonzero = {n_nonzero} exceeds n_features = {n_features}")
    if amplitude not in _AMPLITUDES:
        raise ValueError(f"amplitude must be one of {_AMPLITUDES}, got {amplitude!r}")
    if not np.isfinite(min_abs) or min_abs < 0:
        raise ValueError(f"min_abs must be finite and non-negative, got {min_abs!r}")
    batch = 1 if n_signals is None else _check_int(n_signals, "n_signals", 1)
    rng = _rng(seed)
    # a random support per signal: the n_nonzero smallest of iid uniforms
    keys = rng.random((batch, n_features))
    idx = np.argsort(keys, axis=1)[:, :n_nonzero]
    support = np.zeros((batch, n_features), dtype=bool)
    np.put_along_axis(support, idx, True, axis=1)
    shape = (batch, n_nonzero)
    if amplitude == "gaussian":
        if complex_:
            vals = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2.0)
        else:
            vals = rng.standard_normal(shape)
    else:
        mod = np.ones(shape) if amplitude == "rademacher" else rng.uniform(1.0, 2.0, shape)
        if complex_:
            vals = mod * np.exp(2j * np.pi * rng.random(shape))
        else:
            vals = mod * rng.choice(np.array([-1.0, 1.0]), size=shape)
    if min_abs > 0:
        mag = np.abs(vals)
        scale = np.where(mag < min_abs, min_abs / np.maximum(mag, np.finfo(float).tiny), 1.0)
        vals = vals * scale
    x = np.zeros((batch, n_features), dtype=np.complex128 if complex_ else np.float64)
    x[support] = vals.ravel()  # row-major: each row has exactly n_nonzero True entries
    if n_signals is None:
        return x[0], support[0]
    return x, support


@dataclass(frozen=True)
class CompressedSensingProblem:
    r"""A synthetic compressed-sensing instance :math:`y = A x + e` (see
    :func:`make_compressed_sensing`).

    Unpacks as ``A, y, x = problem``.

    Attributes
    ----------
    A : ndarray (n, p)
        Sensing matrix with unit-norm columns.
    y : ndarray (n_targets, n) or (n,)
        Noisy measurements.
    x : ndarray (n_targets, p) or (p,)
        True sparse signals.
    support : ndarray of bool, shape of ``x``
    y_clean : ndarray, shape of ``y``
        Noise-free measurements :math:`A x`.
    noise_var : ndarray (n_targets,) or float
        Per-target noise variance (per real dimension doubled for complex: :math:`E|e_i|^2`).
    snr_db : float or None
    seed : Any
    """

    A: np.ndarray
    y: np.ndarray
    x: np.ndarray
    support: np.ndarray
    y_clean: np.ndarray
    noise_var: Any
    snr_db: float | None = None
    seed: Any = None
    params: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.A, self.y, self.x))


def make_compressed_sensing(n: int, p: int, k: int, n_targets: int | None = None,
                            snr_db: float | None = 20.0, seed: Any = 0, complex_: bool = False, *,
                            amplitude: str = "gaussian", min_abs: float = 0.0
                            ) -> CompressedSensingProblem:
    r"""A seeded compressed-sensing problem: Gaussian matrix, ``k``-sparse signals, noise at a
    given SNR.

    Parameters
    ----------
    n : int
        Number of measurements (rows of ``A``).
    p : int
        Number of unknowns (columns of ``A``).
    k : int
        Non-zeros per signal.
    n_targets : int, optional
        Number of signals sharing ``A`` (each with its own support).  ``None``: one signal and
        no batch dimension.
    snr_db : float or None, default 20
        Per-target signal-to-noise ratio :math:`10\log_{10}(\|Ax\|^2 / (n\sigma^2))`; ``None``
        or ``inf`` gives noise-free data.
    seed : int, numpy.random.Generator or None, default 0
    complex_ : bool, default False
        Complex Gaussian matrix, signals and noise.
    amplitude, min_abs
        See :func:`make_sparse_signal`.

    Returns
    -------
    CompressedSensingProblem
        Unpacks as ``A, y, x``.

    Notes
    -----
    Entries of ``A`` are iid :math:`\mathcal N(0, 1/n)` (complex: :math:`\mathcal{CN}(0, 1/n)`)
    and the columns are then scaled to unit norm.  Noise is white Gaussian with the variance
    that gives the requested SNR for each target.

    Examples
    --------
    >>> from sparserec.datasets import make_compressed_sensing
    >>> A, y, x = make_compressed_sensing(50, 200, 5, n_targets=8, snr_db=30, seed=1)
    >>> A.shape, y.shape, x.shape
    ((50, 200), (8, 50), (8, 200))
    """
    n = _check_int(n, "n", 1)
    p = _check_int(p, "p", 1)
    k = _check_int(k, "k", 0)
    rng = _rng(seed)
    if complex_:
        A = (rng.standard_normal((n, p)) + 1j * rng.standard_normal((n, p))) / np.sqrt(2.0 * n)
    else:
        A = rng.standard_normal((n, p)) / np.sqrt(n)
    A = A / np.linalg.norm(A, axis=0, keepdims=True)
    x, support = make_sparse_signal(p, k, 1 if n_targets is None else n_targets, complex_=complex_,
                                    amplitude=amplitude, min_abs=min_abs, seed=rng)
    y_clean = x @ A.T
    if snr_db is None or np.isinf(snr_db):
        noise_var = np.zeros(x.shape[0])
        y = y_clean.copy()
    else:
        if not np.isfinite(snr_db):
            raise ValueError(f"snr_db must be a finite number, inf or None, got {snr_db!r}")
        power = np.mean(np.abs(y_clean) ** 2, axis=1)
        noise_var = power / 10.0 ** (float(snr_db) / 10.0)
        sd = np.sqrt(noise_var)[:, None]
        if complex_:
            e = (rng.standard_normal(y_clean.shape) + 1j * rng.standard_normal(y_clean.shape))
            e = e * sd / np.sqrt(2.0)
        else:
            e = rng.standard_normal(y_clean.shape) * sd
        y = y_clean + e
    if n_targets is None:
        x, support, y, y_clean, noise_var = x[0], support[0], y[0], y_clean[0], float(noise_var[0])
    return CompressedSensingProblem(
        A=A, y=y, x=x, support=support, y_clean=y_clean, noise_var=noise_var, snr_db=snr_db,
        seed=seed if not isinstance(seed, np.random.Generator) else None,
        params={"n": n, "p": p, "k": k, "n_targets": n_targets, "complex": complex_,
                "amplitude": amplitude, "min_abs": min_abs})
