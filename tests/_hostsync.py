"""Count torch device -> host synchronisations in tests (issue 13).

Every ``torch.Tensor`` method that moves a value from a tensor to the host (``item``, ``tolist``,
``cpu``, ``numpy``, ``__bool__``, ``__float__``, ``__int__``, ``__index__``) is wrapped so that
each call bumps a counter; on a CUDA tensor each such call is a device synchronisation.

``tests/`` is on ``sys.path`` for every test module (pytest's default ``prepend`` import mode),
so test modules import this with ``from _hostsync import count_host_syncs, count_syncs``.
``torch`` is imported only when counting starts, so importing this module never needs torch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

SYNC_METHODS = ("item", "__bool__", "__float__", "__int__", "__index__", "tolist", "cpu", "numpy")


class SyncCounter:
    """The number of host synchronisations counted so far, in ``n``."""

    def __init__(self) -> None:
        self.n = 0

    def __repr__(self) -> str:
        return f"SyncCounter(n={self.n})"


@contextlib.contextmanager
def count_host_syncs() -> Iterator[SyncCounter]:
    """Count calls that move tensor data to the host (each one is a device synchronisation).

    Patches the :data:`SYNC_METHODS` of ``torch.Tensor`` for the duration of the ``with`` block
    and restores the originals on exit (also on error); yields a :class:`SyncCounter` whose ``n``
    is the number of such calls made inside the block.
    """
    import torch

    counter = SyncCounter()
    orig = {name: getattr(torch.Tensor, name) for name in SYNC_METHODS}

    def wrap(f):
        def g(self, *a, **k):
            counter.n += 1
            return f(self, *a, **k)
        return g

    try:
        for name, f in orig.items():
            setattr(torch.Tensor, name, wrap(f))
        yield counter
    finally:
        for name, f in orig.items():
            setattr(torch.Tensor, name, f)


def count_syncs(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Run ``fn()`` counting host synchronisations; return ``(n_syncs, fn())``."""
    with count_host_syncs() as counter:
        out = fn()
    return counter.n, out
