r"""Privacy accounting: release records, basic composition and the one-query-per-user ledger.

Every private solver in :mod:`sparserec.solvers.privacy` attaches a :class:`PrivacyRecord` to its
result (``SolverResult.extras["privacy"]``, as a plain dictionary) that states the total
:math:`(\varepsilon, \delta)` guaranteed to each user, the number of releases each user makes,
and, per release, the budget, the sensitivity assumed and the noise scale.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "PrivacyRecord",
    "PrivacyViolationError",
    "ReleaseRecord",
    "UserLedger",
    "basic_composition",
]


class PrivacyViolationError(RuntimeError):
    """A protocol step would break the privacy guarantee (e.g. a user queried a second time)."""


@dataclass(frozen=True)
class ReleaseRecord:
    """One randomised release made by every user.

    Attributes
    ----------
    name : str
        What is released (``"covariance"``, ``"cross"``, ``"gradient"``).
    mechanism : str
        ``"gaussian"`` or ``"laplace"``.
    epsilon, delta : float
        Budget of this release (``delta = 0`` for the Laplace mechanism).
    sensitivity : float
        Sensitivity the calibration assumed.
    sensitivity_norm : str
        ``"l2"`` (Gaussian) or ``"l1"`` (Laplace).
    noise_scale : float
        Gaussian standard deviation :math:`\\sigma` or Laplace scale :math:`b`.
    calibration : str
        ``"classical"``, ``"analytic"`` or ``"laplace"``.
    """

    name: str
    mechanism: str
    epsilon: float
    delta: float
    sensitivity: float
    sensitivity_norm: str
    noise_scale: float
    calibration: str


def basic_composition(releases: list[ReleaseRecord] | tuple[ReleaseRecord, ...]) -> tuple[float, float]:
    r"""Total budget of releases made by one user: :math:`(\sum_j \varepsilon_j, \sum_j \delta_j)`."""
    return (math.fsum(r.epsilon for r in releases), math.fsum(r.delta for r in releases))


@dataclass(frozen=True)
class PrivacyRecord:
    r"""Privacy accounting of one protocol run.

    Attributes
    ----------
    epsilon, delta : float
        Guarantee for every user (basic composition of that user's releases; users in disjoint
        groups compose in parallel).
    releases_per_user : int
        Number of messages each user sends.
    releases : tuple of ReleaseRecord
        The releases one user makes.
    protocol : str
        ``"non-interactive"`` or ``"sequentially-interactive"``.
    n_users : int
        Number of users who released data.
    composition : str
        ``"basic"``.
    noise : bool
        False only for the test-only noiseless switch; the guarantee is then void
        (``epsilon = inf``).
    """

    epsilon: float
    delta: float
    releases_per_user: int
    releases: tuple[ReleaseRecord, ...]
    protocol: str
    n_users: int
    composition: str = "basic"
    noise: bool = True
    notes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_releases(cls, releases: list[ReleaseRecord], *, protocol: str, n_users: int,
                      noise: bool = True, **notes: Any) -> PrivacyRecord:
        """Compose ``releases`` (made by each user once) into a record."""
        eps, dl = basic_composition(releases)
        if not noise:
            eps, dl = math.inf, 1.0
        return cls(epsilon=eps, delta=dl, releases_per_user=len(releases), releases=tuple(releases),
                   protocol=protocol, n_users=int(n_users), noise=noise, notes=dict(notes))

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary (for ``SolverResult.extras`` and serialisation)."""
        out = asdict(self)
        out["releases"] = [asdict(r) for r in self.releases]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PrivacyRecord:
        """Inverse of :meth:`as_dict`."""
        d = dict(d)
        d["releases"] = tuple(ReleaseRecord(**r) for r in d["releases"])
        return cls(**d)


class UserLedger:
    """Book of the users already queried; a second query of any user raises.

    Users are identified by integers ``0 .. n_users - 1``.  Claims are either integer arrays
    (tracked with a bitmap) or contiguous ranges (tracked as intervals, so simulations with
    :math:`10^9` users need no per-user memory).

    Parameters
    ----------
    n_users : int
        Number of users.

    Examples
    --------
    >>> import numpy as np
    >>> led = UserLedger(5)
    >>> led.claim(np.array([0, 3]))
    >>> led.claim(range(1, 3))
    >>> led.n_queried
    4
    >>> led.claim(np.array([3]))
    Traceback (most recent call last):
    ...
    sparserec.solvers.privacy.accounting.PrivacyViolationError: user(s) [3] were already queried ...
    """

    def __init__(self, n_users: int) -> None:
        if int(n_users) < 1:
            raise ValueError(f"n_users must be >= 1, got {n_users}")
        self.n_users = int(n_users)
        self._bitmap: np.ndarray | None = None
        self._ranges: list[tuple[int, int]] = []
        self.n_queried = 0

    def _range_hits(self, ids: np.ndarray) -> np.ndarray:
        hit = np.zeros(ids.shape, dtype=bool)
        for a, b in self._ranges:
            hit |= (ids >= a) & (ids < b)
        return hit

    def check(self, users: Any) -> None:
        """Raise as :meth:`claim` would, without marking anyone as queried."""
        self._prepare(users)

    def claim(self, users: Any) -> None:
        """Mark ``users`` (int array or ``range`` with step 1) as queried; raise if any was already.

        Nothing is marked when it raises.

        Raises
        ------
        PrivacyViolationError
            Some user was queried before, or appears twice in ``users``.
        ValueError
            Ids outside ``0 .. n_users - 1``.
        """
        prep = self._prepare(users)
        if prep is None:
            return
        if isinstance(prep, tuple):
            self._ranges.append(prep)
            self.n_queried += prep[1] - prep[0]
            return
        if self._bitmap is None:
            self._bitmap = np.zeros(self.n_users, dtype=bool)
        self._bitmap[prep] = True
        self.n_queried += int(prep.size)

    def _prepare(self, users: Any) -> Any:
        if isinstance(users, range):
            if users.step != 1:
                raise ValueError("ranges of users must have step 1")
            a, b = users.start, users.stop
            if b <= a:
                return None
            if a < 0 or b > self.n_users:
                raise ValueError(f"user ids must lie in [0, {self.n_users}), got {users}")
            for c, e in self._ranges:
                if a < e and c < b:
                    raise PrivacyViolationError(
                        f"users in [{max(a, c)}, {min(b, e)}) were already queried; each user may "
                        "send only one message (a second release would break the privacy guarantee)")
            if self._bitmap is not None and self._bitmap[a:b].any():
                bad = a + np.flatnonzero(self._bitmap[a:b])[:5]
                raise PrivacyViolationError(f"user(s) {bad.tolist()} were already queried; each user "
                                            "may send only one message")
            return (a, b)
        ids = np.asarray(users).reshape(-1)
        if ids.size == 0:
            return None
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError("user ids must be integers")
        if ids.min() < 0 or ids.max() >= self.n_users:
            raise ValueError(f"user ids must lie in [0, {self.n_users})")
        uniq, counts = np.unique(ids, return_counts=True)
        dup = uniq[counts > 1]
        seen = self._bitmap[uniq] if self._bitmap is not None else np.zeros(uniq.shape, dtype=bool)
        again = uniq[seen | self._range_hits(uniq)]
        bad = np.union1d(dup, again)
        if bad.size:
            raise PrivacyViolationError(
                f"user(s) {bad[:5].tolist()} were already queried (or appear twice in one round); "
                "each user may send only one message — a second release would break the privacy "
                "guarantee")
        return uniq
