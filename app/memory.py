"""Give freed memory back to the system: big arrays are mapped on their own, so freeing them shrinks RSS.

glibc raises its mmap threshold each time a mapped block is freed (up to 32 MiB), after which arrays
come from the heap, which seldom shrinks: a server that once held a class's images stays that large
when idle. Pinning the threshold keeps every array above it in its own mapping.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 * 1024


def return_freed_memory() -> bool:
    """Pin glibc's mmap and trim thresholds (process-wide); False where there is no glibc (macOS, musl)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, 4 * MMAP_THRESHOLD))
