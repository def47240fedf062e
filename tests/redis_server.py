"""A real `redis-server` (Debian's package) on a free port, in a temporary folder, for the shared-state tests.

Nothing is persisted (`--save ''`, `--appendonly no`); the process is stopped (SIGTERM, then SIGKILL) when the
test ends. The tests that use it are skipped, saying why, only when the binary is absent: scripts/test.sh (and
so CI) installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.servers import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
# the CLI's own module from this checkout (the same code as the installed `kernel-lens` script, whatever is installed)
SERVE_COMMAND = [sys.executable, "-m", "app.cli"]
REPO = Path(__file__).resolve().parents[1]


def server_environment(redis_url: str | None, **settings: str) -> dict[str, str]:
    """This environment without any KERNEL_LENS_* setting, plus the Redis URL and ``settings`` (lower-case names)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KERNEL_LENS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if redis_url:
        env["KERNEL_LENS_REDIS_URL"] = redis_url
    env.update({f"KERNEL_LENS_{key.upper()}": value for key, value in settings.items()})
    return env


def require_redis_server() -> None:
    """Skip the calling test when redis-server is not installed (scripts/test.sh installs it)."""
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server is not installed (apt-get install redis-server; scripts/test.sh does it)")


@dataclass
class RedisServer:
    """A running redis-server: its URL, a client, and the process (to stop it in a test)."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_redis(folder: Path, port: int | None = None, timeout: float = 20) -> RedisServer:
    """Start redis-server on a free loopback port (or ``port``) in ``folder``; returns once it answers PING."""
    require_redis_server()
    port = port or free_port()
    log_path = folder / f"redis-{port}.log"
    process = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(folder), "--logfile", str(log_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    server = RedisServer(f"redis://127.0.0.1:{port}/0", port, process, log_path)
    deadline = time.monotonic() + timeout
    client = server.client()
    while True:
        try:
            if client.ping():
                client.close()
                return server
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                log = log_path.read_text() if log_path.exists() else ""
                pytest.fail(f"redis-server did not start on port {port}: {log}")
            time.sleep(0.05)  # polling a starting process: there is no event to wait on


@contextmanager
def running_redis(folder: Path) -> Iterator[RedisServer]:
    """A redis-server for the duration of the ``with`` block."""
    server = start_redis(folder)
    try:
        yield server
    finally:
        server.stop()
