"""What sharing state through Redis costs per operation, against this process' memory (the default).

Starts its own redis-server on a free port (Debian's package), stores and reads a 1024x768 photo (the largest
upload after downscaling is 1024 on its longer side), a run request and a chain request, and prints single-thread
medians with Redis as a ratio of memory. Run:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/bench_shared_state.py
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.shared_state import MemoryState, RedisState, SharedState, Space, encode_image, raw
from app.store import ImageStore, StoredImage, freeze

REPEATS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def median_ms(action: Callable[[int], object]) -> float:
    times = []
    for index in range(REPEATS):
        start = time.perf_counter()
        action(index)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def photo(seed: int) -> StoredImage:
    rng = np.random.default_rng(seed)
    rgb = freeze(rng.integers(0, 256, (3, 768, 1024)).astype(np.float32))
    gray = freeze(np.round(rgb.mean(axis=0, keepdims=True)).astype(np.float32))
    return StoredImage(f"{seed:024x}", rgb, gray, "photo.jpg")


def measure(name: str, state: SharedState, other_state: SharedState | None, images: list[StoredImage],
            request: bytes) -> tuple[str, float, float, float | None, float, float]:
    """Medians of storing an image, reading it back (this process' copy, and another process' first read: fetch
    and decode), storing and reading a run request."""
    runs: Space[bytes] = Space("runs", 32 << 20, len, raw, raw, 10_000)
    store = ImageStore(1 << 30, state)
    put = median_ms(lambda i: store.put(images[i].image_id, images[i]))
    hit = median_ms(lambda i: store.get(images[i].image_id))
    miss = None
    if other_state is not None:
        other = ImageStore(1 << 30, other_state)
        miss = median_ms(lambda i: other.get(images[i].image_id))
    run_put = median_ms(lambda i: state.put(runs, f"run{i}", request))
    run_get = median_ms(lambda i: state.get(runs, f"run{i}"))
    return name, put, hit, miss, run_put, run_get


def main() -> None:
    folder = tempfile.mkdtemp()
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir",
                               folder], stdout=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        url = f"redis://127.0.0.1:{port}/0"
        images = [photo(seed) for seed in range(REPEATS)]
        request = b'{"source":{"image_id":"' + b"a" * 24 + b'"},"operation":{"op":"conv2d"}}' + b" " * 400
        rows = [measure("memory", MemoryState(), None, images, request),
                measure("redis", RedisState(url, prefix="bench:"), RedisState(url, prefix="bench:"), images, request)]
        stored = len(encode_image(images[0]))
        print(f"1024x768 photo: {images[0].nbytes / 1e6:.1f} MB decoded (float32, rgb + gray), "
              f"{stored / 1e6:.2f} MB stored in Redis (uint8)")
        load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
        print(f"single-thread medians of {REPEATS}, wall ms (load average {load}: a shared machine stretches them)")
        header = ("state", "image put", "image get (own)", "image get (other process)", "run put", "run get")
        print(" | ".join(header))
        print(" | ".join("---" for _ in header))
        for row in rows:
            print(" | ".join([row[0], *("n/a" if value is None else f"{value:.3f}" for value in row[1:])]))
        memory, shared = rows
        print(" | ".join(["redis / memory", *("n/a" if a is None or b is None else f"{b / a:.0f}x"
                                              for a, b in zip(memory[1:], shared[1:], strict=True))]))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
