r"""The solver result contract: :class:`SolverResult`, :class:`Status`, convergence monitoring.

Every solver returns a frozen :class:`SolverResult`.  Iterative solvers drive a
:class:`ConvergenceMonitor`, which keeps per-problem convergence for batched problems,
records the history every ``record_every`` iterations, checks convergence every
``check_every`` iterations (the only host synchronisation), calls the user callback and
emits :class:`ConvergenceWarning` when problems did not converge.
"""

from __future__ import annotations

import enum
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._backend import is_torch, namespace, to_numpy

__all__ = [
    "ConvergenceMonitor",
    "ConvergenceWarning",
    "SolverResult",
    "SolverState",
    "Status",
    "check_max_iter",
    "check_positive",
    "check_tol",
]


class ConvergenceWarning(UserWarning):
    """A solver stopped before meeting its convergence criterion (it never raises for that)."""


class Status(enum.IntEnum):
    """Outcome of a solve.  For a batch, :attr:`SolverResult.status` is the worst outcome."""

    CONVERGED = 0
    MAX_ITER = 1
    CALLBACK_STOP = 2
    DIVERGED = 3
    NONFINITE = 4


@dataclass(frozen=True)
class SolverState:
    """What a callback sees after an iteration.

    Attributes
    ----------
    iteration : int
        Number of completed iterations (1-based).
    x : array
        Current iterate (whole batch).
    active : numpy.ndarray of bool
        Problems still iterating (host copy, made only at check iterations).
    metrics : dict
        Solver-specific scalars/arrays of this iteration (``rel_change``, ``objective``, ...).
    """

    iteration: int
    x: Any
    active: np.ndarray
    metrics: dict[str, Any]


@dataclass(frozen=True)
class SolverResult:
    r"""Result of a sparserec solver.

    Attributes
    ----------
    x : array
        Solution, shape ``(*batch, *in_shape)``, same library/device as the data.
    status : Status
        Worst outcome over the batch (``CONVERGED`` only if every problem converged).
    problem_status : numpy.ndarray of int
        Per-problem :class:`Status` codes, shape ``batch``.
    converged : numpy.ndarray of bool
        Per-problem convergence flags, shape ``batch``.
    n_iter : numpy.ndarray of int
        Per-problem iteration counts, shape ``batch``.
    history : dict of numpy.ndarray
        ``iteration`` and ``time`` (shape ``(n_records,)``) and per-problem metrics such as
        ``objective``, ``residual``, ``rel_change``, ``n_nonzero`` (shape
        ``(n_records, *batch)``), recorded every ``record_every`` iterations.
    params : dict
        Resolved settings (after defaults).
    extras : dict
        Solver-specific outputs (e.g. SBL ``gamma``, ``noise_var``, ``posterior_var``).
    solver : str
        Name of the solver.
    """

    x: Any
    status: Status
    problem_status: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray
    history: dict[str, np.ndarray] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    solver: str = ""

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Shape of the batch of problems (``()`` for one problem)."""
        return tuple(self.converged.shape)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python/numpy dictionary (arrays copied to host) for serialisation."""
        def host(v: Any) -> Any:
            if is_torch(v) or isinstance(v, np.ndarray):
                return to_numpy(v)
            if isinstance(v, dict):
                return {k: host(w) for k, w in v.items()}
            return v

        return {
            "solver": self.solver,
            "x": to_numpy(self.x),
            "status": self.status.name,
            "problem_status": self.problem_status.copy(),
            "converged": self.converged.copy(),
            "n_iter": self.n_iter.copy(),
            "history": {k: np.asarray(v) for k, v in self.history.items()},
            "params": {k: host(v) for k, v in self.params.items()},
            "extras": {k: host(v) for k, v in self.extras.items()},
        }

    def to_xarray(self, batch_dims: tuple[str, ...] | None = None,
                  state_dims: tuple[str, ...] | None = None) -> Any:
        """The result as an ``xarray.Dataset`` (requires the ``io`` extra).

        Parameters
        ----------
        batch_dims, state_dims : tuple of str, optional
            Names of the batch dimensions and of the solution's own dimensions.  Defaults are
            ``batch_0, ...`` and ``state_0, ...``.
        """
        try:
            import xarray as xr
        except ImportError as e:  # pragma: no cover - depends on environment
            raise ImportError("to_xarray needs xarray: pip install 'sparserec[io]'") from e
        x = to_numpy(self.x)
        nb = len(self.batch_shape)
        bd = tuple(batch_dims) if batch_dims is not None else tuple(f"batch_{i}" for i in range(nb))
        if len(bd) != nb:
            raise ValueError(f"batch_dims needs {nb} names, got {bd}")
        ns = x.ndim - nb
        sd = tuple(state_dims) if state_dims is not None else tuple(f"state_{i}" for i in range(ns))
        if len(sd) != ns:
            raise ValueError(f"state_dims needs {ns} names, got {sd}")
        data: dict[str, Any] = {
            "x": (bd + sd, x),
            "converged": (bd, self.converged),
            "n_iter": (bd, self.n_iter),
            "status": (bd, self.problem_status),
        }
        for k, v in self.history.items():
            v = np.asarray(v)
            data[f"history_{k}"] = (("record",) + bd[: v.ndim - 1], v) if v.ndim - 1 <= nb else \
                (("record",) + tuple(f"{k}_{i}" for i in range(v.ndim - 1)), v)
        for k, v in self.extras.items():
            if is_torch(v) or isinstance(v, np.ndarray):
                a = to_numpy(v)
                if a.shape == x.shape:
                    data[k] = (bd + sd, a)
                elif a.shape == self.batch_shape:
                    data[k] = (bd, a)
                else:
                    data[k] = (tuple(f"{k}_{i}" for i in range(a.ndim)), a)
        attrs = {"solver": self.solver, "status": self.status.name}
        for k, v in self.params.items():
            if isinstance(v, (int, float, str, bool, np.integer, np.floating)):
                attrs[f"param_{k}"] = v if not isinstance(v, bool) else int(v)
        return xr.Dataset(data, attrs=attrs)

    def __repr__(self) -> str:
        b = self.batch_shape
        it = int(self.n_iter.max()) if self.n_iter.size else 0
        return (f"SolverResult(solver={self.solver!r}, status={self.status.name}, batch={b}, "
                f"converged={int(self.converged.sum())}/{self.converged.size}, max n_iter={it})")


def check_max_iter(max_iter: Any) -> int:
    """Validate ``max_iter`` (a positive integer)."""
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    return int(max_iter)


def check_check_every(check_every: Any, prefix: str = "") -> int:
    """Validate ``check_every`` (the convergence-check period, a positive integer).

    Parameters
    ----------
    check_every : int
        Number of iterations between two convergence checks.
    prefix : str
        Prepended to the error message (e.g. ``"komp: "``).

    Returns
    -------
    int
        ``check_every`` as a Python ``int``.

    Raises
    ------
    ValueError
        Not an integer (booleans included) or smaller than 1.
    """
    if isinstance(check_every, bool) or not isinstance(check_every, (int, np.integer)) or check_every < 1:
        raise ValueError(f"{prefix}check_every must be a positive integer, got {check_every!r}")
    return int(check_every)


def check_positive(value: Any, name: str) -> float:
    """Validate a finite, strictly positive number and return it as a float."""
    try:
        v = float(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be a positive number, got {value!r}") from e
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be finite and strictly positive, got {value!r}")
    return v


def check_tol(tol: Any, name: str = "tol") -> float:
    """Validate a tolerance (a finite non-negative number)."""
    try:
        t = float(tol)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be a number, got {tol!r}") from e
    if not np.isfinite(t) or t < 0:
        raise ValueError(f"{name} must be finite and non-negative, got {tol!r}")
    return t


class ConvergenceMonitor:
    r"""Per-problem convergence bookkeeping for batched iterative solvers.

    Parameters
    ----------
    batch_shape : tuple of int
        Shape of the batch of problems.
    like : array
        Array giving the namespace/device of the masks.
    max_iter : int
    tol : float
    record_every : int, default 1
        History is recorded every ``record_every`` iterations (0 disables it).
    check_every : int, default 1
        Convergence is tested (one host synchronisation) every ``check_every`` iterations.
    callback : callable, optional
        ``callback(state: SolverState) -> bool | None``; returning True stops all problems with
        status ``CALLBACK_STOP``.  Called at check iterations.
    verbose : bool
        Show a progress bar (tqdm, if installed).
    solver : str
        Name used in warnings.

    Notes
    -----
    A problem converges at the first checked iteration where its criterion value
    (typically :math:`\|x_{k+1}-x_k\| / \max(\|x_{k+1}\|, \epsilon)`) is at most ``tol``.
    Frozen problems keep their iterate: solvers update with ``xp.where(monitor.mask(x), new,
    old)``.  A non-finite criterion marks the problem ``NONFINITE`` and freezes it.
    """

    def __init__(self, batch_shape: tuple[int, ...], like: Any, max_iter: int, tol: float,
                 record_every: int = 1, check_every: int = 1,
                 callback: Callable[[SolverState], bool | None] | None = None,
                 verbose: bool = False, solver: str = "") -> None:
        self.xp = namespace(like)
        self.batch_shape = tuple(batch_shape)
        dev = like.device if is_torch(like) else None
        kw = {"device": dev} if dev is not None else {}
        self.active = self.xp.ones(self.batch_shape, dtype=self.xp.bool, **kw)
        self.n_iter = self.xp.zeros(self.batch_shape, dtype=self.xp.int64, **kw)
        self._status = np.zeros(self.batch_shape, dtype=np.int64)
        self.max_iter = check_max_iter(max_iter)
        self.tol = check_tol(tol)
        self.record_every = int(record_every)
        self.check_every = max(1, int(check_every))
        self.callback = callback
        self.solver = solver
        self._hist: dict[str, list[np.ndarray]] = {}
        self._t0 = time.perf_counter()
        self._callback_stopped = False
        self._bar = None
        if verbose:
            try:
                from tqdm.auto import tqdm

                self._bar = tqdm(total=self.max_iter, desc=solver or "solve", leave=False)
            except ImportError:  # pragma: no cover
                self._bar = None
        self.iteration = 0
        self.done = False

    def mask(self, x: Any) -> Any:
        """``active`` reshaped to broadcast against ``x`` of shape ``(*batch, ...)``."""
        extra = x.ndim - len(self.batch_shape)
        return self.xp.reshape(self.active, self.batch_shape + (1,) * extra)

    def record(self, **metrics: Any) -> None:
        """Record metrics of the current iteration if it is a recording iteration."""
        if self.record_every <= 0 or self.iteration % self.record_every != 0:
            return
        self._hist.setdefault("iteration", []).append(np.asarray(self.iteration))
        self._hist.setdefault("time", []).append(np.asarray(time.perf_counter() - self._t0))
        for k, v in metrics.items():
            # keep device arrays on their device (a copy, no host sync); moved to host in result()
            if is_torch(v):
                v = v.detach().clone()
            elif not np.isscalar(v):
                v = np.array(v)
            self._hist.setdefault(k, []).append(v)

    def step(self, criterion: Any, x: Any = None, **metrics: Any) -> bool:
        """Finish one iteration; return True when the solver should stop.

        Parameters
        ----------
        criterion : array of shape ``batch``
            Per-problem convergence criterion, compared with ``tol``.
        x : array, optional
            Current iterate, passed to the callback.
        **metrics
            Recorded in the history (every ``record_every`` iterations) and given to the callback.
        """
        xp = self.xp
        self.iteration += 1
        self.n_iter = self.n_iter + xp.astype(self.active, self.n_iter.dtype)
        self.record(**metrics)
        if self._bar is not None:
            self._bar.update(1)
        last = self.iteration >= self.max_iter
        if self.iteration % self.check_every != 0 and not last:
            return False
        crit = criterion
        finite = xp.isfinite(crit) if not isinstance(crit, float) else xp.asarray(np.isfinite(crit))
        newly_bad = self.active & ~finite
        conv = self.active & finite & (crit <= self.tol)
        bad_np = to_numpy(newly_bad).reshape(self.batch_shape)
        self._status[bad_np] = Status.NONFINITE
        self.active = self.active & ~conv & ~newly_bad
        act_np = to_numpy(self.active).reshape(self.batch_shape)
        if self.callback is not None:
            state = SolverState(self.iteration, x, act_np.copy(), dict(metrics, criterion=criterion))
            if self.callback(state):
                self._status[act_np] = Status.CALLBACK_STOP
                self.active = self.active & False
                act_np = np.zeros_like(act_np)
                self._callback_stopped = True
        if not act_np.any():
            self.done = True
            return True
        if last:
            self._status[act_np] = Status.MAX_ITER
            self.done = True
            return True
        return False

    def mark(self, where: Any, status: Status) -> None:
        """Set ``status`` for the active problems selected by boolean ``where``; freeze them."""
        w = to_numpy(where).reshape(self.batch_shape).astype(bool)
        self._status[w & to_numpy(self.active).reshape(self.batch_shape)] = status
        self.active = self.active & ~where

    def result(self, x: Any, params: dict[str, Any] | None = None,
               extras: dict[str, Any] | None = None) -> SolverResult:
        """Build the :class:`SolverResult`; warn if some problems did not converge."""
        if self._bar is not None:
            self._bar.close()
        act_np = to_numpy(self.active).reshape(self.batch_shape)
        if act_np.any():  # ran out of iterations without a final check
            self._status[act_np & (self._status == Status.CONVERGED)] = Status.MAX_ITER
        st = self._status
        overall = Status(int(st.max())) if st.size else Status.CONVERGED
        converged = st == Status.CONVERGED
        hist = {}
        for k, v in self._hist.items():
            if v and all(is_torch(a) for a in v):
                import torch

                hist[k] = to_numpy(torch.stack(v))  # one transfer per metric
            else:
                hist[k] = np.stack([to_numpy(a) if is_torch(a) else np.asarray(a) for a in v])
        if overall in (Status.MAX_ITER, Status.DIVERGED, Status.NONFINITE):
            n_bad = int((~converged).sum())
            warnings.warn(
                f"{self.solver or 'solver'}: {n_bad} of {converged.size} problem(s) did not "
                f"converge (status {overall.name}); raise max_iter or loosen tol",
                ConvergenceWarning, stacklevel=3)
        return SolverResult(
            x=x, status=overall, problem_status=st.copy(), converged=converged,
            n_iter=to_numpy(self.n_iter).reshape(self.batch_shape).astype(np.int64),
            history=hist, params=dict(params or {}), extras=dict(extras or {}), solver=self.solver)
