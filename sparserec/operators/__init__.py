"""Linear operators: the :class:`LinearOperator` base, its algebra and concrete operators.

Every operator applies to batches ``(*batch, *in_shape)`` on numpy or torch (CPU/CUDA).  The
public conformance kit :mod:`sparserec.operators.testing` checks adjointness, norms and batching
for the package's operators and for user-defined ones.
"""

from .base import (
    AdjointOperator,
    LinearOperator,
    PowerOperator,
    ProductOperator,
    ReshapedOperator,
    ScaledOperator,
    SumOperator,
    TransposeOperator,
)
from .basic import Diagonal, FunctionOperator, Identity, Matrix, Zero
from .structured import Block, BlockDiag, HStack, Kronecker, VStack

__all__ = [
    "AdjointOperator",
    "Block",
    "BlockDiag",
    "Diagonal",
    "FunctionOperator",
    "HStack",
    "Identity",
    "Kronecker",
    "LinearOperator",
    "Matrix",
    "PowerOperator",
    "ProductOperator",
    "ReshapedOperator",
    "ScaledOperator",
    "SumOperator",
    "TransposeOperator",
    "VStack",
    "Zero",
]
