"""Several real `kernel-lens serve` processes sharing one real redis-server (issue 12, items 2 and 4).

What one process stored, the other serves: uploads, runs, frames, chains and a chain layer's run. A WebSocket
session survives `kill -9` of its process by reconnecting to another and resuming at the same step. Nothing
uploaded is lost; samples survive a tiny budget. `serve --workers 2` needs Redis, and says why without it.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import websockets

from app.codec import decode_batch
from tests.app.conftest import png_bytes
from tests.redis_server import SERVE_COMMAND, RedisServer, running_redis, server_environment
from tests.servers import free_port, serving

COMMAND = SERVE_COMMAND
CONV = {"op": "conv2d", "filters": [{"kernel": {"name": "sobel_x"}}], "padding": 1}
environment = server_environment


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as running:
        yield running


@pytest.fixture(scope="module")
def pair(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Two server processes on their own ports, both pointed at the Redis."""
    folder = tmp_path_factory.mktemp("servers")
    env = environment(redis_server.url, redis_prefix="pair:")
    with ExitStack() as stack:
        first = stack.enter_context(serving(COMMAND, folder / "a.log", env=env, timeout=120))
        second = stack.enter_context(serving(COMMAND, folder / "b.log", env=env, timeout=120))
        yield first, second


def upload(base: str, data: bytes, name: str = "photo.png") -> dict[str, Any]:
    response = httpx.post(f"{base}/api/images", files={"file": (name, data, "image/png")}, timeout=30)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_upload_on_one_process_is_served_by_the_other(pair: tuple[str, str]) -> None:
    first, second = pair
    image = upload(first, png_bytes(64, 48, seed=11))
    info = httpx.get(f"{second}/api/images/{image['id']}")
    assert info.status_code == 200
    assert info.json()["width"] == 64 and info.json()["height"] == 48
    for color in ("rgb", "gray"):
        here = httpx.get(f"{first}/api/images/{image['id']}.png?color={color}")
        there = httpx.get(f"{second}/api/images/{image['id']}.png?color={color}")
        assert there.status_code == 200 and there.content == here.content  # the same pixels, exactly


def test_run_frames_and_chain_through_the_other_process(pair: tuple[str, str]) -> None:
    first, second = pair
    image = upload(first, png_bytes(40, 30, seed=12))
    request = {"source": {"image_id": image["id"], "color": "gray"}, "operation": CONV}
    run = httpx.post(f"{first}/api/run", json=request, timeout=30)
    assert run.status_code == 200
    run_id = run.json()["run_id"]
    again = httpx.get(f"{second}/api/runs/{run_id}", timeout=30)  # never computed there: recomputed from Redis
    assert again.status_code == 200
    assert again.json() == run.json()
    frames = {base: httpx.get(f"{base}/api/frames", params={"run_id": run_id, "start": 100, "count": 20},
                              timeout=30) for base in pair}
    assert frames[second].status_code == 200 and frames[second].json() == frames[first].json()
    assert httpx.get(f"{second}/api/runs/{run_id}/result.png").content == \
        httpx.get(f"{first}/api/runs/{run_id}/result.png").content

    layers = [{"type": "conv2d", "filters": 3, "kernel_size": 3, "padding": "same"},
              {"type": "activation", "activation": "relu"}, {"type": "max_pool2d", "pool_size": 2}]
    chain = httpx.post(f"{second}/api/chains", json={"source": {"image_id": image["id"]}, "layers": layers,
                                                    "seed": 5}, timeout=30)
    assert chain.status_code == 200, chain.text
    chain_id = chain.json()["chain_id"]
    seen = httpx.get(f"{first}/api/chains/{chain_id}", timeout=30)
    assert seen.status_code == 200 and seen.json() == chain.json()
    thumbnail = chain.json()["layers"][0]["maps"][1]
    assert httpx.get(first + thumbnail).content == httpx.get(second + thumbnail).content
    layer_run = httpx.post(f"{first}/api/chains/{chain_id}/layers/2/run", timeout=30)
    assert layer_run.status_code == 200
    # the layer's input was stored by the first process: the second recomputes the layer's run from Redis
    same = httpx.get(f"{second}/api/runs/{layer_run.json()['run_id']}", timeout=30)
    assert same.status_code == 200 and same.json() == layer_run.json()
    assert httpx.get(f"{second}/api/chains/{chain_id}/input.npy").content == \
        httpx.get(f"{first}/api/chains/{chain_id}/input.npy").content


def test_nothing_uploaded_is_lost(pair: tuple[str, str]) -> None:
    """24 uploads, at the same time, to either process: every one is served by both, with the same pixels."""
    def send(index: int) -> tuple[str, dict[str, Any]]:
        base = pair[index % 2]
        return base, upload(base, png_bytes(30 + index, 20 + index % 7, seed=100 + index), f"u{index}.png")

    with ThreadPoolExecutor(8) as pool:
        uploads = list(pool.map(send, range(24)))
    assert len({image["id"] for _, image in uploads}) == 24
    for source, image in uploads:
        previews = [httpx.get(f"{base}/api/images/{image['id']}.png", timeout=30) for base in pair]
        assert [preview.status_code for preview in previews] == [200, 200], image
        assert previews[0].content == previews[1].content
        other = pair[1] if source == pair[0] else pair[0]
        run = httpx.post(f"{other}/api/run", json={"source": {"image_id": image["id"]}, "operation": {"op": "relu"}},
                         timeout=30)
        assert run.status_code == 200


def test_samples_survive_a_tiny_budget_shared_by_two_processes(redis_server: RedisServer, tmp_path: Path) -> None:
    env = environment(redis_server.url, redis_prefix="tiny:", store_bytes=str(1 << 20))
    with serving(COMMAND, tmp_path / "a.log", env=env, timeout=120) as first, \
            serving(COMMAND, tmp_path / "b.log", env=env, timeout=120) as second:
        images = [upload(first, png_bytes(300, 300, seed=200 + index)) for index in range(5)]  # ~360 kB each
        client = redis_server.client()
        assert int(client.get("tiny:images:used") or 0) <= 1 << 20
        for sample in httpx.get(f"{second}/api/samples").json():
            assert httpx.get(f"{second}{sample['preview_url']}").status_code == 200
            run = httpx.post(f"{second}/api/run", json={"source": {"image_id": sample["id"]},
                                                        "operation": {"op": "relu"}}, timeout=30)
            assert run.status_code == 200
        assert httpx.get(f"{second}/api/images/{images[-1]['id']}").status_code == 200  # the newest stays
        evicted = httpx.get(f"{second}/api/images/{images[0]['id']}")  # the oldest went, for every process
        assert evicted.status_code == 404 and "upload it again" in evicted.json()["detail"]


async def _frames_at(ws: Any, want: int) -> dict[str, np.ndarray[Any, Any]]:
    """Read messages until the non-peek frame ``want`` arrives; its arrays."""
    while True:
        message = await asyncio.wait_for(ws.recv(), 20)
        if isinstance(message, bytes):
            header, arrays = decode_batch(message)
            if not header["peek"] and header["start"] <= want < header["start"] + header["count"]:
                return {name: values[want - header["start"]] for name, values in arrays.items()}


async def _connect_with_backoff(urls: list[str], attempts: int = 8) -> Any:
    """What the page does: try again after 0.1, 0.2, 0.4 ... s (with jitter), to whichever process answers."""
    for attempt in range(attempts):
        url = urls[attempt % len(urls)]
        try:
            return await websockets.connect(url, max_size=2**24)
        except OSError:
            await asyncio.sleep(min(0.1 * 2 ** attempt, 2.0) * random.uniform(0.5, 1.0))
    raise AssertionError(f"no process accepted a WebSocket at {urls}")


def test_a_websocket_session_resumes_on_another_process_after_kill_9(pair: tuple[str, str], redis_server: RedisServer,
                                                                     tmp_path: Path) -> None:
    started: list[subprocess.Popen[bytes]] = []
    env = environment(redis_server.url, redis_prefix="pair:")
    with serving(COMMAND, tmp_path / "doomed.log", env=env, started=started, timeout=120) as doomed:
        image = upload(doomed, png_bytes(50, 40, seed=13))
        request = {"source": {"image_id": image["id"]}, "operation": CONV}

        async def scenario() -> None:
            ws = await websockets.connect(doomed.replace("http", "ws") + "/ws/animate", max_size=2**24)
            await ws.send(json.dumps({"type": "open", "request": request}))
            opened = json.loads(await ws.recv())
            run_id, total = opened["run"]["run_id"], opened["run"]["frame_count"]
            await ws.send(json.dumps({"type": "seek", "index": 1234}))
            at_seek = await _frames_at(ws, 1234)
            await ws.send(json.dumps({"type": "step", "by": 3}))
            before = await _frames_at(ws, 1237)  # the page's URL state now says: this run, step 1237

            started[0].send_signal(signal.SIGKILL)
            started[0].wait(timeout=10)
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 20)

            resumed = await _connect_with_backoff([doomed.replace("http", "ws") + "/ws/animate",
                                                   pair[1].replace("http", "ws") + "/ws/animate"])
            await resumed.send(json.dumps({"type": "open", "run_id": run_id}))
            reopened = json.loads(await resumed.recv())
            assert reopened["type"] == "opened" and reopened["run"]["run_id"] == run_id
            assert reopened["run"]["frame_count"] == total
            await resumed.send(json.dumps({"type": "seek", "index": 1237}))
            after = await _frames_at(resumed, 1237)
            assert after.keys() == before.keys()
            for name in before:
                np.testing.assert_array_equal(after[name], before[name])
            await resumed.send(json.dumps({"type": "play", "fps": 500}))
            following = await _frames_at(resumed, 1238)  # playing on from where it was
            assert following.keys() == at_seek.keys()
            await resumed.send(json.dumps({"type": "status"}))
            while True:
                message = await asyncio.wait_for(resumed.recv(), 20)
                if isinstance(message, str) and json.loads(message)["type"] == "state":
                    assert json.loads(message)["position"] >= 1238
                    break
            await resumed.close()

        asyncio.run(asyncio.wait_for(scenario(), 90))
    assert started[0].returncode == -signal.SIGKILL


def test_serve_workers_2_without_redis_refuses_and_says_why() -> None:
    result = subprocess.run([*COMMAND, "serve", "--workers", "2", "--port", str(free_port())],
                            env=environment(None), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--workers 2 needs KERNEL_LENS_REDIS_URL" in result.stderr
    assert "an image uploaded to one process is a 404 on the others" in result.stderr


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def test_serve_workers_2_with_redis_answers_every_request(redis_server: RedisServer, tmp_path: Path) -> None:
    started: list[subprocess.Popen[bytes]] = []
    env = environment(redis_server.url, redis_prefix="workers:")
    with serving(COMMAND, tmp_path / "workers.log", env=env, args=["--workers", "2"], started=started,
                 timeout=120) as base:
        workers = [pid for pid in _children(started[0].pid)
                   if b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(workers) >= 2  # uvicorn's worker processes (spawned), besides the supervisor
        failures = []
        for index in range(20):
            # a new connection each time, so the kernel spreads them over both workers
            with httpx.Client(timeout=30) as client:
                image = client.post(f"{base}/api/images", files={"file": ("w.png", png_bytes(20, 20, seed=300 + index),
                                                                           "image/png")}).json()
            with httpx.Client(timeout=30) as client:
                fetched = client.get(f"{base}/api/images/{image['id']}.png")
                run = client.post(f"{base}/api/run", json={"source": {"image_id": image["id"]},
                                                           "operation": {"op": "relu"}})
            with httpx.Client(timeout=30) as client:
                frames = client.get(f"{base}/api/frames", params={"run_id": run.json()["run_id"], "count": 5})
            failures += [r.status_code for r in (fetched, run, frames) if r.status_code != 200]
        assert failures == []
