"""The Train tab while the seed network trains: is the page smooth, how fast does a batch reach the curve, and
what does streaming cost the training?

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/bench_train_page.py [--digits 2000] [--repeat 2]

Starts `kernel-lens serve` on a loopback port and opens the page in Debian's headless Chromium on the Train tab
with cnn_1 (the course's seed network), `--digits` digits (a fifth held out), 1 epoch, batch 128, RMSprop.
While it trains, the page records every requestAnimationFrame gap (the frame gaps) and, for each progress point,
the delay from the server's `sent_at` (time.time() when the worker queued the message) to the frame that painted
the point on the loss curve (same machine, same wall clock). Then the same config trains by bare `Chain.fit` in
this process, alternating with the streamed runs; the slowdown compares the server's own training time (the
`done` message's seconds: the fit plus each epoch's filters, confusion matrix and wrong digits) with the bare
fit's (in this process; both use glibc's default malloc: the server only trims freed memory once idle, see
app/memory.py), by wall time and by CPU time (the server process's, from /proc, and this process's): on a shared machine
the CPU time is the steadier measure. BLAS runs single-threaded (OPENBLAS_NUM_THREADS=1 unless set), in the
server too, so both sides do the same work. A second pair compares the server's worker function
(app.train_worker.train: callback, filters, epoch report, every message JSON-encoded) with bare fit in this
process, without a browser or server competing for the cores.
Targets (issue 10): median frame gap <= 17 ms, batch -> curve < 250 ms, slowdown < 10%.
"""

# ruff: noqa: E402  (the BLAS thread count is set before NumPy loads)
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # single-thread numbers, server too
    os.environ.setdefault(_name, "1")

import httpx
import numpy as np
from playwright.sync_api import Page, sync_playwright
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_server import free_port

from app.config import Settings
from app.train_schemas import TrainConfig
from app.train_worker import train
from app.training import MODELS, TrainingJob, check_config
from cnn_core.chain import Chain
from cnn_core.datasets import load_digits

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
RECORD_FRAMES = """() => {
  window.benchGaps = [];
  window.benchStop = false;
  let last = performance.now();
  const tick = (now) => {
    window.benchGaps.push(now - last);
    last = now;
    if (!window.benchStop) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def start_server(port: int, log: Any) -> subprocess.Popen[bytes]:
    """`kernel-lens serve` on a loopback port (a shared, loaded machine may take a while to import)."""
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], env=dict(os.environ),
                               stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("server did not start")


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user + system, all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bare_fit_seconds(digits: int) -> tuple[float, float]:
    """The same training as the page asks for, by Chain.fit alone (no callback, no reports): (wall, CPU) s."""
    (x_train, y_train), _ = load_digits()
    chain = Chain(MODELS["cnn_1"], seed=0)
    start, cpu = time.perf_counter(), time.process_time()
    chain.fit(x_train[:digits], y_train[:digits], epochs=1, batch_size=128, optimizer="rmsprop",
              learning_rate=0.001, validation_split=0.2, seed=0)
    return time.perf_counter() - start, time.process_time() - cpu


def worker_seconds(digits: int) -> tuple[float, float]:
    """The server's side of a streamed job without the server: app.train_worker.train (the callback, progress
    with filters, each epoch's report) with every message JSON-encoded, in this process."""
    settings = Settings()
    config = TrainConfig(model="cnn_1", train_size=digits, epochs=1, batch_size=128)
    plan = check_config(config, settings)
    job = TrainingJob(plan, Chain(plan.layers, seed=0), lambda message: None)
    (x_train, y_train), (x_test, y_test) = load_digits()
    start, cpu = time.perf_counter(), time.process_time()
    job.started = time.monotonic()
    train(job, (x_train, y_train, x_test, y_test), settings, lambda message: json.dumps(message))
    return time.perf_counter() - start, time.process_time() - cpu


def socket_run(port: int, digits: int, pid: int) -> tuple[float, float]:
    """Train once over /ws/train with a plain socket client (no browser drawing meanwhile): (the server's training
    seconds, the server process's CPU seconds meanwhile)."""
    config = {"model": "cnn_1", "train_size": digits, "epochs": 1, "batch_size": 128}
    with connect(f"ws://127.0.0.1:{port}/ws/train", origin=f"http://127.0.0.1:{port}") as socket:
        cpu = cpu_seconds(pid)
        socket.send(json.dumps({"type": "start", "config": config}))
        while True:
            message = json.loads(socket.recv())
            if message["type"] in ("done", "stopped", "error"):
                break
        cpu = cpu_seconds(pid) - cpu
    if message["type"] != "done":
        raise SystemExit(f"training did not finish: {message}")
    return float(message["seconds"]), cpu


def streamed_run(page: Page, base: str, digits: int, pid: int) -> tuple[list[float], list[float], float, float]:
    """Train once in the page: (frame gaps ms, batch -> curve delays ms, the server's training seconds, the
    server process's CPU seconds meanwhile)."""
    page.goto(f"{base}/?model=cnn_1&train_size={digits}&epochs=1&batch_size=128")
    page.get_by_role("tab", name="Train").click()
    page.locator("#train-summary table").wait_for(timeout=30_000)
    page.evaluate(RECORD_FRAMES)
    cpu = cpu_seconds(pid)
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function("() => window.kernelLensTrain.lastFinal !== null", timeout=600_000)
    cpu = cpu_seconds(pid) - cpu
    page.evaluate("() => { window.benchStop = true; }")
    gaps = page.evaluate("() => window.benchGaps.slice(1)")
    delays = page.evaluate("() => window.kernelLensTrain.delays.slice()")
    final = page.evaluate("() => window.kernelLensTrain.lastFinal")
    if final["type"] != "done":
        raise SystemExit(f"training did not finish: {final}")
    return gaps, delays, float(final["seconds"]), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--digits", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3, help="streamed and bare runs each (alternating)")
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gaps: list[float] = []
    delays: list[float] = []
    streamed: list[tuple[float, float]] = []
    bare: list[tuple[float, float]] = []
    worker: list[tuple[float, float]] = []
    quiet: list[tuple[float, float]] = []
    socketed: list[tuple[float, float]] = []
    alone: list[tuple[float, float]] = []
    with tempfile.TemporaryFile() as log:
        process = start_server(port, log)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                for _ in range(args.repeat):
                    page = browser.new_page(viewport={"width": 1280, "height": 800})
                    run_gaps, run_delays, seconds, cpu = streamed_run(page, base, args.digits, process.pid)
                    page.close()
                    gaps += run_gaps
                    delays += run_delays
                    streamed.append((seconds, cpu))
                    bare.append(bare_fit_seconds(args.digits))
                browser.close()
            for _ in range(args.repeat):  # the server without a page drawing on the same cores
                socketed.append(socket_run(port, args.digits, process.pid))
                alone.append(bare_fit_seconds(args.digits))
            for _ in range(args.repeat):  # the same comparison without a browser or a server competing for cores
                worker.append(worker_seconds(args.digits))
                quiet.append(bare_fit_seconds(args.digits))
        finally:
            process.terminate()
            process.wait(timeout=10)
    gap = np.array(gaps)
    delay = np.array(delays)

    def cell(runs: list[tuple[float, float]], which: int) -> str:
        values = [run[which] for run in runs]
        return f"{', '.join(f'{v:.2f}' for v in values)} (median {statistics.median(values):.2f})"

    def slowdown(ours: list[tuple[float, float]], peer: list[tuple[float, float]], which: int) -> str:
        ratio = statistics.median(run[which] for run in ours) / statistics.median(run[which] for run in peer)
        return f"{(ratio - 1) * 100:+.1f}%"

    print(f"cnn_1, {args.digits:,} digits ({args.digits * 4 // 5:,} trained, a fifth held out), 1 epoch, batch 128, "
          f"RMSprop; {args.repeat} runs of each kind, streamed and bare alternating. Wall times on a shared machine "
          "are noisy; CPU seconds count only the training process's own work.\n")
    print("| measure | result | target |\n|---|---|---|")
    print(f"| frame gap while training ({gap.size:,} frames) | median {np.median(gap):.1f} ms, p95 "
          f"{np.percentile(gap, 95):.1f} ms, max {gap.max():.1f} ms | median <= 17 ms |")
    print(f"| batch finished on the server -> its point painted on the curve ({delay.size} points) | median "
          f"{np.median(delay):.1f} ms, p95 {np.percentile(delay, 95):.1f} ms, max {delay.max():.1f} ms | < 250 ms |")
    print(f"| streamed to the page: server's training s / server process CPU s | {cell(streamed, 0)} / "
          f"{cell(streamed, 1)} | |")
    print(f"| bare Chain.fit, alternating: wall s / CPU s | {cell(bare, 0)} / {cell(bare, 1)} | |")
    print(f"| slowdown, streamed vs bare: wall / CPU | {slowdown(streamed, bare, 0)} / {slowdown(streamed, bare, 1)} "
          "| < 10% |")
    print(f"| streamed to a socket client (no browser): server's training s / server CPU s | {cell(socketed, 0)} / "
          f"{cell(socketed, 1)} | |")
    print(f"| bare Chain.fit, alternating with it: wall s / CPU s | {cell(alone, 0)} / {cell(alone, 1)} | |")
    print(f"| slowdown, socket-streamed vs bare: wall / CPU | {slowdown(socketed, alone, 0)} / "
          f"{slowdown(socketed, alone, 1)} | < 10% |")
    print(f"| the worker alone (callback, filters, epoch report, JSON) in one process: wall s / CPU s | "
          f"{cell(worker, 0)} / {cell(worker, 1)} | |")
    print(f"| bare Chain.fit, alternating with it: wall s / CPU s | {cell(quiet, 0)} / {cell(quiet, 1)} | |")
    print(f"| slowdown, worker vs bare: wall / CPU | {slowdown(worker, quiet, 0)} / {slowdown(worker, quiet, 1)} "
          "| < 10% |")


if __name__ == "__main__":
    main()
