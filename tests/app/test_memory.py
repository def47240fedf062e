"""Freed memory goes back to the system once the server is idle, and training in the served process reuses its
memory (no fresh pages per batch)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

from app.memory import IdleTrim
from tests.servers import serving

ROOT = Path(__file__).resolve().parents[2]


def test_freed_arrays_go_back_to_the_system_when_trimmed() -> None:
    script = """
import numpy as np
from app.memory import trim_freed_memory
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096
block = np.ones(2 << 20); del block  # 16 MiB mapped and freed: glibc raises its mmap threshold
before = rss()
arrays = [np.ones(1 << 17) for _ in range(100)]  # 100 arrays of 1 MiB from the heap, then one kept after them
last = np.ones(1 << 17)
del arrays
kept = rss() - before
assert trim_freed_memory()
print(kept, rss() - before)
"""
    # a fresh process: pytest's own heap would blur the numbers
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60,
                            cwd=ROOT).stdout
    kept, trimmed = (int(number) for number in output.split())
    assert kept > 80 << 20  # the heap keeps the freed arrays: the case the trim is for
    assert trimmed < 8 << 20


def test_idle_trim_trims_once_per_idle_period_never_while_a_request_is_open() -> None:
    trims: list[int] = []

    async def scenario() -> None:
        release = asyncio.Event()

        async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["path"] == "/slow":
                await release.wait()

        middleware = IdleTrim(inner, idle_seconds=0.05, trim=lambda: trims.append(1) is None)
        http = {"type": "http", "path": "/"}
        await middleware(http, None, None)
        await middleware(http, None, None)
        await asyncio.sleep(0.2)
        assert middleware.trims == 1  # two requests, one idle period
        slow = asyncio.create_task(middleware({"type": "websocket", "path": "/slow"}, None, None))
        await asyncio.sleep(0.2)
        assert middleware.trims == 1  # a socket is open: not idle
        release.set()
        await slow
        await asyncio.sleep(0.2)
        assert middleware.trims == 2
        await middleware({"type": "lifespan", "path": ""}, None, None)  # not a request: no new period
        await asyncio.sleep(0.2)
        assert middleware.trims == 2

    asyncio.run(scenario())
    assert len(trims) == 2


def minor_faults(pid: int) -> int:
    """The process' minor page faults so far (field 10 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[7])


def test_training_in_the_served_process_reuses_its_memory(tmp_path: Path) -> None:
    # Before: `kernel-lens serve` pinned glibc's mmap threshold at 256 KiB, so every array of a batch came in fresh
    # zero-filled pages (about 90 faults per digit here, +80% CPU for Chain.fit); the heap reuses them (about 10).
    started: list[subprocess.Popen[bytes]] = []
    with serving([sys.executable, "-m", "app.cli"], tmp_path / "server.log", cwd=ROOT, timeout=120,
                 started=started) as base:
        pid = started[0].pid
        config = {"model": "cnn_1", "train_size": 1000, "epochs": 2, "batch_size": 128, "validation_split": 0.2}
        with connect(base.replace("http", "ws") + "/ws/train", open_timeout=60) as ws:
            ws.send(json.dumps({"type": "start", "config": {**config, "epochs": 1}}))  # warm-up: the heap grows
            while json.loads(ws.recv(timeout=300))["type"] != "done":
                pass
            before = minor_faults(pid)
            ws.send(json.dumps({"type": "start", "config": config, "from": "current"}))
            while json.loads(ws.recv(timeout=300))["type"] != "done":
                pass
            faults = minor_faults(pid) - before
    digits = 2 * 800
    assert faults < 30 * digits, f"{faults} page faults for {digits} digits trained"
