"""Plain-Python loops compiled by Numba where it is installed (ml.compose_kernels,
ml.winograd_kernels): each module's loops take flat arrays and numbers only, and release the GIL
so that threads run them side by side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def compiled(loops: tuple[Callable, ...]) -> list[Any] | None:
    """The loops compiled at their first call, their machine code kept on disk (Numba's cache,
    beside the module or in the user's cache directory), or None where Numba is not
    installed."""
    try:
        import numba
    except ImportError:
        return None
    try:
        return [numba.njit(nogil=True, cache=True)(loop) for loop in loops]
    except RuntimeError:  # no writable place for its cache: compiled in each process instead
        return [numba.njit(nogil=True)(loop) for loop in loops]
