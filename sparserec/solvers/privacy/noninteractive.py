r"""Non-interactive LDP sparse linear regression (NLDP-SLR) and its public-data variant.

Each user shrinks their :math:`(x_i, y_i)` and releases, once, a privatised covariance term
:math:`\tilde x_i\tilde x_i^\top` (upper triangle) and a privatised cross term
:math:`\tilde x_i \tilde y_i`; the server averages the messages, floors the eigenvalues of the
covariance, solves in closed form and sparsifies.  The structure follows Zhu, Ding, Aggarwal, Xu
& Wang (ICLR 2024); the exact constants are a reconstruction (see ``docs/privacy.rst``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..._backend import Generator, asarray_like, check_finite, default_rng, namespace, to_numpy
from ...prox.elementwise import prox_l1
from ...prox.projections import project_l0_ball
from ..result import SolverResult, Status
from ._ops import (
    check_budget,
    check_data,
    check_k,
    check_positive,
    hard,
    shrink,
    sym_from_upper,
    upper,
)
from .accounting import PrivacyRecord
from .mechanisms import GaussianMechanism, LaplaceMechanism, make_mechanism

__all__ = [
    "nldp_slr",
    "nldp_slr_cross_release",
    "nldp_slr_mechanisms",
    "nldp_slr_release",
    "nldp_slr_server",
    "public_cross_mechanism",
]

SIMULATE = ("per_user", "aggregate")
SPARSIFY = ("soft", "topk", "hard", "none")
Mechanism = GaussianMechanism | LaplaceMechanism


def _check_split(split: Any) -> float:
    s = float(split)
    if not (0.0 < s < 1.0):
        raise ValueError(f"split must lie in the open interval (0, 1), got {split!r}")
    return s


def nldp_slr_mechanisms(n_features: int, epsilon: float, delta: float | None = None, *, tau_x: float = 1.0,
                        tau_y: float = 1.0, calibration: str = "auto", split: float = 0.5,
                        mechanism: str = "gaussian") -> tuple[Mechanism, Mechanism]:
    r"""The two mechanisms of one NLDP-SLR user: covariance term and cross term.

    Parameters
    ----------
    n_features : int
        :math:`d`.
    epsilon, delta : float
        Total budget of the user, split by basic composition: the covariance release gets
        ``split`` of it, the cross term the rest.  ``delta`` is ignored by the Laplace mechanism.
    tau_x, tau_y : float
        Shrinkage levels.
    calibration : {"auto", "classical", "analytic"}
        Gaussian calibration, chosen on the *per-release* :math:`\varepsilon'`.
    split : float in (0, 1)
    mechanism : {"gaussian", "laplace"}

    Returns
    -------
    mech_cov, mech_cross : GaussianMechanism or LaplaceMechanism

    Notes
    -----
    With :math:`\|\tilde x\|_2^2 \le d\tau_x^2`, the Frobenius sensitivity of
    :math:`\tilde x\tilde x^\top` (and of its upper triangle) is :math:`2d\tau_x^2`, that of
    :math:`\tilde x\tilde y` is :math:`2\sqrt d\,\tau_x\tau_y`.  The :math:`\ell_1` sensitivities
    used by Laplace are :math:`d(d+1)\tau_x^2` and :math:`2d\tau_x\tau_y`.  With the even split
    and the classical calibration,
    :math:`\sigma_1^2 = 32 d^2\tau_x^4\ln(2.5/\delta)/\varepsilon^2` and
    :math:`\sigma_2^2 = 32 d\tau_x^2\tau_y^2\ln(2.5/\delta)/\varepsilon^2`.

    Examples
    --------
    >>> m1, m2 = nldp_slr_mechanisms(10, 1.0, 1e-5, tau_x=1.0, tau_y=2.0)
    >>> abs(m1.sigma**2 / (32 * 100 * math.log(2.5e5)) - 1) < 1e-12
    True
    """
    d = int(n_features)
    eps, dl = check_budget(epsilon, delta, require_delta=mechanism == "gaussian")
    tx, ty = check_positive(tau_x, "tau_x"), check_positive(tau_y, "tau_y")
    s = _check_split(split)
    m1 = make_mechanism(mechanism, s * eps, s * dl if mechanism == "gaussian" else None,
                        l2_sensitivity=2.0 * d * tx ** 2, l1_sensitivity=d * (d + 1) * tx ** 2,
                        calibration=calibration)
    m2 = make_mechanism(mechanism, (1.0 - s) * eps, (1.0 - s) * dl if mechanism == "gaussian" else None,
                        l2_sensitivity=2.0 * math.sqrt(d) * tx * ty, l1_sensitivity=2.0 * d * tx * ty,
                        calibration=calibration)
    return m1, m2


def public_cross_mechanism(n_features: int, epsilon: float, delta: float | None = None, *,
                           tau_x: float = 1.0, tau_y: float = 1.0, calibration: str = "auto",
                           mechanism: str = "gaussian") -> Mechanism:
    r"""Mechanism of the public-data variant: only :math:`\tilde x\tilde y` is released, with the
    whole budget.  Classical: :math:`\sigma_2^2 = 8d\tau_x^2\tau_y^2\ln(1.25/\delta)/\varepsilon^2`."""
    d = int(n_features)
    eps, dl = check_budget(epsilon, delta, require_delta=mechanism == "gaussian")
    tx, ty = check_positive(tau_x, "tau_x"), check_positive(tau_y, "tau_y")
    return make_mechanism(mechanism, eps, dl if mechanism == "gaussian" else None,
                          l2_sensitivity=2.0 * math.sqrt(d) * tx * ty, l1_sensitivity=2.0 * d * tx * ty,
                          calibration=calibration)


def nldp_slr_release(x_i: Any, y_i: Any, *, epsilon: float, delta: float | None = None,
                     tau_x: float = 1.0, tau_y: float = 1.0, calibration: str = "auto",
                     split: float = 0.5, mechanism: str = "gaussian", rng: Any = None,
                     _noise: bool = True) -> tuple[Any, Any]:
    r"""User-side randomiser of NLDP-SLR (vectorised over users).

    Parameters
    ----------
    x_i : array of shape ``(*users, d)``
        Feature vector(s); every row is a different user.
    y_i : array of shape ``users``
        Response(s).
    epsilon, delta, tau_x, tau_y, calibration, split, mechanism
        See :func:`nldp_slr_mechanisms`.
    rng : int, Generator or None
        Noise source.

    Returns
    -------
    S_hat : array of shape ``(*users, d(d+1)/2)``
        Upper triangle (row-major, diagonal included) of
        :math:`\tilde x\tilde x^\top + Z`, :math:`Z` symmetric with i.i.d. entries on and above
        the diagonal.
    b_hat : array of shape ``(*users, d)``
        :math:`\tilde x\tilde y + z`.

    Notes
    -----
    Shrinkage :math:`\tilde x_j = \operatorname{sign}(x_j)\min(|x_j|,\tau_x)`,
    :math:`\tilde y = \operatorname{sign}(y)\min(|y|,\tau_y)` is applied *before* the noise, so
    the release depends on the data only through the shrunk values.

    Examples
    --------
    >>> import numpy as np
    >>> S, b = nldp_slr_release(np.ones(3), np.array(0.5), epsilon=1.0, delta=1e-5, rng=0)
    >>> S.shape, b.shape
    ((6,), (3,))
    """
    x_i, y_i = _as_user_arrays(x_i, y_i)
    d = x_i.shape[-1]
    m1, m2 = nldp_slr_mechanisms(d, epsilon, delta, tau_x=tau_x, tau_y=tau_y, calibration=calibration,
                                 split=split, mechanism=mechanism)
    xt, yt = shrink(x_i, check_positive(tau_x, "tau_x")), shrink(y_i, check_positive(tau_y, "tau_y"))
    S = upper(xt[..., :, None] * xt[..., None, :])
    b = xt * yt[..., None]
    if not _noise:
        return S, b
    g = rng if isinstance(rng, Generator) else default_rng(rng)
    return m1.release(S, rng=g), m2.release(b, rng=g)


def _as_user_arrays(x_i: Any, y_i: Any) -> tuple[Any, Any]:
    if isinstance(x_i, (list, tuple)):
        x_i = np.asarray(x_i, dtype=np.float64)
    if not hasattr(y_i, "shape") or isinstance(y_i, (list, tuple)):
        y_i = asarray_like(np.asarray(y_i, dtype=np.float64), x_i)
    if x_i.ndim < 1:
        raise ValueError("x_i must have shape (*users, d)")
    if tuple(y_i.shape) != tuple(x_i.shape[:-1]):
        raise ValueError(f"y_i must have shape {tuple(x_i.shape[:-1])}, got {tuple(y_i.shape)}")
    namespace(x_i, y_i)
    check_finite(x_i, "x_i")
    check_finite(y_i, "y_i")
    return x_i, y_i


def nldp_slr_cross_release(x_i: Any, y_i: Any, *, epsilon: float, delta: float | None = None,
                           tau_x: float = 1.0, tau_y: float = 1.0, calibration: str = "auto",
                           mechanism: str = "gaussian", rng: Any = None, _noise: bool = True) -> Any:
    r"""User-side randomiser of the public-data variant: :math:`\tilde x\tilde y + z` only.

    Shapes as in :func:`nldp_slr_release`; the whole budget goes to this one release.

    Examples
    --------
    >>> import numpy as np
    >>> nldp_slr_cross_release(np.ones((4, 3)), np.ones(4), epsilon=1.0, delta=1e-5, rng=0).shape
    (4, 3)
    """
    x_i, y_i = _as_user_arrays(x_i, y_i)
    m = public_cross_mechanism(x_i.shape[-1], epsilon, delta, tau_x=tau_x, tau_y=tau_y,
                               calibration=calibration, mechanism=mechanism)
    b = shrink(x_i, check_positive(tau_x, "tau_x")) * shrink(y_i, check_positive(tau_y, "tau_y"))[..., None]
    return m.release(b, rng=rng if isinstance(rng, Generator) else default_rng(rng)) if _noise else b


def _sparsify(beta: Any, *, mode: str, k: int | None, lam: Any) -> Any:
    if mode == "topk":
        return project_l0_ball(beta, k)
    if mode == "soft":
        return prox_l1(beta, lam)
    if mode == "hard":
        return hard(beta, lam)
    return beta


def nldp_slr_server(sum_S: Any, sum_b: Any, n: int, *, cov: Any = None, k: int | None = None,
                    sparsify: str | None = None, threshold: float | None = None,
                    eig_floor: Any = None, noise_var: tuple[float, float] = (0.0, 0.0)) -> tuple[Any, dict]:
    r"""Server step of NLDP-SLR: average, floor eigenvalues, solve, sparsify (batched).

    Parameters
    ----------
    sum_S : array of shape ``(*batch, d(d+1)/2)`` or None
        Sum of the users' covariance releases (upper triangles).  Ignored when ``cov`` is given.
    sum_b : array of shape ``(*batch, d)``
        Sum of the users' cross-term releases.
    n : int
        Number of users.
    cov : array of shape ``(*batch, d, d)`` or ``(d, d)``, optional
        Covariance estimate from public data (public-data variant).
    k : int, optional
        Sparsity level for ``"topk"``.
    sparsify : {"soft", "topk", "hard", "none"}, optional
        Default ``"topk"`` if ``k`` is given, else ``"soft"``.
    threshold : float, optional
        Threshold of ``"hard"`` (required) or ``"soft"`` (default: the rule in Notes).
    eig_floor : float or array of shape ``batch``, optional
        Eigenvalue floor :math:`c`; default :math:`0.5\,\mathrm{tr}(\bar S)/d`.
    noise_var : (float, float)
        Per-entry noise variances :math:`(v_1, v_2)` of one user's covariance and cross releases
        (for the default soft threshold).

    Returns
    -------
    theta : array of shape ``(*batch, d)``
    info : dict
        ``beta`` (before sparsification), ``eig_floor``, ``threshold`` (``None`` for top-k).

    Notes
    -----
    :math:`\bar S = \frac1n\sum_i \hat S_i`, :math:`\bar b = \frac1n\sum_i\hat b_i`,
    :math:`\hat\Sigma = V\max(\Lambda, c)V^\top`, :math:`\hat\beta = \hat\Sigma^{-1}\bar b`.
    The default soft threshold is :math:`\lambda = s\sqrt{2\ln d}` with
    :math:`s = \sqrt{v_2 + v_1\|\hat\beta\|_2^2}/\sqrt n`, the per-coordinate noise level of
    :math:`\bar b - \bar S\beta` when :math:`\Sigma\approx I`.
    """
    xp = namespace(sum_b, sum_S, cov)
    d = sum_b.shape[-1]
    n = int(n)
    if cov is None:
        if sum_S is None:
            raise ValueError("give sum_S (private covariance releases) or cov (public covariance)")
        Sbar = sym_from_upper(sum_S, d) / n
    else:
        if tuple(cov.shape[-2:]) != (d, d):
            raise ValueError(f"public covariance must be ({d}, {d}), got {tuple(cov.shape)}")
        Sbar = cov
    bbar = sum_b / n
    if sparsify is None:
        sparsify = "topk" if k is not None else "soft"
    if sparsify not in SPARSIFY:
        raise ValueError(f"sparsify must be one of {SPARSIFY}, got {sparsify!r}")
    if sparsify == "topk":
        if k is None:
            raise ValueError("sparsify='topk' needs k")
        k = check_k(k, d)
    if sparsify == "hard" and threshold is None:
        raise ValueError("sparsify='hard' needs a threshold")
    evals, V = xp.linalg.eigh(Sbar)
    if eig_floor is None:
        c = 0.5 * xp.sum(xp.linalg.diagonal(Sbar), axis=-1) / d
        c = xp.clip(c, 1e-12, None)  # a negative noisy trace must not un-floor the spectrum
    else:
        c = asarray_like(np.asarray(eig_floor, dtype=np.float64), bbar)
        if bool(np.any(to_numpy(c) <= 0)):
            raise ValueError(f"eig_floor must be > 0, got {eig_floor!r}")
    lam_floor = xp.maximum(evals, c[..., None] if c.ndim else c)
    if V.ndim > bbar.ndim + 1 or bbar.ndim > V.ndim - 1:
        V, bbar = _broadcast_pair(V, bbar)
        lam_floor = xp.broadcast_to(lam_floor, tuple(V.shape[:-1]))
    coef = xp.sum(V * bbar[..., :, None], axis=-2) / lam_floor  # V^T b / lambda
    beta = xp.sum(V * coef[..., None, :], axis=-1)
    lam = None
    if sparsify in ("soft", "hard"):
        if threshold is not None:
            lam = asarray_like(np.asarray(check_positive(threshold, "threshold")), beta)
        else:
            v1, v2 = noise_var
            nb2 = xp.sum(beta * beta, axis=-1, keepdims=True)
            lam = xp.sqrt(v2 + v1 * nb2) / math.sqrt(n) * math.sqrt(2.0 * math.log(max(d, 2)))
    theta = _sparsify(beta, mode=sparsify, k=k, lam=lam)
    info = {"beta": beta, "eig_floor": c, "threshold": None if lam is None else lam,
            "sparsify": sparsify}
    return theta, info


def _broadcast_pair(V: Any, b: Any) -> tuple[Any, Any]:
    xp = namespace(V, b)
    batch = np.broadcast_shapes(tuple(V.shape[:-2]), tuple(b.shape[:-1]))
    d = b.shape[-1]
    return (xp.broadcast_to(V, batch + (d, d)), xp.broadcast_to(b, batch + (d,)))


def _rng(rng: Any) -> Generator:
    return rng if isinstance(rng, Generator) else default_rng(rng)


def nldp_slr(X: Any, y: Any, epsilon: float, delta: float | None = 1e-5, *, k: int | None = None,
             tau_x: float = 1.0, tau_y: float = 1.0, calibration: str = "auto", split: float = 0.5,
             mechanism: str = "gaussian", sparsify: str | None = None, threshold: float | None = None,
             eig_floor: float | None = None, public_X: Any = None, simulate: str = "per_user",
             chunk_size: int | None = None, rng: Any = None, _noise: bool = True) -> SolverResult:
    r"""Non-interactive :math:`(\varepsilon,\delta)`-LDP sparse linear regression (NLDP-SLR).

    Parameters
    ----------
    X : array of shape ``(*batch, n, d)``
        One row per user (numpy or torch); the batch axes carry independent problems.
    y : array of shape ``(*batch, n)``
    epsilon : float
        Total per-user budget :math:`\varepsilon > 0`.
    delta : float, default 1e-5
        Total per-user :math:`\delta \in (0, 1)` (ignored with ``mechanism="laplace"``).
    k : int, optional
        Sparsity; selects top-:math:`k` sparsification.
    tau_x, tau_y : float, default 1.0
        Shrinkage levels, applied before the noise.
    calibration : {"auto", "classical", "analytic"}, default "auto"
        Gaussian calibration on the per-release budget (:math:`\varepsilon' = \varepsilon/2` with
        the default split, so "auto" switches to analytic at :math:`\varepsilon = 2`).
    split : float in (0, 1), default 0.5
        Fraction of :math:`(\varepsilon, \delta)` given to the covariance release.
    mechanism : {"gaussian", "laplace"}, default "gaussian"
    sparsify, threshold, eig_floor
        See :func:`nldp_slr_server`.
    public_X : array of shape ``(m, d)`` or ``(*batch, m, d)``, optional
        Public unlabelled sample; its shrunk second-moment matrix replaces the private covariance
        and users release only :math:`\tilde x\tilde y`, with the whole budget.
    simulate : {"per_user", "aggregate"}, default "per_user"
        ``"per_user"`` runs the user randomiser on every user (streamed in chunks of
        ``chunk_size``).  ``"aggregate"`` sums the clean statistics and adds the *sum* of the
        :math:`n` users' noise in one draw (:math:`\mathcal N(0, n\sigma^2)` per entry, or the
        exact Gamma-difference law for Laplace) — exact in distribution, far faster.
    chunk_size : int, optional
        Users per chunk in ``"per_user"`` mode (default: about :math:`2^{21}` released numbers
        per chunk, so memory stays bounded whatever ``n``).
    rng : int, numpy/torch Generator or sparserec Generator, optional
        Noise source (seed it for reproducibility).

    Returns
    -------
    SolverResult
        ``x`` = :math:`\hat\theta` of shape ``(*batch, d)``.  ``extras``: ``beta``, ``sigma1``,
        ``sigma2`` (noise scales; ``sigma1`` is ``None`` with public data), ``epsilon_release``,
        ``delta_release``, ``calibration``, ``mechanism``, ``eig_floor``, ``threshold``,
        ``n_users``, ``n_public``, ``privacy`` (a :class:`PrivacyRecord` as dict).

    Notes
    -----
    User :math:`i` releases :math:`\hat S_i = \tilde x_i\tilde x_i^\top + Z_i` and
    :math:`\hat b_i = \tilde x_i\tilde y_i + z_i` once; by basic composition the protocol is
    :math:`(\varepsilon,\delta)`-LDP.  The server computes
    :math:`\hat\beta = \hat\Sigma^{-1}\bar b` with the eigenvalue-floored :math:`\hat\Sigma` and
    sparsifies it.  The noise per entry of :math:`\bar S` is of order
    :math:`d\tau_x^2/(\sqrt n\varepsilon)`, giving
    :math:`\|\hat\theta-\theta^*\|_2 \lesssim \sqrt k\,d/(\sqrt n\,\varepsilon)`; with public
    data :math:`\sqrt{dk}/(\sqrt n\,\varepsilon)`.  The rate needs very large :math:`n`
    (:math:`n \gtrsim d^4`); for smaller :math:`n` the error saturates.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.choice([-1.0, 1.0], size=(20000, 5))
    >>> theta = np.array([0.5, -0.5, 0, 0, 0])
    >>> y = X @ theta + 0.1 * rng.standard_normal(20000)
    >>> res = nldp_slr(X, y, epsilon=8.0, delta=1e-5, k=2, tau_y=2.0, simulate="aggregate", rng=1)
    >>> res.x.shape, res.extras["privacy"]["epsilon"]
    ((5,), 8.0)
    """
    X, y = check_data(X, y)
    xp = namespace(X, y)
    n, d = X.shape[-2], X.shape[-1]
    batch = tuple(X.shape[:-2])
    if simulate not in SIMULATE:
        raise ValueError(f"simulate must be one of {SIMULATE}, got {simulate!r}")
    if k is not None:
        k = check_k(k, d)
    tx, ty = check_positive(tau_x, "tau_x"), check_positive(tau_y, "tau_y")
    chunk = max(1, (1 << 21) // (d * (d + 1) // 2 + d)) if chunk_size is None else int(chunk_size)
    if chunk < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    g = _rng(rng)
    public = public_X is not None
    if public:
        if isinstance(public_X, (list, tuple)):
            public_X = np.asarray(public_X, dtype=np.float64)
        namespace(X, public_X)
        if public_X.ndim < 2 or public_X.shape[-1] != d:
            raise ValueError(f"public_X must have shape (m, {d}) or (*batch, m, {d}) to match X, "
                             f"got {tuple(public_X.shape)}")
        check_finite(public_X, "public_X")
        m2 = public_cross_mechanism(d, epsilon, delta, tau_x=tx, tau_y=ty, calibration=calibration,
                                    mechanism=mechanism)
        mechs: tuple = (m2,)
        Xp = shrink(public_X, tx)
        n_pub = public_X.shape[-2]
        cov = xp.matmul(xp.matrix_transpose(Xp), Xp) / n_pub
    else:
        m1, m2 = nldp_slr_mechanisms(d, epsilon, delta, tau_x=tx, tau_y=ty, calibration=calibration,
                                     split=split, mechanism=mechanism)
        mechs = (m1, m2)
        n_pub = 0
        cov = None
    p = d * (d + 1) // 2
    sum_S = None
    if simulate == "per_user":
        sum_b = 0
        sum_S = 0 if not public else None
        for a in range(0, n, chunk):
            xc, yc = X[..., a:a + chunk, :], y[..., a:a + chunk]
            if public:
                bc = nldp_slr_cross_release(xc, yc, epsilon=epsilon, delta=delta, tau_x=tx, tau_y=ty,
                                            calibration=calibration, mechanism=mechanism, rng=g,
                                            _noise=_noise)
            else:
                Sc, bc = nldp_slr_release(xc, yc, epsilon=epsilon, delta=delta, tau_x=tx, tau_y=ty,
                                          calibration=calibration, split=split, mechanism=mechanism,
                                          rng=g, _noise=_noise)
                sum_S = sum_S + xp.sum(Sc, axis=-2)
            sum_b = sum_b + xp.sum(bc, axis=-2)
    else:
        Xt, yt = shrink(X, tx), shrink(y, ty)
        sum_b = xp.sum(Xt * yt[..., None], axis=-2)
        if not public:
            sum_S = upper(xp.matmul(xp.matrix_transpose(Xt), Xt))
        if _noise:
            nz_S, nz_b = _aggregate_noise_per_problem(mechs, batch, n, p, d, g, like=sum_b)
            sum_b = sum_b + nz_b
            if not public:
                sum_S = sum_S + nz_S
    noise_var = (0.0 if public else mechs[0].variance, mechs[-1].variance)
    theta, info = nldp_slr_server(sum_S, sum_b, n, cov=cov, k=k, sparsify=sparsify, threshold=threshold,
                                  eig_floor=eig_floor, noise_var=noise_var)
    record = PrivacyRecord.from_releases(
        [m.record(name) for m, name in zip(mechs, ("cross",) if public else ("covariance", "cross"))],
        protocol="non-interactive", n_users=n, noise=_noise,
        **({"public_covariance": True, "n_public": n_pub} if public else {}))
    extras = _extras(mechs, public, info, n, n_pub, record)
    params = {"epsilon": float(epsilon), "delta": None if delta is None else float(delta), "k": k,
              "tau_x": tx, "tau_y": ty, "calibration": calibration, "split": float(split),
              "mechanism": mechanism, "sparsify": info["sparsify"], "simulate": simulate,
              "public": public}
    return _result(theta, batch, params, extras, "nldp_slr")


def _aggregate_noise_per_problem(mechs: tuple, batch: tuple[int, ...], n: int, p: int, d: int,
                                 g: Generator, like: Any) -> tuple[Any, Any]:
    """Sum of ``n`` users' noise, drawn problem by problem (covariance, then cross term), so that a
    batch of problems reproduces the same problems solved one after another with one generator."""
    xp = namespace(like)
    n_prob = int(np.prod(batch)) if batch else 1
    Ss, bs = [], []
    for _ in range(n_prob):
        if len(mechs) == 2:
            Ss.append(mechs[0].aggregate_noise((p,), n, rng=g, like=like, dtype=like.dtype))
        bs.append(mechs[-1].aggregate_noise((d,), n, rng=g, like=like, dtype=like.dtype))
    nz_b = xp.reshape(xp.stack(bs), batch + (d,))
    nz_S = xp.reshape(xp.stack(Ss), batch + (p,)) if Ss else None
    return nz_S, nz_b


def _extras(mechs: tuple, public: bool, info: dict, n: int, n_pub: int, record: PrivacyRecord) -> dict:
    return {
        "beta": info["beta"],
        "sigma1": None if public else mechs[0].noise_scale,
        "sigma2": mechs[-1].noise_scale,
        "epsilon_release": tuple(m.epsilon for m in mechs),
        "delta_release": tuple(m.delta for m in mechs),
        "calibration": tuple(m.calibration for m in mechs),
        "mechanism": mechs[0].mechanism,
        "eig_floor": info["eig_floor"],
        "threshold": info["threshold"],
        "n_users": int(n),
        "n_public": int(n_pub),
        "privacy": record.as_dict(),
    }


def _result(theta: Any, batch: tuple[int, ...], params: dict, extras: dict, solver: str,
            n_iter: int = 1, history: dict | None = None) -> SolverResult:
    ok = to_numpy(namespace(theta).all(namespace(theta).isfinite(theta), axis=-1))
    ok = np.asarray(ok, dtype=bool).reshape(batch)
    st = np.where(ok, int(Status.CONVERGED), int(Status.NONFINITE)).astype(np.int64)
    overall = Status(int(st.max())) if st.size else Status.CONVERGED
    return SolverResult(x=theta, status=overall, problem_status=st, converged=ok,
                        n_iter=np.full(batch, n_iter, dtype=np.int64), history=history or {},
                        params=params, extras=extras, solver=solver)

