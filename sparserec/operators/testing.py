r"""Conformance kit for linear operators: :func:`dottest` and :func:`check_operator`.

Every operator in sparserec passes these checks on every backend and dtype it supports, and
users check their own operators (for instance a
:class:`~sparserec.operators.FunctionOperator`) the same way before handing them to a solver.

The checks draw their random inputs from :func:`sparserec._backend.default_rng` with a fixed
seed, so a failure is reproducible, and compare with dtype-aware tolerances
(:func:`sparserec._backend.default_tol`: ``1e-4`` in single and ``1e-10`` in double precision).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .._backend import (
    backend_name,
    default_rng,
    default_tol,
    device_of,
    devices_equal,
    dtype_name,
    is_array,
    is_complex_dtype,
    is_torch,
    resolve_dtype,
    result_dtype,
    to_backend,
    to_numpy,
)
from .base import LinearOperator

__all__ = ["CHECKS", "DENSE_MAX_ENTRIES", "check_operator", "dottest"]

#: Names of the checks run by :func:`check_operator`, in the order they run.
CHECKS: tuple[str, ...] = (
    "adjoint", "involution", "normal", "opnorm", "batch", "dtype", "dense", "diag",
    "orthogonal", "backend",
)

#: ``todense()`` and ``diag()`` are compared only for operators whose matrix has at most this
#: many entries (a 128 x 128 matrix): the dense matrix costs ``prod(in_shape)`` applies.
DENSE_MAX_ENTRIES: int = 128 * 128


# ---------------------------------------------------------------------- helpers
def _working_dtype(op: LinearOperator, like: Any) -> str:
    """dtype name of the random test inputs: promotion of the operator's and ``like``'s."""
    dt = result_dtype(op.dtype, like.dtype if like is not None else None)
    return "float64" if dt is None else dtype_name(dt)


def _reference(op: LinearOperator, like: Any) -> Any:
    """An empty array giving the library/device the test inputs are drawn on."""
    if like is not None:
        if not is_array(like):
            raise TypeError(f"like must be a numpy array or torch tensor, got {type(like).__name__}")
        return like
    if op.backend == "torch":
        import torch

        dt = resolve_dtype(op.dtype, "torch") if op.dtype is not None else None
        return torch.empty(0, device=op.device, dtype=dt)
    return None


def _draw(shape: tuple[int, ...], dtype: str, ref: Any, rng: Any) -> Any:
    x = rng.normal(tuple(shape), dtype=dtype, like=ref)
    if is_torch(x) and ref is not None and is_torch(ref):
        x = x.to(ref.device)
    return x


def _host(a: Any) -> np.ndarray:
    """Host copy promoted to complex128 / float64 (inner products are summed in double)."""
    a = to_numpy(a)
    return a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)


def _inner(a: Any, b: Any, real: bool) -> complex:
    """Hermitian inner product <a, b> = sum conj(a) b, or its real part for R-linear operators."""
    val = complex(np.vdot(_host(a).ravel(), _host(b).ravel()))
    return complex(val.real, 0.0) if real else val


def _norm(a: Any) -> float:
    return float(np.linalg.norm(_host(a).ravel()))


def _rel_err(a: Any, b: Any) -> float:
    """||a - b|| / max(||a||, ||b||) computed on the host in double precision (0 for 0 vs 0)."""
    ha, hb = _host(a), _host(b)
    if ha.shape != hb.shape:
        raise AssertionError(f"shapes differ: {ha.shape} vs {hb.shape}")
    scale = max(float(np.linalg.norm(ha.ravel())), float(np.linalg.norm(hb.ravel())))
    diff = float(np.linalg.norm((ha - hb).ravel()))
    return diff / scale if scale > 0 else diff


def _require(ok: bool, msg: str) -> None:
    if not ok:
        raise AssertionError(msg)


# ---------------------------------------------------------------------- dottest
def dottest(op: LinearOperator, like: Any = None, rtol: float | None = None, seed: int = 0,
            raise_error: bool = True) -> float:
    r"""Adjoint (dot-product) test :math:`\langle A u, v\rangle = \langle u, A^H v\rangle`.

    Draws random ``u`` of shape ``op.in_shape`` and ``v`` of shape ``op.out_shape`` and compares
    both sides of the identity.

    Parameters
    ----------
    op : LinearOperator
        The operator under test.
    like : array, optional
        Array whose library (numpy or torch), device and dtype the random vectors follow.  The
        vectors are drawn in ``result_dtype(op.dtype, like.dtype)``.  By default they follow the
        operator's own backend/device/dtype (numpy ``float64`` for operators without
        coefficients).
    rtol : float, optional
        Tolerance on the scaled error; default ``default_tol(dtype)`` of the vectors' dtype
        (``1e-4`` for float32/complex64, ``1e-10`` for float64/complex128).
    seed : int, default 0
        Seed of :func:`sparserec._backend.default_rng`; the test is deterministic.
    raise_error : bool, default True
        Raise :class:`AssertionError` when the error exceeds ``rtol``.

    Returns
    -------
    float
        The scaled error
        :math:`|\langle Au, v\rangle - \langle u, A^H v\rangle| / (\|Au\|\,\|v\|)`.

    Raises
    ------
    AssertionError
        If ``raise_error`` and the error exceeds ``rtol``.

    Notes
    -----
    The inner product is Hermitian, :math:`\langle a, b\rangle = \sum_i \bar a_i b_i`; for
    operators flagged ``is_real_linear_only`` (only :math:`\mathbb{R}`-linear, e.g. involving a
    complex conjugate) the adjoint is defined for the real inner product
    :math:`\mathrm{Re}\langle a, b\rangle` and that is what is compared.  Both inner products are
    summed on the host in double precision, so the only rounding left is the operator's own.

    **Why this scaling.** The textbook relative error :math:`|a - b| / |a|` is ill-conditioned:
    for random vectors :math:`\langle Au, v\rangle` is a sum of terms of both signs whose value
    is about :math:`\|Au\|\|v\|/\sqrt{m}` and occasionally close to zero, which makes single
    precision tests flaky.  The rounding errors of computing :math:`Au` (and :math:`A^H v`)
    are proportional to the sizes of the vectors, not to the value of the inner product, and
    by Cauchy--Schwarz :math:`|\langle Au, v\rangle| \le \|Au\|\,\|v\|`.  Dividing by
    :math:`\|Au\|\,\|v\|` thus measures the mismatch on the scale at which it arises, so one
    tolerance of the order of machine epsilon works for every size.  When :math:`Au = 0` the
    denominator :math:`\|u\|\,\|A^H v\|` is used, and when both vanish the absolute error is
    returned.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import Matrix
    >>> from sparserec.operators.testing import dottest
    >>> A = Matrix(np.arange(12.0).reshape(3, 4) + 1j)
    >>> dottest(A) < 1e-12
    True
    """
    if not isinstance(op, LinearOperator):
        raise TypeError(f"dottest expects a sparserec LinearOperator, got {type(op).__name__}")
    ref = _reference(op, like)
    dt = _working_dtype(op, like)
    tol = default_tol(dt) if rtol is None else float(rtol)
    rng = default_rng(seed)
    u = _draw(op.in_shape, dt, ref, rng)
    v = _draw(op.out_shape, dt, ref, rng)
    Au = op.apply(u)
    AHv = op.adjoint(v)
    real = bool(op.is_real_linear_only)
    lhs = _inner(Au, v, real)
    rhs = _inner(u, AHv, real)
    scale = _norm(Au) * _norm(v)
    if scale == 0:
        scale = _norm(u) * _norm(AHv)
    diff = abs(lhs - rhs)
    err = diff / scale if scale > 0 else diff
    if raise_error and not err <= tol:  # also catches NaN
        kind = "Re<.,.>" if real else "<.,.>"
        raise AssertionError(
            f"dottest failed for {op!r} in {dt}: {kind}(Au, v) = {lhs:.6g} but "
            f"{kind}(u, A^H v) = {rhs:.6g}; scaled error {err:.3g} > rtol {tol:.3g}. "
            "The adjoint does not match the forward operator (check conjugation, scaling and "
            "index order of _adjoint)"
        )
    return float(err)


# ---------------------------------------------------------------------- check_operator
def _check_adjoint(op, ctx):
    return dottest(op, like=ctx["like_dense"], rtol=ctx["rtol"], seed=ctx["seed"])


def _check_involution(op, ctx):
    H = op.H
    _require(H.H is op, f"op.H.H is not op (got {H.H!r})")
    _require(H.in_shape == op.out_shape and H.out_shape == op.in_shape,
             f"op.H has in/out shapes {H.in_shape}/{H.out_shape}, expected "
             f"{op.out_shape}/{op.in_shape}")
    _require(H.shape == (op.shape[1], op.shape[0]), f"op.H.shape is {H.shape}, expected "
             f"{(op.shape[1], op.shape[0])}")
    x, y = ctx["x"], ctx["y"]
    e1 = _rel_err(H.apply(y), op.adjoint(y))
    e2 = _rel_err(H.adjoint(x), op.apply(x))
    err = max(e1, e2)
    _require(err <= ctx["rtol"], f"op.H.apply != op.adjoint or op.H.adjoint != op.apply "
             f"(relative error {err:.3g})")
    return err


def _check_normal(op, ctx):
    x = ctx["x"]
    n = op.normal(x)
    _require(tuple(n.shape) == tuple(x.shape),
             f"normal(x) has shape {tuple(n.shape)}, expected {tuple(x.shape)}")
    err = _rel_err(n, op.adjoint(op.apply(x)))
    _require(err <= ctx["rtol"], f"normal(x) differs from adjoint(apply(x)) by {err:.3g} (relative)")
    return err


def _power_estimate(op, ctx, n_iter: int = 60) -> float:
    """Power iteration on A^H A from a fixed random start (does not touch op's cache)."""
    rng = default_rng(ctx["seed"] + 7)
    x = _host(_draw(op.in_shape, ctx["dtype"], ctx["ref"], rng))
    est = 0.0
    for _ in range(n_iter):
        nrm = np.linalg.norm(x.ravel())
        if nrm == 0:
            return 0.0
        x = x / nrm
        xd = to_backend(x, ctx["backend"], ctx["device"], ctx["dtype"])
        z = _host(op.normal(xd))
        new = float(np.real(np.vdot(x.ravel(), z.ravel())))
        x = z
        if est > 0 and abs(new - est) <= 1e-6 * new:
            est = new
            break
        est = new
    return math.sqrt(max(est, 0.0))


def _check_opnorm(op, ctx):
    bound = op.opnorm_bound()
    est = _power_estimate(op, ctx)
    _require(math.isfinite(est), f"power-iteration estimate of ||A||_2 is not finite ({est})")
    if bound is None:
        return 0.0
    bound = float(bound)
    _require(math.isfinite(bound) and bound >= 0, f"opnorm_bound() = {bound} is not a finite "
             "non-negative number")
    slack = max(ctx["rtol"], 10 * float(np.finfo(np.float32).eps)) if ctx["single"] else ctx["rtol"]
    _require(est <= bound * (1 + slack) + 1e-30,
             f"opnorm_bound() = {bound:.8g} is below the power-iteration estimate {est:.8g} of "
             "||A||_2; the bound is wrong")
    return max(0.0, est / bound - 1.0) if bound > 0 else 0.0


def _iter_index(batch: tuple[int, ...]):
    return np.ndindex(*batch) if batch else [()]


def _check_batch(op, ctx):
    worst = 0.0
    for bshape in ctx["batch_shapes"]:
        x = ctx["xs"][bshape]
        y = ctx["ys"][bshape]
        Ax = op.apply(x)
        AHy = op.adjoint(y)
        _require(tuple(Ax.shape) == bshape + op.out_shape,
                 f"apply on a batch {bshape} returned shape {tuple(Ax.shape)}, expected "
                 f"{bshape + op.out_shape}")
        _require(tuple(AHy.shape) == bshape + op.in_shape,
                 f"adjoint on a batch {bshape} returned shape {tuple(AHy.shape)}, expected "
                 f"{bshape + op.in_shape}")
        for idx in _iter_index(bshape):
            if not idx:
                continue
            e1 = _rel_err(Ax[idx], op.apply(x[idx]))
            e2 = _rel_err(AHy[idx], op.adjoint(y[idx]))
            worst = max(worst, e1, e2)
            _require(worst <= ctx["rtol"], f"batch {bshape}, problem {idx}: batched result differs "
                     f"from the single-problem result by {worst:.3g} (relative); the operator "
                     "mixes batch entries")
    return worst


def _check_dtype(op, ctx):
    for bshape in ctx["batch_shapes"]:
        for what, data in (("apply", ctx["xs"][bshape]), ("adjoint", ctx["ys"][bshape])):
            out = getattr(op, what)(data)
            _require(is_array(out), f"{what} returned {type(out).__name__}, not an array")
            _require(backend_name(out) == backend_name(data),
                     f"{what} returned a {backend_name(out)} array for {backend_name(data)} input")
            _require(devices_equal(device_of(out), device_of(data)),
                     f"{what} moved the data from {device_of(data)} to {device_of(out)}")
            expect = dtype_name(result_dtype(op.dtype, data.dtype))
            _require(dtype_name(out.dtype) == expect,
                     f"{what} returned dtype {dtype_name(out.dtype)} for {dtype_name(data.dtype)} "
                     f"input, expected result_dtype(op.dtype, x.dtype) = {expect}")
    return 0.0


def _dense(op, ctx):
    if "dense_cache" not in ctx:
        if op.shape[0] * op.shape[1] > ctx["dense_max"]:
            ctx["dense_cache"] = None
        else:
            ctx["dense_cache"] = op.todense(like=ctx["like_dense"])
    return ctx["dense_cache"]


def _check_dense(op, ctx):
    D = _dense(op, ctx)
    if D is None:
        return f"skipped: {op.shape[0]} x {op.shape[1]} matrix above {ctx['dense_max']} entries"
    _require(tuple(D.shape) == tuple(op.shape), f"todense() has shape {tuple(D.shape)}, "
             f"expected {op.shape}")
    if op.backend is not None:
        _require(backend_name(D) == op.backend, f"todense() returned a {backend_name(D)} array "
                 f"for a {op.backend} operator")
    Dh = _host(D)
    x, y = ctx["x"], ctx["y"]
    b = tuple(x.shape[: x.ndim - len(op.in_shape)])
    xf = _host(x).reshape(b + (op.shape[1],))
    yf = _host(y).reshape(b + (op.shape[0],))
    e1 = _rel_err(_host(op.apply(x)).reshape(b + (op.shape[0],)), xf @ Dh.T)
    e2 = _rel_err(_host(op.adjoint(y)).reshape(b + (op.shape[1],)), yf @ Dh.conj())
    err = max(e1, e2)
    _require(err <= ctx["rtol"], f"todense() is inconsistent with apply/adjoint (relative error "
             f"{err:.3g})")
    return err


def _check_diag(op, ctx):
    if not op.is_square:
        return "skipped: operator is not square"
    try:
        d = op.diag()
    except NotImplementedError:
        return "skipped: diag() not implemented"
    _require(tuple(d.shape) == op.in_shape, f"diag() has shape {tuple(d.shape)}, expected "
             f"in_shape {op.in_shape}")
    if op.backend is not None:
        _require(backend_name(d) == op.backend,
                 f"diag() returned a {backend_name(d)} array for a {op.backend} operator")
    D = _dense(op, ctx)
    if D is None:
        return "skipped: operator too large for a dense comparison"
    err = _rel_err(_host(d).ravel(), np.diagonal(_host(D)))
    _require(err <= ctx["rtol"], f"diag() differs from the diagonal of todense() by {err:.3g}")
    return err


def _check_orthogonal(op, ctx):
    if not (op.is_orthogonal or op.is_tight_frame):
        return "skipped: not flagged is_orthogonal / is_tight_frame"
    x, y = ctx["x"], ctx["y"]
    err = 0.0
    if op.is_orthogonal:
        err = max(_rel_err(op.normal(x), x), _rel_err(op.apply(op.adjoint(y)), y))
        _require(err <= ctx["rtol"], f"is_orthogonal is set but A^H A x != x or A A^H y != y "
                 f"(relative error {err:.3g})")
    if op.is_tight_frame:
        c = op.frame_constant
        _require(c is not None, "is_tight_frame is set but frame_constant is None")
        e = _rel_err(op.normal(x), float(c) * _host(x))
        err = max(err, e)
        _require(e <= ctx["rtol"], f"is_tight_frame is set but A^H A x != {c} x (relative error "
                 f"{e:.3g})")
    return err


def _targets(op, ctx):
    """(label, backend, device) of the conversions to check."""
    out = []
    torch = sys.modules.get("torch")
    if torch is None:
        try:
            import torch  # noqa: F401
        except ImportError:
            return out
        torch = sys.modules["torch"]
    here = ctx["backend"]
    if here == "numpy":
        out.append(("torch-cpu", "torch", "cpu"))
    else:
        out.append(("numpy", "numpy", "cpu"))
    if torch.cuda.is_available() and not (here == "torch" and str(ctx["device"]).startswith("cuda")):
        out.append(("torch-cuda", "torch", "cuda"))
    return out


def _check_backend(op, ctx):
    x, y = ctx["x"], ctx["y"]
    Ax, AHy = _host(op.apply(x)), _host(op.adjoint(y))
    worst = 0.0
    targets = _targets(op, ctx)
    if not targets:
        return "skipped: torch is not installed"
    for label, back, dev in targets:
        new = op.to(backend=back, device=dev)
        _require(new is not op, f"op.to(backend={back!r}) returned the operator itself")
        if new.backend is not None:
            _require(new.backend == back, f"op.to(backend={back!r}) gave backend {new.backend!r}")
        xt = to_backend(x, back, dev)
        yt = to_backend(y, back, dev)
        e = max(_rel_err(new.apply(xt), Ax), _rel_err(new.adjoint(yt), AHy))
        _require(e <= ctx["rtol"], f"op.to(backend={back!r}, device={dev!r}) gives results "
                 f"differing by {e:.3g} (relative) from the original")
        back_op = new.to(backend=ctx["backend"], device=ctx["device"])
        e2 = _rel_err(back_op.apply(x), Ax)
        _require(e2 <= ctx["rtol"], f"round trip to {label} and back changes the results by {e2:.3g}")
        worst = max(worst, e, e2)
    return worst


_CHECK_FUNCS = {
    "adjoint": _check_adjoint,
    "involution": _check_involution,
    "normal": _check_normal,
    "opnorm": _check_opnorm,
    "batch": _check_batch,
    "dtype": _check_dtype,
    "dense": _check_dense,
    "diag": _check_diag,
    "orthogonal": _check_orthogonal,
    "backend": _check_backend,
}


def check_operator(op: LinearOperator, *, like: Any = None,
                   batch_shapes: Sequence[tuple[int, ...]] = ((), (3,), (2, 3)),
                   rtol: float | None = None, seed: int = 0, checks: Iterable[str] | None = None,
                   skip: Iterable[str] = ()) -> dict[str, float | str]:
    r"""Run the operator conformance checks and report the worst error of each.

    Parameters
    ----------
    op : LinearOperator
        The operator under test.
    like : array, optional
        Array giving the library, device and dtype of the test data (as in :func:`dottest`).
        Needed for operators without coefficients to test them on torch or in single precision.
    batch_shapes : sequence of tuple of int, default ``((), (3,), (2, 3))``
        Batch shapes of the test inputs.  The checks that compare arrays use the last one.
    rtol : float, optional
        Tolerance of every check; default ``default_tol`` of the working dtype.
    seed : int, default 0
        Seed of the random inputs.
    checks : iterable of str, optional
        Run only these checks (names from :data:`CHECKS`); default all.
    skip : iterable of str, default ()
        Checks not to run (for instance ``("backend",)`` for a numpy-only user operator).

    Returns
    -------
    dict
        Check name -> worst relative error measured (a float), or ``"skipped: <reason>"`` for
        checks that do not apply (e.g. ``diag`` on an operator without a cheap diagonal).

    Raises
    ------
    AssertionError
        If any check fails.  The message names every failed check (``check_operator[name]``)
        with what was expected; an exception raised inside a check counts as a failure.
    ValueError
        Unknown check names.

    Notes
    -----
    The checks, with :math:`x` of shape ``(*batch, *in_shape)`` and :math:`y` of shape
    ``(*batch, *out_shape)``:

    ``adjoint``
        :func:`dottest`.
    ``involution``
        ``op.H.H is op``; ``op.H`` has swapped shapes and applies ``op.adjoint`` (and back).
    ``normal``
        ``op.normal(x)`` equals ``op.adjoint(op.apply(x))``.
    ``opnorm``
        ``opnorm_bound()``, when not ``None``, is finite and at least the power-iteration
        estimate of :math:`\|A\|_2` (a lower bound by construction: a Rayleigh quotient).
    ``batch``
        outputs have shape ``(*batch, *out_shape)`` / ``(*batch, *in_shape)`` and every slice
        equals the operator applied to that slice alone.
    ``dtype``
        outputs are arrays of the input's library and device, with dtype
        ``result_dtype(op.dtype, x.dtype)``.
    ``dense``
        ``todense()`` (shape ``op.shape``) reproduces apply and adjoint; only when the matrix has
        at most :data:`DENSE_MAX_ENTRIES` entries.
    ``diag``
        ``diag()``, where implemented, equals the diagonal of ``todense()``.
    ``orthogonal``
        ``is_orthogonal`` implies :math:`A^H A = A A^H = I` and ``is_tight_frame`` implies
        :math:`A^H A = c I` numerically.
    ``backend``
        ``op.to(backend="torch")`` (or ``"numpy"`` for a torch operator), and
        ``op.to(device="cuda")`` when CUDA is available, give the same results, and so does the
        round trip back.

    Examples
    --------
    A user-defined operator (cumulative sum and its adjoint, the reversed cumulative sum):

    >>> import numpy as np
    >>> from sparserec.operators import FunctionOperator
    >>> from sparserec.operators.testing import check_operator
    >>> def csum(x):
    ...     return np.cumsum(x, axis=-1)
    >>> def csum_adj(y):
    ...     return np.flip(np.cumsum(np.flip(y, -1), axis=-1), -1)
    >>> op = FunctionOperator(csum, csum_adj, 5, 5, dtype=np.float64)
    >>> report = check_operator(op, skip=("backend",))
    >>> report["adjoint"] < 1e-12
    True
    >>> report["diag"]
    'skipped: diag() not implemented'
    """
    if not isinstance(op, LinearOperator):
        raise TypeError(f"check_operator expects a sparserec LinearOperator, got {type(op).__name__}")
    names = CHECKS if checks is None else tuple(checks)
    skip = tuple(skip)
    unknown = [n for n in list(names) + list(skip) if n not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check name(s) {unknown}; choose from {CHECKS}")
    bshapes = tuple(tuple(int(s) for s in b) for b in batch_shapes)
    if not bshapes:
        raise ValueError("batch_shapes must hold at least one batch shape, e.g. ((),)")
    ref = _reference(op, like)
    dt = _working_dtype(op, like)
    tol = default_tol(dt) if rtol is None else float(rtol)
    backend = backend_name(ref) if ref is not None else (op.backend or "numpy")
    device = device_of(ref) if ref is not None else "cpu"
    rng = default_rng(seed + 1)
    xs = {b: _draw(b + op.in_shape, dt, ref, rng) for b in bshapes}
    ys = {b: _draw(b + op.out_shape, dt, ref, rng) for b in bshapes}
    like_dense = to_backend(np.zeros(0, dtype=dt), backend, device)
    ctx: dict[str, Any] = {
        "ref": ref, "dtype": dt, "rtol": tol, "seed": seed, "backend": backend, "device": device,
        "batch_shapes": bshapes, "xs": xs, "ys": ys, "x": xs[bshapes[-1]], "y": ys[bshapes[-1]],
        "single": dtype_name(dt) in ("float32", "complex64"), "dense_max": DENSE_MAX_ENTRIES,
        "like_dense": like_dense, "complex": is_complex_dtype(dt),
    }
    report: dict[str, float | str] = {}
    failures: list[str] = []
    first_exc: BaseException | None = None
    for name in CHECKS:
        if name not in names:
            continue
        if name in skip:
            report[name] = "skipped: requested"
            continue
        try:
            report[name] = _CHECK_FUNCS[name](op, ctx)
        except AssertionError as e:
            failures.append(f"check_operator[{name}]: {e}")
            first_exc = first_exc or e
        except Exception as e:  # an exception inside a check is a failure of that check
            failures.append(f"check_operator[{name}]: raised {type(e).__name__}: {e}")
            first_exc = first_exc or e
    if failures:
        where = f"{backend}/{device}, {dt}, batch shapes {list(bshapes)}"
        raise AssertionError(
            f"{op!r} failed {len(failures)} check(s) ({where}):\n  " + "\n  ".join(failures)
        ) from first_exc
    return report
