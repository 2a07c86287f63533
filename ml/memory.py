"""The process's memory, as the model cache (ml.runtime) and the fast paths (ml.inference) see it:
what is resident, handing the C heap's free pages back, and keeping its freed blocks for reuse."""

from __future__ import annotations

import contextlib
import ctypes
import os

from ml import config


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


# glibc's mallopt parameters.
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
# Free memory at the top of the heap beyond this goes back to the system at once (mallopt takes
# a C int: at most 2 GB).
KEEP_FREE_BYTES = 2**30
reusing = False  # whether this process keeps them (`reuse_freed_blocks`)


def reuse_freed_blocks() -> None:
    """Serve large blocks from the C heap and keep them there once freed, for the next ones,
    unless COLORIA_REUSE_MEMORY=off (ml.config): called where networks run (ml.runtime, at
    each model load; done once).

    glibc maps every block over its mmap threshold (32 MB at most) afresh and unmaps it when
    freed, and the kernel zero-fills it page by page at its first touch: BigColor's 256 x 352
    network, whose maps at full size are 35 MB each, took 200 000 page faults a call in `fast`
    (0.9 s, where the same network took 0.6 s once none were left; 2-core AVX-512 EPYC,
    fresh processes). Kept, the blocks serve the next layers and the next photo: no fault at
    all. The process keeps its peak between jobs, up to KEEP_FREE_BYTES free, until a model is
    unloaded (`trim_heap`). Not glibc (macOS, musl): nothing changes."""
    global reusing
    if reusing or config.settings.reuse_memory == "off":
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None)
        reusing = bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(
            libc.mallopt(_M_TRIM_THRESHOLD, KEEP_FREE_BYTES)
        )
