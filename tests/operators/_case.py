"""The case format of the operator conformance registry.

Each ``tests/operators/cases_*.py`` module defines ``CASES: list[Case]``; ``registry.py``
collects them and the conformance test runs ``check_operator`` over every case x backend x dtype
x batch shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ALL_DTYPES = ("float32", "float64", "complex64", "complex128")


@dataclass
class Case:
    """One operator configuration for the conformance suite.

    ``factory(backend, dtype)`` builds the operator: ``backend`` is ``"numpy"``, ``"torch-cpu"``
    or ``"torch-cuda"``; ``dtype`` a name from ``dtypes``.  Operators without coefficients may
    ignore both (the test then feeds inputs of that backend/dtype).
    """

    name: str
    factory: Callable[[str, str], Any]
    dtypes: tuple[str, ...] = ALL_DTYPES
    backends: tuple[str, ...] = ("numpy", "torch")
    skip_checks: tuple[str, ...] = field(default_factory=tuple)
