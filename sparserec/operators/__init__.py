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
from .convolve import FFTConvolve
from .differential import FiniteDifference, Gradient
from .interop import (
    PylopsOperator,
    ScipyOperator,
    aslinearoperator,
    asoperator,
    from_pylops,
    from_scipy,
)
from .sampling import Mask, Restriction
from .structured import Block, BlockDiag, HStack, Kronecker, VStack
from .wavelets import DWT, WAVELETS, Starlet, wavelet_filter

__all__ = [
    "DWT",
    "WAVELETS",
    "AdjointOperator",
    "Block",
    "BlockDiag",
    "Diagonal",
    "FFTConvolve",
    "FiniteDifference",
    "FunctionOperator",
    "Gradient",
    "HStack",
    "Identity",
    "Kronecker",
    "LinearOperator",
    "Mask",
    "Matrix",
    "PowerOperator",
    "ProductOperator",
    "PylopsOperator",
    "ReshapedOperator",
    "Restriction",
    "ScaledOperator",
    "ScipyOperator",
    "Starlet",
    "SumOperator",
    "TransposeOperator",
    "VStack",
    "Zero",
    "aslinearoperator",
    "asoperator",
    "from_pylops",
    "from_scipy",
    "wavelet_filter",
]
