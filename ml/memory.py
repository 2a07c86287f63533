"""The process's memory, as the model cache (ml.runtime) and the fast paths (ml.inference) see it:
what is resident, and handing the C heap's free pages back."""

from __future__ import annotations

import contextlib
import ctypes
import os


def resident_bytes() -> int:
    """This process's resident memory in bytes (Linux), else 0."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def trim_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc keeps them otherwise, and the
    process stays big after a large job)."""
    # Not glibc (macOS, musl): that allocator decides alone.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)
