"""Real processes for the multi-process tests: redis-server and nginx on free ports (skipped when the program is
not installed; scripts/test.sh installs redis-server)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers import free_port


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 20) -> None:
    """Until something accepts on 127.0.0.1:``port``; fail with the log if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"{process.args} did not start: {log.read_text(errors='replace')}")
            time.sleep(0.05)  # polling a starting process: there is no event to wait on


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A throwaway redis-server (no persistence) on a free port; yields its URL."""
    program = shutil.which("redis-server")
    if program is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    log = folder / "redis.log"
    with log.open("wb") as out:
        process = subprocess.Popen([program, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no", "--dir", str(folder)], stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, process, log)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)
