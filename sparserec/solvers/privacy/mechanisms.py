r"""Local randomisers: shrinkage, the Gaussian mechanism (classical and analytic calibration) and
the Laplace mechanism.

Every mechanism knows its budget, the sensitivity it assumed and its noise scale, draws batched
noise on numpy or torch through :func:`sparserec._backend.default_rng`, and can draw the *sum* of
``n`` independent noise vectors exactly in distribution (:meth:`GaussianMechanism.aggregate_noise`),
which is what lets a simulation stand in for :math:`10^9` users.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import log_ndtr, ndtr

from ..._backend import Generator, asarray_like, default_rng, is_torch
from ._ops import check_budget, check_positive, shrink
from .accounting import ReleaseRecord

__all__ = [
    "CALIBRATIONS",
    "GaussianMechanism",
    "LaplaceMechanism",
    "analytic_gaussian_sigma",
    "classical_gaussian_sigma",
    "gaussian_delta",
    "gaussian_sigma",
    "laplace_scale",
    "shrink",
]

CALIBRATIONS = ("auto", "classical", "analytic")


def classical_gaussian_sigma(sensitivity: float, epsilon: float, delta: float) -> float:
    r"""Classical Gaussian-mechanism noise level :math:`\sigma = \Delta\sqrt{2\ln(1.25/\delta)}/\varepsilon`.

    Parameters
    ----------
    sensitivity : float
        :math:`\ell_2` sensitivity :math:`\Delta > 0`.
    epsilon : float
        Budget of the release, :math:`0 < \varepsilon < 1`.
    delta : float
        :math:`0 < \delta < 1`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If :math:`\varepsilon \ge 1`, where the bound is not proven (Dwork & Roth 2014, Thm A.1);
        use :func:`analytic_gaussian_sigma` there.

    Examples
    --------
    >>> round(classical_gaussian_sigma(1.0, 0.5, 1e-5), 4)
    9.6896
    """
    eps, dl = check_budget(epsilon, delta)
    delta_ = check_positive(sensitivity, "sensitivity")
    if eps >= 1.0:
        raise ValueError(
            f"the classical Gaussian calibration is only valid for epsilon < 1 (got {eps}); use "
            "calibration='analytic' or 'auto'")
    return delta_ * math.sqrt(2.0 * math.log(1.25 / dl)) / eps


def gaussian_delta(epsilon: float, sigma: float, sensitivity: float) -> float:
    r"""Exact privacy profile :math:`\delta(\varepsilon)` of the Gaussian mechanism.

    Notes
    -----
    Balle & Wang (2018, Thm 8): adding :math:`\mathcal N(0, \sigma^2 I)` to a query of
    :math:`\ell_2` sensitivity :math:`\Delta` is :math:`(\varepsilon, \delta)`-DP iff

    .. math::

        \delta \ge \Phi\Big(\frac{\Delta}{2\sigma} - \frac{\varepsilon\sigma}{\Delta}\Big)
            - e^{\varepsilon}\,\Phi\Big(-\frac{\Delta}{2\sigma} - \frac{\varepsilon\sigma}{\Delta}\Big).

    The second term is evaluated as :math:`\exp(\varepsilon + \log\Phi(\cdot))` so that
    :math:`\varepsilon` up to :math:`10^3` is safe.

    Examples
    --------
    >>> s = analytic_gaussian_sigma(1.0, 1.0, 1e-5)
    >>> abs(gaussian_delta(1.0, s, 1.0) / 1e-5 - 1) < 1e-9
    True
    """
    u = sensitivity / sigma
    a = 0.5 * u - epsilon / u
    b = -0.5 * u - epsilon / u
    return float(ndtr(a) - math.exp(epsilon + float(log_ndtr(b))))


def analytic_gaussian_sigma(sensitivity: float, epsilon: float, delta: float, *,
                            rtol: float = 1e-13) -> float:
    r"""Smallest :math:`\sigma` for which the Gaussian mechanism is :math:`(\varepsilon,\delta)`-DP.

    Parameters
    ----------
    sensitivity : float
        :math:`\ell_2` sensitivity :math:`\Delta > 0`.
    epsilon : float
        Any finite :math:`\varepsilon > 0` (tested up to 1024).
    delta : float
        :math:`0 < \delta < 1`.
    rtol : float, default 1e-13
        Relative width of the final bracket on :math:`\sigma`.

    Returns
    -------
    float
        The upper end of the final bracket, so the returned :math:`\sigma` always satisfies the
        condition, and :math:`\sigma (1 - 10^{-6})` violates it.

    Notes
    -----
    :func:`gaussian_delta` is decreasing in :math:`\sigma`; this function bisects on
    :math:`\log\sigma` between a bracket found by doubling.  Only the ratio matters:
    :math:`\sigma(\Delta) = \Delta\,\sigma(1)`.

    Examples
    --------
    >>> round(analytic_gaussian_sigma(1.0, 0.5, 1e-5), 4)
    7.0318
    >>> round(analytic_gaussian_sigma(1.0, 16.0, 1e-5), 4)
    0.3442
    """
    eps, dl = check_budget(epsilon, delta)
    sens = check_positive(sensitivity, "sensitivity")

    def excess(log_s: float) -> float:
        return gaussian_delta(eps, math.exp(log_s), 1.0) - dl

    guess = math.log(math.sqrt(2.0 * math.log(1.25 / dl)) / eps)
    lo = hi = guess
    while excess(hi) > 0:  # too little noise: move up
        hi += 1.0
    while excess(lo) <= 0:  # enough noise: move down
        lo -= 1.0
    while hi - lo > rtol:
        mid = 0.5 * (lo + hi)
        if excess(mid) > 0:
            lo = mid
        else:
            hi = mid
    return sens * math.exp(hi)


def gaussian_sigma(sensitivity: float, epsilon: float, delta: float,
                   calibration: str = "auto") -> tuple[float, str]:
    r"""Noise level of the Gaussian mechanism and the calibration used.

    Parameters
    ----------
    sensitivity, epsilon, delta : float
        :math:`\ell_2` sensitivity and budget of the release.
    calibration : {"auto", "classical", "analytic"}
        ``"auto"``: classical for :math:`\varepsilon < 1`, analytic otherwise.

    Returns
    -------
    sigma : float
    calibration : str
        ``"classical"`` or ``"analytic"``.

    Examples
    --------
    >>> gaussian_sigma(1.0, 2.0, 1e-5)[1]
    'analytic'
    """
    if calibration not in CALIBRATIONS:
        raise ValueError(f"calibration must be one of {CALIBRATIONS}, got {calibration!r}")
    eps, dl = check_budget(epsilon, delta)
    if calibration == "classical" or (calibration == "auto" and eps < 1.0):
        return classical_gaussian_sigma(sensitivity, eps, dl), "classical"
    return analytic_gaussian_sigma(sensitivity, eps, dl), "analytic"


def laplace_scale(sensitivity: float, epsilon: float) -> float:
    r"""Laplace-mechanism scale :math:`b = \Delta_1/\varepsilon` (variance :math:`2b^2`)."""
    eps, _ = check_budget(epsilon, None, require_delta=False)
    return check_positive(sensitivity, "sensitivity") / eps


def _rng(rng: Any) -> Generator:
    return rng if isinstance(rng, Generator) else default_rng(rng)


class _Mechanism:
    mechanism = ""
    sensitivity_norm = ""
    noise_scale: float
    epsilon: float
    delta: float
    sensitivity: float
    calibration: str

    @property
    def variance(self) -> float:
        raise NotImplementedError

    def noise(self, shape: tuple[int, ...], *, rng: Any = None, like: Any = None,
              dtype: Any = None) -> Any:
        raise NotImplementedError

    def aggregate_noise(self, shape: tuple[int, ...], n: int, *, rng: Any = None, like: Any = None,
                        dtype: Any = None) -> Any:
        raise NotImplementedError

    def release(self, value: Any, *, rng: Any = None) -> Any:
        """``value + noise`` with i.i.d. noise on every entry of ``value`` (any shape, batched)."""
        return value + self.noise(tuple(value.shape), rng=rng, like=value, dtype=value.dtype)

    def record(self, name: str) -> ReleaseRecord:
        """The :class:`~sparserec.solvers.privacy.accounting.ReleaseRecord` of this release."""
        return ReleaseRecord(name=name, mechanism=self.mechanism, epsilon=self.epsilon, delta=self.delta,
                             sensitivity=self.sensitivity, sensitivity_norm=self.sensitivity_norm,
                             noise_scale=self.noise_scale, calibration=self.calibration)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(epsilon={self.epsilon:g}, delta={self.delta:g}, "
                f"sensitivity={self.sensitivity:g}, noise_scale={self.noise_scale:.6g}, "
                f"calibration={self.calibration!r})")


class GaussianMechanism(_Mechanism):
    r"""Gaussian mechanism :math:`f(z) + \mathcal N(0, \sigma^2 I)`.

    Parameters
    ----------
    epsilon, delta : float
        Budget of this release (:math:`\varepsilon > 0`, :math:`0 < \delta < 1`).
    sensitivity : float
        :math:`\ell_2` sensitivity :math:`\Delta = \sup\|f(z) - f(z')\|_2` over one user's data.
    calibration : {"auto", "classical", "analytic"}, default "auto"
        See :func:`gaussian_sigma`.

    Attributes
    ----------
    sigma, noise_scale : float
        Standard deviation of the noise on each entry.
    calibration : str
        Calibration actually used.

    Notes
    -----
    Classical: :math:`\sigma = \Delta\sqrt{2\ln(1.25/\delta)}/\varepsilon`, proven only for
    :math:`\varepsilon < 1`.  Analytic (Balle & Wang 2018): the smallest :math:`\sigma` with
    :func:`gaussian_delta` :math:`\le \delta`.  The sum of :math:`n` independent releases'
    noise is exactly :math:`\mathcal N(0, n\sigma^2 I)`.

    Examples
    --------
    >>> import numpy as np
    >>> m = GaussianMechanism(0.5, 1e-5, sensitivity=1.0)
    >>> round(m.sigma, 4), m.calibration
    (9.6896, 'classical')
    >>> m.release(np.zeros(3), rng=0).shape
    (3,)
    """

    mechanism = "gaussian"
    sensitivity_norm = "l2"

    def __init__(self, epsilon: float, delta: float, sensitivity: float, *,
                 calibration: str = "auto") -> None:
        self.epsilon, self.delta = check_budget(epsilon, delta)
        self.sensitivity = check_positive(sensitivity, "sensitivity")
        self.sigma, self.calibration = gaussian_sigma(self.sensitivity, self.epsilon, self.delta,
                                                      calibration)
        self.noise_scale = self.sigma

    @property
    def variance(self) -> float:
        """Per-entry noise variance :math:`\\sigma^2`."""
        return self.sigma ** 2

    def exact_delta(self, epsilon: float | None = None) -> float:
        """Exact :math:`\\delta(\\varepsilon)` of this mechanism (default: at its own epsilon)."""
        return gaussian_delta(self.epsilon if epsilon is None else float(epsilon), self.sigma,
                              self.sensitivity)

    def noise(self, shape: tuple[int, ...], *, rng: Any = None, like: Any = None,
              dtype: Any = None) -> Any:
        """I.i.d. :math:`\\mathcal N(0, \\sigma^2)` draws of ``shape`` (library/device of ``like``)."""
        return self.sigma * _rng(rng).normal(shape, dtype=dtype, like=like)

    def aggregate_noise(self, shape: tuple[int, ...], n: int, *, rng: Any = None, like: Any = None,
                        dtype: Any = None) -> Any:
        """Sum of ``n`` independent noise arrays, drawn at once as :math:`\\mathcal N(0, n\\sigma^2)`."""
        return (self.sigma * math.sqrt(n)) * _rng(rng).normal(shape, dtype=dtype, like=like)


class LaplaceMechanism(_Mechanism):
    r"""Laplace mechanism (pure :math:`\varepsilon`-DP): :math:`f(z) + \mathrm{Lap}(b)^{\otimes p}`.

    Parameters
    ----------
    epsilon : float
        Budget of this release.
    sensitivity : float
        :math:`\ell_1` sensitivity :math:`\Delta_1`.

    Attributes
    ----------
    scale, noise_scale : float
        :math:`b = \Delta_1/\varepsilon`.

    Notes
    -----
    Draws use :math:`b(E_1 - E_2)` with :math:`E_j = -\log(1 - U_j)` i.i.d. standard exponential,
    which is exactly Laplace(:math:`b`).  The sum of :math:`n` i.i.d. Laplace(:math:`b`) variables
    is :math:`b(G_1 - G_2)` with :math:`G_j \sim \mathrm{Gamma}(n, 1)` i.i.d. — exact in
    distribution (:meth:`aggregate_noise`; Gamma draws use the numpy stream of the generator and
    are moved to ``like``'s library).

    Examples
    --------
    >>> m = LaplaceMechanism(2.0, sensitivity=1.0)
    >>> m.scale, m.variance
    (0.5, 0.5)
    """

    mechanism = "laplace"
    sensitivity_norm = "l1"

    def __init__(self, epsilon: float, sensitivity: float) -> None:
        self.epsilon, _ = check_budget(epsilon, None, require_delta=False)
        self.delta = 0.0
        self.sensitivity = check_positive(sensitivity, "sensitivity")
        self.scale = laplace_scale(self.sensitivity, self.epsilon)
        self.noise_scale = self.scale
        self.calibration = "laplace"

    @property
    def variance(self) -> float:
        """Per-entry noise variance :math:`2b^2`."""
        return 2.0 * self.scale ** 2

    def noise(self, shape: tuple[int, ...], *, rng: Any = None, like: Any = None,
              dtype: Any = None) -> Any:
        """I.i.d. Laplace(:math:`b`) draws of ``shape``."""
        g = _rng(rng)
        u = g.uniform((2,) + tuple(shape), dtype=dtype, like=like)
        if is_torch(u):
            import torch

            e = -torch.log1p(-u)
        else:
            e = -np.log1p(-u)
        return self.scale * (e[0] - e[1])

    def aggregate_noise(self, shape: tuple[int, ...], n: int, *, rng: Any = None, like: Any = None,
                        dtype: Any = None) -> Any:
        """Sum of ``n`` i.i.d. Laplace(:math:`b`) arrays, exactly, as :math:`b(G_1 - G_2)`."""
        g = _rng(rng).numpy
        G = g.standard_gamma(float(n), size=(2,) + tuple(shape))
        out = self.scale * (G[0] - G[1])
        if like is None:
            return out.astype(dtype if dtype is not None else np.float64)
        return asarray_like(out, like, dtype=dtype)


def make_mechanism(mechanism: str, epsilon: float, delta: float | None, *, l2_sensitivity: float,
                   l1_sensitivity: float, calibration: str = "auto") -> GaussianMechanism | LaplaceMechanism:
    """Build a Gaussian (``l2_sensitivity``) or Laplace (``l1_sensitivity``) mechanism."""
    if mechanism == "gaussian":
        return GaussianMechanism(epsilon, delta, l2_sensitivity, calibration=calibration)
    if mechanism == "laplace":
        return LaplaceMechanism(epsilon, l1_sensitivity)
    raise ValueError(f"mechanism must be 'gaussian' or 'laplace', got {mechanism!r}")
