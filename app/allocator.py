"""glibc's allocator told to keep freed memory in the training job's process instead of handing it back.

A training batch allocates its activations and gradients (about 16 MB for the seed network at batch 64) and
frees them at the end. glibc returns a freed heap top larger than its trim threshold to the system (and that
threshold only follows the largest block it once mapped: about 11 MB here), so the next batch takes the same
megabytes back page by page: about 2,500 minor page faults per batch, a quarter of the batch's time on this
machine (``benchmarks/bench_train.py`` prints the faults; PyTorch's loop faults as often). Raising both
thresholds keeps the memory with the process; a queued job's process is forked for the job and ends with it,
so nothing else pays. Not called in the server's own process, whose memory should shrink back after a
burst of requests.
"""

from __future__ import annotations

import ctypes
import ctypes.util

# mallopt's parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_BYTES = 32 << 20  # the largest mmap threshold glibc accepts on 64-bit; larger arrays are still mapped
TRIM_BYTES = 512 << 20  # freed heap kept up to this: more than a training job's peak (bench_train: ~120 MB)


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; False where there is no glibc ``mallopt``
    (another C library) or it refused a value."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_BYTES))
