"""A real `kernel-lens serve` process on a free port, for the tests that need one (stopped with SIGINT)."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(command: list[str], log_path: Path, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 30, args: Sequence[str] = (),
            started: list[subprocess.Popen[bytes]] | None = None) -> Iterator[str]:
    """Start ``command serve --port <free> *args`` and yield its base URL once /healthz answers; fail with its log
    if it dies or does not answer within ``timeout`` seconds. The process is appended to ``started`` (for a test
    that kills it)."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen([*command, "serve", "--port", str(port), *args], cwd=cwd, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        if started is not None:
            started.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    pytest.fail(f"the server did not start: {log_path.read_text()}")
                time.sleep(0.1)  # polling a starting process: there is no event to wait on
        try:
            yield base
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=10)
