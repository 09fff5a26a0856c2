r"""Shared building blocks of the sparse Bayesian learning solvers (E-steps, linear algebra).

Everything here is written once against the Array-API namespace of the data and runs on numpy
and torch (any device).  The helpers are used by :func:`~sparserec.solvers.bayes.sbl`,
:func:`~sparserec.solvers.bayes.msbl` and :func:`~sparserec.solvers.bayes.kronecker_sbl` and
are meant to be reused by other Bayesian solvers (e.g. Turbo-VBI):

* :func:`cholesky`, :func:`solve_triangular` -- batched factorisations on either backend;
* :func:`estep_measurement` -- Gaussian posterior of :math:`y = A x + n` in measurement space
  (Woodbury, :math:`M \times M` Cholesky per problem);
* :func:`estep_coefficient` -- the same posterior in coefficient space (:math:`K \times K`);
* :func:`estep_operator` -- matrix-free posterior mean (CG) and diagonal (Hutchinson or exact
  probing);
* :func:`mode_product`, :func:`kron_vector` -- Kronecker / tensor helpers (C order).

Conventions
-----------
A batch of problems shares one dictionary ``A`` of shape ``(M, N)``; the prior variances
``gamma`` have shape ``(B, N)``, the noise variances ``noise_var`` shape ``(B,)`` and the data
``y`` shape ``(B, M, L)`` (``L`` measurement vectors sharing one prior: ``L = 1`` for SBL,
``L > 1`` for M-SBL).  Every E-step returns a dict with

``mean``
    posterior mean :math:`\mu = \Gamma A^H \Sigma_y^{-1} y`, shape ``(B, N, L)``;
``var``
    posterior variances :math:`\mathrm{diag}\,\Sigma`, shape ``(B, N)``, clipped at 0;
``dof``
    :math:`g_j = 1 - \Sigma_{jj}/\gamma_j = \gamma_j\, a_j^H \Sigma_y^{-1} a_j \in [0, 1]`,
    computed without dividing by :math:`\gamma` (0 for pruned coefficients), used by the
    MacKay update and the EM noise update;
``cost``
    the Type-II cost :math:`L\log\det\Sigma_y + \mathrm{tr}(Y^H \Sigma_y^{-1} Y)` (complex form; the real
    likelihood carries a factor 1/2 and has the same minimisers), shape ``(B,)``.

Zero prior variances are allowed everywhere (they switch a column off exactly), which is how
per-problem pruning works inside a batch that shares one dictionary.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..._backend import is_torch, namespace, real_dtype
from ..._backend.dtypes import eps

__all__ = [
    "cholesky",
    "estep_coefficient",
    "estep_kronecker",
    "kron_apply",
    "estep_measurement",
    "estep_operator",
    "kron_vector",
    "mode_product",
    "selection_matrix",
    "solve_triangular",
    "tri_inverse",
]


# ---------------------------------------------------------------------------- linear algebra
def cholesky(C: Any) -> Any:
    r"""Lower Cholesky factor of a batch of Hermitian positive-definite matrices.

    If the factorisation fails (round-off on a nearly singular matrix) a relative jitter
    :math:`10\,\epsilon\,\mathrm{tr}(C)/n` (:math:`\epsilon` the machine precision; growing by
    100x, at most 4 times) is added to the diagonal.  On torch the failure flag is not read on
    the host (no device synchronisation): a factor of the matrix with the jitter
    :math:`10^4\,\epsilon\,\mathrm{tr}(C)/n` is selected on the device where the plain one
    fails, and the factor is NaN where both fail.

    Parameters
    ----------
    C : array of shape ``(..., n, n)``

    Returns
    -------
    array of shape ``(..., n, n)``
    """
    xp = namespace(C)
    n = C.shape[-1]
    if is_torch(C):
        return _cholesky_torch(C)
    jitter = None
    for attempt in range(5):
        Cj = C
        if jitter is not None:
            Cj = C + jitter[..., None, None] * xp.eye(n, dtype=C.dtype, **_dev(C))
        try:
            if is_torch(C):
                import torch

                L, info = torch.linalg.cholesky_ex(Cj)
                if bool((info == 0).all()):
                    return L
            else:
                return np.linalg.cholesky(Cj)
        except np.linalg.LinAlgError:
            pass
        tr = xp.real(xp.sum(xp.linalg.diagonal(C), axis=-1)) / n
        scale = 10.0 * eps(C.dtype) * (100.0 ** attempt)
        jitter = xp.astype(tr * scale, C.dtype)
    raise np.linalg.LinAlgError("Cholesky factorisation failed: matrix is not positive definite")


def _cholesky_torch(C: Any) -> Any:
    r"""torch path of :func:`cholesky` without a host synchronisation.

    The failure flag of ``cholesky_ex`` is never read on the host: the factorisation of the
    jittered matrix (the fallback) is always computed and selected on the device where the
    plain one failed; where both fail the factor is NaN, which the solvers' convergence checks
    report as a non-finite result.  The jitter is :math:`10^4\,\epsilon\,\mathrm{tr}(C)/n`.
    """
    import torch

    n = C.shape[-1]
    L, info = torch.linalg.cholesky_ex(C)
    tr = torch.real(torch.diagonal(C, dim1=-2, dim2=-1).sum(-1)) / n
    jit = (1e4 * eps(C.dtype)) * tr
    eye = torch.eye(n, dtype=C.dtype, device=C.device)
    Lj, infoj = torch.linalg.cholesky_ex(C + jit[..., None, None].to(C.dtype) * eye)
    bad = (info != 0)[..., None, None]
    L = torch.where(bad, Lj, L)
    both = bad & (infoj != 0)[..., None, None]
    return torch.where(both, torch.full_like(L, float("nan")), L)


def solve_triangular(L: Any, B: Any, *, lower: bool = True, adjoint: bool = False) -> Any:
    r"""Solve :math:`L X = B` (or :math:`L^H X = B` with ``adjoint=True``), batched.

    Parameters
    ----------
    L : array of shape ``(..., n, n)``
        Triangular factor (lower if ``lower``).
    B : array of shape ``(..., n, k)``
        Right-hand sides; batch dimensions broadcast.
    """
    if is_torch(L):
        import torch

        if adjoint:
            return torch.linalg.solve_triangular(L.mH, B, upper=lower)
        return torch.linalg.solve_triangular(L, B, upper=not lower)
    import scipy.linalg as sla

    shp = np.broadcast_shapes(L.shape[:-2], B.shape[:-2])
    Lb = np.broadcast_to(L, shp + L.shape[-2:])
    Bb = np.broadcast_to(B, shp + B.shape[-2:])
    trans = "C" if adjoint else "N"
    return sla.solve_triangular(Lb, Bb, lower=lower, trans=trans, check_finite=False)


def tri_inverse(L: Any) -> Any:
    r"""Inverse of a batch of lower-triangular matrices (LAPACK ``trtri`` on numpy).

    Parameters
    ----------
    L : array of shape ``(..., n, n)``, lower triangular, non-singular

    Returns
    -------
    array of shape ``(..., n, n)``
    """
    if is_torch(L):
        import torch

        eye = torch.eye(L.shape[-1], dtype=L.dtype, device=L.device)
        return torch.linalg.solve_triangular(L, eye.expand(L.shape), upper=False)
    import scipy.linalg.lapack as lapack

    trtri = lapack.get_lapack_funcs("trtri", (L,))
    Lf = np.reshape(L, (-1,) + L.shape[-2:])
    out = np.empty_like(Lf)
    for b in range(Lf.shape[0]):
        inv, info = trtri(Lf[b], lower=1)
        if info != 0:
            raise np.linalg.LinAlgError("singular triangular factor")
        out[b] = inv
    return out.reshape(L.shape)


def _dev(x: Any) -> dict[str, Any]:
    return {"device": x.device} if is_torch(x) else {}


def _abs2(xp: Any, z: Any) -> Any:
    return xp.real(z) ** 2 + xp.imag(z) ** 2 if xp.isdtype(z.dtype, "complex floating") else z * z


def _batch_chunks(B: int, per_problem: int, budget: int = 2 ** 24) -> list[slice]:
    """Split ``range(B)`` so that each chunk holds at most ``budget`` temporary elements."""
    step = max(1, budget // max(1, per_problem))
    return [slice(i, min(B, i + step)) for i in range(0, B, step)]


# ---------------------------------------------------------------------------- dense E-steps
def estep_measurement(A: Any, y: Any, gamma: Any, noise_var: Any, *, idx: Any = None,
                      want_cost: bool = True, budget: int = 2 ** 24) -> dict[str, Any]:
    r"""Posterior of :math:`x` for :math:`y = A x + n` in measurement space (Woodbury form).

    Parameters
    ----------
    A : array of shape ``(M, N)``
        Dictionary shared by the batch.
    y : array of shape ``(B, M, L)``
        ``L`` measurement vectors per problem sharing the prior (``L = 1`` for plain SBL).
    gamma : real array of shape ``(B, N)`` (or ``(B, K)`` with ``idx``)
        Prior variances (zeros allowed).
    noise_var : real array of shape ``(B,)``
        Noise variances (> 0).
    idx : integer array of shape ``(B, K)``, optional
        Per-problem column subsets (per-problem active sets after pruning): problem ``b`` uses
        the columns ``A[:, idx[b]]``; they are gathered chunk by chunk.
    want_cost : bool
        Also return the Type-II cost.
    budget : int
        torch only: maximum number of elements of the ``(chunk, M, N)`` temporaries; the batch
        is processed in chunks under this budget (the numpy kernel works problem by problem).

    Returns
    -------
    dict
        ``mean``, ``var``, ``dof`` and (optionally) ``cost``; see the module notes.

    Notes
    -----
    With :math:`\Sigma_y = \sigma^2 I + A \Gamma A^H = L L^H` and :math:`W = L^{-1} A`,

    .. math::
        \mu = \Gamma W^H L^{-1} y, \qquad
        \mathrm{diag}\,\Sigma = \gamma - \gamma^2 \odot \textstyle\sum_i |W_{ij}|^2,
        \qquad g = \gamma \odot \textstyle\sum_i |W_{ij}|^2,

    so the :math:`N \times N` covariance is never formed.  Cost per problem
    :math:`O(M^2 N + M^3)`, memory :math:`O(M N)`.
    """
    xp = namespace(A, y)
    if not is_torch(A):
        return _estep_measurement_blas(A, y, gamma, noise_var, idx, want_cost)
    Bn, M, Lc = y.shape
    N = gamma.shape[-1]
    rdt = real_dtype(y.dtype)
    means, vars_, dofs, costs = [], [], [], []
    eye = xp.eye(M, dtype=y.dtype, **_dev(y))
    for sl in _batch_chunks(Bn, M * N, budget):
        g = xp.astype(gamma[sl], y.dtype)
        if idx is None:
            Ac = A[None, :, :]
        else:
            Ac = xp.permute_dims(A[:, idx[sl]], (1, 0, 2))
        C = (Ac * g[:, None, :]) @ xp.conj(Ac).mT
        C = C + xp.astype(noise_var[sl], y.dtype)[:, None, None] * eye
        L = cholesky(C)
        W = solve_triangular(L, Ac)
        v = solve_triangular(L, y[sl])
        q = xp.sum(_abs2(xp, W), axis=-2)  # diag(A^H Sigma_y^-1 A)
        gr = gamma[sl]
        means.append(g[:, :, None] * (xp.conj(W).mT @ v))
        vars_.append(xp.clip(gr - gr * gr * q, min=0.0))
        dofs.append(xp.clip(gr * q, min=0.0, max=1.0))
        if want_cost:
            logdet = 2.0 * xp.sum(xp.log(xp.real(xp.linalg.diagonal(L))), axis=-1)
            costs.append(Lc * logdet + xp.sum(_abs2(xp, v), axis=(-2, -1)))
    out = {"mean": xp.concat(means, axis=0), "var": xp.astype(xp.concat(vars_, axis=0), rdt),
           "dof": xp.astype(xp.concat(dofs, axis=0), rdt)}
    if want_cost:
        out["cost"] = xp.concat(costs, axis=0)
    return out


def _estep_measurement_blas(A: np.ndarray, y: np.ndarray, gamma: np.ndarray, noise_var: np.ndarray,
                            idx: Any, want_cost: bool) -> dict[str, Any]:
    """numpy kernel of :func:`estep_measurement`: BLAS ``syrk``/``herk`` + ``potrf`` + ``trtri``
    + ``trmm`` per problem (half the flops of the generic ``gemm``-based path; numpy has no
    batched BLAS, so its batched ``matmul`` loops over problems as well)."""
    import scipy.linalg.blas as blas
    import scipy.linalg.lapack as lapack

    Bn, M, Lc = y.shape
    cplx = np.iscomplexobj(A) or np.iscomplexobj(y)
    dt = np.result_type(A.dtype, y.dtype)
    A = np.asarray(A, dtype=dt)
    rk = blas.get_blas_funcs("herk" if cplx else "syrk", (A,))
    trmm = blas.get_blas_funcs("trmm", (A,))
    potrf, trtri = lapack.get_lapack_funcs(("potrf", "trtri"), (A,))
    K = gamma.shape[-1]
    rdt = np.finfo(dt).dtype
    mean = np.empty((Bn, K, Lc), dtype=dt)
    var = np.empty((Bn, K), dtype=rdt)
    dof = np.empty((Bn, K), dtype=rdt)
    cost = np.empty(Bn, dtype=rdt)
    diag = np.diag_indices(M)
    for b in range(Bn):
        Ab = A if idx is None else A[:, idx[b]]
        g = np.asarray(gamma[b], dtype=rdt)
        C = rk(1.0, Ab * np.sqrt(g), lower=1)
        C[diag] += noise_var[b]
        L, info = potrf(C, lower=1, clean=1)
        if info != 0:
            L = np.asarray(cholesky(np.tril(C) + np.tril(C, -1).conj().T), dtype=dt)
        Li, info = trtri(L, lower=1)
        W = trmm(1.0, Li, Ab, lower=1)
        v = Li @ y[b]
        q = np.real(np.einsum("ij,ij->j", W.conj(), W))
        mean[b] = g[:, None] * (W.conj().T @ v)
        var[b] = np.clip(g - g * g * q, 0.0, None)
        dof[b] = np.clip(g * q, 0.0, 1.0)
        if want_cost:
            cost[b] = Lc * 2.0 * np.sum(np.log(np.real(np.diag(L)))) + np.sum(np.abs(v) ** 2)
    out = {"mean": mean, "var": var, "dof": dof}
    if want_cost:
        out["cost"] = cost
    return out


def estep_coefficient(G: Any, h: Any, yy: Any, gamma: Any, noise_var: Any, M: int, *,
                      want_cost: bool = True) -> dict[str, Any]:
    r"""Posterior of :math:`x` in coefficient space from the Gram matrix.

    Parameters
    ----------
    G : array of shape ``(K, K)`` or ``(B, K, K)``
        Gram matrix :math:`A^H A` of the (active) columns, shared by the batch or per problem.
    h : array of shape ``(B, K, L)``
        :math:`A^H y` per problem (``L`` measurement vectors sharing the prior).
    yy : real array of shape ``(B,)``
        :math:`\|y\|^2` (summed over the ``L`` vectors) per problem, for the cost.
    gamma : real array of shape ``(B, K)``
        Prior variances (zeros allowed).
    noise_var : real array of shape ``(B,)``
    M : int
        Number of measurements (for the log-determinant).

    Returns
    -------
    dict
        ``mean``, ``var``, ``dof`` and optionally ``cost``.

    Notes
    -----
    With :math:`s = \gamma^{1/2}` and :math:`S = I + \mathrm{diag}(s)\, G\, \mathrm{diag}(s)
    / \sigma^2 = L L^H`,

    .. math::
        \Sigma = \mathrm{diag}(s)\, S^{-1} \mathrm{diag}(s), \quad
        \mu = \sigma^{-2}\, s \odot S^{-1}(s \odot h), \quad
        \mathrm{diag}\,\Sigma = \gamma \odot \textstyle\sum_i |(L^{-1})_{ij}|^2,

    which stays well defined for :math:`\gamma_j = 0` (unlike
    :math:`(A^H A/\sigma^2 + \Gamma^{-1})^{-1}`).  The cost uses the determinant lemma
    :math:`\log\det\Sigma_y = M \log\sigma^2 + \log\det S` and
    :math:`y^H\Sigma_y^{-1}y = \|y\|^2/\sigma^2 - \|L^{-1}(s\odot h)\|^2/\sigma^4`.
    Cost per problem :math:`O(K^3)`.
    """
    xp = namespace(G, h)
    K = G.shape[-1]
    rdt = real_dtype(h.dtype)
    s = xp.sqrt(gamma)
    sc = xp.astype(s, h.dtype)
    nv = xp.astype(noise_var, h.dtype)[:, None]
    Gb = G[None, :, :] if G.ndim == 2 else G
    S = sc[:, :, None] * Gb * sc[:, None, :] / nv[:, :, None]
    S = S + xp.eye(K, dtype=h.dtype, **_dev(h))
    L = cholesky(S)
    Lc = h.shape[-1]
    sh = sc[:, :, None] * h
    w = solve_triangular(L, sh)
    u = solve_triangular(L, w, adjoint=True)
    Linv = tri_inverse(L)
    dinv = xp.astype(xp.sum(_abs2(xp, Linv), axis=-2), rdt)  # diag(S^-1)
    out = {"mean": sc[:, :, None] * u / nv[:, :, None], "var": xp.clip(gamma * dinv, min=0.0),
           "dof": xp.clip(1.0 - dinv, min=0.0, max=1.0)}
    if want_cost:
        nvr = xp.astype(noise_var, rdt)
        logdet = M * xp.log(nvr) + 2.0 * xp.sum(xp.log(xp.real(xp.linalg.diagonal(L))), axis=-1)
        out["cost"] = Lc * logdet + yy / nvr - xp.sum(_abs2(xp, w), axis=(-2, -1)) / nvr ** 2
    return out


# ---------------------------------------------------------------------------- matrix-free E-step
def estep_operator(op: Any, y: Any, gamma: Any, noise_var: Any, *, diag: str = "hutchinson",
                   n_probes: int = 32, cg_tol: float = 1e-6, cg_max_iter: int | None = None,
                   seed: int = 0, check_every: int = 1) -> dict[str, Any]:
    r"""Matrix-free posterior mean and variances through batched conjugate gradients.

    Parameters
    ----------
    op : LinearOperator
        Flat operator with ``in_shape == (N,)`` and ``out_shape == (M,)``.
    y : array of shape ``(B, M)``
    gamma : real array ``(B, N)``
    noise_var : real array ``(B,)``
    diag : {"hutchinson", "exact"}
        ``"hutchinson"``: unbiased stochastic estimate of :math:`\mathrm{diag}(S^{-1})` with
        ``n_probes`` Rademacher probes :math:`z`, :math:`\mathbb{E}[z \odot S^{-1} z]`;
        ``"exact"``: probing with all ``N`` unit vectors (exact up to the CG tolerance; cost
        ``N`` extra right-hand sides).
    n_probes : int
    cg_tol, cg_max_iter
        Tolerance and iteration cap of :func:`~sparserec.solvers.cg`.
    seed : int
        Seed of the probe vectors.
    check_every : int, default 1
        The CG stopping rule is tested every ``check_every`` iterations (each test is one host
        synchronisation on torch tensors; see :class:`~sparserec.solvers.result.ConvergenceMonitor`).
        Iterations between two tests keep refining the problems that already met ``cg_tol``, so
        a larger value only makes the solves more accurate (the CG error decreases monotonically
        in the energy norm).  The SBL and Turbo-VBI solvers pass their own ``check_every``
        (on numpy too, so that both backends run the same iterations).

    Returns
    -------
    dict
        ``mean``, ``var``, ``dof`` (no ``cost``: the log-determinant is not available
        matrix-free).

    Notes
    -----
    The well-conditioned scaled system :math:`S u = b` with
    :math:`S = I + \mathrm{diag}(s) A^H A\, \mathrm{diag}(s)/\sigma^2` (all eigenvalues
    :math:`\ge 1`), :math:`s = \gamma^{1/2}`, is solved for the mean right-hand side
    :math:`b = s \odot A^H y/\sigma^2` and all probes at once, as one batch.  Then
    :math:`\mu = s \odot u` and :math:`\mathrm{diag}\,\Sigma = \gamma \odot \mathrm{diag}(S^{-1})`
    (clipped to :math:`[0, \gamma]`).
    """
    from ...operators import FunctionOperator
    from ..linear import cg
    from ..result import ConvergenceWarning

    xp = namespace(y)
    Bn, M = y.shape
    N = gamma.shape[-1]
    dt = y.dtype
    rdt = real_dtype(dt)
    s = xp.astype(xp.sqrt(gamma), dt)[:, None, :]
    nv = xp.astype(noise_var, dt)[:, None, None]

    def apply(u: Any) -> Any:
        return u + s * op._adjoint(op._apply(s * u)) / nv

    S = FunctionOperator(apply, apply, (N,), (N,), dtype=dt)
    b0 = s[:, 0, :] * op._adjoint(y) / nv[:, 0]
    if diag == "exact":
        Z = xp.broadcast_to(xp.eye(N, dtype=dt, **_dev(y))[None], (Bn, N, N))
    elif diag == "hutchinson":
        rng = np.random.default_rng(seed)
        zn = rng.integers(0, 2, size=(n_probes, N)) * 2.0 - 1.0
        Z = xp.broadcast_to(xp.asarray(zn, dtype=dt, **_dev(y))[None], (Bn, n_probes, N))
    else:
        raise ValueError(f"diag must be 'hutchinson' or 'exact', got {diag!r}")
    rhs = xp.concat([b0[:, None, :], Z], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = cg(S, rhs, tol=cg_tol, max_iter=cg_max_iter or max(50, 2 * N), record_every=0,
                 check_every=check_every)
    U = res.x
    mean = xp.reshape(s, (Bn, N)) * U[:, 0, :]
    red = xp.sum if diag == "exact" else xp.mean  # unit probes: sum; Rademacher: average
    dinv = red(xp.real(xp.conj(Z) * U[:, 1:, :]), axis=1)
    dinv = xp.astype(xp.clip(dinv, min=0.0, max=1.0), rdt)
    return {"mean": mean, "var": gamma * dinv, "dof": 1.0 - dinv}


# ---------------------------------------------------------------------------- tensor helpers
def mode_product(X: Any, mat: Any, axis: int) -> Any:
    r"""Mode product :math:`X \times_{\text{axis}} \text{mat}` of a batch of tensors.

    Parameters
    ----------
    X : array of shape ``(B, n_1, ..., n_I)``
        The leading axis is the batch.
    mat : array of shape ``(p, n_axis)`` (shared) or ``(B, p, n_axis)`` (per problem)
    axis : int
        Tensor axis ``1 <= axis <= I`` (axis 0 is the batch).

    Returns
    -------
    array of shape ``(B, n_1, ..., p, ..., n_I)``
    """
    xp = namespace(X, mat)
    Xm = xp.moveaxis(X, axis, -1)
    shp = Xm.shape
    if mat.ndim == 2:
        Y = Xm @ mat.mT
    else:
        Y = xp.reshape(xp.reshape(Xm, (shp[0], -1, shp[-1])) @ mat.mT, shp[:-1] + (mat.shape[-2],))
    return xp.moveaxis(Y, -1, axis)


def kron_vector(factors: list[Any]) -> Any:
    r"""Batched C-order Kronecker product :math:`v_1 \otimes \dots \otimes v_I` as a tensor.

    Parameters
    ----------
    factors : list of arrays of shape ``(B, n_i)``

    Returns
    -------
    array of shape ``(B, n_1, ..., n_I)``; ``reshape(B, -1)`` gives ``np.kron(v_1, ..., v_I)``.
    """
    xp = namespace(*factors)
    out = factors[0]
    for f in factors[1:]:
        out = out[..., None] * xp.reshape(f, (f.shape[0],) + (1,) * (out.ndim - 1) + (f.shape[-1],))
    return out


def prod(seq: Any) -> int:
    """Integer product of a sequence."""
    return int(math.prod(seq))


def selection_matrix(idx: np.ndarray, n: int, like: Any) -> Any:
    """``(n, len(idx))`` 0/1 matrix scattering a compacted mode back to length ``n``."""
    xp = namespace(like)
    P = np.zeros((n, len(idx)))
    P[np.asarray(idx, dtype=int), np.arange(len(idx))] = 1.0
    return xp.asarray(P, dtype=like.dtype, **_dev(like))


# ---------------------------------------------------------------------------- Kronecker E-step
def estep_kronecker(factors: list[Any], Y: Any, gammas: list[Any], noise_var: Any, *,
                    form: str = "auto", want_cost: bool = True) -> dict[str, Any]:
    r"""Exact posterior for :math:`y = (A_1 \otimes \dots \otimes A_I) x + n` with a Kronecker prior.

    Parameters
    ----------
    factors : list of arrays of shape ``(m_i, n_i)``
        Dense factors shared by the batch.
    Y : array of shape ``(B, m_1, ..., m_I)``
        Measurements as tensors (C order: ``y.reshape(B, m_1, ..., m_I)``).
    gammas : list of real arrays of shape ``(B, n_i)``
        Prior factors; the prior variance is :math:`\gamma_1 \otimes \dots \otimes \gamma_I`.
        Zeros are allowed.
    noise_var : real array of shape ``(B,)``
    form : {"auto", "measurement", "coefficient"}
        ``"auto"``: measurement space when :math:`\prod m_i < \prod n_i`.
    want_cost : bool

    Returns
    -------
    dict
        ``mean``, ``var``, ``dof`` as tensors of shape ``(B, n_1, ..., n_I)``, optionally
        ``cost`` ``(B,)``.

    Notes
    -----
    **Measurement form.** :math:`P_i = A_i \Gamma_i A_i^H = U_i \Lambda_i U_i^H`,
    :math:`\Sigma_y = (\otimes U_i)(\sigma^2 I + \otimes\Lambda_i)(\otimes U_i)^H`, with
    eigenvalue tensor :math:`E = \sigma^2 + \lambda_1 \circ \dots \circ \lambda_I`.  With
    :math:`B_i = \Gamma_i A_i^H U_i`,

    .. math::
        \mu = \big((Y \times_i U_i^H) \oslash E\big) \times_i B_i, \qquad
        \mathrm{diag}\,\Sigma = \gamma - \gamma^2 \odot
        \big(E^{\circ -1} \times_i |A_i^H U_i|^{\circ 2}\big),

    using :math:`\mathrm{diag}((\otimes B_i) D (\otimes B_i)^H) = (\otimes |B_i|^{\circ 2})
    \mathrm{diag}(D)`.  Cost :math:`\log\det\Sigma_y + y^H\Sigma_y^{-1}y = \sum \log E +
    \sum |Y \times_i U_i^H|^2 / E`.

    **Coefficient form.** :math:`\Gamma_i^{1/2} A_i^H A_i \Gamma_i^{1/2} = Q_i L_i Q_i^H`,
    :math:`F = (1 + l_1\circ\dots\circ l_I/\sigma^2)^{\circ -1}`:
    :math:`\mathrm{diag}\,\Sigma = \gamma \odot (F \times_i |Q_i|^{\circ 2})` and
    :math:`\mu = \sigma^{-2}\,\gamma^{1/2} \odot ((W \times_i Q_i^H) \odot F) \times_i Q_i` with
    :math:`W = Y \times_i (\Gamma_i^{1/2} A_i^H)`.

    Neither form builds an :math:`N\times N` or :math:`M \times M` matrix: the work is
    :math:`O(\sum_i (m_i^3 + m_i^2 n_i) + (M + N)\sum_i \max(m_i, n_i))` per problem.
    """
    xp = namespace(Y, *factors)
    Bn = Y.shape[0]
    dt = Y.dtype
    rdt = real_dtype(dt)
    I = len(factors)
    M = prod(f.shape[0] for f in factors)
    N = prod(f.shape[1] for f in factors)
    if form == "auto":
        form = "measurement" if M < N else "coefficient"
    nv = xp.astype(noise_var, rdt)
    gfull = kron_vector(gammas)
    out: dict[str, Any] = {}
    if form == "measurement":
        lams, Us, AUs = [], [], []
        for A, g in zip(factors, gammas):
            P = (A[None] * xp.astype(g, dt)[:, None, :]) @ xp.conj(A).mT
            P = 0.5 * (P + xp.conj(P).mT)
            lam, U = xp.linalg.eigh(P)
            lams.append(xp.clip(xp.astype(lam, rdt), min=0.0))
            Us.append(U)
            AUs.append(xp.conj(A).mT[None] @ U)  # (B, n_i, m_i)
        E = kron_vector(lams) + xp.reshape(nv, (Bn,) + (1,) * I)
        Z = Y
        for i, U in enumerate(Us):
            Z = mode_product(Z, xp.conj(U).mT, i + 1)
        Zt = Z / xp.astype(E, dt)
        mean = Zt
        for i, (AU, g) in enumerate(zip(AUs, gammas)):
            mean = mode_product(mean, xp.astype(g, dt)[:, :, None] * AU, i + 1)
        q = 1.0 / E
        for i, AU in enumerate(AUs):
            q = mode_product(q, _abs2(xp, AU), i + 1)
        out["mean"] = mean
        out["var"] = xp.clip(gfull - gfull * gfull * q, min=0.0)
        out["dof"] = xp.clip(gfull * q, min=0.0, max=1.0)
        if want_cost:
            ax = tuple(range(1, I + 1))
            out["cost"] = xp.sum(xp.log(E), axis=ax) + xp.sum(_abs2(xp, Z) / E, axis=ax)
        return out
    if form != "coefficient":
        raise ValueError(f"form must be 'auto', 'measurement' or 'coefficient', got {form!r}")
    ls, Qs, Ws = [], [], []
    for A, g in zip(factors, gammas):
        s = xp.astype(xp.sqrt(g), dt)
        G = xp.conj(A).mT @ A
        H = s[:, :, None] * G[None] * s[:, None, :]
        H = 0.5 * (H + xp.conj(H).mT)
        lam, Q = xp.linalg.eigh(H)
        ls.append(xp.clip(xp.astype(lam, rdt), min=0.0))
        Qs.append(Q)
        Ws.append(s[:, :, None] * xp.conj(A).mT[None])  # Gamma_i^{1/2} A_i^H, (B, n_i, m_i)
    F = 1.0 / (1.0 + kron_vector(ls) / xp.reshape(nv, (Bn,) + (1,) * I))
    t = F
    for i, Q in enumerate(Qs):
        t = mode_product(t, _abs2(xp, Q), i + 1)
    W = Y
    for i, Wi in enumerate(Ws):
        W = mode_product(W, Wi, i + 1)
    V = W
    for i, Q in enumerate(Qs):
        V = mode_product(V, xp.conj(Q).mT, i + 1)
    mean = V * xp.astype(F, dt)
    for i, Q in enumerate(Qs):
        mean = mode_product(mean, Q, i + 1)
    sfull = xp.astype(xp.sqrt(gfull), dt)
    nvb = xp.reshape(nv, (Bn,) + (1,) * I)
    out["mean"] = sfull * mean / xp.astype(nvb, dt)
    out["var"] = xp.clip(gfull * t, min=0.0)
    out["dof"] = xp.clip(1.0 - t, min=0.0, max=1.0)
    if want_cost:
        ax = tuple(range(1, I + 1))
        yy = xp.sum(_abs2(xp, Y), axis=ax)
        out["cost"] = (M * xp.log(nv) - xp.sum(xp.log(F), axis=ax) + yy / nv
                       - xp.sum(_abs2(xp, V) * F, axis=ax) / nv ** 2)
    return out


def kron_apply(factors: list[Any], X: Any) -> Any:
    """Apply :math:`A_1 \\otimes \\dots \\otimes A_I` to tensors ``X`` of shape ``(B, n_1, ..., n_I)``."""
    for i, A in enumerate(factors):
        X = mode_product(X, A, i + 1)
    return X
