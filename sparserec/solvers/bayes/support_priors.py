r"""Support priors of Turbo-VBI ("Module B"): independent, binary Markov chain and 2-D grid MRF.

Every prior turns the incoming (extrinsic) messages :math:`\pi^{in}_q` from Module A into the
outgoing messages :math:`\pi_q` (the prior probability that group :math:`q` is active, with the
local factor :math:`q` excluded) and, where it applies, learns its parameters by EM.

* :class:`IndependentSupport` -- :math:`p(s_q = 1) = \alpha_q` ("prior support information");
* :class:`MarkovChainSupport` -- a binary Markov chain over the groups, exact forward--backward
  through :func:`sparserec.cuda_ext.markov_chain_messages`, EM of :math:`(\lambda, p_{on},
  p_{off})` from the pairwise posteriors;
* :class:`MRFSupport` -- a pairwise MRF on an ``R x C`` grid, damped loopy BP through
  :func:`sparserec.cuda_ext.mrf_messages`.

Naming: ``p_on`` :math:`= P(s_q = 1 \mid s_{q-1} = 0)` (Liu et al.'s :math:`p_{01}`) and
``p_off`` :math:`= P(s_q = 0 \mid s_{q-1} = 1)` (their :math:`p_{10}`).  Chen's Turbo-CS code
uses the opposite names; sparserec uses only ``p_on`` / ``p_off``.

All arrays are batch-first, ``(B, Q)``, numpy or torch (any device).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..._backend import is_array, is_torch, namespace, to_numpy

__all__ = [
    "IndependentSupport",
    "MRFSupport",
    "MarkovChainSupport",
    "SupportPrior",
    "chain_pairwise_posteriors",
]

_CLIP = 1e-10  # messages are clipped to [1e-10, 1 - 1e-10] (logit +-23)
_PCLIP = 1e-4  # learned probabilities are clipped to [1e-4, 1 - 1e-4]


def _dev(x: Any) -> dict[str, Any]:
    return {"device": x.device} if is_torch(x) else {}


def _check_prob(v: Any, name: str) -> Any:
    """Validate a probability (scalar or array) strictly inside (0, 1); return float or numpy."""
    if is_array(v):
        a = to_numpy(v).astype(float)
    else:
        try:
            a = np.asarray(v, dtype=float)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{name} must be a probability in (0, 1), got {v!r}") from e
    if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0) or np.any(a >= 1):
        raise ValueError(f"{name} must lie strictly inside (0, 1), got {v!r}")
    return float(a) if a.ndim == 0 else a


def _per_problem(v: Any, B: int, like: Any) -> Any:
    """Scalar or (B,) parameter as a (B,) array in the namespace/dtype of ``like``."""
    xp = namespace(like)
    if is_array(v) and not isinstance(v, np.ndarray):  # torch tensor already
        v = to_numpy(v)
    a = np.broadcast_to(np.asarray(v, dtype=float), (B,))
    return xp.asarray(np.array(a), dtype=like.dtype, **_dev(like))


def _safe_probs(p: Any) -> Any:
    """Clip messages into (0, 1) with a margin the dtype can represent (1e-10 is 0 next to 1 in float32)."""
    xp = namespace(p)
    eps = 1e-10 if "64" in str(p.dtype) else 1e-6
    return xp.clip(p, eps, 1 - eps)


def _logit(p: Any, xp: Any) -> Any:
    p = xp.clip(p, _CLIP, 1 - _CLIP)
    return xp.log(p) - xp.log(1 - p)


class SupportPrior:
    """Base class of the Turbo-VBI support priors (Module B).

    Subclasses implement :meth:`messages` and :meth:`sparsity`; :meth:`m_step` is optional
    (the default learns nothing).
    """

    #: whether :meth:`m_step` learns anything
    learnable: bool = False

    def messages(self, pi_in: Any, *, state: dict[str, Any] | None = None) -> Any:
        r"""Module B: outgoing messages :math:`\pi` (B, Q) from incoming :math:`\pi^{in}` (B, Q).

        ``state`` is a per-solve dict in which the prior keeps learned parameters and warm
        starts; it is created and owned by the caller (e.g. :func:`turbo_vbi`).
        """
        raise NotImplementedError

    def sparsity(self) -> float:
        """Prior probability that a group is active (used for the signal scale and initialisation)."""
        raise NotImplementedError

    def n_groups(self) -> int | None:
        """Number of support variables the prior is tied to (``None``: any)."""
        return None

    def initial_pi(self, B: int, Q: int, like: Any, state: dict[str, Any] | None = None) -> Any:
        """Initial prior messages :math:`\\pi_q` (the marginal prior), shape (B, Q)."""
        xp = namespace(like)
        return xp.full((B, Q), float(self.sparsity()), dtype=like.dtype, **_dev(like))

    def m_step(self, pi_in: Any, pi_out: Any, *, state: dict[str, Any], active: Any = None) -> None:
        """Update learned parameters in ``state`` from the last messages (default: no-op)."""
        return None

    def params(self, state: dict[str, Any] | None = None) -> dict[str, Any]:
        """Current (possibly learned) parameters, for ``SolverResult.extras['prior_params']``."""
        return {}

    def check_groups(self, Q: int) -> None:
        """Raise ``ValueError`` if the prior cannot describe ``Q`` support variables."""
        n = self.n_groups()
        if n is not None and n != Q:
            what = f"grid {getattr(self, 'grid_shape', '')} of " if hasattr(self, "grid_shape") else ""
            raise ValueError(f"{type(self).__name__}: the {what}{n} support variables does not match the "
                             f"problem's Q = {Q} groups/coefficients")


# ---------------------------------------------------------------------------- independent
class IndependentSupport(SupportPrior):
    r"""Independent support prior :math:`p(s_q = 1) = \alpha_q` (Liu et al.'s eq. 21).

    Parameters
    ----------
    prob : float or array of shape ``(Q,)``
        Prior activity probability, scalar or per group, strictly inside (0, 1).
    learn : bool, default False
        With ``turbo_vbi(..., learn_prior=True)``, learn one shared :math:`\hat\alpha =
        \mathrm{mean}(\hat\pi)` per problem (only for a scalar ``prob``).

    Notes
    -----
    Module B is trivial: the outgoing message is the prior itself, whatever comes in.  This is
    the degenerate case of the chain with :math:`p_{on} = 1 - p_{off} = \alpha`.
    """

    def __init__(self, prob: Any = 0.1, *, learn: bool = False) -> None:
        self.prob = _check_prob(prob, "prob")
        self.learnable = bool(learn) and np.ndim(self.prob) == 0

    def sparsity(self) -> float:
        return float(np.mean(self.prob))

    def n_groups(self) -> int | None:
        return None if np.ndim(self.prob) == 0 else int(np.size(self.prob))

    def _alpha(self, B: int, Q: int, like: Any, state: dict[str, Any] | None) -> Any:
        xp = namespace(like)
        if state is not None and "alpha" in state:
            return xp.broadcast_to(state["alpha"][:, None], (B, Q))
        if np.ndim(self.prob) == 0:
            return xp.full((B, Q), float(self.prob), dtype=like.dtype, **_dev(like))
        a = xp.asarray(np.asarray(self.prob, dtype=float), dtype=like.dtype, **_dev(like))
        return xp.broadcast_to(a[None, :], (B, Q))

    def initial_pi(self, B: int, Q: int, like: Any, state: dict[str, Any] | None = None) -> Any:
        return self._alpha(B, Q, like, state)

    def messages(self, pi_in: Any, *, state: dict[str, Any] | None = None) -> Any:
        B, Q = pi_in.shape
        return self._alpha(B, Q, pi_in, state)

    def m_step(self, pi_in: Any, pi_out: Any, *, state: dict[str, Any], active: Any = None) -> None:
        if not self.learnable:
            return
        xp = namespace(pi_in)
        post = xp.clip(1 / (1 + xp.exp(-(_logit(pi_in, xp) + _logit(pi_out, xp)))), _PCLIP, 1 - _PCLIP)
        new = xp.clip(xp.mean(post, axis=1), _PCLIP, 1 - _PCLIP)
        old = state.get("alpha", xp.full((pi_in.shape[0],), float(self.prob), dtype=pi_in.dtype,
                                         **_dev(pi_in)))
        state["alpha"] = new if active is None else xp.where(active, new, old)

    def params(self, state: dict[str, Any] | None = None) -> dict[str, Any]:
        if state is not None and "alpha" in state:
            return {"prob": state["alpha"]}
        return {"prob": self.prob}

    def __repr__(self) -> str:
        return f"IndependentSupport(prob={self.prob!r})"


# ---------------------------------------------------------------------------- Markov chain
def _chain_messages(pi_in: Any, lam: Any, p_on: Any, p_off: Any) -> Any:
    r"""Module B of the chain, :func:`sparserec.cuda_ext.markov_chain_messages`, without a host sync.

    The public entry point checks that ``lam``, ``p_on`` and ``p_off`` lie in (0, 1), which on
    torch tensors reads three flags back to the host at every call (every turbo iteration).
    Here they are valid by construction -- checked by :class:`MarkovChainSupport` and clipped to
    :math:`[10^{-4}, 1 - 10^{-4}]` by its M-step -- so torch inputs go straight to the kernel
    the dispatcher picks (Triton on CUDA, the reference otherwise).

    Parameters
    ----------
    pi_in : array (B, Q)
        Incoming messages as probabilities, already clipped into (0, 1).
    lam, p_on, p_off : arrays (B,)
        Chain parameters per problem.

    Returns
    -------
    array (B, Q)
        Outgoing messages :math:`\pi`.
    """
    from ... import cuda_ext

    if not is_torch(pi_in):
        return cuda_ext.markov_chain_messages(pi_in, lam, p_on, p_off)
    if len(pi_in.shape) != 2:
        raise ValueError(f"pi_in must have shape (B, Q), got {tuple(pi_in.shape)}")
    return cuda_ext._pick("markov_chain_messages", pi_in, "auto")(pi_in, lam, p_on, p_off)


def chain_pairwise_posteriors(pi_in: Any, lam: Any, p_on: Any, p_off: Any) -> tuple[Any, Any]:
    r"""Singleton and pairwise posteriors of a binary Markov chain with local evidence.

    This is the E-step of the EM for the chain parameters (Turbo-CS ``MarkovChainModuleB``);
    Module B itself is :func:`sparserec.cuda_ext.markov_chain_messages`.

    Parameters
    ----------
    pi_in : array (B, Q)
        Local evidence :math:`u_q(1) = \pi^{in}_q` as probabilities.
    lam, p_on, p_off : arrays (B,)
        :math:`P(s_1 = 1)`, :math:`P(1\mid 0)`, :math:`P(0\mid 1)`.

    Returns
    -------
    post : array (B, Q)
        :math:`\hat\pi_q = P(s_q = 1 \mid \text{all evidence})`.
    p11 : array (B, Q - 1)
        :math:`P_q(1, 1) = P(s_q = 1, s_{q+1} = 1 \mid \text{all evidence})`.

    Notes
    -----
    With the normalised forward/backward messages :math:`\lambda^f_q, \lambda^b_q` of Liu et
    al. (eqs. 45--48),

    .. math::
        P_q(s, s') \propto \lambda^f_q(s)\, u_q(s)\, P(s' \mid s)\, u_{q+1}(s')\,
        \lambda^b_{q+1}(s'),

    normalised over the four pairs, where :math:`\lambda(1) = \lambda` and
    :math:`\lambda(0) = 1 - \lambda`.
    """
    xp = namespace(pi_in)
    B, Q = pi_in.shape
    from ...cuda_ext.reference import chain_forward_backward

    u = xp.clip(pi_in, _CLIP, 1 - _CLIP)
    LF, LB = chain_forward_backward(u, lam, p_on, p_off)  # the same pass as Module B
    w1 = LF * u * LB
    w0 = (1 - LF) * (1 - u) * (1 - LB)
    post = w1 / (w1 + w0)
    if Q < 2:
        return post, xp.zeros((B, 0), dtype=pi_in.dtype, **_dev(pi_in))
    l1 = LF[:, :-1] * u[:, :-1]
    l0 = (1 - LF[:, :-1]) * (1 - u[:, :-1])
    r1 = u[:, 1:] * LB[:, 1:]
    r0 = (1 - u[:, 1:]) * (1 - LB[:, 1:])
    pon, poff = p_on[:, None], p_off[:, None]
    e11 = l1 * (1 - poff) * r1
    e10 = l1 * poff * r0
    e01 = l0 * pon * r1
    e00 = l0 * (1 - pon) * r0
    return post, e11 / (e11 + e10 + e01 + e00)


class MarkovChainSupport(SupportPrior):
    r"""Binary Markov-chain support prior over the groups (Liu et al. 2020, eqs. 14--15).

    Parameters
    ----------
    p_on : float
        :math:`P(s_q = 1 \mid s_{q-1} = 0)` (the paper's :math:`p_{01}`); mean gap :math:`1/p_{on}`.
    p_off : float
        :math:`P(s_q = 0 \mid s_{q-1} = 1)` (the paper's :math:`p_{10}`); mean run :math:`1/p_{off}`.
    first : float, optional
        :math:`\lambda = P(s_1 = 1)`; default the stationary value :math:`p_{on}/(p_{on}+p_{off})`.
    learn : bool, default True
        Whether ``turbo_vbi(..., learn_prior=True)`` updates :math:`(\lambda, p_{on}, p_{off})`
        by EM (per problem).

    Notes
    -----
    Module B is the exact forward--backward (sum-product) recursion, computed by
    :func:`sparserec.cuda_ext.markov_chain_messages` (a Triton kernel on CUDA).  The EM
    (M-step of the outer block-MM loop, from Chen's Turbo-CS) uses the full marginals
    :math:`\hat\pi_q` and pairwise posteriors :math:`P_q(1,1)`
    (:func:`chain_pairwise_posteriors`):

    .. math::
        \hat p_{off} = \frac{\sum_{q<Q} (\hat\pi_q - P_q(1,1))}{\sum_{q<Q}\hat\pi_q},\quad
        \hat p_{on} = \frac{\sum_{q<Q} (\hat\pi_{q+1} - P_q(1,1))}{(Q - 1) - \sum_{q<Q}\hat\pi_q},\quad
        \hat\lambda = \mathrm{mean}_q\,\hat\pi_q,

    each clipped to :math:`[10^{-4}, 1 - 10^{-4}]`.

    Examples
    --------
    >>> from sparserec.solvers.bayes.support_priors import MarkovChainSupport
    >>> prior = MarkovChainSupport.from_sparsity(0.1, mean_run=8)
    >>> round(prior.p_off, 3), round(prior.p_on, 4)
    (0.125, 0.0139)
    """

    learnable = True

    def __init__(self, p_on: float, p_off: float, first: float | None = None, *, learn: bool = True) -> None:
        self.p_on = _check_prob(p_on, "p_on")
        self.p_off = _check_prob(p_off, "p_off")
        if np.ndim(self.p_on) or np.ndim(self.p_off):
            raise ValueError("p_on and p_off must be scalars (learned values are per problem)")
        self.first = (self.p_on / (self.p_on + self.p_off) if first is None
                      else _check_prob(first, "first"))
        self.learnable = bool(learn)

    @classmethod
    def from_sparsity(cls, sparsity: float, mean_run: float, **kwargs: Any) -> MarkovChainSupport:
        r"""Chain with stationary sparsity :math:`\lambda` and mean run length :math:`L`.

        :math:`p_{off} = 1/L` and :math:`p_{on} = \lambda p_{off}/(1-\lambda)`.
        """
        lam = _check_prob(sparsity, "sparsity")
        if not (np.isfinite(mean_run) and mean_run > 1):
            raise ValueError(f"mean_run must be > 1, got {mean_run!r}")
        p_off = 1.0 / float(mean_run)
        p_on = lam * p_off / (1 - lam)
        return cls(p_on, p_off, first=lam, **kwargs)

    def sparsity(self) -> float:
        return float(self.p_on / (self.p_on + self.p_off))

    def _get(self, B: int, like: Any, state: dict[str, Any] | None) -> tuple[Any, Any, Any]:
        if state is not None and "lam" in state:
            return state["lam"], state["p_on"], state["p_off"]
        vals = (_per_problem(self.first, B, like), _per_problem(self.p_on, B, like),
                _per_problem(self.p_off, B, like))
        if state is not None:
            state["lam"], state["p_on"], state["p_off"] = vals
        return vals

    def initial_pi(self, B: int, Q: int, like: Any, state: dict[str, Any] | None = None) -> Any:
        xp = namespace(like)
        lam, _, _ = self._get(B, like, state)
        return xp.broadcast_to(lam[:, None], (B, Q)) + xp.zeros((B, Q), dtype=like.dtype, **_dev(like))

    def messages(self, pi_in: Any, *, state: dict[str, Any] | None = None) -> Any:
        B = pi_in.shape[0]
        lam, pon, poff = self._get(B, pi_in, state)
        return _chain_messages(_safe_probs(pi_in), lam, pon, poff)

    def m_step(self, pi_in: Any, pi_out: Any = None, *, state: dict[str, Any], active: Any = None,
               pooled: bool = False) -> None:
        r"""One EM update of :math:`(\lambda, p_{on}, p_{off})` stored in ``state``.

        Parameters
        ----------
        pi_in : array (B, Q)
            Incoming (extrinsic) messages, the local evidence of the chain.
        pi_out : ignored
            Kept for a uniform signature (the pairwise posteriors are recomputed).
        state : dict
            Holds ``lam``, ``p_on``, ``p_off`` (each (B,)); updated in place.
        active : bool array (B,), optional
            Only these problems are updated.
        pooled : bool
            Pool the sufficient statistics over the batch (one shared chain model, e.g. a long
            chain cut into segments).
        """
        if not self.learnable:
            return
        xp = namespace(pi_in)
        B, Q = pi_in.shape
        if Q < 2:
            return
        lam, pon, poff = self._get(B, pi_in, state)
        post, p11 = chain_pairwise_posteriors(pi_in, lam, pon, poff)
        s_head = xp.sum(post[:, :-1], axis=1)
        s_tail = xp.sum(post[:, 1:], axis=1)
        s11 = xp.sum(p11, axis=1)
        s_all = xp.sum(post, axis=1)
        n_head = xp.full((B,), float(Q - 1), dtype=pi_in.dtype, **_dev(pi_in))
        n_all = xp.full((B,), float(Q), dtype=pi_in.dtype, **_dev(pi_in))
        if pooled:
            def pool(v: Any) -> Any:
                return xp.broadcast_to(xp.sum(v, axis=0, keepdims=True), (B,))

            s_head, s_tail, s11, s_all, n_head, n_all = map(pool, (s_head, s_tail, s11, s_all, n_head, n_all))
        tiny = 1e-300 if str(pi_in.dtype).endswith("64") else 1e-30
        new_off = (s_head - s11) / xp.clip(s_head, min=tiny)
        new_on = (s_tail - s11) / xp.clip(n_head - s_head, min=tiny)
        new_lam = s_all / n_all

        def clipv(v: Any) -> Any:
            return xp.clip(v, _PCLIP, 1 - _PCLIP)

        new = (clipv(new_lam), clipv(new_on), clipv(new_off))
        if active is not None:
            new = tuple(xp.where(active, n, o) for n, o in zip(new, (lam, pon, poff)))
        state["lam"], state["p_on"], state["p_off"] = new

    def params(self, state: dict[str, Any] | None = None) -> dict[str, Any]:
        if state is not None and "lam" in state:
            return {"lam": state["lam"], "p_on": state["p_on"], "p_off": state["p_off"]}
        return {"lam": self.first, "p_on": self.p_on, "p_off": self.p_off}

    def __repr__(self) -> str:
        return f"MarkovChainSupport(p_on={self.p_on!r}, p_off={self.p_off!r}, first={self.first!r})"


# ---------------------------------------------------------------------------- 2-D MRF
def _check_table(t: Any, name: str) -> tuple[tuple[float, float], tuple[float, float]]:
    a = np.asarray(t, dtype=float)
    if a.shape != (2, 2):
        raise ValueError(f"{name} must be a 2x2 table psi[s_i][s_j], got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"{name} entries must be finite and strictly positive, got {a.tolist()}")
    return ((float(a[0, 0]), float(a[0, 1])), (float(a[1, 0]), float(a[1, 1])))


class MRFSupport(SupportPrior):
    r"""Pairwise binary MRF on an ``R x C`` grid of support variables (row-major).

    Parameters
    ----------
    grid_shape : (int, int)
        Grid ``(R, C)``; ``R * C`` must equal the number of groups ``Q`` of the problem.
    table_h, table_v : 2x2 array-like of positive floats
        Pairwise tables ``psi[s_i][s_j]`` (index 0 = inactive, 1 = active) between a node ``i``
        and its right (``table_h``) or lower (``table_v``) neighbour ``j``.
    unary : float or array of shape ``(R, C)``, optional
        Prior unary :math:`u^0_i(1)` as a probability (default: none, i.e. 1/2).
    sweeps : int, default 10
        Flooding sweeps of loopy BP per call (5--20 sensible); messages are warm-started across
        calls of one solve.
    damping : float in [0, 1), default 0.5
    sparsity : float, optional
        Prior activity used for initialisation and the signal scale (default: estimated from the
        tables by BP with flat evidence).

    Notes
    -----
    Module B is damped flooding loopy BP in the log-odds domain,
    :func:`sparserec.cuda_ext.mrf_messages`; the output excludes the local factor.  A ``1 x Q``
    grid with ``table_h[s][s'] = P(s'|s)`` and unary :math:`\lambda` on the first node only is
    exactly :class:`MarkovChainSupport` (use ``unary`` as an ``(1, Q)`` array).  The couplings
    are fixed (not learned).
    """

    def __init__(self, grid_shape: tuple[int, int], table_h: Any, table_v: Any, unary: Any = None,
                 sweeps: int = 10, damping: float = 0.5, *, sparsity: float | None = None) -> None:
        try:
            R, C = (int(v) for v in grid_shape)
        except (TypeError, ValueError) as e:
            raise ValueError(f"grid_shape must be a pair (R, C), got {grid_shape!r}") from e
        if R < 1 or C < 1:
            raise ValueError(f"grid_shape must be positive, got {grid_shape!r}")
        self.grid_shape = (R, C)
        self.table_h = _check_table(table_h, "table_h")
        self.table_v = _check_table(table_v, "table_v")
        if unary is not None:
            u = _check_prob(unary, "unary")
            if np.ndim(u) and np.shape(u) != (R, C):
                raise ValueError(f"unary must be a scalar or of shape {(R, C)}, got {np.shape(u)}")
            self.unary = u
        else:
            self.unary = None
        if int(sweeps) < 1:
            raise ValueError(f"sweeps must be >= 1, got {sweeps}")
        self.sweeps = int(sweeps)
        if not 0 <= damping < 1:
            raise ValueError(f"damping must lie in [0, 1), got {damping}")
        self.damping = float(damping)
        self._sparsity = None if sparsity is None else _check_prob(sparsity, "sparsity")

    @classmethod
    def from_transition(cls, grid_shape: tuple[int, int], p01: float, p11: float, *,
                        p01_v: float | None = None, p11_v: float | None = None, start: float | None = None,
                        **kwargs: Any) -> MRFSupport:
        r"""Grid MRF from transition probabilities (the layout of Xia et al.'s demo).

        ``p01`` :math:`= P(\text{active} \mid \text{left/upper neighbour inactive})` (equal to a
        chain's ``p_on``) and ``p11`` :math:`= P(\text{active} \mid \text{neighbour active})`
        (equal to ``1 - p_off``); the vertical axis uses ``p01_v``/``p11_v`` (default: the same).
        The demo's table, rows = neighbour (active, inactive), columns = node (active, inactive),
        is ``[[p11, 1-p11], [p01, 1-p01]]``.  ``start`` is an optional activity probability on the
        first row and column (the demo uses 0.3).
        """
        p01 = _check_prob(p01, "p01")
        p11 = _check_prob(p11, "p11")
        p01_v = p01 if p01_v is None else _check_prob(p01_v, "p01_v")
        p11_v = p11 if p11_v is None else _check_prob(p11_v, "p11_v")
        th = ((1 - p01, p01), (1 - p11, p11))
        tv = ((1 - p01_v, p01_v), (1 - p11_v, p11_v))
        unary = None
        if start is not None:
            s = _check_prob(start, "start")
            R, C = (int(v) for v in grid_shape)
            u = np.full((R, C), 0.5)
            u[0, :] = s
            u[:, 0] = s
            unary = u
        kwargs.setdefault("sparsity", p01 / (p01 + 1 - p11))
        return cls(grid_shape, th, tv, unary=unary, **kwargs)

    @classmethod
    def from_ising(cls, grid_shape: tuple[int, int], beta_h: float, beta_v: float, sparsity: float,
                   **kwargs: Any) -> MRFSupport:
        r"""Ising-style grid: :math:`\psi(s_i, s_j) = \exp(\beta\,[s_i = s_j])` per axis, with a
        prior unary bias :math:`u^0_i(1) =` ``sparsity`` on every node."""
        sp = _check_prob(sparsity, "sparsity")
        for nm, b in (("beta_h", beta_h), ("beta_v", beta_v)):
            if not np.isfinite(b):
                raise ValueError(f"{nm} must be finite, got {b!r}")
        th = ((math.exp(beta_h), 1.0), (1.0, math.exp(beta_h)))
        tv = ((math.exp(beta_v), 1.0), (1.0, math.exp(beta_v)))
        kwargs.setdefault("sparsity", sp)
        return cls(grid_shape, th, tv, unary=sp, **kwargs)

    def n_groups(self) -> int:
        return self.grid_shape[0] * self.grid_shape[1]

    def _prior_logit(self, B: int, like: Any) -> Any:
        if self.unary is None:
            return None
        xp = namespace(like)
        R, C = self.grid_shape
        u = np.broadcast_to(np.asarray(self.unary, dtype=float), (R, C))
        lg = np.log(u) - np.log1p(-u)
        t = xp.asarray(np.array(lg), dtype=like.dtype, **_dev(like))
        return xp.broadcast_to(t[None], (B, R, C))

    def sparsity(self) -> float:
        if self._sparsity is None:
            pi = self.messages(np.full((1, self.n_groups()), 0.5))
            self._sparsity = float(np.clip(np.mean(pi), 1e-3, 1 - 1e-3))
        return float(self._sparsity)

    def messages(self, pi_in: Any, *, state: dict[str, Any] | None = None) -> Any:
        from ...cuda_ext import mrf_messages

        xp = namespace(pi_in)
        B, Q = pi_in.shape
        self.check_groups(Q)
        R, C = self.grid_shape
        warm = state.get("mrf_messages") if state is not None else None
        pi, msgs = mrf_messages(xp.reshape(_safe_probs(pi_in), (B, R, C)), self.table_h, self.table_v,
                                self._prior_logit(B, pi_in), self.sweeps, self.damping, warm)
        if state is not None:
            state["mrf_messages"] = msgs
        return xp.reshape(pi, (B, Q))

    def initial_pi(self, B: int, Q: int, like: Any, state: dict[str, Any] | None = None) -> Any:
        xp = namespace(like)
        return xp.full((B, Q), self.sparsity(), dtype=like.dtype, **_dev(like))

    def params(self, state: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"grid_shape": self.grid_shape, "table_h": self.table_h, "table_v": self.table_v}

    def __repr__(self) -> str:
        return (f"MRFSupport(grid_shape={self.grid_shape}, table_h={self.table_h}, table_v={self.table_v}, "
                f"sweeps={self.sweeps}, damping={self.damping})")
