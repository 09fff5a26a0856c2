r"""Greedy sparse solvers: OMP, IHT, HTP and Kronecker (N-way) OMP, batched over right-hand sides.

Every function takes a dictionary (a dense matrix wrapped in
:class:`~sparserec.operators.Matrix`, or any :class:`~sparserec.operators.LinearOperator`) and a
batch of measurements of shape ``(*batch, *out_shape)``, and solves every problem of the batch at
once: one matrix-matrix product per iteration for the whole batch, per-problem supports and
per-problem stopping.  numpy and torch (CPU/CUDA) run the same code.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..._backend import (
    check_finite,
    complex_dtype,
    dtype_name,
    is_complex_dtype,
    is_torch,
    namespace,
    real_dtype,
    result_dtype,
    to_numpy,
)
from ..._backend.dtypes import eps
from ...operators.base import LinearOperator
from ...prox.projections import topk_mask
from ..result import (
    ConvergenceMonitor,
    SolverResult,
    SolverState,
    Status,
    check_check_every,
    check_max_iter,
    check_tol,
)

__all__ = ["htp", "iht", "komp", "omp"]


# ---------------------------------------------------------------------------------- helpers
#: bytes of OMP state (selected atoms) allocated at once for all ``n_nonzero`` atoms
_OMP_STATE_BYTES = 128 << 20


def _device_kw(x: Any) -> dict[str, Any]:
    return {"device": x.device} if is_torch(x) else {}


def _int_array(xp: Any, values: Any, like: Any) -> Any:
    return xp.asarray(np.asarray(values, dtype=np.int64), **_device_kw(like))


def _abs2(xp: Any, a: Any) -> Any:
    return xp.real(a) ** 2 + xp.imag(a) ** 2 if xp.isdtype(a.dtype, "complex floating") else a * a


def _flat_dictionary(A: Any, what: str) -> tuple[LinearOperator, Any]:
    """Flat-shape view of the operator and its dense coefficients when it is a dense Matrix."""
    from ...operators.basic import Matrix

    if not isinstance(A, LinearOperator):
        if hasattr(A, "shape") and len(A.shape) == 2 and (hasattr(A, "dtype")):
            A = Matrix(A)
        else:
            raise TypeError(f"{what} expects a LinearOperator or a 2-D array, got {type(A).__name__}")
    dense = A.A if isinstance(A, Matrix) and getattr(A, "_kind", "dense") == "dense" else None
    if len(A.in_shape) != 1 or len(A.out_shape) != 1:
        A = A.reshape((A.shape[1],), (A.shape[0],))
    return A, dense


def _batch_param(value: Any, batch: tuple[int, ...], name: str, *, integer: bool) -> np.ndarray:
    """Broadcast a scalar or per-problem hyperparameter to the batch shape (host array)."""
    v = np.asarray(to_numpy(value))
    if integer:
        if v.dtype.kind not in "iu" and not (v.dtype.kind == "f" and np.all(v == np.round(v))):
            raise TypeError(f"{name} must be an integer or an integer array, got {value!r}")
        v = v.astype(np.int64)
    else:
        v = v.astype(np.float64)
    try:
        return np.broadcast_to(v, batch).reshape(-1).copy()
    except ValueError as e:
        raise ValueError(f"{name} of shape {v.shape} does not broadcast to the batch shape {batch}") from e


def _prepare(A: Any, y: Any, what: str) -> tuple[LinearOperator, Any, Any, Any, tuple[int, ...], Any]:
    """Common validation: returns (flat op, dense coef or None, Y (B, m), xp, batch, dtype)."""
    op0 = A
    op, dense = _flat_dictionary(A, what)
    orig = op0 if isinstance(op0, LinearOperator) else op
    if not (hasattr(y, "shape") and hasattr(y, "dtype")):
        raise TypeError(f"{what}: y must be a numpy array or torch tensor, got {type(y).__name__}")
    orig._check_input(y, orig.out_shape, what)
    check_finite(y, "y")
    if dense is not None:
        check_finite(dense, "the dictionary A")
    xp = namespace(y)
    nout = len(orig.out_shape)
    batch = tuple(int(s) for s in y.shape[: y.ndim - nout])
    dt = result_dtype(op.dtype, y.dtype)
    m = op.shape[0]
    Y = xp.reshape(y, (-1, m))
    if dtype_name(Y.dtype) != dtype_name(dt):
        Y = xp.astype(Y, dt)
    if dense is not None and dtype_name(dense.dtype) != dtype_name(dt):
        dense = xp.astype(dense, dt)
    return op, dense, Y, xp, batch, dt


def _float32_atom_rows(A32: np.ndarray) -> Any:
    """The 32-bit dictionary as a torch ``(n, m)`` tensor of atom rows, whose products
    :math:`A^T R^T` torch (MKL/oneDNN) runs ~1.4x faster than numpy's ``R @ A`` (12 ms against
    18 ms for 32 x 2000 x 10000 on one thread); ``A32`` itself when torch is missing or its
    float32 products may be computed in reduced precision (``set_float32_matmul_precision``),
    which the selection's error bound does not allow."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is optional
        return A32
    if torch.get_float32_matmul_precision() != "highest":
        return A32
    return torch.from_numpy(A32).T.contiguous()


def _transposed(A: np.ndarray, bs: int = 128) -> np.ndarray:
    """Row-major copy of ``A.T``, copied in ``bs x bs`` tiles (cache-friendly: ~1.7x faster than
    ``np.ascontiguousarray(A.T)`` on a 2000 x 10000 float64 matrix)."""
    m, n = A.shape
    out = np.empty((n, m), dtype=A.dtype)
    for i in range(0, n, bs):
        for j in range(0, m, bs):
            out[i:i + bs, j:j + bs] = A[j:j + bs, i:i + bs].T
    return out


def _select_dense(xp: Any, dense: Any, Ac: Any, Alow: Any, R: Any, m: int,
                  colmax: float, DT: Any = None) -> tuple[Any, np.ndarray]:
    r"""Batched ``argmax_j |a_j^H r|`` over a dense dictionary; returns (indices, max |corr|).

    With a low-precision copy ``Alow`` (``(m, n)``; for bfloat16 the transposed ``(n, m)``)
    the products are computed in low precision; a problem
    whose maximum is not separated from the runner-up by twice the worst-case rounding error
    :math:`\epsilon\|r\|\max_j\|a_j\|` has its candidates re-evaluated in 64-bit.  For a
    32-bit copy :math:`\epsilon = (m+3)u_{32}`.  For a bfloat16 copy (a torch tensor, products
    by the CPU's bfloat16 dot-product units with 32-bit accumulation) :math:`\epsilon =
    3u_{16} + u_{16}^2 + (m+2)u_{32}` with :math:`u_{16} = 2^{-8}`: rounding of both operands
    (:math:`2u_{16} + u_{16}^2`), 32-bit accumulation and the rounding of the bfloat16 output.

    ``DT`` (optional) is a row-major copy of :math:`A^T`: the candidates are then re-evaluated
    as (problem, atom) pairs with contiguous atom rows, and problems with many candidates get a
    full 64-bit product instead (torch CPU tensors of the bfloat16 path go the same way, on numpy
    views).
    """
    if Alow is None:
        mag = xp.abs(R @ Ac)
        return xp.argmax(mag, axis=-1), to_numpy(xp.max(mag, axis=-1)).astype(np.float64)
    bf16 = str(Alow.dtype).endswith("bfloat16")
    xp_in, R_in = xp, R
    if bf16 and is_torch(R):
        # bfloat16 selection runs on CPU only: continue on numpy views of the tensors (no copy),
        # so that torch CPU data get the pair-wise candidate re-evaluation of numpy data
        R = R.numpy()
        xp, dense = namespace(R), dense.numpy()
        DT = None if DT is None else DT.numpy()
    if bf16 or (is_torch(Alow) and not is_torch(R)):
        # atom rows (n, m) in torch (bfloat16, or float32 for numpy data): (A^T R^T)^T, made
        # contiguous in 32-bit
        import torch

        Rt = torch.from_numpy(np.ascontiguousarray(R)).to(Alow.dtype)
        out = (Alow @ Rt.T).T
        mag = torch.empty(out.shape, dtype=torch.float32).copy_(out).abs_().numpy()  # one pass
        eps_low = 3 * 2.0 ** -8 + 2.0 ** -16 + (m + 2) * 2.0 ** -24 if bf16 else (m + 3) * 2.0 ** -24
    else:
        mag = xp.abs(xp.astype(R, Alow.dtype) @ Alow)
        cfac = 2.0 if xp.isdtype(Alow.dtype, "complex floating") else 1.0   # complex products
        eps_low = cfac * (m + 3) * 2.0 ** -24
    j = xp.argmax(mag, axis=-1)
    mx = xp.max(mag, axis=-1)
    rn = xp.sqrt(xp.sum(_abs2(xp, R), axis=-1))
    bound = xp.astype(eps_low * 1.05 * rn * colmax, mag.dtype)
    thr = mx - 2 * bound
    ncand = to_numpy(xp.sum(xp.astype(mag >= thr[:, None], xp.int32), axis=-1))
    j_out = to_numpy(j).astype(np.int64)
    cm = to_numpy(mx).astype(np.float64)
    multi = np.nonzero(ncand > 1)[0]
    if multi.size and DT is not None and not is_torch(R):
        n = DT.shape[0]
        many = multi[ncand[multi] > max(64, n // 64)]
        if many.size:  # too many candidates: one 64-bit product for these problems
            ex = np.abs(R[many] @ dense)
            j_out[many] = np.argmax(ex, axis=-1)
            cm[many] = ex[np.arange(many.size), j_out[many]]
        few = multi[ncand[multi] <= max(64, n // 64)]
        if few.size:
            pi, ci = np.nonzero(mag[few] >= thr[few][:, None])   # row-major: atoms ascending
            vals = np.abs(np.einsum("ij,ij->i", DT[ci], R[few[pi]]))
            starts = np.flatnonzero(np.r_[True, pi[1:] != pi[:-1]])
            segmax = np.maximum.reduceat(vals, starts)
            pos = np.where(vals == segmax[pi], np.arange(vals.size), vals.size)
            first = np.minimum.reduceat(pos, starts)
            j_out[few] = ci[first]
            cm[few] = segmax
        return _int_array(xp_in, j_out, R_in), cm
    if multi.size:
        kc = int(ncand[multi].max())
        mi = _int_array(xp, multi, R)
        # the kc largest low-precision magnitudes (every candidate), in increasing index order
        # so that exact ties resolve to the smallest index
        if is_torch(mag):
            order = mag[mi, ...].topk(kc, dim=-1).indices
            order = order.sort(dim=-1).values
        else:
            mm = mag[multi]
            order = np.argpartition(-mm, kc - 1, axis=-1)[:, :kc] if kc < mm.shape[-1] else \
                np.broadcast_to(np.arange(mm.shape[-1]), mm.shape)
            order = np.sort(order, axis=-1)
        cols = xp.take(dense, xp.reshape(order, (-1,)), axis=1)                # (m, Bc*kc)
        cols = xp.permute_dims(xp.reshape(cols, (m, multi.size, kc)), (1, 2, 0))
        exact = xp.abs((xp.conj(cols) @ R[mi, ...][..., None])[..., 0])       # (Bc, kc)
        mag_c = xp.take_along_axis(mag[mi, ...], order, axis=1)
        valid = mag_c >= thr[mi][:, None]
        exact = xp.where(valid, exact, -xp.ones_like(exact))
        best = xp.argmax(exact, axis=-1)
        order_np, best_np = to_numpy(order), to_numpy(best)
        j_out[multi] = order_np[np.arange(multi.size), best_np]
        cm[multi] = to_numpy(xp.max(exact, axis=-1)).astype(np.float64)
    return _int_array(xp_in, j_out, R_in), cm



def _omp_device(A: Any, op: LinearOperator, dense: Any, Y: Any, xp: Any, batch: tuple[int, ...], dt: Any,
                kvec_np: np.ndarray, tvec_np: np.ndarray, has_tol: bool, kmax: int, record_every: int,
                callback: Any, check_every: int) -> SolverResult:
    """OMP with every per-iteration quantity on the device (see ``check_every`` in :func:`omp`).

    Same recursion as the host loop (Cholesky factor of the Gram matrix updated for the whole
    batch); a problem that stops keeps identity rows in its factor and zero atoms, so its
    coefficients no longer change.  The host reads one flag every ``check_every`` atoms.
    """
    import torch

    m, n = op.shape
    B = Y.shape[0]
    dev = Y.device
    cplx = is_complex_dtype(dt)
    rdt = real_dtype(dt)
    eps_dt = float(eps(dt))
    t0 = time.perf_counter()
    kvec = torch.as_tensor(kvec_np, device=dev)
    tvec = torch.as_tensor(tvec_np, dtype=rdt, device=dev)
    K = max(kmax, 1)
    Li = torch.eye(K, dtype=dt, device=dev).repeat(B, 1, 1)
    atoms = torch.zeros((B, K, m), dtype=dt, device=dev)
    zf = torch.zeros((B, K), dtype=dt, device=dev)
    coef = torch.zeros((B, K), dtype=dt, device=dev)
    support = torch.full((B, K), -1, dtype=torch.int64, device=dev)
    count = torch.zeros(B, dtype=torch.int64, device=dev)
    R = Y.clone()
    ynorm = torch.sqrt(torch.sum(_abs2(xp, Y), dim=-1))
    rnorm = ynorm.clone()
    active = (ynorm > 0) & ~(rnorm <= tvec)
    early = torch.zeros(B, dtype=torch.bool, device=dev)
    status = torch.zeros(B, dtype=torch.int64, device=dev)
    Ac = (dense.conj() if cplx else dense) if dense is not None else None
    ar = torch.arange(B, device=dev)
    hist: dict[str, list[Any]] = {}
    for t in range(kmax):
        if t % check_every == 0 and not bool(active.any()):
            break
        mag = torch.abs(R @ Ac) if Ac is not None else torch.abs(op.adjoint(R))
        cmax, j = torch.max(mag, dim=-1)
        if dense is not None:
            a = dense.index_select(1, j).T                                   # (B, m)
        else:
            onehot = torch.zeros((B, n), dtype=dt, device=dev)
            onehot[ar, j] = 1
            a = op.apply(onehot)
        anorm2 = torch.sum(_abs2(xp, a), dim=-1)
        anorm = torch.sqrt(anorm2.real if cplx else anorm2)
        already = (support[:, :t] == j[:, None]).any(dim=1) if t > 0 else torch.zeros_like(active)
        tiny = cmax <= 10 * eps_dt * anorm * ynorm
        if t > 0:
            v = ((atoms[:, :t, :].conj() if cplx else atoms[:, :t, :]) @ a[..., None])[..., 0]
            w = (Li[:, :t, :t] @ v[..., None])[..., 0]
            d2 = anorm2 - torch.sum(_abs2(xp, w), dim=-1)
        else:
            w = None
            d2 = anorm2
        d2r = d2.real if cplx else d2
        dep = d2r <= 1e3 * eps_dt * anorm ** 2
        bad = active & (already | tiny | dep)
        early |= bad
        ok = active & ~bad
        active = ok
        okf = ok.to(dt)
        d = torch.sqrt(torch.where(ok & (d2r > 0), d2r, torch.ones_like(d2r))).to(dt)
        a_ok = a * okf[:, None]
        rhs_t = torch.sum((a_ok.conj() if cplx else a_ok) * Y, dim=-1)
        if t > 0:
            wh = (w.conj() if cplx else w) * okf[:, None]
            Li[:, t, :t] = -(wh[:, None, :] @ Li[:, :t, :t])[:, 0, :] / d[:, None]
            zf[:, t] = (rhs_t - torch.sum(wh * zf[:, :t], dim=-1)) / d
        else:
            zf[:, t] = rhs_t / d
        Li[:, t, t] = 1 / d
        atoms[:, t, :] = a_ok
        support[:, t] = torch.where(ok, j, support[:, t])
        count = count + ok.to(torch.int64)
        Ls = Li[:, : t + 1, : t + 1]
        LsH = Ls.conj().transpose(1, 2) if cplx else Ls.transpose(1, 2)
        xs = (LsH @ zf[:, : t + 1, None])[..., 0]
        coef[:, : t + 1] = torch.where(ok[:, None], xs, coef[:, : t + 1])
        Rs = Y - (xs[:, None, :] @ atoms[:, : t + 1, :])[:, 0, :]
        R = torch.where(ok[:, None], Rs, R)
        rn = torch.sqrt(torch.sum(_abs2(xp, Rs), dim=-1))
        rnorm = torch.where(ok, rn.to(rnorm.dtype), rnorm)
        done = ok & ((count >= kvec) | (rnorm <= tvec) | (rnorm == 0))
        active = active & ~done
        if record_every and (t + 1) % record_every == 0:
            hist.setdefault("iteration", []).append(np.asarray(t + 1))
            hist.setdefault("time", []).append(np.asarray(time.perf_counter() - t0))
            hist.setdefault("residual", []).append(rnorm.reshape(batch).clone())
            hist.setdefault("n_nonzero", []).append(count.reshape(batch).clone())
        if callback is not None:
            st = SolverState(t + 1, coef, active.reshape(batch).clone(),
                             {"support": support.reshape(batch + (-1,)).clone(),
                              "residual": rnorm.reshape(batch).clone()})
            if callback(st):
                status = torch.where(active, torch.full_like(status, int(Status.CALLBACK_STOP)), status)
                break
    # assemble x on the device
    X = torch.zeros((B, n + 1), dtype=dt, device=dev)
    X.scatter_(1, torch.where(support >= 0, support, torch.full_like(support, n)), coef)
    x = X[:, :n].reshape(batch + (A.in_shape if isinstance(A, LinearOperator) else (n,)))
    early_np = to_numpy(early & ~(rnorm <= tvec) & (count < kvec))
    count_np = to_numpy(count).astype(np.int64)
    if early_np.any() and has_tol:
        warnings.warn(f"omp: {int(early_np.sum())} problem(s) stopped before reaching tol because the "
                      "residual became orthogonal to the dictionary or the next atom was linearly "
                      "dependent", RuntimeWarning, stacklevel=3)
    status_np = to_numpy(status).reshape(batch)
    overall = Status(int(status_np.max())) if status_np.size else Status.CONVERGED
    kk = max(int(count_np.max()), 1)
    sup_np = to_numpy(support[:, :kk]).astype(np.int64)
    hist_np = {k: np.stack([np.asarray(to_numpy(v)) for v in vals]) for k, vals in hist.items()}
    extras = {
        "support": sup_np.reshape(batch + (-1,)),
        "coef": coef[:, :kk].reshape(batch + (-1,)),
        "residual_norm": to_numpy(rnorm).astype(np.float64).reshape(batch),
        "early_stop": early_np.reshape(batch),
    }
    return SolverResult(
        x=x, status=overall, problem_status=status_np, converged=status_np == Status.CONVERGED,
        n_iter=count_np.reshape(batch), history=hist_np,
        params={"n_nonzero": kvec_np.reshape(batch), "tol": tvec_np.reshape(batch) if has_tol else None},
        extras=extras, solver="omp")


# ---------------------------------------------------------------------------------- OMP
_BF16_CPU: bool | None = None


def _cpu_has_bf16() -> bool:
    """True if the CPU advertises bfloat16 units (Linux /proc/cpuinfo) and torch is importable."""
    global _BF16_CPU
    if _BF16_CPU is None:
        try:
            with open("/proc/cpuinfo") as f:
                flags = f.read()
            has = ("avx512_bf16" in flags) or ("amx_bf16" in flags)
        except OSError:
            has = False
        if has:
            import importlib.util

            has = importlib.util.find_spec("torch") is not None
        _BF16_CPU = has
    return _BF16_CPU


def omp(A: Any, y: Any, n_nonzero: int | Any = None, tol: float | Any = None, *,
        precision: str = "auto", record_every: int = 1,
        callback: Callable[[SolverState], bool | None] | None = None, verbose: bool = False,
        check_every: int = 1) -> SolverResult:
    r"""Orthogonal matching pursuit for a batch of right-hand sides (incremental Cholesky).

    Parameters
    ----------
    A : LinearOperator or array of shape (m, n)
        Dictionary.  A dense :class:`~sparserec.operators.Matrix` (or a 2-D array) is used
        directly (columns are gathered); any other operator is used matrix-free: correlations
        come from ``A.adjoint`` and the selected atoms from one batched ``A.apply`` of one-hot
        vectors per iteration, so the dictionary is never densified.  Operators with n-D shapes
        are flattened (C order).
    y : array of shape ``(*batch, *A.out_shape)``
        Measurements; the whole batch is solved at once.
    n_nonzero : int or array of int broadcastable to ``batch``, optional
        Maximum number of atoms per problem.  Default: ``max(int(0.1 n), 1)`` when ``tol`` is
        None (as scikit-learn), else ``min(m, n)``.
    tol : float or array broadcastable to ``batch``, optional
        Stop a problem when its residual norm :math:`\|y - A x\|_2 \le` ``tol``.  Note:
        scikit-learn's ``orthogonal_mp`` uses the *squared* norm; pass ``sqrt(tol_sklearn)``.
    precision : {"auto", "mixed", "bf16", "full"}, default "auto"
        ``"auto"`` picks ``"bf16"`` for large (m n >= 4e6) real dense dictionaries on CPUs that
        advertise bfloat16 units (``avx512_bf16`` or ``amx_bf16`` in ``/proc/cpuinfo``) when torch
        is installed, and ``"mixed"`` otherwise; the selected atoms are the same in every mode.
        For a dense 64-bit dictionary, ``"mixed"`` computes the correlations in 32-bit (twice
        the speed of the dominant product) and re-evaluates in 64-bit every atom whose
        32-bit correlation is within a rigorous rounding-error bound of the maximum, so the
        selected atom is the 64-bit arg-max; ``"full"`` computes them in 64-bit.
        ``"bf16"`` (real dense dictionaries, CPU) computes them with torch bfloat16 products (32-bit
        accumulation; AMX/AVX512-BF16 units make them about 3x faster than 32-bit on CPUs
        that have them) under the same rigorous re-evaluation, whose bound is then wider
        (about :math:`0.012\|r\|\max_j\|a_j\|`), so more candidates are re-evaluated.  All
        other arithmetic is in the data's precision.
    record_every : int, default 1
        Record the history every ``record_every`` iterations (0 disables it).
    callback : callable, optional
        ``callback(state) -> bool``; called after every iteration with ``state.metrics``
        holding ``support`` and ``residual``; returning True stops all problems.
    verbose : bool
        Unused (kept for the common vocabulary).
    check_every : int, default 1
        With torch tensors and ``check_every > 1``, the device-resident loop is used: supports,
        counts and stopping flags stay on the device, correlations are computed in the data's
        precision (``precision`` is ignored, so the selection is exact), and the only host
        synchronisation is the test "any problem still active?" every ``check_every`` atoms
        (plus one per atom when a ``callback`` is given).  Problems that stop early are carried
        with identity padding until the next test.

    Returns
    -------
    SolverResult
        ``x`` of shape ``(*batch, *A.in_shape)``; ``n_iter`` is the number of selected atoms;
        ``extras['support']``: int64 array ``(*batch, k_max)`` of selected indices in selection
        order, padded with -1; ``extras['coef']``: the coefficients in that order (0 padded);
        ``extras['residual_norm']``: final :math:`\|y - Ax\|_2`; ``extras['early_stop']``: True
        where a problem stopped before its target because the residual became orthogonal to
        the dictionary or the new atom was linearly dependent on the selected ones.
        ``history['residual']`` holds the residual norm per iteration and problem.

    Notes
    -----
    At iteration :math:`t` every active problem selects
    :math:`j_t = \arg\max_j |a_j^H r_{t-1}|` (no column normalisation, as scikit-learn) and the
    coefficients on :math:`S_t = S_{t-1} \cup \{j_t\}` are the least-squares solution
    :math:`x_{S_t} = (A_{S_t}^H A_{S_t})^{-1} A_{S_t}^H y`.  The Cholesky factor of the Gram
    matrix is updated, for the whole batch at once, by

    .. math:: L_t = \begin{bmatrix} L_{t-1} & 0 \\ w^H & d \end{bmatrix}, \quad
              L_{t-1} w = A_{S_{t-1}}^H a_{j_t}, \quad d = \sqrt{\|a_{j_t}\|^2 - \|w\|^2},

    with batched triangular solves; factors of problems that stopped earlier are padded with
    the identity.  The cost per iteration is one :math:`B\times m\times n` product (the
    correlations) plus :math:`O(B(mk + k^2))`, against a loop of matrix-vector products for
    scikit-learn.  Selection ties resolve to the smallest index, as ``numpy.argmax``.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.solvers.convex.greedy import omp
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((30, 60)); A /= np.linalg.norm(A, axis=0)
    >>> X = np.zeros((4, 60)); X[:, [3, 17, 42]] = rng.standard_normal((4, 3))
    >>> res = omp(A, X @ A.T, n_nonzero=3)
    >>> bool(np.allclose(res.x, X))
    True
    >>> np.sort(res.extras['support'], axis=1)[0]
    array([ 3, 17, 42])
    """
    op, dense, Y, xp, batch, dt = _prepare(A, y, "omp")
    m, n = op.shape
    B = Y.shape[0]
    if n_nonzero is None:
        kvec = np.full(B, max(int(0.1 * n), 1) if tol is None else min(m, n), dtype=np.int64)
    else:
        kvec = _batch_param(n_nonzero, batch, "n_nonzero", integer=True)
        if np.any(kvec < 1):
            raise ValueError(f"n_nonzero must be >= 1, got {n_nonzero!r}")
        if np.any(kvec > n):
            raise ValueError(f"n_nonzero ({int(kvec.max())}) cannot exceed the number of atoms n = {n}")
    if tol is not None:
        tvec = _batch_param(tol, batch, "tol", integer=False)
        if not np.all(np.isfinite(tvec)) or np.any(tvec < 0):
            raise ValueError(f"tol must be finite and non-negative, got {tol!r}")
    else:
        tvec = np.full(B, -1.0)
    kvec = np.minimum(kvec, min(m, n) if tol is not None else n)
    kmax = int(kvec.max()) if B else 0
    if precision not in ("auto", "mixed", "full", "bf16"):
        raise ValueError(f"precision must be 'auto', 'mixed', 'bf16' or 'full', got {precision!r}")
    if precision == "auto":
        big = dense is not None and m * n >= 4_000_000 and not is_complex_dtype(dt)
        on_cpu = not (is_torch(Y) and Y.device.type != "cpu")
        precision = "bf16" if (big and on_cpu and _cpu_has_bf16()) else "mixed"
    if is_torch(Y) and int(check_every) > 1 and B:
        return _omp_device(A, op, dense, Y, xp, batch, dt, kvec, tvec, tol is not None, kmax,
                           record_every, callback, int(check_every))
    rdt = real_dtype(dt)
    cplx = is_complex_dtype(dt)
    kw = _device_kw(Y)
    t0 = time.perf_counter()
    # state (capacity for every atom when that fits in _OMP_STATE_BYTES, else 64, grown by doubling)
    cap = max(1, kmax if B * kmax * m * 16 <= _OMP_STATE_BYTES else min(kmax, 64))
    Li = xp.eye(cap, dtype=dt, **kw)[None, ...] * xp.ones((B, 1, 1), dtype=dt, **kw)  # L^{-1}
    atoms = xp.zeros((B, cap, m), dtype=dt, **kw)           # selected atoms, row t = a_{s_t}
    zf = xp.zeros((B, cap), dtype=dt, **kw)                  # L^{-1} A_S^H y
    coef = xp.zeros((B, cap), dtype=dt, **kw)
    support = np.full((B, max(kmax, 1)), -1, dtype=np.int64)
    count = np.zeros(B, dtype=np.int64)
    active = np.ones(B, dtype=bool) if B else np.zeros(0, dtype=bool)
    early = np.zeros(B, dtype=bool)
    status = np.zeros(B, dtype=np.int64)
    R = xp.asarray(Y, copy=True)
    ynorm = to_numpy(xp.sqrt(xp.sum(_abs2(xp, Y), axis=-1))).astype(np.float64)
    rnorm = ynorm.copy()
    # problems already satisfied by x = 0
    active &= ~(rnorm <= tvec)
    active &= ynorm > 0
    Ac = xp.conj(dense) if (dense is not None and cplx) else dense
    Alow = None
    if precision == "bf16" and (dense is None or cplx or dtype_name(rdt) not in ("float32", "float64")):
        precision = "mixed"  # bfloat16 products: real dense dictionaries only
    if precision == "bf16":
        try:
            import torch  # noqa: F401
        except ImportError:  # pragma: no cover - torch is optional
            precision = "mixed"
    if precision == "bf16" and is_torch(Y) and Y.device.type != "cpu":
        # GPU libraries may reduce bfloat16 products in reduced precision: the error bound
        # assumes 32-bit accumulation, which is guaranteed on CPU only
        precision = "mixed"
    if dense is not None and precision == "mixed" and dtype_name(rdt) == "float64":
        Alow = xp.astype(Ac, complex_dtype(xp.float32) if cplx else xp.float32)
    colmax = 0.0
    DT = None
    if precision == "bf16":
        import torch

        # atom rows for the exact re-evaluation (bfloat16 runs on CPU: torch data as numpy views)
        DTn = _transposed(Ac.numpy() if is_torch(Ac) else Ac)
        DT = torch.from_numpy(DTn) if is_torch(Ac) else DTn
        # (n, m) atom rows: A^T R^T on this layout runs ~2x faster than R A on (m, n) (oneDNN)
        Alow = torch.from_numpy(DTn).to(torch.bfloat16)
        # largest column norm, from the atom rows in the data's precision (inflated)
        sq = np.einsum("ij,ij->i", DTn, DTn)
        colmax = float(np.sqrt(np.max(sq))) * (1 + 4 * (m + 2) * float(eps(rdt))) * 1.001
    # largest column norm (from the 32-bit copy, inflated to stay an upper bound)
    elif Alow is not None:
        # column norms in blocks of rows (no full-size temporary)
        sq = xp.zeros((n,), dtype=rdt, **kw)
        for i0 in range(0, m, 256):
            blk = Alow[i0:i0 + 256, :]
            sq = sq + xp.astype(xp.sum(_abs2(xp, blk), axis=0), rdt)
        cn = float(xp.sqrt(xp.max(sq)))
        colmax = cn * (1 + 4 * (m + 2) * 2.0 ** -24) * 1.001
        if not cplx and not is_torch(Alow) and m * n >= 1_000_000:
            Alow = _float32_atom_rows(Alow)
    rows_all = np.arange(B)
    hist: dict[str, list[np.ndarray]] = {}
    eps_dt = eps(dt)
    t = 0
    while active.any() and t < kmax:
        if t == cap:  # grow buffers
            new = min(2 * cap, kmax)
            eye_pad = xp.eye(new, dtype=dt, **kw)[None, ...] * xp.ones((B, 1, 1), dtype=dt, **kw)
            eye_pad[:, :cap, :cap] = Li
            Li = eye_pad
            atoms = xp.concat([atoms, xp.zeros((B, new - cap, m), dtype=dt, **kw)], axis=1)
            zf = xp.concat([zf, xp.zeros((B, new - cap), dtype=dt, **kw)], axis=1)
            coef = xp.concat([coef, xp.zeros((B, new - cap), dtype=dt, **kw)], axis=1)
            cap = new
        act_idx = rows_all[active]
        full = len(act_idx) == B
        ai = None if full else _int_array(xp, act_idx, Y)

        def sub(arr: Any, ai: Any = ai) -> Any:
            return arr if ai is None else arr[ai, ...]

        Ra = sub(R)
        # 1. selection j = argmax |A^H r| for the active problems (one matrix-matrix product)
        if dense is not None:
            j, cmax = _select_dense(xp, dense, Ac, Alow, Ra, m, colmax, DT)
        else:
            mag = xp.abs(op.adjoint(Ra))
            j = xp.argmax(mag, axis=-1)
            cmax = to_numpy(xp.max(mag, axis=-1)).astype(np.float64)
        j_np = to_numpy(j).astype(np.int64)
        # 2. the selected atoms, one per problem
        if DT is not None:
            a = DT[j_np]                                                    # (Ba, m), rows
        elif dense is not None:
            a = xp.permute_dims(xp.take(dense, j, axis=1), (1, 0))          # (Ba, m)
        else:
            onehot = xp.zeros((len(act_idx), n), dtype=dt, **kw)
            onehot[_int_array(xp, np.arange(len(act_idx)), Y), j] = 1
            a = op.apply(onehot)
        anorm2 = xp.sum(_abs2(xp, a), axis=-1)
        anorm_np = np.sqrt(to_numpy(anorm2).astype(np.float64))
        # stop problems whose residual is orthogonal to every atom or whose atom repeats
        already = (support[act_idx, :t] == j_np[:, None]).any(axis=1) if t > 0 else \
            np.zeros(len(act_idx), dtype=bool)
        tiny = cmax <= 10 * eps_dt * anorm_np * ynorm[act_idx]
        # 3. Cholesky update for the whole batch: w = L^{-1} A_S^H a, d = sqrt(|a|^2 - |w|^2)
        if t > 0:
            atA = sub(atoms)[:, :t, :]
            Lit = sub(Li)[:, :t, :t]
            v = ((xp.conj(atA) if cplx else atA) @ a[..., None])[..., 0]
            w = (Lit @ v[..., None])[..., 0]
            d2 = anorm2 - xp.sum(_abs2(xp, w), axis=-1)
        else:
            w = None
            d2 = anorm2
        d2r = xp.real(d2) if cplx else d2
        dep = to_numpy(d2r).astype(np.float64) <= 1e3 * eps_dt * anorm_np**2
        bad = already | tiny | dep
        ok = ~bad
        if bad.any():
            early[act_idx[bad]] = True
            active[act_idx[bad]] = False
        if ok.any():
            sel = act_idx[ok]
            if ok.all():
                si, oi = ai, None
            else:
                si = _int_array(xp, sel, Y)
                oi = _int_array(xp, np.nonzero(ok)[0], Y)

            def pick(arr: Any, oi: Any = oi) -> Any:
                return arr if oi is None else arr[oi, ...]

            def put(buf: Any, val: Any, *idx: Any, si: Any = si) -> None:
                if si is None:
                    buf[(slice(None),) + idx] = val
                else:
                    buf[(si,) + idx] = val

            d = xp.astype(xp.sqrt(xp.where(d2r > 0, d2r, xp.ones_like(d2r))), dt)
            d_ok = pick(d)[:, None]
            a_ok = pick(a)
            y_ok = Y if si is None else Y[si, ...]
            rhs_t = xp.sum((xp.conj(a_ok) if cplx else a_ok) * y_ok, axis=-1)[:, None]
            if t > 0:
                wh = xp.conj(pick(w)) if cplx else pick(w)                  # (Bs, t)
                Li_ok = (Li if si is None else Li[si, ...])[:, :t, :t]
                z_ok = (zf if si is None else zf[si, ...])[:, :t]
                put(Li, -(wh[:, None, :] @ Li_ok)[:, 0, :] / d_ok, t, slice(0, t))
                put(zf, (rhs_t[:, 0] - xp.sum(wh * z_ok, axis=-1)) / d_ok[:, 0], t)
            else:
                put(zf, rhs_t[:, 0] / d_ok[:, 0], t)
            put(Li, 1 / d_ok[:, 0], t, t)
            put(atoms, a_ok, t, slice(None))
            support[sel, t] = j_np[ok]
            count[sel] += 1
            # 4. least-squares coefficients on the support: x = L^{-H} L^{-1} A_S^H y
            Ls = (Li if si is None else Li[si, ...])[:, : t + 1, : t + 1]
            zs = (zf if si is None else zf[si, ...])[:, : t + 1]
            LsH = xp.conj(xp.permute_dims(Ls, (0, 2, 1))) if cplx else xp.permute_dims(Ls, (0, 2, 1))
            xs = (LsH @ zs[..., None])[..., 0]
            put(coef, xs, slice(0, t + 1))
            at_ok = (atoms if si is None else atoms[si, ...])[:, : t + 1, :]
            Rs = y_ok - (xs[:, None, :] @ at_ok)[:, 0, :]
            put(R, Rs, slice(None))
            rn = to_numpy(xp.sqrt(xp.sum(_abs2(xp, Rs), axis=-1))).astype(np.float64)
            rnorm[sel] = rn
            done = (count[sel] >= kvec[sel]) | (rn <= tvec[sel]) | (rn == 0)
            active[sel[done]] = False
        t += 1
        if record_every and t % record_every == 0:
            hist.setdefault("iteration", []).append(np.asarray(t))
            hist.setdefault("time", []).append(np.asarray(time.perf_counter() - t0))
            hist.setdefault("residual", []).append(rnorm.reshape(batch).copy())
            hist.setdefault("n_nonzero", []).append(count.reshape(batch).copy())
        if callback is not None:
            st = SolverState(t, coef, active.reshape(batch).copy(),
                             {"support": support.reshape(batch + (-1,)).copy(),
                              "residual": rnorm.reshape(batch).copy()})
            if callback(st):
                status[active] = Status.CALLBACK_STOP
                active[:] = False
    # assemble x
    X = xp.zeros((B, n + 1), dtype=dt, **kw)
    kk = min(cap, support.shape[1])
    sup_fill = np.where(support[:, :kk] >= 0, support[:, :kk], n)
    X[_int_array(xp, rows_all, Y)[:, None], _int_array(xp, sup_fill, Y)] = coef[:, :kk]
    x = xp.reshape(X[:, :n], batch + (A.in_shape if isinstance(A, LinearOperator) else (n,)))
    early &= ~(rnorm <= tvec) & (count < kvec)
    if early.any() and (tol is not None):
        warnings.warn(f"omp: {int(early.sum())} problem(s) stopped before reaching tol because the "
                      "residual became orthogonal to the dictionary or the next atom was linearly "
                      "dependent", RuntimeWarning, stacklevel=2)
    status_b = status.reshape(batch)
    overall = Status(int(status.max())) if status.size else Status.CONVERGED
    sup_out = support[:, :max(int(count.max()) if B else 0, 1)] if B else support
    extras = {
        "support": sup_out.reshape(batch + (-1,)),
        "coef": xp.reshape(coef[:, : sup_out.shape[1]], batch + (-1,)),
        "residual_norm": rnorm.reshape(batch),
        "early_stop": early.reshape(batch),
    }
    return SolverResult(
        x=x, status=overall, problem_status=status_b, converged=status_b == Status.CONVERGED,
        n_iter=count.reshape(batch), history={k: np.stack(v) for k, v in hist.items()},
        params={"n_nonzero": kvec.reshape(batch), "tol": None if tol is None else tvec.reshape(batch)},
        extras=extras, solver="omp")


# ---------------------------------------------------------------------------------- IHT / HTP
def _gather_atoms(xp: Any, op: LinearOperator, dense: Any, idx: Any, dt: Any) -> Any:
    """Atoms ``a_{idx[b, s]}`` as an array ``(B, s, m)`` (gather or batched one-hot apply)."""
    B, s = idx.shape
    n = op.shape[1]
    if dense is not None:
        cols = xp.take(dense, xp.reshape(idx, (-1,)), axis=1)               # (m, B*s)
        return xp.permute_dims(xp.reshape(cols, (dense.shape[0], B, s)), (1, 2, 0))
    onehot = xp.zeros((B * s, n), dtype=dt, **_device_kw(idx))
    onehot[_int_array(xp, np.arange(B * s), idx), xp.reshape(idx, (-1,))] = 1
    return xp.reshape(op.apply(onehot), (B, s, op.shape[0]))


def _thresholding(A: Any, y: Any, n_nonzero: Any, *, pursuit: bool, step: float | None, normalized: bool,
                  x0: Any, max_iter: int, tol: float, record_every: int, check_every: int,
                  callback: Any, verbose: bool, name: str) -> SolverResult:
    op, dense, Y, xp, batch, dt = _prepare(A, y, name)
    m, n = op.shape
    B = Y.shape[0]
    if n_nonzero is None:
        raise TypeError(f"{name}: n_nonzero (the sparsity level) is required")
    kv = _batch_param(n_nonzero, batch, "n_nonzero", integer=True)
    if np.any(kv < 1) or np.any(kv > n):
        raise ValueError(f"{name}: n_nonzero must be between 1 and n = {n}, got {n_nonzero!r}")
    max_iter = check_max_iter(max_iter)
    tol = check_tol(tol)
    kmax = int(kv.max())
    kvec = _int_array(xp, kv, Y)
    cplx = is_complex_dtype(dt)
    rdt = real_dtype(dt)
    kw = _device_kw(Y)
    if step is None:
        nrm = op.opnorm(like=Y) if op.opnorm_bound() is None else op.opnorm()
        step_v = 1.0 / (nrm * nrm) if nrm > 0 else 1.0
    else:
        step_v = check_tol(step, "step")
        if step_v <= 0:
            raise ValueError(f"{name}: step must be positive, got {step!r}")
    rows = _int_array(xp, np.arange(B), Y)[:, None]

    def A_(x: Any) -> Any:
        return (x @ xp.permute_dims(dense, (1, 0))) if dense is not None else op.apply(x)

    def AH(r: Any) -> Any:
        return (r @ (xp.conj(dense) if cplx else dense)) if dense is not None else op.adjoint(r)

    def nrm2(v: Any) -> Any:
        return xp.sum(_abs2(xp, v), axis=-1)

    def ls_on(order: Any, keep: Any) -> Any:
        """Least squares restricted to the columns ``order`` (padded slots where ~keep)."""
        At = _gather_atoms(xp, op, dense, order, dt)                         # (B, s, m)
        At = At * xp.astype(keep, dt)[..., None]
        G = (xp.conj(At) if cplx else At) @ xp.permute_dims(At, (0, 2, 1))  # (B, s, s)
        eye = xp.eye(G.shape[-1], dtype=dt, **kw)[None, ...]
        G = G + eye * xp.astype(~keep, dt)[..., None]
        rhs = ((xp.conj(At) if cplx else At) @ Y[..., None])[..., 0]
        z = xp.linalg.solve(G, rhs[..., None])[..., 0]
        x = xp.zeros((B, n), dtype=dt, **kw)
        x[rows, order] = z * xp.astype(keep, dt)
        return x

    if x0 is None:
        x = xp.zeros((B, n), dtype=dt, **kw)
    else:
        x = xp.astype(xp.reshape(x0, (B, n)), dt)
    R = Y - A_(x)
    mon = ConvergenceMonitor(batch, Y, max_iter, tol, record_every, check_every, callback, verbose, name)
    supp = x != 0
    while True:
        g = AH(R)
        if normalized:
            # NIHT: step = |g_S|^2 / |A g_S|^2 on the current support (top-k of g at x = 0)
            gm = topk_mask(g, kvec)
            S0 = xp.where(xp.any(supp, axis=-1, keepdims=True), supp, gm)
            gS = g * xp.astype(S0, dt)
            den = nrm2(A_(gS))
            mu = xp.where(den > 0, nrm2(gS) / xp.where(den > 0, den, xp.ones_like(den)),
                          xp.full_like(den, step_v))
            for _ in range(30):
                v = x + xp.astype(mu, dt)[:, None] * g
                mask, order = topk_mask(v, kvec, return_order=True)
                x_new = v * xp.astype(mask, dt)
                dx = x_new - x
                changed = xp.any(mask != S0, axis=-1)
                ddx = nrm2(A_(dx))
                omega = 0.99 * nrm2(dx) / xp.where(ddx > 0, ddx, xp.ones_like(ddx))
                shrink = changed & (ddx > 0) & (mu > omega) & mon.active
                if not bool(xp.any(shrink)):
                    break
                mu = xp.where(shrink, mu / (2 * 0.99), mu)
        else:
            v = x + step_v * g
            mask, order = topk_mask(v, kvec, return_order=True)
            x_new = v * xp.astype(mask, dt)
        if pursuit:
            keep = _int_array(xp, np.arange(kmax), Y)[None, :] < kvec[:, None]
            x_new = ls_on(order[:, :kmax], keep)
        act = mon.mask(x_new)
        x_new = xp.where(act, x_new, x)
        dx = x_new - x
        nx = xp.sqrt(xp.astype(nrm2(x_new), rdt))
        rel = xp.sqrt(xp.astype(nrm2(dx), rdt)) / xp.where(nx > 0, nx, xp.ones_like(nx))
        x = x_new
        supp = x != 0
        R = Y - A_(x)
        res = xp.sqrt(xp.astype(nrm2(R), rdt))
        if mon.step(rel, x, rel_change=rel, residual=res):
            break
    out_shape = A.in_shape if isinstance(A, LinearOperator) else (n,)
    params = {"n_nonzero": kv.reshape(batch), "step": step_v, "normalized": normalized, "tol": tol,
              "max_iter": max_iter}
    sup = to_numpy(xp.argsort(-xp.abs(x), axis=-1, stable=True)[:, :kmax]).astype(np.int64)
    sup = np.where(np.arange(kmax)[None, :] < kv[:, None], sup, -1)
    return mon.result(xp.reshape(x, batch + out_shape), params=params,
                      extras={"support": sup.reshape(batch + (kmax,))})


_TH_DOC = r"""
    Parameters
    ----------
    A : LinearOperator or array of shape (m, n)
        Dictionary (dense matrices are applied as one product per iteration for the batch).
    y : array of shape ``(*batch, *A.out_shape)``
    n_nonzero : int or array of int broadcastable to ``batch``
        Sparsity level :math:`k` (per problem allowed).
    step : float, optional
        Gradient step :math:`\mu`; default :math:`1/\|A\|_2^2` from the operator's closed-form
        norm bound (power iteration only when it has none).
    normalized : bool, default False
        Adaptive per-problem step of normalised IHT (Blumensath & Davies 2010):
        :math:`\mu = \|g_\Gamma\|^2 / \|A g_\Gamma\|^2` on the current support :math:`\Gamma`,
        halved while the support changes and :math:`\mu > 0.99\|\Delta x\|^2/\|A\Delta x\|^2`.
    x0 : array, optional
        Starting point (default 0).
    max_iter : int, default 500
    tol : float, default 1e-6
        Per-problem stop when :math:`\|x_{k+1}-x_k\|/\|x_{k+1}\| \le` ``tol``.
    record_every, check_every, callback, verbose
        See :class:`~sparserec.solvers.result.ConvergenceMonitor`.

    Returns
    -------
    SolverResult
        ``x``; ``extras['support']`` (``(*batch, k_max)``, indices by decreasing magnitude,
        -1 padded); ``history`` has ``rel_change`` and ``residual``.
"""


def iht(A: Any, y: Any, n_nonzero: int | Any = None, *, step: float | None = None,
        normalized: bool = False, x0: Any = None, max_iter: int = 500, tol: float = 1e-6,
        record_every: int = 1, check_every: int = 1,
        callback: Callable[[SolverState], bool | None] | None = None,
        verbose: bool = False) -> SolverResult:
    return _thresholding(A, y, n_nonzero, pursuit=False, step=step, normalized=normalized, x0=x0,
                         max_iter=max_iter, tol=tol, record_every=record_every,
                         check_every=check_every, callback=callback, verbose=verbose, name="iht")


def htp(A: Any, y: Any, n_nonzero: int | Any = None, *, step: float | None = None,
        normalized: bool = False, x0: Any = None, max_iter: int = 100, tol: float = 1e-10,
        record_every: int = 1, check_every: int = 1,
        callback: Callable[[SolverState], bool | None] | None = None,
        verbose: bool = False) -> SolverResult:
    return _thresholding(A, y, n_nonzero, pursuit=True, step=step, normalized=normalized, x0=x0,
                         max_iter=max_iter, tol=tol, record_every=record_every,
                         check_every=check_every, callback=callback, verbose=verbose, name="htp")


iht.__doc__ = r"""Iterative hard thresholding, batched, with per-problem sparsity.
""" + _TH_DOC + r"""
    Notes
    -----
    :math:`x_{k+1} = H_k\bigl(x_k + \mu A^H(y - A x_k)\bigr)`, where :math:`H_k` keeps the
    :math:`k` entries of largest modulus (ties to the smaller index).  Blumensath & Davies
    (2009) show convergence for :math:`\mu \le 1/\|A\|_2^2`.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.solvers.convex.greedy import iht
    >>> rng = np.random.default_rng(1)
    >>> A = rng.standard_normal((60, 100)) / np.sqrt(60)
    >>> x = np.zeros(100); x[[5, 50]] = [1.0, -1.0]
    >>> res = iht(A, A @ x, n_nonzero=2, normalized=True, tol=1e-12, max_iter=2000)
    >>> bool(np.allclose(res.x, x, atol=1e-6))
    True
"""

htp.__doc__ = r"""Hard thresholding pursuit (Foucart 2011), batched, with per-problem sparsity.
""" + _TH_DOC.replace("max_iter : int, default 500", "max_iter : int, default 100").replace(
    "tol : float, default 1e-6", "tol : float, default 1e-10") + r"""
    Notes
    -----
    :math:`S_{k+1} = \mathrm{supp}\,H_k\bigl(x_k + \mu A^H(y - Ax_k)\bigr)` and
    :math:`x_{k+1} = \arg\min_{\mathrm{supp}\,x \subseteq S_{k+1}} \|y - Ax\|_2`, solved for the
    whole batch by batched normal equations on the gathered atoms (padded with the identity
    where a problem has fewer than ``max(k)`` atoms).  HTP stops at a fixed point (support
    unchanged, so :math:`x_{k+1} = x_k`) after finitely many iterations.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.solvers.convex.greedy import htp
    >>> rng = np.random.default_rng(1)
    >>> A = rng.standard_normal((60, 100)) / np.sqrt(60)
    >>> x = np.zeros(100); x[[5, 50]] = [1.0, -1.0]
    >>> res = htp(A, A @ x, n_nonzero=2)
    >>> bool(np.allclose(res.x, x))
    True
"""


# ---------------------------------------------------------------------------------- KOMP
def _mode_mul(xp: Any, X: Any, M: Any, axis: int) -> Any:
    """Mode product: apply ``M`` (``(p, d)`` or batched ``(B, p, d)``) along ``axis`` of ``X``."""
    Xm = xp.moveaxis(X, axis, -1)
    if M.ndim == 2:
        out = Xm @ xp.permute_dims(M, (1, 0))
    else:
        sh = tuple(Xm.shape)
        Xf = xp.reshape(Xm, (sh[0], -1, sh[-1]))
        out = xp.reshape(Xf @ xp.permute_dims(M, (0, 2, 1)), sh[:-1] + (M.shape[1],))
    return xp.moveaxis(out, -1, axis)


def _komp_add(xp: Any, C: Any, masks: list[Any], caps: Sequence[int], active: Any, ns: tuple[int, ...],
              aranges: list[Any]) -> tuple[list[Any], Any]:
    """One KOMP selection step, device-resident (no host synchronisation).

    Parameters
    ----------
    xp : module
        Array namespace.
    C : array ``(B, n_1, ..., n_I)``
        Correlations of the residuals with the mode dictionaries.
    masks : list of bool arrays ``(B, n_i)``
        Current active set of every mode.
    caps : sequence of int
        Capacity (``max_per_mode``) of every mode.
    active : bool array ``(B,)``
        Problems still running.
    ns : tuple of int
        Mode sizes ``n_i``.
    aranges : list of int arrays ``(n_i,)``
        ``arange(n_i)`` on the device of ``C``.

    Returns
    -------
    masks : list of bool arrays ``(B, n_i)``
        Active sets after adding the mode indices of the largest correlation (for the active
        problems whose mode set has room and does not hold the index yet).
    added : bool array ``(B,)``
        Problems for which at least one mode index was added.
    """
    B = C.shape[0]
    flat = xp.argmax(xp.reshape(xp.abs(C), (B, -1)), axis=-1)             # (B,) C-order index
    added = xp.zeros_like(active)
    out = []
    stride = math.prod(ns)
    for i, n in enumerate(ns):
        stride //= n
        ji = (flat // stride) % n                                           # unravel_index, mode i
        hit = aranges[i][None, :] == ji[:, None]                            # (B, n_i) one-hot
        already = xp.any(masks[i] & hit, axis=1)
        room = xp.sum(xp.astype(masks[i], xp.int64), axis=1) < caps[i]
        new = active & room & ~already
        out.append(masks[i] | (hit & new[:, None]))
        added = added | new
    return out, added


def _komp_solve(xp: Any, G: Any, rhs: Any) -> tuple[Any, Any]:
    """Batched ``solve(G, rhs)``; with torch, without the error check that synchronises on CUDA.

    Returns the solution and, for torch, the per-problem LAPACK ``info`` (``None`` for numpy,
    which raises :class:`numpy.linalg.LinAlgError` at once).
    """
    if is_torch(G):
        import torch

        sol, info = torch.linalg.solve_ex(G, rhs, check_errors=False)
        return sol, info
    return xp.linalg.solve(G, rhs), None


def _komp_refit(xp: Any, Y: Any, mats: list[Any], masks: list[Any], eyes: list[Any], dt: Any,
                cplx: bool) -> tuple[Any, Any, Any]:
    r"""Least-squares refit on the Kronecker product of the selected sub-dictionaries.

    Parameters
    ----------
    xp : module
        Array namespace.
    Y : array ``(B, m_1, ..., m_I)``
        Measurements.
    mats : list of arrays ``(m_i, n_i)``
        Mode dictionaries.
    masks : list of bool arrays ``(B, n_i)``
        Active set of every mode.
    eyes : list of arrays ``(1, n_i, n_i)``
        Identity matrices (regularise the unselected coordinates of the masked normal equations).
    dt : dtype
        Working dtype.
    cplx : bool
        Whether ``dt`` is complex.

    Returns
    -------
    X : array ``(B, n_1, ..., n_I)``
        Coefficients, zero outside :math:`S_1 \times \cdots \times S_I`.
    R : array ``(B, m_1, ..., m_I)``
        Residuals ``Y - X x_1 A_1 ... x_I A_I``.
    bad : bool array ``(B,)`` or None
        torch only: problems whose normal equations were singular (checked by the caller after
        the loop).
    """
    Xn = Y
    bad = None
    for i, A in enumerate(mats):
        mk = xp.astype(masks[i], dt)                                         # (B, n_i)
        Bi = A[None, ...] * mk[:, None, :]                                   # (B, m_i, n_i)
        BiH = xp.conj(xp.permute_dims(Bi, (0, 2, 1))) if cplx else xp.permute_dims(Bi, (0, 2, 1))
        G = BiH @ Bi + eyes[i] * xp.astype(~masks[i], dt)[:, None, :]
        P, info = _komp_solve(xp, G, BiH)                                    # (B, n_i, m_i)
        if info is not None:
            bad = (info != 0) if bad is None else (bad | (info != 0))
        Xn = _mode_mul(xp, Xn, P, i + 1)
    An = Xn
    for i, A in enumerate(mats):
        An = _mode_mul(xp, An, A, i + 1)
    return Xn, Y - An, bad


def komp(factors: Any, y: Any, max_per_mode: int | Sequence[int] = 10, tol: float = 1e-2,
         max_iter: int | None = None, *, record_every: int = 1, check_every: int | None = None) -> SolverResult:
    r"""Kronecker (N-way) OMP over a Kronecker dictionary :math:`A_1 \otimes \cdots \otimes A_I`.

    Parameters
    ----------
    factors : sequence of arrays ``(m_i, n_i)`` or :class:`~sparserec.operators.Kronecker`
        The factors (dense; operator factors are densified, they are small).
    y : array of shape ``(*batch, M)`` or ``(*batch, m_1, ..., m_I)``
        Measurements, :math:`M = \prod m_i`, C order (``y = np.kron(A_1, A_2) @ x``).
    max_per_mode : int or sequence of int, default 10
        Maximum size of each mode's active set.
    tol : float, default 1e-2
        Stop a problem when :math:`\|r\|_2/\|y\|_2 <` ``tol`` (the reference setting).
    max_iter : int, optional
        Default ``sum(max_per_mode)`` (each iteration adds at least one index, so a problem
        never runs more iterations than that).
    record_every : int, default 1
        Record the relative residual every ``record_every`` iterations (0: never).
    check_every : int, optional
        How often (in iterations) the host reads back whether any problem is still running, to
        leave the loop early: the only host synchronisation of the loop.  Every per-problem
        quantity (mode active sets, stopping masks, residuals, iteration counts) stays on the
        device, and a stopped problem is frozen there, so the results do not depend on
        ``check_every``; it only bounds the iterations run after every problem has stopped.
        Default: every iteration for numpy input, every 10 iterations for torch tensors.

    Returns
    -------
    SolverResult
        ``x`` of shape ``(*batch, N)`` or ``(*batch, n_1, ..., n_I)`` (as ``y``);
        ``extras['mode_support']``: list of boolean arrays ``(*batch, n_i)``, the active set of
        every mode; ``extras['residual_norm']`` the final relative residual;
        ``history['residual']`` the relative residual per iteration.

    Notes
    -----
    Caiafa & Cichocki (2013).  With residual tensor :math:`R` (initially :math:`Y`), each
    iteration

    1. correlates the residual with every mode dictionary by mode products,
       :math:`C = R \times_1 A_1^H \cdots \times_I A_I^H` (the Kronecker product is never
       formed), and picks :math:`(j_1, \dots, j_I) = \arg\max |C|`;
    2. adds :math:`j_i` to the active set :math:`S_i` of every mode (up to ``max_per_mode``);
       a problem stops when no index is added;
    3. refits by least squares on the Kronecker product of the selected sub-dictionaries,
       which factorises: :math:`X_S = Y \times_1 A_{1,S_1}^+ \cdots \times_I A_{I,S_I}^+`,
       computed per problem with masked normal equations of size :math:`n_i`;
    4. stops when :math:`\|R\|/\|Y\| <` ``tol``.

    The active sets are boolean masks ``(batch, n_i)`` updated on the device (masked argmax,
    no host-side set logic), and stopped problems are masked out rather than removed, so the
    loop synchronises with the host only every ``check_every`` iterations.

    The support is the tensor product :math:`S_1 \times \cdots \times S_I`, so after :math:`t`
    iterations it may hold up to :math:`t^I` atoms.  **Difference with OMP on** ``np.kron``:
    plain OMP adds one Kronecker atom at a time and refits on exactly those atoms; KOMP refits
    on every combination of the selected mode indices.  The two agree for :math:`I = 1`
    (KOMP is then OMP with a relative-residual stop) and whenever both recover the true
    support of a noiseless Kronecker-supported signal, but differ in general.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.solvers.convex.greedy import komp
    >>> rng = np.random.default_rng(2)
    >>> A1, A2 = rng.standard_normal((14, 20)), rng.standard_normal((12, 16))
    >>> x1 = np.zeros(20); x1[[2, 9]] = [1.0, -2.0]
    >>> x2 = np.zeros(16); x2[[4, 11]] = [1.5, 0.5]
    >>> x = np.kron(x1, x2)
    >>> res = komp([A1, A2], np.kron(A1, A2) @ x, tol=1e-8)
    >>> bool(np.allclose(res.x, x))
    True
    """
    from ...operators.structured import Kronecker

    if isinstance(factors, Kronecker):
        factors = list(factors.factors)
    if isinstance(factors, (np.ndarray,)) or not isinstance(factors, (list, tuple)) or len(factors) == 0:
        raise TypeError("komp: factors must be a non-empty sequence of 2-D arrays or a Kronecker operator")
    if not (hasattr(y, "shape") and hasattr(y, "dtype")):
        raise TypeError(f"komp: y must be a numpy array or torch tensor, got {type(y).__name__}")
    xp = namespace(y)
    mats = []
    for f in factors:
        if isinstance(f, LinearOperator):
            f = f.todense(like=y)
        if len(f.shape) != 2:
            raise ValueError(f"komp: every factor must be 2-D, got shape {tuple(f.shape)}")
        mats.append(f)
    namespace(y, *mats)  # same library / device
    for f in mats:
        check_finite(f, "komp factor")
    check_finite(y, "y")
    I = len(mats)
    ms = tuple(int(f.shape[0]) for f in mats)
    ns = tuple(int(f.shape[1]) for f in mats)
    M, N = math.prod(ms), math.prod(ns)
    if y.ndim >= I and tuple(y.shape[y.ndim - I:]) == ms and not (I == 1):
        tensor_in = True
        batch = tuple(int(s) for s in y.shape[: y.ndim - I])
    elif y.ndim >= 1 and int(y.shape[-1]) == M:
        tensor_in = False
        batch = tuple(int(s) for s in y.shape[:-1])
    else:
        raise ValueError(f"komp: y must have shape (*batch, {M}) or (*batch, {', '.join(map(str, ms))}), "
                         f"got {tuple(y.shape)}")
    if isinstance(max_per_mode, (int, np.integer)):
        caps = [int(max_per_mode)] * I
    else:
        caps = [int(c) for c in max_per_mode]
        if len(caps) != I:
            raise ValueError(f"komp: max_per_mode needs {I} entries, got {len(caps)}")
    if any(c < 1 for c in caps):
        raise ValueError(f"komp: max_per_mode must be >= 1, got {max_per_mode!r}")
    caps = [min(c, n) for c, n in zip(caps, ns)]
    tol = check_tol(tol)
    max_iter = check_max_iter(max_iter if max_iter is not None else sum(caps))
    on_torch = is_torch(y)
    if check_every is None:
        check_every = 10 if on_torch else 1
    check_every = check_check_every(check_every, "komp: ")
    dt = result_dtype(y.dtype, *(f.dtype for f in mats))
    cplx = is_complex_dtype(dt)
    kw = _device_kw(y)
    mats = [xp.astype(f, dt) if dtype_name(f.dtype) != dtype_name(dt) else f for f in mats]
    mats_h = [xp.conj(xp.permute_dims(f, (1, 0))) if cplx else xp.permute_dims(f, (1, 0)) for f in mats]
    eyes = [xp.eye(n, dtype=dt, **kw)[None, ...] for n in ns]
    aranges = [xp.arange(n, dtype=xp.int64, **kw) for n in ns]
    B = math.prod(batch)
    Y = xp.reshape(xp.astype(y, dt), (B,) + ms)
    ynorm = xp.astype(xp.sqrt(xp.sum(_abs2(xp, xp.reshape(Y, (B, -1))), axis=-1)), xp.float64)
    ypos = ynorm > 0
    ydiv = xp.where(ypos, ynorm, xp.ones_like(ynorm))
    zero = xp.zeros_like(ynorm)
    # device state: mode active sets, running problems, relative residuals, iteration counts
    masks = [xp.zeros((B, n), dtype=xp.bool, **kw) for n in ns]
    X = xp.zeros((B,) + ns, dtype=dt, **kw)
    R = Y
    active = ypos
    rel = xp.where(ypos, xp.ones_like(ynorm), zero)
    n_iter = xp.zeros((B,), dtype=xp.int64, **kw)
    n_run = xp.zeros((), dtype=xp.int64, **kw)      # iterations in which some problem was running
    singular = None
    rec_it: list[int] = []
    rec_time: list[float] = []
    rec_rel: list[Any] = []
    t0 = time.perf_counter()
    # a running problem adds an index at every iteration, so none runs more than sum(caps)
    for t in range(min(max_iter, sum(caps))):
        C = R
        for i in range(I):
            C = _mode_mul(xp, C, mats_h[i], i + 1)
        masks, added = _komp_add(xp, C, masks, caps, active, ns, aranges)
        active = active & added
        if t % check_every == 0 and not bool(xp.any(active)):
            break
        n_run = n_run + xp.astype(xp.any(active), xp.int64)
        Xn, Rn, bad = _komp_refit(xp, Y, mats, masks, eyes, dt, cplx)
        if bad is not None:
            bad = bad & active
            singular = bad if singular is None else (singular | bad)
        sel = xp.reshape(active, (B,) + (1,) * I)
        X = xp.where(sel, Xn, X)
        R = xp.where(sel, Rn, R)
        n_iter = n_iter + xp.astype(active, xp.int64)
        rn = xp.astype(xp.sqrt(xp.sum(_abs2(xp, xp.reshape(R, (B, -1))), axis=-1)), xp.float64)
        rel = xp.where(ypos, rn / ydiv, zero)
        active = active & ~(rel < tol)
        if record_every and (t + 1) % record_every == 0:
            rec_it.append(t + 1)
            rec_time.append(time.perf_counter() - t0)
            rec_rel.append(rel)
    # read back: the iteration count (history length), the flags, supports and residuals
    if singular is not None and bool(xp.any(singular)):
        import torch

        raise torch.linalg.LinAlgError("komp: singular normal equations in the least-squares refit (a mode "
                                       "active set holds linearly dependent columns)")
    hist: dict[str, np.ndarray] = {}
    n_done = int(n_run) if rec_it else 0
    keep = sum(1 for k in rec_it if k <= n_done)
    if keep:
        hist = {"iteration": np.asarray(rec_it[:keep]), "time": np.asarray(rec_time[:keep]),
                "residual": to_numpy(xp.stack(rec_rel[:keep])).reshape((keep,) + batch)}
    rel_np = to_numpy(rel).astype(np.float64)
    conv = (rel_np < tol) | ~to_numpy(ypos)
    status = np.where(conv, Status.CONVERGED, Status.MAX_ITER).astype(np.int64)
    if not conv.all():
        warnings.warn(f"komp: {int((~conv).sum())} of {B} problem(s) stopped (no index added or "
                      f"max_per_mode/max_iter reached) with relative residual >= tol",
                      RuntimeWarning, stacklevel=2)
    x = xp.reshape(X, batch + (ns if tensor_in else (N,)))
    return SolverResult(
        x=x, status=Status(int(status.max())) if status.size else Status.CONVERGED,
        problem_status=status.reshape(batch), converged=conv.reshape(batch),
        n_iter=to_numpy(n_iter).astype(np.int64).reshape(batch), history=hist,
        params={"max_per_mode": caps, "tol": tol, "max_iter": max_iter},
        extras={"mode_support": [to_numpy(mk).reshape(batch + (n,)) for mk, n in zip(masks, ns)],
                "residual_norm": rel_np.reshape(batch)},
        solver="komp")
