"""A class on loopback: N simulated students against 2 `kernel-lens serve` processes + 1 `kernel-lens worker` +
redis-server, all started here on free ports (issue 12).

Each student (an asyncio task, its own client address through X-Forwarded-For, which uvicorn trusts from
loopback) uploads a small photo of its own, runs three operations on it, opens the convolution over the
WebSocket and plays it at 1,000 steps/s (acking every batch, from the start again when it ends), seeks 20 times
spread over the run's time, and asks for one GIF half-way (the queue's caps refuse some with a deliberate 429).
Students are split over the two servers. The second round does the same and kills one server (SIGKILL) half-way:
its students reconnect to the other (with back-off, as the page does), re-open their run from its id and seek
back to the step they were at; their HTTP requests go to the other server from then on.

Reported per round: p50/p99 latency per kind of request, errors (429 apart; a request that failed on the killed
server and then succeeded on the other is a retry, not an error), reconnections, and every process' RSS (start,
max, end; the worker with its job processes) and CPU seconds, this process (the students) included: on one
machine the students' own clients take cores from the servers.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/bench_class.py --students 200 --seconds 60 \
        [--arrival 15] [--processes 4]

The students share this machine's cores with the servers. In one process they also share one event loop: with
200 of them each reading ~60 frame batches a second, a student reads the batches in flight before its seek's
frame only when its turn comes, and that wait is the seek's tail. ``--processes`` spreads them over processes
of their own, as 200 browsers would be; the table gives each process' CPU seconds either way.

Targets (issue 12): 0 errors other than deliberate 429s, seek p99 under 100 ms, run p99 under 1 s, RSS flat.
Not a test: the numbers depend on the machine (and on what else runs on it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import websockets
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OPERATIONS = [
    {"op": "conv2d", "filters": [{"kernel": {"name": "sobel_x"}}], "padding": 1},
    {"op": "max_pool2d", "kernel_size": 2, "stride": 2},
    {"op": "relu"},
]
SEEKS = 20
FPS = 1_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def photo(seed: int, width: int = 64, height: int = 48) -> bytes:
    """A small smooth picture (gradients and a disc), different for every student."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    cy, cx, r = rng.uniform(10, 38), rng.uniform(10, 54), rng.uniform(6, 16)
    disc = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r) * 120
    channels = [(xx * rng.uniform(1, 3) + yy * rng.uniform(0, 2) + disc) % 256 for _ in range(3)]
    buffer = io.BytesIO()
    Image.fromarray(np.stack(channels, axis=-1).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class Cluster:
    """The processes of one round: redis, the servers, the worker."""

    folder: Path
    redis: subprocess.Popen[bytes]
    servers: list[subprocess.Popen[bytes]]
    bases: list[str]
    worker: subprocess.Popen[bytes]

    def processes(self) -> dict[str, psutil.Process]:
        named = {"redis": self.redis, "worker": self.worker}
        named.update({f"server {n + 1}": process for n, process in enumerate(self.servers)})
        return {name: psutil.Process(process.pid) for name, process in named.items()}


def wait_http(base: str, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args} stopped while starting")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"{base} did not answer within {timeout} s")


@contextlib.contextmanager
def cluster(servers: int) -> Iterator[Cluster]:
    program = shutil.which("redis-server")
    if program is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    with tempfile.TemporaryDirectory(prefix="bench-class-") as name:
        folder = Path(name)
        port = free_port()
        started: list[subprocess.Popen[bytes]] = []
        try:
            redis = subprocess.Popen([program, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", name], stdout=subprocess.DEVNULL)
            started.append(redis)
            env = {key: value for key, value in os.environ.items() if not key.startswith("KERNEL_LENS_")}
            env.update(KERNEL_LENS_REDIS_URL=f"redis://127.0.0.1:{port}/0", PYTHONPATH=str(ROOT))
            bases, processes = [], []
            for number in range(servers):
                server_port = free_port()
                log = (folder / f"server{number}.log").open("wb")
                process = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(server_port)],
                                           cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
                started.append(process)
                processes.append(process)
                bases.append(f"http://127.0.0.1:{server_port}")
            worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=env,
                                      stdout=(folder / "worker.log").open("wb"), stderr=subprocess.STDOUT)
            started.append(worker)
            for base, process in zip(bases, processes, strict=True):
                wait_http(base, process)
            yield Cluster(folder, redis, processes, bases, worker)
        finally:
            for process in reversed(started):
                if process.poll() is None:
                    process.send_signal(signal.SIGINT if process is not started[0] else signal.SIGTERM)
            for process in started:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # deliberate 429s
    retries: int = 0
    reconnects: int = 0
    playing: int = 0  # students whose WebSocket is open and playing
    everyone_playing: asyncio.Event = field(default_factory=asyncio.Event)
    examples: list[str] = field(default_factory=list)

    def error(self, kind: str, what: str) -> None:
        self.errors[kind] += 1
        if len(self.examples) < 8:
            self.examples.append(f"{kind}: {what[:200]}")


def header_of(message: bytes) -> dict[str, Any]:
    """The JSON header of a KLF1 frame batch (the arrays are not needed here)."""
    (length,) = struct.unpack("<I", message[4:8])
    header: dict[str, Any] = json.loads(message[8:8 + length])
    return header


class Student:
    """One student: an address of its own, a preferred server, and the other one to fall back on."""

    def __init__(self, number: int, bases: list[str], results: Results, dead: set[str], students: int) -> None:
        self.number = number
        self.students = students
        self.bases = bases[number % len(bases):] + bases[:number % len(bases)]
        self.results = results
        self.dead = dead
        self.headers = {"x-forwarded-for": f"10.{number // 250}.{number % 250}.{1 + number % 200}"}
        self.position = 0

    def base(self) -> str:
        alive = [base for base in self.bases if base not in self.dead]
        return alive[0] if alive else self.bases[0]

    async def http(self, client: httpx.AsyncClient, kind: str, method: str, path: str,
                   **kwargs: Any) -> httpx.Response | None:
        """A request, timed; on a dead server, again on the other (a retry, not an error)."""
        for attempt in range(3):
            base = self.base()
            began = time.perf_counter()
            try:
                response = await client.request(method, base + path, headers=self.headers, **kwargs)
            except httpx.TransportError as error:
                if base in self.dead or attempt < 2:
                    self.results.retries += 1
                    await asyncio.sleep(0.2 * 2 ** attempt)
                    continue
                self.results.error(kind, f"{type(error).__name__}: {error}")
                return None
            if response.status_code == 429:
                self.results.refused[kind] += 1
                return response
            if response.status_code >= 400:
                self.results.error(kind, f"{response.status_code} {response.text}")
                return None
            self.results.latencies[kind].append(time.perf_counter() - began)
            return response
        self.results.error(kind, "no server answered")
        return None

    async def gif(self, client: httpx.AsyncClient, run_id: str) -> None:
        began = time.perf_counter()
        started = await self.http(client, "gif start", "POST", f"/api/runs/{run_id}/gif?frames=8")
        if started is None or started.status_code == 429:
            return
        url = started.json()["status_url"]
        while True:
            await asyncio.sleep(0.25)
            state = await self.http(client, "gif status", "GET", url)
            if state is None:
                return
            body = state.json()
            if body["done"]:
                if body["gif_url"] is None:
                    self.results.error("gif", str(body["detail"]))
                    return
                if await self.http(client, "gif fetch", "GET", body["gif_url"]) is not None:
                    self.results.latencies["gif (start to fetched)"].append(time.perf_counter() - began)
                return

    async def session(self, run_id: str) -> Any:
        """A WebSocket on a live server with the run open at this student's position (reconnecting with
        back-off and jitter like the page)."""
        for attempt in range(12):
            base = self.base()
            began = time.perf_counter()
            try:
                ws = await websockets.connect(base.replace("http", "ws") + "/ws/animate", max_size=2**24,
                                              additional_headers=self.headers, open_timeout=20)
                await ws.send(json.dumps({"type": "open", "run_id": run_id}))
                while True:
                    message = await asyncio.wait_for(ws.recv(), 20)
                    if isinstance(message, str) and json.loads(message)["type"] == "opened":
                        break
                self.results.latencies["ws open"].append(time.perf_counter() - began)
                if self.position:
                    await ws.send(json.dumps({"type": "seek", "index": self.position}))
                await ws.send(json.dumps({"type": "play", "fps": FPS}))
                return ws
            except (OSError, websockets.WebSocketException, TimeoutError) as error:
                if attempt == 11:
                    self.results.error("ws open", f"{type(error).__name__}: {error}")
                    raise
                await asyncio.sleep(min(0.2 * 2 ** attempt, 5.0) * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")

    async def lesson(self, client: httpx.AsyncClient, seconds: float, gif_at: float) -> None:
        upload = await self.http(client, "upload", "POST", "/api/images",
                                 files={"file": (f"student{self.number}.png", photo(self.number), "image/png")})
        if upload is None:
            return
        image_id = upload.json()["id"]
        runs = []
        for operation in OPERATIONS:
            run = await self.http(client, "run", "POST", "/api/run",
                                  json={"source": {"image_id": image_id, "color": "gray"}, "operation": operation})
            if run is not None:
                runs.append(run.json())
        if not runs:
            return
        run_id, total = runs[0]["run_id"], runs[0]["frame_count"]
        begin = time.perf_counter()
        stop = begin + seconds
        seek_times = [begin + seconds * (k + 0.5) / SEEKS for k in range(SEEKS)]
        rng = random.Random(self.number)
        gif_task: asyncio.Task[None] | None = None
        ws = await self.session(run_id)
        self.results.playing += 1
        if self.results.playing == self.students:
            self.results.everyone_playing.set()
        pending_seek: tuple[int, float] | None = None
        awaiting: int | None = self.position or None  # batches sent before a seek are stale: not acked

        async def jump(target: int) -> None:
            nonlocal awaiting
            awaiting = target
            with contextlib.suppress(websockets.ConnectionClosed):
                await ws.send(json.dumps({"type": "seek", "index": target}))
                await ws.send(json.dumps({"type": "play", "fps": FPS}))

        while time.perf_counter() < stop:
            now = time.perf_counter()
            if gif_task is None and now >= begin + gif_at:
                gif_task = asyncio.create_task(self.gif(client, run_id))
            if pending_seek is None and seek_times and now >= seek_times[0]:
                seek_times.pop(0)
                target = rng.randrange(total)
                pending_seek = (target, time.perf_counter())
                await jump(target)
            try:
                message = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            except websockets.ConnectionClosed:
                self.results.reconnects += 1
                ws = await self.session(run_id)  # re-opened at self.position
                awaiting = self.position or None
                if pending_seek is not None:  # asked of the dead server: ask again
                    pending_seek = (pending_seek[0], time.perf_counter())
                    await jump(pending_seek[0])
                continue
            if isinstance(message, bytes):
                header = header_of(message)
                last = header["start"] + header["count"] - 1
                if awaiting is not None:
                    if header.get("peek") or header["start"] != awaiting:
                        continue  # still in flight from before the seek
                    awaiting = None
                if pending_seek is not None and header["start"] == pending_seek[0]:
                    self.results.latencies["seek"].append(time.perf_counter() - pending_seek[1])
                    pending_seek = None
                self.position = last
                with contextlib.suppress(websockets.ConnectionClosed):
                    await ws.send(json.dumps({"type": "ack", "index": last}))
            else:
                state = json.loads(message)
                if state.get("type") == "error":
                    self.results.error("ws", state["detail"])
                elif state.get("ended") and awaiting is None:
                    self.position = 0
                    await jump(0)
        with contextlib.suppress(websockets.WebSocketException):
            await ws.close()
        if gif_task is not None:
            await gif_task


def sample_rss(processes: dict[str, psutil.Process], samples: dict[str, list[float]]) -> None:
    for name, process in processes.items():
        try:
            if process.status() == psutil.STATUS_ZOMBIE:  # killed: its last sample stands
                continue
            rss, times = process.memory_info().rss, process.cpu_times()
            cpu = times.user + times.system
            if name == "worker":  # with the job processes it forks (their CPU counted once they have ended)
                rss += sum(child.memory_info().rss for child in process.children(recursive=True))
                cpu += times.children_user + times.children_system
        except psutil.NoSuchProcess:
            continue
        samples[name].append(rss / 2**20)
        samples[f"{name} cpu"].append(cpu)


async def attend(number: int, students: int, bases: list[str], results: Results, dead: set[str], seconds: float,
                 arrival: float, start: float) -> None:
    """One student: arrives at its moment (``start`` is a wall-clock time), with a browser's own connections (at
    most 6 to a host)."""
    await asyncio.sleep(max(start + arrival * number / students - time.time(), 0))
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=6)) as client:
        await Student(number, bases, results, dead, students).lesson(
            client, seconds, gif_at=seconds * random.Random(number).uniform(0.3, 0.7))


async def attend_all(numbers: list[int], students: int, bases: list[str], results: Results, dead: set[str],
                     seconds: float, arrival: float, start: float) -> None:
    outcomes = await asyncio.gather(*(attend(n, students, bases, results, dead, seconds, arrival, start)
                                      for n in numbers), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            results.error("student", f"{type(outcome).__name__}: {outcome}")


async def child(spec: dict[str, Any]) -> None:
    """A share of the students in a process of its own (``--processes``): each process has its own event loop,
    as each student's browser has. The parent says which server died by a file; this process says by a file when
    all its students play, and prints its results as one JSON line."""
    folder, numbers = Path(spec["folder"]), spec["numbers"]
    results, dead = Results(), set()

    async def watch() -> None:
        marker, playing = folder / "dead", folder / f"playing-{spec['index']}"
        while True:
            if marker.exists():
                dead.add(marker.read_text())
            if results.playing == len(numbers) and not playing.exists():
                playing.write_text("yes")
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch())
    await attend_all(numbers, spec["students"], spec["bases"], results, dead, spec["seconds"], spec["arrival"],
                     spec["start"])
    watcher.cancel()
    print(json.dumps({"latencies": results.latencies, "errors": results.errors, "refused": results.refused,
                      "retries": results.retries, "reconnects": results.reconnects, "examples": results.examples}))


def merge(into: Results, part: dict[str, Any]) -> None:
    for kind, values in part["latencies"].items():
        into.latencies[kind].extend(values)
    for kind, count in part["errors"].items():
        into.errors[kind] += count
    for kind, count in part["refused"].items():
        into.refused[kind] += count
    into.retries += part["retries"]
    into.reconnects += part["reconnects"]
    into.examples.extend(part["examples"][:8 - len(into.examples)])


async def round_(students: int, seconds: float, arrival: float, kill: bool,
                 processes: int) -> tuple[Results, dict[str, list[float]], float]:
    results = Results()
    samples: dict[str, list[float]] = defaultdict(list)
    with cluster(2) as running:
        watched = running.processes()
        watched["students (this process)"] = psutil.Process()
        dead: set[str] = set()
        start, began = time.time() + 1, time.perf_counter()
        shares = [list(range(k, students, processes)) for k in range(processes)] if processes > 1 else []
        children = [await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--child", json.dumps({
                "index": k, "numbers": numbers, "students": students, "bases": running.bases, "seconds": seconds,
                "arrival": arrival, "start": start, "folder": str(running.folder)}),
            stdout=asyncio.subprocess.PIPE) for k, numbers in enumerate(shares)]
        for k, process in enumerate(children):
            watched[f"students {k + 1} of {processes}"] = psutil.Process(process.pid)
        sample_rss(watched, samples)

        async def sampler() -> None:
            while True:
                await asyncio.sleep(1)
                sample_rss(watched, samples)

        async def everyone_playing() -> None:
            if not children:
                await results.everyone_playing.wait()
                return
            while not all((running.folder / f"playing-{k}").exists() for k in range(processes)):
                await asyncio.sleep(0.2)

        async def killer() -> None:  # half-way through the playing: once every student plays, then seconds / 2
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(everyone_playing(), 600)
            await asyncio.sleep(seconds / 2)
            dead.add(running.bases[0])
            (running.folder / "dead").write_text(running.bases[0])
            running.servers[0].kill()  # SIGKILL: no goodbye to its sockets

        extra = [asyncio.create_task(sampler())] + ([asyncio.create_task(killer())] if kill else [])
        if children:
            for process in children:
                output, _ = await process.communicate()
                merge(results, json.loads(output.decode().strip().splitlines()[-1]))
        else:
            await attend_all(list(range(students)), students, running.bases, results, dead, seconds, arrival, start)
        for task in extra:
            task.cancel()
        elapsed = time.perf_counter() - began
        sample_rss(watched, samples)
    return results, samples, elapsed


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def report(title: str, results: Results, samples: dict[str, list[float]], elapsed: float) -> None:
    print(f"\n### {title} ({elapsed:.0f} s)\n")
    print("| request | count | p50 ms | p99 ms | max ms | errors | 429 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    kinds = sorted(set(results.latencies) | set(results.errors) | set(results.refused))
    for kind in kinds:
        values = results.latencies.get(kind, [])
        print(f"| {kind} | {len(values)} | {percentile(values, 50):.1f} | {percentile(values, 99):.1f} | "
              f"{max(values, default=float('nan')) * 1000:.1f} | {results.errors.get(kind, 0)} | "
              f"{results.refused.get(kind, 0)} |")
    print(f"\nerrors other than 429: {sum(results.errors.values())}; HTTP requests retried after a transport "
          f"error (a timeout, or the killed server): {results.retries}; WebSocket reconnections: "
          f"{results.reconnects}")
    for example in results.examples:
        print(f"  e.g. {example}")
    print(f"\n| process | RSS start MiB | max | end | CPU s (of {elapsed * (os.cpu_count() or 1):.0f} core-s) |")
    print("|---|---:|---:|---:|---:|")
    for name in sorted(name for name in samples if not name.endswith(" cpu")):
        values, cpu = samples[name], samples[f"{name} cpu"]
        print(f"| {name} | {values[0]:.0f} | {max(values):.0f} | {values[-1]:.0f} | {cpu[-1] - cpu[0]:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--arrival", type=float, default=15.0,
                        help="seconds over which the students arrive, evenly (0: all at the same instant)")
    parser.add_argument("--processes", type=int, default=1,
                        help="processes the students are spread over, each with its own event loop (as each "
                             "student's browser has); 1: all in this process")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # a share of the students (--processes)
    parser.add_argument("--no-kill", action="store_true", help="skip the round that kills a server half-way")
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(json.loads(args.child)))
        return
    print(f"# bench_class: {args.students} students in {args.processes} process(es), arriving over "
          f"{args.arrival:.0f} s, {args.seconds:.0f} s each round, 2 servers + 1 worker + Redis on loopback "
          f"({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at start)")
    results, samples, elapsed = asyncio.run(round_(args.students, args.seconds, args.arrival, False, args.processes))
    report("all servers up", results, samples, elapsed)
    if not args.no_kill:
        results, samples, elapsed = asyncio.run(round_(args.students, args.seconds, args.arrival, True, args.processes))
        report("server 1 killed (SIGKILL) half-way; its students go to server 2", results, samples, elapsed)


if __name__ == "__main__":
    main()
