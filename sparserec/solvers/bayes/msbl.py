r"""M-SBL: sparse Bayesian learning for multiple measurement vectors with a shared support."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..._backend import check_finite, dtype_name, is_array, namespace, real_dtype, result_dtype
from ..result import SolverResult, SolverState
from .sbl import _check_noise, _check_options, _gamma0, _resolve_dictionary, _sbl_core

__all__ = ["msbl"]


def msbl(A: Any, Y: Any, *, noise_var: Any = None, learn_noise: bool | None = None,
         update: str = "auto", max_iter: int = 300, tol: float = 1e-4, prune: float = 1e-3,
         gamma0: Any = None, form: str = "auto", record_every: int = 1, check_every: int = 1,
         callback: Callable[[SolverState], bool | None] | None = None,
         verbose: bool = False) -> SolverResult:
    r"""M-SBL (Wipf & Rao 2007): :math:`Y = A X + E` with row-sparse :math:`X` (shared support).

    Parameters
    ----------
    A : array of shape ``(M, N)`` or LinearOperator with flat shapes
        Dictionary shared by all problems (operators are densified).
    Y : array of shape ``(*batch, M, L)``
        ``L`` measurement vectors per problem; each problem (a leading batch index) has its own
        :math:`\gamma` shared by its ``L`` columns, and its own noise variance.
    noise_var, learn_noise, update, max_iter, tol, prune, gamma0, form
        As in :func:`~sparserec.solvers.bayes.sbl` (``form="operator"`` is not available).
    record_every, check_every, callback, verbose
        See :class:`~sparserec.solvers.result.ConvergenceMonitor`.

    Returns
    -------
    SolverResult
        ``x`` of shape ``(*batch, N, L)``; ``extras`` ``gamma``, ``posterior_var`` (the same
        for every column), ``support`` (shape ``(*batch, N)``), ``noise_var``, ``cost``.

    Notes
    -----
    Prior :math:`x_{j,:} \sim \mathcal{CN}(0, \gamma_j I_L)`.  The E-step is the SBL one with
    one factorisation shared by the ``L`` columns; the EM update is

    .. math:: \gamma_j = \tfrac{1}{L}\|\mu_{j,:}\|^2 + \Sigma_{jj},

    the cost :math:`L \log\det\Sigma_y + \mathrm{tr}(Y^H\Sigma_y^{-1}Y)`, and the noise update
    :math:`\sigma^2 = (\|Y - A\mu\|_F^2/L + \sigma^2\sum_j g_j)/M`.  With ``L = 1`` it is
    :func:`~sparserec.solvers.bayes.sbl`.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.solvers.bayes import msbl
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((20, 50))
    >>> X = np.zeros((50, 4)); X[[5, 17, 33]] = rng.standard_normal((3, 4))
    >>> res = msbl(A, A @ X + 1e-3 * rng.standard_normal((20, 4)), noise_var=1e-6)
    >>> np.flatnonzero(res.extras["support"]).tolist()
    [5, 17, 33]
    """
    max_iter, tol, prune = _check_options(update, form, ("auto", "measurement", "coefficient"), max_iter, tol,
                                          prune)
    if not is_array(Y):
        raise TypeError(f"Y must be a numpy array or torch tensor, got {type(Y).__name__}")
    Ad, _, info = _resolve_dictionary(A, Y, form, multi=True)
    M, N = info["M"], info["N"]
    if Y.ndim < 2 or Y.shape[-2] != M:
        raise ValueError(f"Y must have shape (*batch, {M}, L) to match a dictionary with {M} rows, "
                         f"got {tuple(Y.shape)}")
    xp = namespace(Ad, Y)
    check_finite(Y, "Y")
    check_finite(Ad, "A")
    dt = result_dtype(Y.dtype, Ad.dtype)
    if not (dtype_name(dt).startswith("float") or dtype_name(dt).startswith("complex")):
        raise TypeError(f"Y must be floating or complex, got {dtype_name(Y.dtype)}")
    rdt = real_dtype(dt)
    batch = tuple(int(s) for s in Y.shape[:-2])
    Bn = math.prod(batch)
    L = int(Y.shape[-1])
    Y3 = xp.reshape(xp.astype(Y, dt) if dtype_name(Y.dtype) != dtype_name(dt) else Y, (Bn, M, L))
    if dtype_name(Ad.dtype) != dtype_name(dt):
        Ad = xp.astype(Ad, dt)
    nv_fixed = _check_noise(noise_var, batch, xp, Y3)
    learn = (noise_var is None) if learn_noise is None else bool(learn_noise)
    gamma = _gamma0(gamma0, batch, N, xp, rdt, Y3, A=Ad)
    return _sbl_core(xp, Ad, None, Y3, batch, (N,), nv_fixed, learn, gamma, update=update,
                     max_iter=max_iter, tol=tol, prune=prune, form=form, diag="exact", n_probes=0,
                     cg_tol=0.0, seed=0, record_every=record_every, check_every=check_every,
                     callback=callback, verbose=verbose, solver="msbl")
