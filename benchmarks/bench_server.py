"""Server speed on loopback: upload, WebSocket streaming, seek latency, concurrent runs, memory over time.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/bench_server.py [--soak 60]

Starts `kernel-lens serve` on a free loopback port (the README's command), measures, stops it.
Only 127.0.0.1 is contacted; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import websockets
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.codec import decode_batch

IDLE = 20  # seconds the soak waits before its idle RSS sample


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(port: int, log: Any) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KERNEL_LENS_MAX_UPLOAD_BYTES": str(40_000_000)}
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def photo_jpeg(width: int, height: int) -> bytes:
    """A photo-like JPEG: smooth gradients plus texture (compresses like a real photo)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 10, (height, width)).astype(np.float32)  # sensor-like grain: a photo-sized file
    channels = [(xs / width * 255 + noise), (ys / height * 255 + noise), ((xs + ys) / (width + height) * 255)]
    pixels = np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def bench_upload(base: str, repeat: int) -> list[str]:
    data = photo_jpeg(4000, 3000)
    times = []
    with httpx.Client(timeout=30) as client:
        for index in range(repeat):
            payload = data + bytes([index % 256]) * index  # bytes after the end marker: a new id, same image
            start = time.perf_counter()
            response = client.post(f"{base}/api/images", content=payload, headers={"content-type": "image/jpeg"})
            times.append(time.perf_counter() - start)
            assert response.status_code == 201, response.text
        bad = []
        for label, body in (("text as png", b"hello"), ("truncated jpeg", data[: len(data) // 3])):
            start = time.perf_counter()
            status = client.post(f"{base}/api/images", content=body, headers={"content-type": "image/png"}).status_code
            bad.append(f"| bad upload ({label}) -> {status} | {1e3 * (time.perf_counter() - start):.1f} ms | |")
    return [f"| upload 12 MP JPEG ({len(data) / 1e6:.1f} MB) to ready, median of {repeat} | "
            f"{1e3 * statistics.median(times):.1f} ms | p max {1e3 * max(times):.1f} ms |", *bad]


async def open_session(base: str, request: dict[str, Any], fmt: str = "binary") -> Any:
    ws = await websockets.connect(base.replace("http", "ws") + "/ws/animate", max_size=2**26)
    await ws.send(json.dumps({"type": "open", "request": request, "format": fmt}))
    opened = json.loads(await ws.recv())
    return ws, opened


async def bench_stream(base: str, request: dict[str, Any], fmt: str, seconds: float) -> float:
    ws, _ = await open_session(base, request, fmt)
    await ws.send(json.dumps({"type": "play", "fps": 1_000_000}))
    received, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        message = await ws.recv()
        if isinstance(message, bytes):
            header = decode_batch(message)[0]
        else:
            header = json.loads(message)
            if header["type"] == "state" and header["ended"]:  # the whole run went by: play it again
                await ws.send(json.dumps({"type": "seek", "index": 0}))
                await ws.send(json.dumps({"type": "play", "fps": 1_000_000}))
            if header["type"] != "frames":
                continue
        received += header["count"]
        await ws.send(json.dumps({"type": "ack", "index": header["start"] + header["count"] - 1}))
    elapsed = time.perf_counter() - start
    await ws.close()
    return received / elapsed


async def bench_seek(base: str, request: dict[str, Any], count: int) -> list[float]:
    ws, opened = await open_session(base, request)
    total = opened["run"]["frame_count"]
    rng = random.Random(0)
    latencies = []
    for _ in range(count):
        index = rng.randrange(total)
        start = time.perf_counter()
        await ws.send(json.dumps({"type": "seek", "index": index}))
        while True:
            message = await ws.recv()
            if isinstance(message, bytes) and decode_batch(message)[0]["start"] == index:
                break
        latencies.append(time.perf_counter() - start)
    await ws.close()
    return latencies


async def bench_runs(base: str, image_id: str, clients: int, per_client: int) -> list[float]:
    latencies: list[float] = []

    async def client_loop(number: int) -> None:
        async with httpx.AsyncClient(timeout=60) as client:
            for index in range(per_client):
                request = {"source": {"image_id": image_id},
                           "operation": {"op": "conv2d", "padding": 1, "filters": [
                               {"kernel": {"name": "sobel_x"}, "bias": number * 1000 + index}]}}
                start = time.perf_counter()
                response = await client.post(f"{base}/api/run", json=request)
                latencies.append(time.perf_counter() - start)
                assert response.status_code == 200, response.text

    await asyncio.gather(*(client_loop(n) for n in range(clients)))
    return latencies


def batch_header(message: bytes) -> dict[str, Any]:
    """A KLF1 batch's JSON header only (docs/frames-binary.md): a player acks without decoding the frames."""
    length = int.from_bytes(message[4:8], "little")
    header: dict[str, Any] = json.loads(message[8:8 + length])
    return header


def players_process(base: str, request: dict[str, Any], seconds: float, count: int, fps: int) -> None:
    """``count`` players at ``fps`` for ``seconds``, in a process of their own (as students are on machines of
    their own): their decoding and acking never delays the latency probe's own event loop."""
    async def main() -> None:
        stop = time.perf_counter() + seconds
        await asyncio.gather(*(play_until(base, request, stop, fps) for _ in range(count)))

    asyncio.run(main())


async def play_until(base: str, request: dict[str, Any], stop: float, fps: int,
                     rng: random.Random | None = None) -> None:
    """A player acking every batch until ``stop``: from the start again when the run ends, and (with ``rng``)
    a seek in 2% of its messages."""
    ws, opened = await open_session(base, request)
    total = opened["run"]["frame_count"]
    await ws.send(json.dumps({"type": "play", "fps": fps}))
    while time.perf_counter() < stop:
        try:
            message = await asyncio.wait_for(ws.recv(), 1)
        except TimeoutError:
            continue
        restart = None
        if isinstance(message, bytes):
            header = batch_header(message)
            await ws.send(json.dumps({"type": "ack", "index": header["start"] + header["count"] - 1}))
        elif json.loads(message).get("ended"):
            restart = 0
        if rng is not None and rng.random() < 0.02:
            restart = rng.randrange(total)
        if restart is not None:
            await ws.send(json.dumps({"type": "seek", "index": restart}))
            await ws.send(json.dumps({"type": "play", "fps": fps}))
    await ws.close()


async def soak(base: str, pid: int, request: dict[str, Any], clients: int, seconds: float) -> list[str]:
    """``clients`` play, seek and re-open for ``seconds``; RSS sampled every 5 s, and once after an idle pause."""
    samples = [(0.0, rss_mib(pid))]
    stop = time.perf_counter() + seconds

    async def client_loop(number: int) -> None:
        await play_until(base, request, stop, 50_000, random.Random(number))

    async def sampler() -> None:
        begin = time.perf_counter()
        while time.perf_counter() < stop:
            await asyncio.sleep(5)
            samples.append((time.perf_counter() - begin, rss_mib(pid)))

    await asyncio.gather(sampler(), *(client_loop(n) for n in range(clients)))
    await asyncio.sleep(IDLE)
    idle = rss_mib(pid)
    first_half = [rss for t, rss in samples if 5 <= t <= seconds / 2] or [samples[0][1]]
    budgets = budgets_mib()
    peak = max(r for _, r in samples)
    return [f"| soak: {clients} WebSocket clients for {seconds:.0f} s, server RSS (MiB) | "
            f"start {samples[0][1]:.0f}, after warm-up {first_half[0]:.0f}, end {samples[-1][1]:.0f}, "
            f"max {peak:.0f} | samples every 5 s: " + ", ".join(f"{r:.0f}" for _, r in samples) + " |",
            f"| RSS against the configured budgets ({budgets:.0f} MiB in all) | max {peak / budgets:.2f}x, "
            f"after {IDLE} s idle {idle:.0f} MiB ({idle / budgets:.2f}x) | target: under 1.3x, dropping when idle |"]

SMALL_RUN = {"source": {"matrix": [[float(10 * r + c) for c in range(15)] for r in range(15)]},
             "operation": {"op": "conv2d", "padding": 1, "filters": [{"kernel": {"name": "sobel_x"}}]}}


async def contention(base: str, seconds: float) -> list[str]:
    """p50/p99 of a small run while 8 players stream at full speed and 20 GIF jobs are asked for."""
    stop = time.perf_counter() + seconds
    latencies: list[float] = []

    async def prober(client: httpx.AsyncClient) -> None:
        await asyncio.sleep(3)  # the players (a process of their own, starting) and the jobs are under way
        bias = 0.0
        while time.perf_counter() < stop:
            bias += 1  # a new run each time, never a cached one
            body = {**SMALL_RUN, "operation": {**SMALL_RUN["operation"], "filters": [
                {"kernel": {"name": "sobel_x"}, "bias": bias}]}}
            start = time.perf_counter()
            response = await client.post(f"{base}/api/run", json=body)
            latencies.append(time.perf_counter() - start)
            assert response.status_code == 200, response.text
            await asyncio.sleep(0.05)

    async with httpx.AsyncClient(timeout=60) as client:
        run = (await client.post(f"{base}/api/run", json=SMALL_RUN)).json()
        statuses = [(await client.post(f"{base}/api/runs/{run['run_id']}/gif?frames=200")).status_code
                    for _ in range(20)]
        players = multiprocessing.get_context("spawn").Process(
            target=players_process, args=(base, SMALL_RUN, seconds, 8, 1_000_000))
        players.start()
        await prober(client)
        await asyncio.to_thread(players.join)
    accepted = statuses.count(202)
    return [f"| a small run (15x15 conv) while 8 players stream at full speed and 20 GIFs are asked for "
            f"({accepted} accepted, {statuses.count(429)} refused with 429), {len(latencies)} runs | "
            f"p50 {1e3 * percentile(latencies, 50):.1f} ms | p99 {1e3 * percentile(latencies, 99):.1f} ms "
            f"(target: under 200 ms) |"]


HOSTILE: list[tuple[str, str, str, Any]] = [
    ("kernel text 1e10000000/1", "post", "/api/kernels/parse", {"json": {"text": "1e10000000/1"}}),
    ("the same kernel through /api/run", "post", "/api/run", {"json": {
        "source": {"matrix": [[1.0, 2.0], [3.0, 4.0]]},
        "operation": {"op": "conv2d", "filters": [{"kernel": {"text": "1e10000000/1"}}]}}}),
    ("an 8 MB JSON body", "post", "/api/run", {"content": b"[" + b"1," * 4_000_000 + b"1]",
                                               "headers": {"content-type": "application/json"}}),
    ("a 40 MB JSON body", "post", "/api/run", {"content": b"[" + b"1," * 20_000_000 + b"1]",
                                               "headers": {"content-type": "application/json"}}),
    ("a max pool of 30000", "post", "/api/chains", {"json": {
        "source": {"matrix": [[1.0, 2.0], [3.0, 4.0]]}, "layers": [{"type": "max_pool2d", "pool_size": 30000}]}}),
]


async def event_loop_holds(base: str, run_id: str, photo_id: str) -> list[str]:
    """The longest /healthz wait while each hostile request is refused: how long it held the event loop."""
    rows = []
    hostile = [*HOSTILE,
               ("a chain with kernel_size 200, same, on a 1024x1024 photo", "post", "/api/chains", {"json": {
                   "source": {"image_id": photo_id},
                   "layers": [{"type": "conv2d", "filters": 1, "kernel_size": 200, "padding": "same"}]}}),
               ("262,144 binary frames of a small run", "get",
                f"/api/frames?run_id={run_id}&start=0&count=262144&format=binary", {})]
    async with httpx.AsyncClient(timeout=120) as client, httpx.AsyncClient(timeout=10) as pinger:
        for label, method, path, options in hostile:
            waits: list[float] = []
            done = asyncio.Event()

            async def ping(done: asyncio.Event, waits: list[float]) -> None:
                while not done.is_set():
                    start = time.perf_counter()
                    await pinger.get(f"{base}/healthz")
                    waits.append(time.perf_counter() - start)
                    await asyncio.sleep(0.005)

            task = asyncio.create_task(ping(done, waits))
            await asyncio.sleep(0.05)
            start = time.perf_counter()
            try:
                status = str((await getattr(client, method)(f"{base}{path}", **options)).status_code)
            except httpx.TransportError:  # refused while the body was still arriving: the server closed it
                status = "closed mid-body"
            took = time.perf_counter() - start
            done.set()
            await task
            rows.append(f"| hostile: {label} -> {status} in {1e3 * took:.0f} ms | longest /healthz "
                        f"wait meanwhile {1e3 * max(waits):.1f} ms | target: under 50 ms |")
    return rows


def budgets_mib() -> float:
    """Every byte budget of the server's caches (the chain store shares the run cache's size)."""
    from app.config import Settings

    settings = Settings()
    return (settings.store_bytes + 2 * settings.run_cache_bytes + settings.png_cache_bytes
            + settings.run_request_bytes + settings.job_result_bytes) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--soak", type=float, default=45, help="seconds of the many-client memory run (0 skips)")
    parser.add_argument("--clients", type=int, default=50, help="WebSocket clients of the soak")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        process = start_server(port, log)
        try:
            rows = ["| measure | result | detail |", "|---|---|---|"]
            rows += bench_upload(base, args.repeat)
            photo = httpx.post(f"{base}/api/images", content=photo_jpeg(1024, 1024),
                               headers={"content-type": "image/jpeg"}, timeout=30).json()
            request = {"source": {"image_id": photo["id"]}, "operation": {"op": "conv2d", "padding": 1}}
            binary = asyncio.run(bench_stream(base, request, "binary", 3))
            as_json = asyncio.run(bench_stream(base, request, "json", 3))
            rows.append(f"| WebSocket stream, 1024x1024 RGB conv, binary KLF1 | {binary:,.0f} frames/s | "
                        f"JSON on the same socket: {as_json:,.0f} frames/s ({binary / as_json:.0f}x) |")
            seeks = asyncio.run(bench_seek(base, request, 300))
            rows.append(f"| seek latency (300 random seeks) | p50 {1e3 * percentile(seeks, 50):.2f} ms | "
                        f"p99 {1e3 * percentile(seeks, 99):.2f} ms |")
            runs = asyncio.run(bench_runs(base, photo["id"], 8, 6))
            rows.append(f"| POST /api/run 1024x1024 RGB 3x3 conv, 8 concurrent clients x 6 | "
                        f"p50 {1e3 * percentile(runs, 50):.0f} ms | p99 {1e3 * percentile(runs, 99):.0f} ms |")
            small = httpx.post(f"{base}/api/run", json=SMALL_RUN, timeout=30).json()
            rows += asyncio.run(event_loop_holds(base, small["run_id"], photo["id"]))
            rows += asyncio.run(contention(base, 15))
            if args.soak > 0:
                rows += asyncio.run(soak(base, process.pid, request, args.clients, args.soak))
            print("\n".join(rows))
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
