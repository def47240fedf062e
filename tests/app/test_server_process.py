"""The README's run command starts a real server: fetch the page, health and docs, play over a real socket."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
import websockets

from app.codec import decode_batch
from tests.servers import serving


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`kernel-lens serve` (the README's run command, after its install step) on a free port."""
    command = shutil.which("kernel-lens")
    env = {**os.environ, "KERNEL_LENS_WS_WINDOW_FRAMES": "500"}
    with serving([command] if command else [sys.executable, "-m", "app.cli"],
                 tmp_path_factory.mktemp("server") / "server.log", env=env) as base:
        yield base


def test_real_server_serves_page_health_and_docs(server: str) -> None:
    page = httpx.get(f"{server}/")
    assert page.status_code == 200 and "Kernel Lens" in page.text
    assert "content-security-policy" in page.headers
    assert httpx.get(f"{server}/healthz").json()["status"] == "ok"
    docs = httpx.get(f"{server}/docs")
    assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text
    assert httpx.get(f"{server}/openapi.json").json()["info"]["title"] == "Kernel Lens"


def test_real_websocket_stays_within_the_window_when_the_client_stops_reading(server: str) -> None:
    async def scenario() -> dict[str, object]:
        sample = httpx.get(f"{server}/api/samples").json()[1]
        request = {"source": {"image_id": sample["id"]}, "operation": {"op": "conv2d"}}
        async with websockets.connect(server.replace("http", "ws") + "/ws/animate", max_size=2**24) as ws:
            await ws.send(json.dumps({"type": "open", "request": request}))
            opened = json.loads(await ws.recv())
            assert opened["run"]["frame_count"] == 510 * 510
            await ws.send(json.dumps({"type": "play", "fps": 1_000_000}))
            received = 0
            while received < 500:
                message = await ws.recv()
                if isinstance(message, bytes):
                    received += decode_batch(message)[0]["count"]
            await ws.send(json.dumps({"type": "status"}))
            while True:
                message = await ws.recv()
                if isinstance(message, str) and json.loads(message)["type"] == "state":
                    state: dict[str, object] = json.loads(message)
                    if state["frames_sent"] == 500:
                        return state

    state = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert state["playing"] is True and state["position"] == 499


def test_a_dropped_connection_mid_stream_leaves_the_server_serving(server: str) -> None:
    async def scenario() -> None:
        sample = httpx.get(f"{server}/api/samples").json()[0]
        request = {"source": {"image_id": sample["id"]}, "operation": {"op": "conv2d"}}
        for _ in range(3):
            ws = await websockets.connect(server.replace("http", "ws") + "/ws/animate", max_size=2**24)
            await ws.send(json.dumps({"type": "open", "request": request}))
            await ws.recv()
            await ws.send(json.dumps({"type": "play", "fps": 100_000}))
            await ws.recv()
            ws.transport.abort()  # vanish without a close handshake

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert httpx.get(f"{server}/healthz").status_code == 200


def test_version_command() -> None:
    command = shutil.which("kernel-lens")
    args = [command] if command else [sys.executable, "-m", "app.cli"]
    result = subprocess.run([*args, "--version"], capture_output=True, text=True, timeout=30, check=True)
    assert result.stdout.strip() == "kernel-lens 0.1.0"
