r"""Structured composites: Kronecker products and block operators."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .._backend import namespace, result_dtype
from .base import LinearOperator

__all__ = ["Block", "BlockDiag", "HStack", "Kronecker", "VStack"]


def _same_library(ds: list[Any]) -> list[Any]:
    """Move numpy diagonals of data-free operators (Identity, Zero) next to torch ones."""
    from .._backend import asarray_like, is_torch

    ref = next((d for d in ds if is_torch(d)), None)
    if ref is None:
        return ds
    return [d if is_torch(d) else asarray_like(d, ref, dtype=result_dtype(d.dtype, ref.dtype))
            for d in ds]


def _mode_apply(x: Any, start: int, nd_in: int, fn: Any) -> Any:
    """Apply ``fn`` (acting on trailing axes) to axes ``start:start+nd_in`` of ``x``."""
    xp = namespace(x)
    nd = x.ndim
    axes = list(range(start, start + nd_in))
    rest = [a for a in range(nd) if a not in axes]
    xt = xp.permute_dims(x, tuple(rest + axes)) if axes != list(range(nd - nd_in, nd)) else x
    y = fn(xt)
    nd_out = y.ndim - len(rest)
    if axes == list(range(nd - nd_in, nd)):
        return y
    # move the nd_out trailing axes back to position ``start``
    ny = y.ndim
    lead = list(range(start))
    trail_out = list(range(ny - nd_out, ny))
    mid = list(range(start, ny - nd_out))
    return xp.permute_dims(y, tuple(lead + trail_out + mid))


class Kronecker(LinearOperator):
    r"""Kronecker product :math:`A_1 \otimes A_2 \otimes \cdots \otimes A_K` of operators.

    The product is never formed: it is applied as a sequence of mode products.  The input of
    the Kronecker operator has shape ``(*batch, *A_1.in_shape, ..., *A_K.in_shape)`` and factor
    :math:`A_k` acts on its own block of axes.

    Parameters
    ----------
    factors : sequence of LinearOperator or arrays
        The factors (2-D arrays are wrapped in :class:`~sparserec.operators.Matrix`).
    flat : bool, default False
        If True, expose flat shapes ``(prod n_k,)`` / ``(prod m_k,)`` so that the operator acts
        on ``vec`` of the tensor like the matrix ``np.kron(A_1, ..., A_K)``.

    Notes
    -----
    Index convention (C order, as ``np.kron``): for matrices,

    .. math:: (A_1 \otimes A_2)\,\mathrm{vec}_C(X) = \mathrm{vec}_C(A_1 X A_2^T),

    so the first factor acts on the first (slowest) axis.  ``todense()`` equals
    ``np.kron(A_1.todense(), A_2.todense(), ...)``.  The normal operator is
    :math:`\bigotimes_k A_k^H A_k`, the norm :math:`\prod_k \|A_k\|_2` and the diagonal of a
    square product is :math:`\bigotimes_k \mathrm{diag}(A_k)`.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import Kronecker
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.standard_normal((3, 4)), rng.standard_normal((2, 5))
    >>> K = Kronecker([A, B], flat=True)
    >>> x = rng.standard_normal(20)
    >>> bool(np.allclose(K @ x, np.kron(A, B) @ x))
    True
    """

    _operator_attrs = ("factors",)

    def __init__(self, factors: Sequence[Any], flat: bool = False) -> None:
        from .basic import Matrix

        if len(factors) == 0:
            raise ValueError("Kronecker needs at least one factor")
        ops = tuple(f if isinstance(f, LinearOperator) else Matrix(f) for f in factors)
        self._check_children_compatible(ops)
        self.factors = ops
        self.flat = bool(flat)
        ins = tuple(s for o in ops for s in o.in_shape)
        outs = tuple(s for o in ops for s in o.out_shape)
        if flat:
            ins, outs = (math.prod(ins),), (math.prod(outs),)
        super().__init__(ins, outs, result_dtype(*(o.dtype for o in ops)))
        self.factors = ops
        self.is_orthogonal = all(o.is_orthogonal for o in ops)
        self.is_real_linear_only = any(o.is_real_linear_only for o in ops)

    @property
    def tensor_in_shape(self) -> tuple[int, ...]:
        return tuple(s for o in self.factors for s in o.in_shape)

    @property
    def tensor_out_shape(self) -> tuple[int, ...]:
        return tuple(s for o in self.factors for s in o.out_shape)

    def _run(self, x: Any, mode: str) -> Any:
        xp = namespace(x)
        if mode == "apply":
            src = self.tensor_in_shape
            dst = self.tensor_out_shape
            nin = [len(o.in_shape) for o in self.factors]
            nout = [len(o.out_shape) for o in self.factors]
        else:
            src = self.tensor_out_shape
            dst = self.tensor_in_shape
            nin = [len(o.out_shape) for o in self.factors]
            nout = [len(o.in_shape) for o in self.factors]
        own = self.in_shape if mode == "apply" else self.out_shape
        nb = x.ndim - len(own)
        b = tuple(x.shape[:nb])
        if self.flat:
            x = xp.reshape(x, b + src)
        start = nb
        for o, di, do in zip(self.factors, nin, nout):
            fn = {"apply": o._apply, "adjoint": o._adjoint, "normal": o._normal}[mode]
            x = _mode_apply(x, start, di, fn)
            start += do
        if self.flat:
            x = xp.reshape(x, b + (math.prod(dst),))
        return x

    def _apply(self, x: Any) -> Any:
        return self._run(x, "apply")

    def _adjoint(self, y: Any) -> Any:
        return self._run(y, "adjoint")

    def _normal(self, x: Any) -> Any:
        # mode-wise A_k^H A_k (each factor's normal maps its in_shape to itself)
        xp = namespace(x)
        nb = x.ndim - len(self.in_shape)
        b = tuple(x.shape[:nb])
        if self.flat:
            x = xp.reshape(x, b + self.tensor_in_shape)
        start = nb
        for o in self.factors:
            d = len(o.in_shape)
            x = _mode_apply(x, start, d, o._normal)
            start += d
        if self.flat:
            x = xp.reshape(x, b + self.in_shape)
        return x

    def opnorm_bound(self) -> float | None:
        bs = [o.opnorm_bound() for o in self.factors]
        if any(b is None for b in bs):
            return None
        return float(math.prod(bs))

    def opnorm_estimate(self, **kwargs: Any) -> float:
        if self._opnorm_cache is None:
            self._opnorm_cache = float(math.prod(o.opnorm_estimate(**kwargs) for o in self.factors))
        return self._opnorm_cache

    def _diag(self) -> Any:
        if not all(o.is_square for o in self.factors):
            return super()._diag()
        ds = _same_library([o._diag() for o in self.factors])
        xp = namespace(*ds)
        out = ds[0]
        for d in ds[1:]:
            out = xp.reshape(out, tuple(out.shape) + (1,) * d.ndim) * d
        return xp.reshape(out, self.in_shape)


class Block(LinearOperator):
    r"""Block operator :math:`\begin{bmatrix} A_{11} & \cdots \\ \vdots & \ddots \end{bmatrix}`.

    Parameters
    ----------
    blocks : list of lists of LinearOperator or None
        Row-major grid of blocks; ``None`` is a zero block.  Every column needs at least one
        operator (to know its width) and so does every row.  Blocks act on flattened inputs:
        the block operator has in_shape ``(sum_j n_j,)`` and out_shape ``(sum_i m_i,)``.

    Notes
    -----
    The adjoint is the conjugate-transposed grid :math:`[A_{ji}^H]`.  The bound on the norm is
    :math:`\big(\sum_{ij} \|A_{ij}\|_2^2\big)^{1/2}`.
    """

    _operator_attrs = ("blocks",)

    def __init__(self, blocks: Sequence[Sequence[LinearOperator | None]]) -> None:
        grid = [list(r) for r in blocks]
        if not grid or not grid[0]:
            raise ValueError("Block needs a non-empty grid of operators")
        ncol = len(grid[0])
        if any(len(r) != ncol for r in grid):
            raise ValueError("every row of a Block grid must have the same number of entries")
        widths: list[int | None] = [None] * ncol
        heights: list[int | None] = [None] * len(grid)
        for i, r in enumerate(grid):
            for j, op in enumerate(r):
                if op is None:
                    continue
                if not isinstance(op, LinearOperator):
                    raise TypeError(f"Block entry ({i}, {j}) must be a LinearOperator or None")
                n, m = op.shape[1], op.shape[0]
                if widths[j] not in (None, n):
                    raise ValueError(f"Block column {j}: inconsistent widths {widths[j]} and {n}")
                if heights[i] not in (None, m):
                    raise ValueError(f"Block row {i}: inconsistent heights {heights[i]} and {m}")
                widths[j], heights[i] = n, m
        if any(w is None for w in widths) or any(h is None for h in heights):
            raise ValueError("every row and column of a Block grid needs at least one operator")
        ops = [o for r in grid for o in r if o is not None]
        self._check_children_compatible(ops)
        super().__init__((sum(widths),), (sum(heights),), result_dtype(*(o.dtype for o in ops)))
        self.blocks = tuple(tuple(r) for r in grid)
        self._widths = tuple(int(w) for w in widths)  # type: ignore[arg-type]
        self._heights = tuple(int(h) for h in heights)  # type: ignore[arg-type]
        self.is_real_linear_only = any(o.is_real_linear_only for o in ops)

    @staticmethod
    def _split(x: Any, sizes: Sequence[int]) -> list[Any]:
        out, s = [], 0
        for n in sizes:
            out.append(x[..., s:s + n])
            s += n
        return out

    def _grid_apply(self, x: Any, adjoint: bool) -> Any:
        xp = namespace(x)
        b = tuple(x.shape[:-1])
        nrow, ncol = len(self.blocks), len(self.blocks[0])
        if not adjoint:
            parts = self._split(x, self._widths)
            outs = []
            for i in range(nrow):
                acc = None
                for j in range(ncol):
                    op = self.blocks[i][j]
                    if op is None:
                        continue
                    v = op._apply(xp.reshape(parts[j], b + op.in_shape))
                    v = xp.reshape(v, b + (self._heights[i],))
                    acc = v if acc is None else acc + v
                outs.append(acc)
        else:
            parts = self._split(x, self._heights)
            outs = []
            for j in range(ncol):
                acc = None
                for i in range(nrow):
                    op = self.blocks[i][j]
                    if op is None:
                        continue
                    v = op._adjoint(xp.reshape(parts[i], b + op.out_shape))
                    v = xp.reshape(v, b + (self._widths[j],))
                    acc = v if acc is None else acc + v
                outs.append(acc)
        dt = result_dtype(*(o.dtype for o in outs))
        outs = [o if o.dtype == dt else xp.astype(o, dt) for o in outs]
        return xp.concat(outs, axis=-1)

    def _apply(self, x: Any) -> Any:
        return self._grid_apply(x, adjoint=False)

    def _adjoint(self, y: Any) -> Any:
        return self._grid_apply(y, adjoint=True)

    def opnorm_bound(self) -> float | None:
        bs = [o.opnorm_bound() for r in self.blocks for o in r if o is not None]
        if any(b is None for b in bs):
            return None
        return float(math.sqrt(sum(b * b for b in bs)))


class HStack(Block):
    r"""Horizontal stack :math:`[A_1, A_2, \dots]`: ``x`` is split, results are summed."""

    def __init__(self, ops: Sequence[LinearOperator]) -> None:
        super().__init__([list(ops)])


class VStack(Block):
    r"""Vertical stack :math:`[A_1; A_2; \dots]`: one input, outputs concatenated."""

    def __init__(self, ops: Sequence[LinearOperator]) -> None:
        super().__init__([[o] for o in ops])


class BlockDiag(Block):
    r"""Block-diagonal operator :math:`\mathrm{diag}(A_1, A_2, \dots)`.

    Notes
    -----
    :math:`\|\mathrm{diag}(A_k)\|_2 = \max_k \|A_k\|_2`; the normal operator is block-diagonal.
    """

    def __init__(self, ops: Sequence[LinearOperator]) -> None:
        ops = list(ops)
        grid = [[op if i == j else None for j in range(len(ops))] for i, op in enumerate(ops)]
        super().__init__(grid)
        self.is_orthogonal = all(o.is_orthogonal for o in ops)

    def opnorm_bound(self) -> float | None:
        bs = [self.blocks[i][i].opnorm_bound() for i in range(len(self.blocks))]  # type: ignore[union-attr]
        if any(b is None for b in bs):
            return None
        return float(max(bs))

    def _diag(self) -> Any:
        if not all(self.blocks[i][i].shape[0] == self.blocks[i][i].shape[1]  # type: ignore[union-attr]
                   for i in range(len(self.blocks))):
            return super()._diag()
        ds = _same_library([self.blocks[i][i]._diag()  # type: ignore[union-attr]
                            for i in range(len(self.blocks))])
        xp = namespace(*ds)
        return xp.concat([xp.reshape(d, (-1,)) for d in ds], axis=0)
