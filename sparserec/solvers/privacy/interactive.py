r"""Sequentially interactive LDP iterative hard thresholding (LDP-IHT).

The users are split into :math:`T` disjoint groups; in round :math:`t` the server broadcasts
:math:`\theta_{t-1}`, every user of group :math:`t` sends one privatised, clipped gradient, and
the server takes a projected hard-thresholding step.  Each user speaks exactly once — the
:class:`LDPIHTServer` keeps a :class:`~sparserec.solvers.privacy.accounting.UserLedger` and
raises :class:`~sparserec.solvers.privacy.accounting.PrivacyViolationError` on a second query —
so by parallel composition the protocol is :math:`(\varepsilon,\delta)`-LDP.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..._backend import Generator, asarray_like, check_finite, default_rng, is_torch, namespace, to_numpy
from ...prox.projections import project_l0_ball, project_l1_ball
from ..result import SolverResult
from ._ops import check_budget, check_data, check_k, check_positive, shrink
from .accounting import PrivacyRecord, UserLedger
from .mechanisms import GaussianMechanism, LaplaceMechanism, make_mechanism
from .noninteractive import _result

__all__ = ["LDPIHTServer", "group_sizes", "ldp_iht", "ldp_iht_mechanism", "ldp_iht_release"]

Mechanism = GaussianMechanism | LaplaceMechanism


def ldp_iht_mechanism(n_features: int, epsilon: float, delta: float | None = None, *, tau_x: float = 1.0,
                      tau_y: float = 1.0, radius: float = 1.0, calibration: str = "auto",
                      mechanism: str = "gaussian") -> Mechanism:
    r"""Mechanism of one LDP-IHT message.

    Notes
    -----
    With :math:`\|\theta\|_1 \le R`, :math:`|\langle\tilde x,\theta\rangle| \le \tau_x R`, so the
    gradient :math:`\tilde x(\langle\tilde x,\theta\rangle - \tilde y)` has :math:`\ell_2` norm at
    most :math:`\sqrt d\,\tau_x(\tau_x R + \tau_y)`: :math:`\Delta = 2\sqrt d\,\tau_x(\tau_x R +
    \tau_y)` and :math:`\Delta_1 = 2d\,\tau_x(\tau_x R+\tau_y)`.  Classical calibration:
    :math:`\sigma^2 = 8d\tau_x^2(\tau_x R+\tau_y)^2\ln(1.25/\delta)/\varepsilon^2`.

    Examples
    --------
    >>> m = ldp_iht_mechanism(50, 0.5, 1e-5, tau_x=1.0, tau_y=2.0)
    >>> abs(m.sigma**2 / (8 * 50 * 9 * math.log(1.25e5) / 0.25) - 1) < 1e-12
    True
    """
    d = int(n_features)
    eps, dl = check_budget(epsilon, delta, require_delta=mechanism == "gaussian")
    tx, ty = check_positive(tau_x, "tau_x"), check_positive(tau_y, "tau_y")
    R = check_positive(radius, "radius")
    c = tx * (tx * R + ty)
    return make_mechanism(mechanism, eps, dl if mechanism == "gaussian" else None,
                          l2_sensitivity=2.0 * math.sqrt(d) * c, l1_sensitivity=2.0 * d * c,
                          calibration=calibration)


def _clean_gradient(x: Any, y: Any, theta: Any, tx: float, ty: float, R: float) -> Any:
    xp = namespace(x, y, theta)
    xt, yt = shrink(x, tx), shrink(y, ty)
    # per-user clipping of the prediction: a no-op when ||theta||_1 <= R, and keeps the declared
    # sensitivity valid whatever the server broadcasts
    pred = xp.clip(xp.sum(xt * theta, axis=-1), -tx * R, tx * R)
    return xt * (pred - yt)[..., None]


def ldp_iht_release(x_i: Any, y_i: Any, theta: Any, *, epsilon: float, delta: float | None = None,
                    tau_x: float = 1.0, tau_y: float = 1.0, radius: float = 1.0,
                    calibration: str = "auto", mechanism: str = "gaussian", rng: Any = None,
                    _noise: bool = True) -> Any:
    r"""User-side randomiser of LDP-IHT: a clipped, privatised least-squares gradient.

    Parameters
    ----------
    x_i : array of shape ``(*users, d)``
    y_i : array of shape ``users``
    theta : array broadcastable to ``(*users, d)``
        The broadcast iterate.
    epsilon, delta, tau_x, tau_y, radius, calibration, mechanism
        See :func:`ldp_iht_mechanism`.
    rng : int or Generator, optional

    Returns
    -------
    array of shape ``(*users, d)``
        :math:`\tilde x(\mathrm{clip}_{\tau_x R}\langle\tilde x,\theta\rangle - \tilde y) + z`.

    Examples
    --------
    >>> import numpy as np
    >>> ldp_iht_release(np.ones((3, 4)), np.zeros(3), np.zeros(4), epsilon=1.0, delta=1e-5,
    ...                 rng=0).shape
    (3, 4)
    """
    if tuple(y_i.shape) != tuple(x_i.shape[:-1]):
        raise ValueError(f"y_i must have shape {tuple(x_i.shape[:-1])}, got {tuple(y_i.shape)}")
    check_finite(x_i, "x_i")
    check_finite(y_i, "y_i")
    m = ldp_iht_mechanism(x_i.shape[-1], epsilon, delta, tau_x=tau_x, tau_y=tau_y, radius=radius,
                          calibration=calibration, mechanism=mechanism)
    g = _clean_gradient(x_i, y_i, theta, float(tau_x), float(tau_y), float(radius))
    if not _noise:
        return g
    return m.release(g, rng=rng if isinstance(rng, Generator) else default_rng(rng))


def group_sizes(n_users: int, n_rounds: int) -> np.ndarray:
    """Sizes of ``n_rounds`` disjoint groups covering ``n_users`` users, differing by at most one."""
    n, T = int(n_users), int(n_rounds)
    if T < 1:
        raise ValueError(f"n_rounds must be >= 1, got {n_rounds}")
    if T > n:
        raise ValueError(f"n_rounds = {T} exceeds the number of users n = {n}; every round needs "
                         "at least one fresh user")
    q, r = divmod(n, T)
    return np.array([q + 1] * r + [q] * (T - r), dtype=np.int64)


class LDPIHTServer:
    r"""Server of the sequentially interactive LDP-IHT protocol.

    Parameters
    ----------
    n_features : int
    n_users : int
    k : int
        Sparsity of the hard-thresholding step (:math:`k'`).
    n_rounds : int, default 10
    step : float, default 0.5
        Step size :math:`\eta` (:math:`\le 1/\lambda_{\max}(\Sigma)`).
    radius : float, default 1.0
        :math:`\ell_1` radius :math:`R` of the iterates (must match the users' mechanism).
    batch_shape : tuple of int, default ()
        Independent problems run in lockstep.
    like : array, optional
        Array giving the library, device and dtype of the iterate.
    partition : {"random", "contiguous"}, default "random"
        ``"random"``: uniformly random groups (a permutation of the users, needs ``n_users`` ids
        in memory); ``"contiguous"``: consecutive ranges, for simulations of exchangeable users.
    rng : int or Generator, optional
        Source of the random partition.

    Notes
    -----
    Round :math:`t`: :math:`\bar g_t = |S_t|^{-1}\sum_{i\in S_t}\hat g_i`,
    :math:`\theta_t = P_R(H_{k'}(\theta_{t-1} - \eta\bar g_t))`, with :math:`H_{k'}` the top-
    :math:`k'` projection and :math:`P_R` the Euclidean projection onto the :math:`\ell_1` ball.

    Examples
    --------
    >>> import numpy as np
    >>> srv = LDPIHTServer(3, 4, k=1, n_rounds=2, rng=0)
    >>> ids = srv.current_group()
    >>> srv.receive(np.ones((len(ids), 3)), ids)
    >>> srv.round
    1
    """

    def __init__(self, n_features: int, n_users: int, k: int, *, n_rounds: int = 10, step: float = 0.5,
                 radius: float = 1.0, batch_shape: tuple[int, ...] = (), like: Any = None,
                 partition: str = "random", rng: Any = None) -> None:
        self.d = int(n_features)
        self.k = check_k(k, self.d)
        self.n_users = int(n_users)
        self.sizes = group_sizes(self.n_users, n_rounds)
        self.n_rounds = int(n_rounds)
        self.step = check_positive(step, "step")
        self.radius = check_positive(radius, "radius")
        self.batch_shape = tuple(batch_shape)
        self.ledger = UserLedger(self.n_users)
        starts = np.concatenate([[0], np.cumsum(self.sizes)])
        if partition == "random":
            g = rng if isinstance(rng, Generator) else default_rng(rng)
            perm = g.numpy.permutation(self.n_users)
            self.groups: list[Any] = [np.sort(perm[a:b]) for a, b in zip(starts[:-1], starts[1:])]
        elif partition == "contiguous":
            self.groups = [range(int(a), int(b)) for a, b in zip(starts[:-1], starts[1:])]
        else:
            raise ValueError(f"partition must be 'random' or 'contiguous', got {partition!r}")
        like = np.zeros(1) if like is None else like
        self.theta = asarray_like(np.zeros(self.batch_shape + (self.d,)), like)
        self.round = 0
        self.history: dict[str, list[np.ndarray]] = {"rel_change": [], "n_nonzero": [], "group_size": []}

    @property
    def done(self) -> bool:
        """True after the last round."""
        return self.round >= self.n_rounds

    def broadcast(self) -> Any:
        """The current iterate :math:`\\theta_{t-1}` (a copy), shape ``(*batch, d)``."""
        xp = namespace(self.theta)
        return xp.asarray(self.theta, copy=True)

    def current_group(self) -> Any:
        """Ids of the users of the current round (int array, or ``range`` if contiguous)."""
        if self.done:
            raise RuntimeError("the protocol has finished; no more rounds")
        return self.groups[self.round]

    def receive(self, messages: Any, users: Any) -> None:
        """Aggregate the messages ``(*batch, m, d)`` of the users ``users`` and update."""
        if messages.shape[-2] != len(users):
            raise ValueError(f"got {messages.shape[-2]} messages from {len(users)} users")
        xp = namespace(messages)
        self.receive_sum(xp.sum(messages, axis=-2), users)

    def receive_sum(self, total: Any, users: Any) -> None:
        """Update from the *sum* of the messages of ``users`` (used by aggregate simulations).

        Raises
        ------
        PrivacyViolationError
            If any of ``users`` was queried before.
        ValueError
            If ``users`` is not this round's group.
        """
        if self.done:
            raise RuntimeError("the protocol has finished; no more rounds")
        self.ledger.check(users)
        grp = self.groups[self.round]
        same = (users == grp) if isinstance(grp, range) and isinstance(users, range) else (
            len(users) == len(grp) and np.array_equal(np.sort(np.asarray(users)), np.asarray(grp)))
        if not same:
            raise ValueError(f"round {self.round}: the messages must come from this round's group")
        self.ledger.claim(users)
        xp = namespace(self.theta, total)
        gbar = total / len(grp)
        old = self.theta
        new = project_l1_ball(project_l0_ball(old - self.step * gbar, self.k), self.radius)
        self.theta = new
        num = to_numpy(xp.linalg.vector_norm(new - old, axis=-1))
        den = np.maximum(to_numpy(xp.linalg.vector_norm(new, axis=-1)), np.finfo(np.float64).tiny)
        self.history["rel_change"].append(num / den)
        self.history["n_nonzero"].append(to_numpy(xp.sum(xp.astype(new != 0, xp.int64), axis=-1)))
        self.history["group_size"].append(np.asarray(len(grp)))
        self.round += 1

    def history_arrays(self) -> dict[str, np.ndarray]:
        """History as arrays of shape ``(n_rounds_done, *batch)`` plus ``iteration``."""
        out = {k: np.stack(v) for k, v in self.history.items() if v}
        out["iteration"] = np.arange(1, self.round + 1)
        return out


def ldp_iht(X: Any, y: Any, epsilon: float, delta: float | None = 1e-5, *, k: int, tau_x: float = 1.0,
            tau_y: float = 1.0, n_rounds: int = 10, step: float = 0.5, radius: float = 1.0,
            sparsity: int | None = None, calibration: str = "auto", mechanism: str = "gaussian",
            simulate: str = "per_user", rng: Any = None, _noise: bool = True) -> SolverResult:
    r"""Sequentially interactive :math:`(\varepsilon,\delta)`-LDP iterative hard thresholding.

    Parameters
    ----------
    X : array of shape ``(*batch, n, d)``
    y : array of shape ``(*batch, n)``
    epsilon, delta : float
        Per-user budget (each user sends one message with the whole budget).
    k : int
        Target sparsity, :math:`1 \le k \le d`.
    tau_x, tau_y : float, default 1.0
        Shrinkage levels.
    n_rounds : int, default 10
        :math:`T \le n`.
    step : float, default 0.5
    radius : float, default 1.0
        :math:`\ell_1` radius :math:`R` (bound on :math:`\|\theta^*\|_1`).
    sparsity : int, optional
        Hard-thresholding level :math:`k'` (default :math:`k`).
    calibration : {"auto", "classical", "analytic"}
    mechanism : {"gaussian", "laplace"}
    simulate : {"per_user", "aggregate"}, default "per_user"
        ``"aggregate"`` adds the sum of each group's noise in one exact draw.
    rng : int or Generator, optional
        Source of the partition and of the noise.

    Returns
    -------
    SolverResult
        ``x`` of shape ``(*batch, d)``; ``n_iter = T``; ``history`` per round (``rel_change``,
        ``n_nonzero``, ``group_size``); ``extras``: ``sigma``, ``epsilon_release``,
        ``delta_release``, ``calibration``, ``n_rounds``, ``group_sizes``, ``n_users``,
        ``privacy``.

    Notes
    -----
    User :math:`i\in S_t` sends :math:`\hat g_i = \tilde x_i(\langle\tilde x_i,\theta_{t-1}
    \rangle - \tilde y_i) + z_i`; see :class:`LDPIHTServer` for the update.  The error is
    :math:`\tilde O(k\sqrt d/(\sqrt n\,\varepsilon))`.  The protocol completes its :math:`T`
    rounds by design, so the status is ``CONVERGED`` unless the iterate is non-finite.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.choice([-1.0, 1.0], size=(50000, 10))
    >>> theta = np.zeros(10); theta[:2] = [0.5, -0.5]
    >>> y = X @ theta + 0.1 * rng.standard_normal(50000)
    >>> res = ldp_iht(X, y, epsilon=8.0, delta=1e-5, k=2, tau_y=2.0, rng=1)
    >>> int((res.x != 0).sum()), res.extras["n_rounds"]
    (2, 10)
    """
    X, y = check_data(X, y)
    xp = namespace(X, y)
    n, d = X.shape[-2], X.shape[-1]
    batch = tuple(X.shape[:-2])
    if simulate not in ("per_user", "aggregate"):
        raise ValueError(f"simulate must be 'per_user' or 'aggregate', got {simulate!r}")
    k = check_k(k, d)
    kk = check_k(sparsity, d, "sparsity") if sparsity is not None else k
    tx, ty = check_positive(tau_x, "tau_x"), check_positive(tau_y, "tau_y")
    R = check_positive(radius, "radius")
    g = rng if isinstance(rng, Generator) else default_rng(rng)
    mech = ldp_iht_mechanism(d, epsilon, delta, tau_x=tx, tau_y=ty, radius=R, calibration=calibration,
                             mechanism=mechanism)
    server = LDPIHTServer(d, n, kk, n_rounds=n_rounds, step=step, radius=R, batch_shape=batch, like=X,
                          rng=g)
    while not server.done:
        ids = server.current_group()
        idx = ids
        if is_torch(X):
            import torch

            idx = torch.as_tensor(ids, device=X.device)
        xg, yg = X[..., idx, :], y[..., idx]
        theta = server.broadcast()[..., None, :]
        if simulate == "per_user":
            msgs = ldp_iht_release(xg, yg, theta, epsilon=epsilon, delta=delta, tau_x=tx, tau_y=ty,
                                   radius=R, calibration=calibration, mechanism=mechanism, rng=g,
                                   _noise=_noise)
            server.receive(msgs, ids)
        else:
            total = xp.sum(_clean_gradient(xg, yg, theta, tx, ty, R), axis=-2)
            if _noise:
                total = total + mech.aggregate_noise(batch + (d,), len(ids), rng=g, like=total,
                                                     dtype=total.dtype)
            server.receive_sum(total, ids)
    record = PrivacyRecord.from_releases([mech.record("gradient")], protocol="sequentially-interactive",
                                         n_users=n, noise=_noise, n_rounds=int(n_rounds))
    extras = {
        "sigma": mech.noise_scale,
        "epsilon_release": (mech.epsilon,),
        "delta_release": (mech.delta,),
        "calibration": (mech.calibration,),
        "mechanism": mech.mechanism,
        "n_rounds": int(n_rounds),
        "group_sizes": server.sizes.copy(),
        "n_users": int(n),
        "privacy": record.as_dict(),
    }
    params = {"epsilon": float(epsilon), "delta": None if delta is None else float(delta), "k": k,
              "sparsity": kk, "tau_x": tx, "tau_y": ty, "n_rounds": int(n_rounds), "step": float(step),
              "radius": R, "calibration": calibration, "mechanism": mechanism, "simulate": simulate}
    return _result(server.theta, batch, params, extras, "ldp_iht", n_iter=int(n_rounds),
                   history=server.history_arrays())
