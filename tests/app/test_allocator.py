"""The training job's process keeps freed memory: its batches stop faulting in fresh pages.

Measured in a fresh interpreter (the setting is process-wide): the seed network fits a few batches of 64
digits, and the process' minor page faults over the last batches are counted, with and without
``keep_freed_memory``. Without it glibc hands the freed heap top back after every batch (thousands of
faults per batch on Linux); with it the pages stay. A count of faults, not a timing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SCRIPT = """
import json, resource, sys
from app.allocator import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
from cnn_core.chain import MNIST_LAYERS, Chain
from cnn_core.datasets import load_digits
(x, y), _ = load_digits()
chain = Chain(MNIST_LAYERS, seed=0)
chain.fit(x[:128], y[:128], epochs=1, batch_size=64)  # warm: the heap reaches its batch-time size
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
chain.fit(x[:256], y[:256], epochs=1, batch_size=64)
print(json.dumps({"kept": kept, "faults": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 4}))
"""


def faults_per_batch(mode: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120,
                          check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_job_process_that_keeps_freed_memory_stops_faulting_every_batch() -> None:
    default, kept = faults_per_batch("default"), faults_per_batch("keep")
    assert kept["kept"] is True
    assert float(kept["faults"]) < 50 <= float(default["faults"]), (default, kept)  # type: ignore[arg-type]
