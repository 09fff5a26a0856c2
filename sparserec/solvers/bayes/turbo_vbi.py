r"""Turbo-VBI: structured sparse recovery with a three-layer hierarchical prior (Liu et al. 2020).

The model is :math:`y = A x + w` (real or complex) with

* support :math:`s \in \{0, 1\}^Q` over groups, from a structured prior (independent, Markov
  chain, 2-D MRF -- :mod:`sparserec.solvers.bayes.support_priors`, "Module B");
* precisions :math:`\rho_n \mid s_{g(n)} \sim \Gamma(a, b)` if active, :math:`\Gamma(\bar a,
  \bar b)` if inactive (unbarred = **active**, named ``active_shape``/``active_rate``);
* coefficients :math:`x_n \mid \rho_n \sim \mathcal N(0, 1/\rho_n)` (or :math:`\mathcal{CN}`);
* noise :math:`w \sim \mathcal N(0, \kappa^{-1} I)` with :math:`\kappa \sim \Gamma(a_\kappa,
  b_\kappa)` learned.

Module A is mean-field variational Bayes given the support messages :math:`\pi` of Module B;
the two modules exchange extrinsic messages (``extrinsic="cavity"``, the default, or the
literal ``"paper"`` form).  See :func:`turbo_vbi` and ``docs/turbo_vbi.rst``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..._backend import (
    check_finite,
    dtype_name,
    is_array,
    is_complex_dtype,
    is_torch,
    namespace,
    real_dtype,
    result_dtype,
    to_numpy,
)
from ...operators.base import LinearOperator
from ..result import (
    ConvergenceMonitor,
    SolverResult,
    SolverState,
    check_check_every,
    check_max_iter,
    check_positive,
    check_tol,
)
from ._common import _abs2, _dev, estep_coefficient, estep_measurement, estep_operator
from .support_priors import IndependentSupport, MarkovChainSupport, MRFSupport, SupportPrior

__all__ = [
    "IndependentSupport",
    "MRFSupport",
    "MarkovChainSupport",
    "cavity_message",
    "gamma_loglik",
    "noise_update",
    "paper_message",
    "rho_update",
    "turbo_vbi",
]

_DENSE_LIMIT = 2 ** 22
_LOGIT_CLIP = 23.0
_MM_DEBIAS_PASSES = 2000
_MM_DEBIAS_TOL = 1e-8
_METHODS = ("auto", "dense", "woodbury", "cg", "operator", "mm")


# ---------------------------------------------------------------------------- small helpers
def _special(name: str, x: Any) -> Any:
    if is_torch(x):
        import torch

        return getattr(torch.special, name)(x)
    import scipy.special as sp

    return getattr(sp, name)(x)


def _sigmoid(xp: Any, z: Any) -> Any:
    return 1 / (1 + xp.exp(-z))


def _logit(xp: Any, p: Any) -> Any:
    p = xp.clip(p, 1e-10, 1 - 1e-10)
    return xp.log(p) - xp.log(1 - p)


def _hold(xp: Any, done: Any, new: tuple[Any, ...], old: tuple[Any, ...]) -> tuple[Any, ...]:
    """``old`` where the 0-d device flag ``done`` is set, else ``new`` (elementwise over the tuples).

    Inner loops that read their convergence flag back only every few passes make the passes
    after convergence no-ops with this, so they return what an exit at the first converged
    pass returns, without a host synchronisation per pass.
    """
    return tuple(xp.where(done, o, n) for n, o in zip(new, old))


def _inner_sync(k_in: int, n_passes: int, sync_every: int, conv: Any) -> tuple[bool, Any]:
    """End of pass ``k_in`` of an inner loop that reads its convergence flag only every ``sync_every`` passes.

    Returns ``(stop, done)``: ``stop`` ends the loop (its last pass: no read-back; or a read-back
    that finds ``conv`` set), and ``done`` is the device flag the next pass holds with
    :func:`_hold` (``conv`` between read-backs, ``None`` right after one).
    """
    if k_in + 1 == n_passes:  # the loop ends anyway: no read-back
        return True, None
    if (k_in + 1) % sync_every == 0:
        return bool(conv), None
    return False, conv


def gamma_loglik(shape: float, rate: float, rho: Any, lnrho: Any) -> Any:
    r"""Expected log Gamma density :math:`\ell(a, b) = a\ln b - \ln\Gamma(a) + (a-1)\langle\ln\rho\rangle
    - b\langle\rho\rangle` (elementwise)."""
    return shape * math.log(rate) - math.lgamma(shape) + (shape - 1) * lnrho - rate * rho


def rho_update(pit: Any, m2: Any, hyper: tuple[float, float, float, float], c: float) -> tuple[Any, Any]:
    r"""Update A2 of :math:`q(\rho_n) = \Gamma(\tilde a_n, \tilde b_n)`.

    Parameters
    ----------
    pit : array (B, N)
        :math:`\tilde\pi` of the group of each coefficient.
    m2 : array (B, N)
        :math:`\langle|x_n|^2\rangle = |\mu_n|^2 + d_n`.
    hyper : (a, b, a_bar, b_bar)
        Active (unbarred) and inactive (barred) Gamma shape and rate.
    c : float
        1/2 for real data, 1 for complex data.

    Returns
    -------
    a_tilde, b_tilde : arrays (B, N)
        :math:`\tilde a = \tilde\pi a + (1-\tilde\pi)\bar a + c`,
        :math:`\tilde b = \tilde\pi b + (1-\tilde\pi)\bar b + c\,\langle|x|^2\rangle`.
    """
    a, b, ab, bb = hyper
    return pit * a + (1 - pit) * ab + c, pit * b + (1 - pit) * bb + c * m2


def noise_update(rr: Any, t: Any, M: int, c: float, noise_prior: tuple[float, float] = (1e-6, 1e-6)
                 ) -> tuple[Any, Any]:
    r"""Update A4: :math:`q(\kappa) = \Gamma(a_\kappa + cM,\; b_\kappa + c(\|y - A\mu\|^2 + t))`.

    Parameters
    ----------
    rr : array (B,)
        :math:`\|y - A\mu\|^2`.
    t : array (B,)
        :math:`\mathrm{tr}(A\Sigma A^H)`.
    M : int
    c : float
        1/2 (real) or 1 (complex).
    noise_prior : (a_kappa, b_kappa)

    Returns
    -------
    shape, rate : arrays (B,)
        The mean :math:`\langle\kappa\rangle = ` shape/rate is used by A1.
    """
    ak, bk = noise_prior
    rate = bk + c * (rr + t)
    return ak + c * M + 0 * rate, rate


def paper_message(rho: Any, lnrho: Any, hyper: tuple[float, float, float, float]) -> Any:
    r"""Per-coefficient log-odds of the literal message (Liu et al. eqs. 33, 43--44).

    :math:`\ell_n(a, b) - \ell_n(\bar a, \bar b)` with :math:`\ell` from :func:`gamma_loglik`;
    summed over a group it is :math:`\mathrm{logit}\,\pi^{in}_q = \mathrm{logit}\,\tilde\pi_q -
    \mathrm{logit}\,\pi_q`.
    """
    a, b, ab, bb = hyper
    return gamma_loglik(a, b, rho, lnrho) - gamma_loglik(ab, bb, rho, lnrho)


def cavity_message(mu: Any, d: Any, rho: Any, hyper: tuple[float, float, float, float], c: float) -> Any:
    r"""Per-coefficient log-odds of the cavity (Bernoulli--Gaussian) extrinsic message.

    Parameters
    ----------
    mu, d : arrays (B, N)
        Posterior mean and variance of :math:`q(x_n)`.
    rho : array (B, N)
        :math:`\langle\rho_n\rangle`, the precision of the Gaussian prior used by :math:`q(x)`.
    hyper : (a, b, a_bar, b_bar)
    c : float
        1/2 (real) or 1 (complex).

    Returns
    -------
    array (B, N)
        :math:`c\ln\frac{v+\sigma_0^2}{v+\sigma_1^2} + c|r|^2\big(\frac1{v+\sigma_0^2} -
        \frac1{v+\sigma_1^2}\big)`, 0 where :math:`q(x_n)` carries no data information.

    Notes
    -----
    Dividing :math:`\mathcal N(\mu_n, d_n)` by the prior :math:`\mathcal N(0, 1/\langle\rho_n\rangle)`
    leaves the data "pseudo-observation" :math:`r_n = \mu_n/(1-\langle\rho_n\rangle d_n)` with
    variance :math:`v_n = d_n/(1-\langle\rho_n\rangle d_n)` (i.e. :math:`v_n = (1/d_n -
    \langle\rho_n\rangle)^{-1}`, :math:`r_n = v_n\mu_n/d_n`).  The message compares its evidence
    under the active and inactive prior variances :math:`\sigma_1^2 = b/a`,
    :math:`\sigma_0^2 = \bar b/\bar a`.  Approximate :math:`d_n` are floored into
    :math:`[0, 1/\langle\rho_n\rangle]`; when :math:`1/d_n - \langle\rho_n\rangle \le
    10^{-12}\langle\rho_n\rangle` the term is 0.
    """
    xp = namespace(rho)
    a, b, ab, bb = hyper
    s1, s0 = b / a, bb / ab
    d = xp.clip(d, min=0.0)
    rd = xp.clip(rho * d, max=1.0)
    gap = 1 - rd
    ok = gap > 1e-12 * rd
    safe = xp.where(ok, gap, xp.ones_like(gap))
    v = d / safe
    r2 = _abs2(xp, mu) / safe ** 2
    term = c * (xp.log((v + s0) / (v + s1)) + xp.astype(r2, v.dtype) * (1 / (v + s0) - 1 / (v + s1)))
    return xp.where(ok, term, xp.zeros_like(term))


# ---------------------------------------------------------------------------- Module A backends
class _ModuleA:
    """Posterior q(x) = N(mu, Sigma) for given <rho> and <kappa>, through one of four back ends.

    ``qx(rho, kappa, mu_prev)`` returns ``mean`` (B, N), ``var`` (B, N), ``t`` (B,) =
    tr(A Sigma A^H), ``rr`` (B,) = ||y - A mu||^2 and, for the exact back ends, ``logdet`` (B,)
    = ln det Sigma.
    """

    def __init__(self, Ad: Any, op: Any, Y: Any, method: str, *, diag_probes: Any, cg_tol: float,
                 mm_steps: int, column_norms_sq: Any, seed: int, cg_max_iter: int | None = None,
                 check_every: int = 1) -> None:
        self.Ad, self.op, self.Y, self.method = Ad, op, Y, method
        xp = self.xp = namespace(Y)
        self.B, self.M = Y.shape
        self.dt = Y.dtype
        self.rdt = real_dtype(Y.dtype)
        self.diag_probes, self.cg_tol, self.mm_steps, self.seed = diag_probes, cg_tol, mm_steps, seed
        self.cg_max_iter = cg_max_iter
        # the CG of the "cg" back end tests its stopping rule (a host sync on torch) every check_every
        # iterations, on both backends so that numpy and torch run the same iterations
        self.cg_check_every = int(check_every)
        self.yy = xp.astype(xp.sum(_abs2(xp, Y), axis=-1), self.rdt)
        if Ad is not None:
            self.N = Ad.shape[1]
            self.AhY = (xp.conj(Ad).mT @ Y[:, :, None])  # (B, N, 1)
            self.G = xp.conj(Ad).mT @ Ad if method == "dense" else None
            self.colnorm = xp.astype(xp.sum(_abs2(xp, Ad), axis=0), self.rdt)
        else:
            self.N = op.shape[1]
            self.AhY = None
            self.G = None
            self.colnorm = None
        if column_norms_sq is not None:
            cn = np.broadcast_to(np.asarray(column_norms_sq, dtype=float), (self.N,))
            if np.any(cn <= 0) or not np.all(np.isfinite(cn)):
                raise ValueError("column_norms_sq must be finite and positive")
            self.colnorm = xp.asarray(np.array(cn), dtype=self.rdt, **_dev(Y))
        self.L = None
        self.res = None

    # -- operator helpers
    def apply(self, x: Any) -> Any:
        if self.Ad is not None:
            return x @ self.Ad.mT
        return self.op._apply(x)

    def adjoint(self, r: Any) -> Any:
        if self.Ad is not None:
            return r @ self.xp.conj(self.Ad)
        return self.op._adjoint(r)

    def mean_colnorm(self) -> float:
        """Mean squared column norm c-bar (exact for matrices, 16 Rademacher probes otherwise)."""
        if self.colnorm is not None:
            return float(self.xp.mean(self.colnorm))
        xp = self.xp
        rng = np.random.default_rng(self.seed + 7)
        Z = xp.asarray(rng.integers(0, 2, size=(16, self.N)) * 2.0 - 1.0, dtype=self.dt, **_dev(self.Y))
        AZ = self.op._apply(Z)
        return float(xp.mean(xp.sum(_abs2(xp, AZ), axis=-1))) / self.N

    def _mm_setup(self) -> None:
        xp = self.xp
        if self.colnorm is None:
            rng = np.random.default_rng(self.seed + 11)
            Z = xp.asarray(rng.integers(0, 2, size=(32, self.N)) * 2.0 - 1.0, dtype=self.dt, **_dev(self.Y))
            est = xp.mean(xp.real(xp.conj(Z) * self.adjoint(self.apply(Z))), axis=0)
            self.colnorm = xp.astype(xp.clip(est, min=1e-12 * float(xp.max(xp.abs(est)))), self.rdt)
        if self.Ad is not None:
            from ...operators import Matrix

            L = Matrix(self.Ad).opnorm()
        else:
            L = self.op.opnorm(like=self.Y) if self.op.opnorm_bound() is None else self.op.opnorm()
        self.L = float(L) ** 2

    def qx(self, rho: Any, kappa: Any, mu_prev: Any) -> dict[str, Any]:
        xp = self.xp
        gamma = 1.0 / rho
        nv = 1.0 / kappa
        m = self.method
        if m == "mm":
            return self._qx_mm(rho, kappa, mu_prev)
        if m == "dense":
            est = estep_coefficient(self.G, self.AhY, self.yy, gamma, nv, self.M, want_cost=True)
            mean = est["mean"][:, :, 0]
        elif m == "woodbury":
            est = estep_measurement(self.Ad, self.Y[:, :, None], gamma, nv, want_cost=True)
            mean = est["mean"][:, :, 0]
        else:  # cg
            diag = "exact" if self.diag_probes == "exact" else "hutchinson"
            n_probes = 1 if diag == "exact" else int(self.diag_probes)
            est = estep_operator(self.op, self.Y, gamma, nv, diag=diag, n_probes=n_probes, cg_tol=self.cg_tol,
                                 cg_max_iter=self.cg_max_iter, seed=self.seed, check_every=self.cg_check_every)
            mean = est["mean"]
        var = xp.astype(est["var"], self.rdt)
        dof = xp.astype(est["dof"], self.rdt)
        t = xp.sum(dof, axis=-1) * nv  # tr(A Sigma A^H) = (N - sum rho d)/kappa
        r = self.Y - self.apply(mean)
        rr = xp.astype(xp.sum(_abs2(xp, r), axis=-1), self.rdt)
        out = {"mean": mean, "var": var, "t": t, "rr": rr}
        if "cost" in est:
            # ln det Sigma = M ln nv + sum ln gamma - ln det Sigma_y,
            # ln det Sigma_y = cost - y^H Sigma_y^-1 y,  y^H Sigma_y^-1 y = rr/nv + sum |mu|^2/gamma
            quad = rr / nv + xp.sum(xp.astype(_abs2(xp, mean), self.rdt) * rho, axis=-1)
            logdet_y = xp.real(est["cost"]) - quad
            out["logdet"] = self.M * xp.log(nv) + xp.sum(xp.log(gamma), axis=-1) - logdet_y
        return out

    def _qx_mm(self, rho: Any, kappa: Any, mu_prev: Any) -> dict[str, Any]:
        xp = self.xp
        if self.L is None:
            self._mm_setup()
        mu = mu_prev
        if self.res is None:
            self.res = self.Y - self.apply(mu)
        kap = kappa[:, None]
        Lk = kap * self.L
        for _ in range(self.mm_steps):
            g = self.adjoint(self.res)
            mu = (xp.astype(Lk, self.dt) * mu + xp.astype(kap, self.dt) * g) / xp.astype(Lk + rho, self.dt)
            self.res = self.Y - self.apply(mu)
        d = 1.0 / (kap * self.colnorm[None, :] + rho)
        t = xp.sum(self.colnorm[None, :] * d, axis=-1)
        rr = xp.astype(xp.sum(_abs2(xp, self.res), axis=-1), self.rdt)
        return {"mean": mu, "var": d, "t": t, "rr": rr}

    def freeze(self, active: Any, old_res: Any) -> None:
        """Keep the cached MM residual of converged problems."""
        if self.res is not None and old_res is not None:
            self.res = self.xp.where(active[:, None], self.res, old_res)


# ---------------------------------------------------------------------------- input handling
def _resolve(A: Any, y: Any, method: str) -> tuple[Any, Any, dict[str, Any], str]:
    from ...operators import Matrix

    if is_array(A):
        if A.ndim != 2:
            raise ValueError(f"A must be a 2-D array (M, N), got shape {tuple(A.shape)}")
        M, N = int(A.shape[0]), int(A.shape[1])
        info = {"in_shape": (N,), "out_shape": (M,), "M": M, "N": N}
        Ad, op = A, None
    elif isinstance(A, LinearOperator):
        M, N = A.shape
        info = {"in_shape": A.in_shape, "out_shape": A.out_shape, "M": M, "N": N}
        if isinstance(A, Matrix) and A._kind == "dense":
            Ad, op = A.A, None
        else:
            Ad, op = None, A
    else:
        raise TypeError(f"A must be a numpy/torch array or a sparserec LinearOperator, got {type(A).__name__}")
    if method == "operator":
        method = "cg"
    if Ad is None and method in ("dense", "woodbury"):
        raise ValueError(f"method={method!r} needs an explicit matrix, but A is a {type(A).__name__} "
                         "operator; use method='cg' or 'mm', or pass A.todense()")
    if method == "auto":
        if Ad is None and M * N <= _DENSE_LIMIT:
            try:
                Ad = A.todense(like=y)
            except Exception:  # noqa: BLE001 - operators without an explicit matrix
                Ad = None
        if Ad is None:
            method = "cg"
        else:
            method = "dense" if N <= M else "woodbury"
    if method in ("cg", "mm") and op is None:
        op = Matrix(Ad)
        if method == "cg":
            Ad_keep = None
        else:
            Ad_keep = Ad
        op = op.reshape((N,), (M,)) if tuple(op.in_shape) != (N,) else op
        return Ad_keep, op, info, method
    if op is not None:
        op = op.reshape((N,), (M,))
    return Ad, op, info, method


def _groups(groups: Any, N: int) -> tuple[np.ndarray | None, int]:
    if groups is None:
        return None, N
    g = to_numpy(groups) if is_array(groups) else np.asarray(groups)
    if g.shape != (N,):
        raise ValueError(f"groups must be a label array of shape ({N},), got shape {g.shape}")
    if not np.issubdtype(g.dtype, np.integer):
        if not np.all(np.mod(g, 1) == 0):
            raise ValueError("groups must hold integer labels 0..Q-1")
        g = g.astype(np.int64)
    Q = int(g.max()) + 1 if g.size else 0
    if g.min() < 0 or len(np.unique(g)) != Q:
        raise ValueError(f"group labels must be exactly 0..Q-1 (each used at least once); got labels in "
                         f"[{g.min()}, {g.max()}] with {len(np.unique(g))} distinct values")
    return g.astype(np.int64), Q


class _GroupMap:
    """Expand (B, Q) group values to (B, N) and sum (B, N) to (B, Q)."""

    def __init__(self, labels: np.ndarray | None, Q: int, like: Any) -> None:
        self.labels = labels
        self.Q = Q
        self.xp = namespace(like)
        self.idx = None if labels is None else self.xp.asarray(labels, **_dev(like))

    def expand(self, v: Any) -> Any:
        return v if self.labels is None else v[:, self.idx]

    def sum(self, v: Any) -> Any:
        if self.labels is None:
            return v
        B = v.shape[0]
        if is_torch(v):
            import torch

            out = torch.zeros((B, self.Q), dtype=v.dtype, device=v.device)
            return out.index_add_(1, self.idx, v)
        out = np.zeros((B, self.Q), dtype=v.dtype)
        np.add.at(out.T, self.labels, v.T)
        return out


# ---------------------------------------------------------------------------- ELBO
def _elbo(xp: Any, *, c: float, M: int, hyper: tuple[float, float, float, float], mu: Any, d: Any,
          logdet: Any, rr: Any, t: Any, at: Any, bt: Any, pit_n: Any, pit: Any, pi: Any,
          ka: Any, kb: Any, noise_prior: tuple[float, float], learn_noise: bool) -> Any:
    """Module-A evidence lower bound (plus ln p(kappa)), per problem; see turbo_vbi Notes."""
    a, b, ab, bb = hyper
    rho = at / bt
    lnrho = _special("digamma", at) - xp.log(bt)
    N = mu.shape[-1]
    lc = math.log(math.pi / c)
    if learn_noise:
        kap = ka / kb
        lnk = _special("digamma", ka) - xp.log(kb)
        ak, bk = noise_prior
        e_lik = c * M * lnk - c * kap * (rr + t) - c * M * lc
        e_pk = ak * math.log(bk) - math.lgamma(ak) + (ak - 1) * lnk - bk * kap
        h_k = ka - xp.log(kb) + _special("gammaln", ka) + (1 - ka) * _special("digamma", ka)
        e_lik = e_lik + e_pk + h_k
    else:
        kap = ka
        e_lik = c * M * xp.log(kap) - c * kap * (rr + t) - c * M * lc
    m2 = xp.astype(_abs2(xp, mu), d.dtype) + d
    e_px = xp.sum(c * lnrho - c * rho * m2 - c * lc, axis=-1)
    e_prho = xp.sum(pit_n * gamma_loglik(a, b, rho, lnrho) + (1 - pit_n) * gamma_loglik(ab, bb, rho, lnrho),
                    axis=-1)
    pc = xp.clip(pi, 1e-300, 1.0)
    pc0 = xp.clip(1 - pi, 1e-300, 1.0)
    e_ps = xp.sum(pit * xp.log(pc) + (1 - pit) * xp.log(pc0), axis=-1)
    h_x = c * logdet + c * N * math.log(math.pi * math.e / c)
    h_rho = xp.sum(at - xp.log(bt) + _special("gammaln", at) + (1 - at) * _special("digamma", at), axis=-1)
    p1 = xp.clip(pit, 1e-300, 1.0)
    p0 = xp.clip(1 - pit, 1e-300, 1.0)
    h_s = -xp.sum(pit * xp.log(p1) + (1 - pit) * xp.log(p0), axis=-1)
    return e_lik + e_px + e_prho + e_ps + h_x + h_rho + h_s


# ---------------------------------------------------------------------------- the solver
def turbo_vbi(A: Any, y: Any, prior: Any = None, *, groups: Any = None, extrinsic: str = "cavity",
              method: str = "auto", active_shape: float = 1.0, active_rate: float = 1.0,
              inactive_shape: float = 30.0, inactive_rate: float = 3e-4, noise_var: Any = None,
              learn_noise: bool = True, learn_prior: bool = False, noise_shape: float = 1e-6,
              noise_rate: float = 1e-6, damping: float = 0.5, max_iter: int = 50, tol: float = 1e-4,
              inner_max_iter: int = 20, inner_tol: float = 1e-4, diag_probes: Any = 32, cg_tol: float = 1e-8,
              cg_max_iter: int | None = None,
              mm_steps: int = 3, noise_warmup: int | None = None, column_norms_sq: Any = None, signal_scale: Any = None,
              update_operator: Callable[[Any, dict[str, Any]], Any] | None = None, rng: Any = None,
              callback: Callable[[SolverState], bool | None] | None = None, record_every: int = 1,
              check_every: int = 1, verbose: bool = False, debias: bool | None = None) -> SolverResult:
    r"""Turbo-VBI recovery of structured sparse signals, :math:`y = A x + w`, batched.

    Parameters
    ----------
    A : array of shape ``(M, N)`` or LinearOperator
        Sensing matrix or operator shared by the batch (real or complex, numpy or torch).
    y : array of shape ``(*batch, M)`` (or ``(*batch, *A.out_shape)``)
        Measurements; each problem has its own posterior, noise level, messages and learned
        prior parameters.
    prior : SupportPrior or float, optional
        Support prior ("Module B"): :class:`~sparserec.solvers.bayes.support_priors.IndependentSupport`,
        :class:`~sparserec.solvers.bayes.support_priors.MarkovChainSupport` or
        :class:`~sparserec.solvers.bayes.support_priors.MRFSupport`.  A float ``p`` means
        ``IndependentSupport(p)``; default ``IndependentSupport(0.1)``.
    groups : integer array of shape ``(N,)``, optional
        Group labels ``0..Q-1``; a group is all-active or all-inactive and the chain/MRF runs
        over the groups.  Default: one group per coefficient.
    extrinsic : {"cavity", "paper"}
        Extrinsic message from Module A to Module B.  ``"cavity"`` (default): the Gaussian
        q(x_n) divided by its prior, scored under the active/inactive prior variances, with one
        Module-A pass per turbo iteration and damped :math:`\tilde\pi`.  ``"paper"``: the literal
        Liu et al. form :math:`\mathrm{logit}\,\tilde\pi - \mathrm{logit}\,\pi` after an inner VBI
        loop (A1--A4).
    method : {"auto", "dense", "woodbury", "cg", "operator", "mm"}
        Back end of the q(x) update.  ``"dense"``: :math:`N\times N` Cholesky of
        :math:`D + \kappa A^H A`; ``"woodbury"``: :math:`M\times M` Cholesky per problem;
        ``"cg"`` (alias ``"operator"``): batched CG for the mean and a Hutchinson (or exact)
        diagonal -- apply/adjoint only; ``"mm"``: inverse-free majorisation--minimisation,
        ``mm_steps`` applies and adjoints per iteration.  ``"auto"``: ``"dense"`` if
        :math:`N \le M`, ``"woodbury"`` otherwise for explicit matrices (small operators are
        densified), ``"cg"`` for large operators.
    active_shape, active_rate : float, default 1, 1
        Gamma :math:`(a, b)` of :math:`\rho_n` for an **active** group (:math:`a/b = \Theta(1)`).
    inactive_shape, inactive_rate : float, default 1, 1e-5
        Gamma :math:`(\bar a, \bar b)` for an **inactive** group (:math:`\bar a/\bar b \gg 1`).
    noise_var : float or array of shape ``batch``, optional
        Noise variance :math:`1/\kappa` in the units of ``y``: fixed if ``learn_noise=False``,
        otherwise the initial value (default :math:`\kappa_0 = 100/\mathrm{mean}|y|^2`, ~20 dB).
    learn_noise : bool, default True
        Learn :math:`q(\kappa) = \Gamma(a_\kappa + cM, b_\kappa + c(\|y - A\mu\|^2 + t))`.
    learn_prior : bool, default False
        EM of the support-prior parameters (Markov :math:`\lambda, p_{on}, p_{off}`; a shared
        :math:`\alpha` for a learnable independent prior) once per outer iteration.
    noise_shape, noise_rate : float, default 1e-6
        Gamma prior :math:`(a_\kappa, b_\kappa)` of the noise precision.
    damping : float in [0, 1), default 0.5
        Cavity mode: weight of the old :math:`\tilde\pi` in the damped update.
    max_iter : int, default 50
        Outer (turbo) iterations.
    tol : float, default 1e-4
        Stop a problem when :math:`\|\mu^k - \mu^{k-1}\| < \mathrm{tol}\,\|\mu^k\|`.
    inner_max_iter, inner_tol
        Paper mode: Module-A iterations per turbo iteration and their stopping rule.
    diag_probes : int or "exact", default 32
        ``"cg"`` back end: Rademacher probes of the Hutchinson diagonal, or exact unit-vector
        probing (small N, tests).
    cg_tol : float, default 1e-8
        CG tolerance (``"cg"``).
    cg_max_iter : int, optional
        CG iteration cap (default ``max(50, 2N)``); the system's condition number grows like
        :math:`\kappa\|A\|^2/\min\langle\rho\rangle`, so tight tolerances need more.
    mm_steps : int, default 3
        MM steps per Module-A iteration (``"mm"``).
    noise_warmup : int, optional
        Outer iterations with :math:`\kappa` held at its initial value before A4 starts
        (default 10 for ``"mm"``, whose first means are far from converged and would inflate the
        noise estimate into a poor fixed point; 0 otherwise).
    column_norms_sq : float or array of shape ``(N,)``, optional
        :math:`\|a_n\|^2` for the MM diagonal (default: exact for matrices, probed otherwise).
    signal_scale : float, optional
        Internal rescaling of ``y``; default ``None`` estimates :math:`s = \|y\|/\sqrt{\lambda_0 N
        \bar c}` per problem, which makes the solver invariant to the units of ``y``.
    update_operator : callable, optional
        ``update_operator(A, state) -> A`` called once per outer iteration (M-step hook for
        operator parameters).  ``state`` holds ``x`` (unscaled posterior mean), ``posterior_var``,
        ``noise_var`` and ``support_prob``.
    rng : int or numpy Generator, optional
        Seed of the Hutchinson probes / MM probing.
    callback, record_every, verbose
        See :class:`~sparserec.solvers.result.ConvergenceMonitor`.
    check_every : int, default 1
        Test convergence every ``check_every`` outer iterations (the loop's only host
        synchronisation on torch tensors; see :class:`~sparserec.solvers.result.ConvergenceMonitor`).
        With torch tensors the early exits of the paper-mode inner loop and of the MM debiasing
        passes are also read back every ``check_every`` passes only; passes after such a loop
        has converged are no-ops, so those loops give the same result for every ``check_every``.
        With ``method="cg"`` the conjugate-gradient E-steps also test their stopping rule every
        ``check_every`` iterations (on numpy too, so that both backends run the same iterations).
    debias : bool, optional
        After the turbo loop, run one more A1 with the precisions of the estimated-inactive
        coefficients (:math:`\tilde\pi_{g(n)} \le 1/2`) raised to at least the inactive prior mean
        :math:`\bar a/\bar b`, i.e. return :math:`\mathbb E[x \mid y, \hat s, \langle\rho\rangle,
        \kappa]`.  The learned :math:`q(\rho_n)` of an inactive coefficient also absorbs noise
        (its mean :math:`(\bar a + c)/(\bar b + c\langle|x_n|^2\rangle)` falls below the prior mean
        by the noise it fits), which leaks ~N small non-zeros into :math:`\mu`; at high SNR that
        leakage, not the support, dominates the error.  Default: ``True`` for ``extrinsic="cavity"``,
        ``False`` for ``"paper"`` (literal reproduction).  ``x`` and ``posterior_var`` come from this
        step; ``rho_mean``, ``support_prob``, the noise and the history are those of the loop.

    Returns
    -------
    SolverResult
        ``x`` (posterior mean, ``(*batch, N)``) and ``extras``: ``support_prob``
        (:math:`\tilde\pi`, ``(*batch, Q)``), ``support`` (:math:`\tilde\pi > 1/2`),
        ``posterior_var`` (full-length :math:`d`), ``rho_mean`` (:math:`\langle\rho\rangle`, in
        the units of ``x``), ``noise_var``, ``extrinsic`` (last :math:`\pi^{in}` as a probability),
        ``prior_pi`` (last Module-B output :math:`\pi`), ``prior_params`` (learned
        :math:`\lambda, p_{on}, p_{off}` ...), ``signal_scale``.  ``history``: ``rel_change``,
        ``noise_var``, ``n_active`` and, in paper mode with an exact back end, ``elbo``.

    Raises
    ------
    ValueError
        Mismatched shapes, NaN/Inf, non-positive Gamma parameters or noise variance, bad group
        labels, an MRF grid whose size differs from Q, ``method="dense"``/``"woodbury"`` with an
        operator that has no explicit matrix, unknown options.

    Notes
    -----
    Let :math:`c = 1/2` (real) or 1 (complex), :math:`D = \mathrm{diag}\langle\rho\rangle`,
    :math:`\tilde\pi_q` the current :math:`q(s_q = 1)` and :math:`\pi_q` the Module-B message.

    * **A1** :math:`q(x) = \mathcal N(\mu, \Sigma)`, :math:`\Sigma = (D + \kappa A^HA)^{-1}`,
      :math:`\mu = \kappa\Sigma A^H y`; only :math:`\mu`, :math:`d = \mathrm{diag}\,\Sigma` and
      :math:`t = \mathrm{tr}(A\Sigma A^H) = (N - \sum_n\langle\rho_n\rangle d_n)/\kappa` are used.
    * **A2** :math:`\tilde a_n = \tilde\pi a + (1-\tilde\pi)\bar a + c`, :math:`\tilde b_n =
      \tilde\pi b + (1-\tilde\pi)\bar b + c(|\mu_n|^2 + d_n)`.
    * **A3** (paper) :math:`\mathrm{logit}\,\tilde\pi_q = \mathrm{logit}\,\pi_q + \sum_{n\in q}
      [\ell_n(a,b) - \ell_n(\bar a,\bar b)]`, with :math:`\ell(a,b) = a\ln b - \ln\Gamma(a) +
      (a-1)\langle\ln\rho\rangle - b\langle\rho\rangle`.
    * **A4** :math:`\langle\kappa\rangle = (a_\kappa + cM)/(b_\kappa + c(\|y-A\mu\|^2 + t))`.
    * **Cavity message** with :math:`v_n = (1/d_n - \langle\rho_n\rangle)^{-1}`, :math:`r_n =
      v_n\mu_n/d_n`, :math:`\sigma_1^2 = b/a`, :math:`\sigma_0^2 = \bar b/\bar a`:
      :math:`\mathrm{logit}\,\pi^{in}_q = \sum_{n\in q} c\ln\frac{v_n+\sigma_0^2}{v_n+\sigma_1^2}
      + c|r_n|^2(\frac1{v_n+\sigma_0^2} - \frac1{v_n+\sigma_1^2})`; then
      :math:`\tilde\pi \leftarrow \delta\tilde\pi + (1-\delta)\sigma(\mathrm{logit}\,\pi^{in} +
      \mathrm{logit}\,\pi)`.

    One cavity iteration is A1, message, Module B, :math:`\tilde\pi`, A2, A4, M-step; one
    paper iteration is the A1--A4 loop to inner convergence, message, Module B, M-step.  The
    literal mean-field s-update is bistable (a hard threshold on :math:`\langle\rho\rangle`) and
    showed no Markov gain in sparserec's experiments, hence the cavity default.  The turbo
    exchange has no convergence proof; convergence is checked empirically.

    The ELBO (paper mode, exact back ends) is
    :math:`\mathbb E\ln p(y|x,\kappa) + \mathbb E\ln p(x|\rho) + \mathbb E\ln p(\rho|s) +
    \mathbb E\ln\hat p(s) + \mathbb E\ln p(\kappa) + H[q(x)] + H[q(\rho)] + H[q(s)] + H[q(\kappa)]`.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.solvers.bayes.turbo_vbi import turbo_vbi, MarkovChainSupport
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((60, 128)) / np.sqrt(60)
    >>> x = np.zeros(128); x[40:52] = rng.standard_normal(12)
    >>> y = A @ x + 0.01 * rng.standard_normal(60)
    >>> res = turbo_vbi(A, y, MarkovChainSupport.from_sparsity(0.1, mean_run=10))
    >>> bool(np.linalg.norm(res.x - x) < 0.1 * np.linalg.norm(x))
    True
    """
    # ------------------------------------------------------------ validation
    if extrinsic not in ("cavity", "paper"):
        raise ValueError(f"extrinsic must be 'cavity' or 'paper', got {extrinsic!r}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    hyper = (check_positive(active_shape, "active_shape"), check_positive(active_rate, "active_rate"),
             check_positive(inactive_shape, "inactive_shape"), check_positive(inactive_rate, "inactive_rate"))
    noise_prior = (check_positive(noise_shape, "noise_shape"), check_positive(noise_rate, "noise_rate"))
    if not 0 <= float(damping) < 1:
        raise ValueError(f"damping must lie in [0, 1), got {damping!r}")
    max_iter = check_max_iter(max_iter)
    inner_max_iter = check_max_iter(inner_max_iter)
    check_every = check_check_every(check_every)
    tol = check_tol(tol)
    inner_tol = check_tol(inner_tol, "inner_tol")
    if isinstance(mm_steps, bool) or int(mm_steps) < 1:
        raise ValueError(f"mm_steps must be a positive integer, got {mm_steps!r}")
    if not (diag_probes == "exact" or (isinstance(diag_probes, (int, np.integer)) and diag_probes >= 1)):
        raise ValueError(f"diag_probes must be a positive integer or 'exact', got {diag_probes!r}")
    if prior is None:
        prior = IndependentSupport(0.1)
    elif isinstance(prior, (float, int)) and not isinstance(prior, bool):
        prior = IndependentSupport(float(prior))
    if not isinstance(prior, SupportPrior):
        raise TypeError(f"prior must be a SupportPrior (IndependentSupport, MarkovChainSupport, MRFSupport) "
                        f"or a probability, got {type(prior).__name__}")
    if not is_array(y):
        raise TypeError(f"y must be a numpy array or torch tensor, got {type(y).__name__}")
    if is_array(A):
        check_finite(A, "A")
    Ad, op, info, method = _resolve(A, y, method)
    M, N = info["M"], info["N"]
    out_shape, in_shape = tuple(info["out_shape"]), tuple(info["in_shape"])
    nout = len(out_shape)
    if y.ndim < nout or tuple(y.shape[y.ndim - nout:]) != out_shape:
        raise ValueError(f"y must have shape (*batch, {', '.join(map(str, out_shape))}) to match A of shape "
                         f"{(M, N)}, got {tuple(y.shape)}")
    check_finite(y, "y")
    if Ad is not None:
        check_finite(Ad, "A")
    labels, Q = _groups(groups, N)
    prior.check_groups(Q)
    dt = result_dtype(y.dtype, Ad.dtype if Ad is not None else op.dtype)
    if not (dtype_name(dt).startswith("float") or dtype_name(dt).startswith("complex")):
        raise TypeError(f"y must be floating or complex, got {dtype_name(y.dtype)}")
    xp = namespace(y) if Ad is None else namespace(Ad, y)
    rdt = real_dtype(dt)
    cplx = is_complex_dtype(dt)
    c = 1.0 if cplx else 0.5
    batch = tuple(int(s) for s in y.shape[: y.ndim - nout])
    B = math.prod(batch)
    Y = xp.reshape(y, (B, M))
    if dtype_name(Y.dtype) != dtype_name(dt):
        Y = xp.astype(Y, dt)
    if Ad is not None and dtype_name(Ad.dtype) != dtype_name(dt):
        Ad = xp.astype(Ad, dt)
    seed = int(rng) if isinstance(rng, (int, np.integer)) else (
        int(rng.integers(2 ** 31)) if isinstance(rng, np.random.Generator) else 0)

    # ------------------------------------------------------------ scaling and initialisation
    modA = _ModuleA(Ad, op, Y, method, diag_probes=diag_probes, cg_tol=float(cg_tol), mm_steps=int(mm_steps),
                    column_norms_sq=column_norms_sq, seed=seed, cg_max_iter=cg_max_iter, check_every=check_every)
    yn = xp.sqrt(modA.yy)
    if signal_scale is None:
        lam0 = prior.sparsity()
        cbar = modA.mean_colnorm()
        scale = yn / math.sqrt(max(lam0 * N * cbar, 1e-300))
        scale = xp.where(scale > 0, scale, xp.ones_like(scale))
    else:
        sv = check_positive(signal_scale, "signal_scale")
        scale = xp.full((B,), sv, dtype=rdt, **_dev(Y))
    Ys = Y / xp.astype(scale[:, None], dt)
    modA.Y = Ys
    modA.yy = modA.yy / scale ** 2
    if modA.AhY is not None:
        modA.AhY = modA.AhY / xp.astype(scale[:, None, None], dt)
    if noise_var is not None:
        nv0 = np.broadcast_to(np.asarray(to_numpy(noise_var) if is_array(noise_var) else noise_var, dtype=float),
                              batch).reshape(-1)
        if not np.all(np.isfinite(nv0)) or np.any(nv0 <= 0):
            raise ValueError(f"noise_var must be finite and strictly positive, got {noise_var!r}")
        kappa = scale ** 2 / xp.asarray(np.array(nv0), dtype=rdt, **_dev(Y))
    else:
        if not learn_noise:
            raise ValueError("learn_noise=False needs noise_var")
        my2 = modA.yy / M
        kappa = 100.0 / xp.where(my2 > 0, my2, xp.ones_like(my2))
    ak, bk = noise_prior
    ka = xp.full((B,), ak + c * M, dtype=rdt, **_dev(Y))  # q(kappa) shape (learned) -- kappa = ka/kb
    kb = ka / kappa
    gm = _GroupMap(labels, Q, Y)
    state: dict[str, Any] = {}
    pi = xp.astype(prior.initial_pi(B, Q, xp.zeros((B, 1), dtype=rdt, **_dev(Y)), state), rdt)
    pit = pi
    a, b, ab, bb = hyper
    pin = gm.expand(pit)
    at = pin * a + (1 - pin) * ab
    bt = pin * b + (1 - pin) * bb
    rho = at / bt
    mu = xp.zeros((B, N), dtype=dt, **_dev(Y))
    d = 1 / rho
    ext = xp.zeros((B, Q), dtype=rdt, **_dev(Y))
    logit_in = ext
    learn_p = bool(learn_prior) and prior.learnable

    mon = ConvergenceMonitor(batch, Y, max_iter, tol, record_every, check_every, callback, verbose, "turbo_vbi")
    # inner loops (paper-mode A1--A4, MM debiasing) read their "all converged" flag back every
    # ``sync_every`` passes; numpy reads are free, so numpy keeps exiting at the first converged pass
    sync_every = check_every if is_torch(Y) else 1
    tiny = float(np.finfo(np.dtype(dtype_name(rdt))).tiny)
    cur_A = A

    if noise_warmup is None:
        noise_warmup = 10 if method == "mm" else 0
    if isinstance(noise_warmup, bool) or int(noise_warmup) < 0:
        raise ValueError(f"noise_warmup must be a non-negative integer, got {noise_warmup!r}")
    noise_warmup = int(noise_warmup)

    def a4(rr: Any, t: Any) -> tuple[Any, Any, Any]:
        if not learn_noise or mon.iteration < noise_warmup:
            return ka, kb, kappa
        ka_n, kb_n = noise_update(rr, t, M, c, noise_prior)
        return ka_n, kb_n, ka_n / kb_n

    def elbo_of(q: dict[str, Any], at_: Any, bt_: Any, pit_: Any, pi_: Any, ka_: Any, kb_: Any) -> Any:
        if "logdet" not in q:
            return None
        return _elbo(xp, c=c, M=M, hyper=hyper, mu=q["mean"], d=q["var"], logdet=q["logdet"], rr=q["rr"],
                     t=q["t"], at=at_, bt=bt_, pit_n=gm.expand(pit_), pit=pit_, pi=pi_,
                     ka=ka_ if learn_noise else ka_ / kb_, kb=kb_, noise_prior=noise_prior, learn_noise=learn_noise)

    while True:
        act = xp.reshape(mon.active, (B,))
        old = (mu, d, at, bt, rho, ka, kb, kappa, pi, pit, logit_in, modA.res)
        old_state = dict(state)
        mu_prev = mu
        elbo_val = None
        if extrinsic == "cavity":
            q = modA.qx(rho, kappa, mu)                                  # A1
            mu, d = q["mean"], q["var"]
            logit_in = xp.clip(gm.sum(cavity_message(mu, d, rho, hyper, c)), -_LOGIT_CLIP, _LOGIT_CLIP)
            p_in = _sigmoid(xp, logit_in)
            pi = xp.astype(prior.messages(p_in, state=state), rdt)       # Module B
            post = _sigmoid(xp, xp.clip(logit_in + _logit(xp, pi), -_LOGIT_CLIP, _LOGIT_CLIP))
            pit = damping * pit + (1 - damping) * post
            m2 = xp.astype(_abs2(xp, mu), rdt) + d                       # A2
            at, bt = rho_update(gm.expand(pit), m2, hyper, c)
            rho = at / bt
            ka, kb, kappa = a4(q["rr"], q["t"])                          # A4
        else:
            done = None  # device flag: every problem met the inner rule at an earlier pass
            for k_in in range(inner_max_iter):
                mu_in = mu
                prev = (mu, d, at, bt, rho, pit, ka, kb, kappa)
                prev_q, prev_res = (q if k_in else None), modA.res
                q = modA.qx(rho, kappa, mu)                              # A1
                mu, d = q["mean"], q["var"]
                m2 = xp.astype(_abs2(xp, mu), rdt) + d
                at, bt = rho_update(gm.expand(pit), m2, hyper, c)        # A2
                rho = at / bt
                lnrho = _special("digamma", at) - xp.log(bt)
                lo = xp.clip(gm.sum(paper_message(rho, lnrho, hyper)), -_LOGIT_CLIP, _LOGIT_CLIP)
                pit = _sigmoid(xp, xp.clip(_logit(xp, pi) + lo, -_LOGIT_CLIP, _LOGIT_CLIP))  # A3
                ka, kb, kappa = a4(q["rr"], q["t"])                      # A4
                dm = xp.sqrt(xp.sum(_abs2(xp, mu - mu_in), axis=-1))
                nm = xp.sqrt(xp.sum(_abs2(xp, mu), axis=-1))
                conv = xp.all(dm <= inner_tol * xp.clip(nm, min=tiny))
                if done is not None:  # a pass after convergence is a no-op (sync_every > 1 only)
                    mu, d, at, bt, rho, pit, ka, kb, kappa = _hold(
                        xp, done, (mu, d, at, bt, rho, pit, ka, kb, kappa), prev)
                    q = dict(zip(q, _hold(xp, done, tuple(q.values()), tuple(prev_q[k_] for k_ in q))))
                    if modA.res is not None and prev_res is not None:
                        modA.res = xp.where(done, prev_res, modA.res)
                    conv = done | conv
                stop, done = _inner_sync(k_in, inner_max_iter, sync_every, conv)
                if stop:
                    break
            q = dict(q)
            q["mean"], q["var"] = mu, d
            elbo_val = elbo_of(q, at, bt, pit, pi, ka, kb)
            logit_in = xp.clip(_logit(xp, pit) - _logit(xp, pi), -_LOGIT_CLIP, _LOGIT_CLIP)
            pi = xp.astype(prior.messages(_sigmoid(xp, logit_in), state=state), rdt)  # Module B
        if learn_p:
            prior.m_step(_sigmoid(xp, logit_in), pi, state=state, active=act)
        # freeze converged problems
        new = (mu, d, at, bt, rho, ka, kb, kappa, pi, pit, logit_in)
        merged = []
        for n_, o_ in zip(new, old[:-1]):
            merged.append(xp.where(xp.reshape(act, (B,) + (1,) * (n_.ndim - 1)), n_, o_))
        mu, d, at, bt, rho, ka, kb, kappa, pi, pit, logit_in = merged
        for k_, v_ in old_state.items():
            if k_ in state and is_array(v_) and v_.shape[:1] == (B,) and k_ != "mrf_messages":
                state[k_] = xp.where(xp.reshape(act, (B,) + (1,) * (v_.ndim - 1)), state[k_], v_)
        modA.freeze(act, old[-1])
        diff = xp.sqrt(xp.sum(_abs2(xp, mu - mu_prev), axis=-1))
        nrm = xp.sqrt(xp.sum(_abs2(xp, mu), axis=-1))
        crit = xp.astype(diff / xp.clip(nrm, min=tiny), rdt)
        crit = xp.where(nrm > 0, crit, xp.where(diff > 0, xp.ones_like(crit), xp.zeros_like(crit)))
        metrics: dict[str, Any] = {
            "rel_change": xp.reshape(crit, batch),
            "noise_var": xp.reshape(scale ** 2 / kappa, batch),
            "n_active": xp.reshape(xp.sum(xp.astype(pit > 0.5, rdt), axis=-1), batch),
        }
        if elbo_val is not None:
            metrics["elbo"] = xp.reshape(elbo_val, batch)
        xcb = None
        if callback is not None:
            xcb = xp.reshape(mu * xp.astype(scale[:, None], dt), batch + in_shape)
        if mon.step(xp.reshape(crit, batch), xcb, **metrics):
            break
        if update_operator is not None:
            st = {"x": mu * xp.astype(scale[:, None], dt), "posterior_var": d * scale[:, None] ** 2,
                  "noise_var": scale ** 2 / kappa, "support_prob": pit}
            newA = update_operator(cur_A, st)
            if newA is not None and newA is not cur_A:
                cur_A = newA
                Ad2, op2, info2, _m = _resolve(newA, y, method)
                if (info2["M"], info2["N"]) != (M, N):
                    raise ValueError("update_operator must keep the operator's shape")
                if Ad2 is not None and dtype_name(Ad2.dtype) != dtype_name(dt):
                    Ad2 = xp.astype(Ad2, dt)
                modA = _ModuleA(Ad2, op2, Ys, method, diag_probes=diag_probes, cg_tol=float(cg_tol),
                                mm_steps=int(mm_steps), column_norms_sq=column_norms_sq, seed=seed,
                                cg_max_iter=cg_max_iter, check_every=check_every)

    if debias is None:
        debias = extrinsic == "cavity"
    if debias:
        # final A1 given the estimated support: inactive precisions at (at least) their prior mean
        inact = gm.expand(pit) <= 0.5
        rho_f = xp.where(inact, xp.clip(rho, min=ab / bb), rho)
        qf = modA.qx(rho_f, kappa, mu)
        if method == "mm":  # a few MM steps are not a converged q(x): iterate them
            done = None
            for k_in in range(_MM_DEBIAS_PASSES):
                mu_f, prev_q, prev_res = qf["mean"], qf, modA.res
                qf = modA.qx(rho_f, kappa, mu_f)
                dm = xp.sqrt(xp.sum(_abs2(xp, qf["mean"] - mu_f), axis=-1))
                nm = xp.sqrt(xp.sum(_abs2(xp, qf["mean"]), axis=-1))
                conv = xp.all(dm <= _MM_DEBIAS_TOL * xp.clip(nm, min=tiny))
                if done is not None:
                    qf = dict(zip(qf, _hold(xp, done, tuple(qf.values()), tuple(prev_q[k_] for k_ in qf))))
                    modA.res = xp.where(done, prev_res, modA.res)
                    conv = done | conv
                stop, done = _inner_sync(k_in, _MM_DEBIAS_PASSES, sync_every, conv)
                if stop:
                    break
        mu, d = qf["mean"], xp.astype(qf["var"], rdt)

    sc = xp.astype(scale[:, None], dt)
    Q_shape = batch + (Q,)
    pparams = {}
    for k_, v_ in prior.params(state).items():
        pparams[k_] = xp.reshape(v_, batch) if is_array(v_) and v_.shape == (B,) else v_
    extras = {
        "support_prob": xp.reshape(pit, Q_shape),
        "support": xp.reshape(pit > 0.5, Q_shape),
        "posterior_var": xp.reshape(d * scale[:, None] ** 2, batch + in_shape),
        "rho_mean": xp.reshape(rho / scale[:, None] ** 2, batch + in_shape),
        "noise_var": xp.reshape(scale ** 2 / kappa, batch),
        "extrinsic": xp.reshape(_sigmoid(xp, logit_in), Q_shape),
        "prior_pi": xp.reshape(pi, Q_shape),
        "prior_params": pparams,
        "signal_scale": xp.reshape(scale, batch),
    }
    params = {"extrinsic": extrinsic, "method": method, "active_shape": a, "active_rate": b,
              "inactive_shape": ab, "inactive_rate": bb, "learn_noise": bool(learn_noise),
              "learn_prior": learn_p, "damping": float(damping), "max_iter": max_iter, "tol": tol,
              "check_every": check_every,
              "debias": bool(debias),
              "prior": repr(prior), "complex": cplx, "n_groups": Q}
    return mon.result(xp.reshape(mu * sc, batch + in_shape), params=params, extras=extras)
