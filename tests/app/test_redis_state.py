"""RedisState against a real redis-server: values round-trip exactly, each space keeps to its budget (least
recently used first, across processes), pinned values are never evicted, and a Redis that is down is a clear
StateUnavailable (a 503 with a JSON detail in the app, an error message on the WebSocket), not a hang."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.shared_state import RedisState, Space, StateUnavailable, decode_image, encode_image, raw
from app.store import ImageStore, StoredImage, freeze
from tests.app.conftest import png_bytes
from tests.redis_server import RedisServer, running_redis, start_redis


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as running:
        yield running


@pytest.fixture
def state(server: RedisServer, request: pytest.FixtureRequest) -> Iterator[RedisState]:
    """A RedisState with its own key prefix (each test sees an empty state)."""
    redis_state = RedisState(server.url, prefix=f"test-{request.node.name}:")
    yield redis_state
    redis_state.close()


def blobs(budget: int, max_items: int | None = None) -> Space[bytes]:
    return Space("blobs", budget, len, raw, raw, max_items)


def stored_keys(server: RedisServer, state: RedisState, space: Space[bytes]) -> dict[str, int]:
    """Every budgeted value of a space in Redis and its size, read straight from the server."""
    client = server.client()
    prefix = f"{state.prefix}{space.name}:v:"
    return {key.decode().removeprefix(prefix): int(client.strlen(key)) for key in client.scan_iter(prefix + "*")}


def test_images_round_trip_exactly_and_pixels_are_stored_compactly() -> None:
    rng = np.random.default_rng(0)
    rgb = freeze(rng.integers(0, 256, (3, 30, 40)).astype(np.float32))
    gray = freeze(rng.integers(0, 256, (1, 30, 40)).astype(np.float32))
    photo = StoredImage("a" * 24, rgb, gray, "cat.png")
    data = encode_image(photo)
    assert len(data) < 4 * 30 * 40 + 300  # uint8: one byte a pixel and channel, not four
    back = decode_image(data)
    assert back.rgb.dtype == np.float32 and np.array_equal(back.rgb, rgb) and np.array_equal(back.gray, gray)
    assert (back.image_id, back.name, back.photo) == (photo.image_id, "cat.png", True)
    assert not back.rgb.flags.writeable

    values = freeze(rng.normal(size=(2, 5, 7)))  # numbers (a chain layer's input): float64, stored as they are
    numbers = decode_image(encode_image(StoredImage("b" * 24, values, values, "layer", photo=False)))
    assert numbers.rgb.dtype == np.float64 and np.array_equal(numbers.rgb, values) and numbers.gray is numbers.rgb
    assert numbers.photo is False


def test_a_value_put_by_one_process_is_found_by_another(server: RedisServer, state: RedisState) -> None:
    other = RedisState(server.url, prefix=state.prefix)
    space = blobs(1000)
    state.put(space, "k", b"value")
    assert other.get(space, "k") == b"value"
    assert other.get(space, "missing") is None


def test_the_budget_evicts_least_recently_used_first(server: RedisServer, state: RedisState) -> None:
    space = blobs(300)
    for name in "abc":
        state.put(space, name, name.encode() * 100)
    assert state.get(space, "a") == b"a" * 100  # a is now the most recently used; b the least
    state.put(space, "d", b"d" * 100)
    assert stored_keys(server, state, space) == {"a": 100, "c": 100, "d": 100}
    assert state.get(space, "b") is None
    state.touch(space, "c")
    state.put(space, "e", b"e" * 150)  # over by 150: the two least recently used (a, d) go, c stays
    assert set(stored_keys(server, state, space)) == {"c", "e"}
    assert state.used(space) == 250


def test_the_newest_value_stays_even_alone_over_the_budget(server: RedisServer, state: RedisState) -> None:
    space = blobs(100)
    state.put(space, "small", b"s" * 50)
    state.put(space, "huge", b"h" * 500)
    assert stored_keys(server, state, space) == {"huge": 500}


def test_a_count_limit_holds_too(server: RedisServer, state: RedisState) -> None:
    space = blobs(1 << 20, max_items=3)
    for index in range(10):
        state.put(space, f"run{index}", b"{}")
    assert set(stored_keys(server, state, space)) == {"run7", "run8", "run9"}
    assert state.count(space) == 3


def test_pinned_values_are_never_evicted_and_do_not_count_against_the_budget(server: RedisServer,
                                                                               state: RedisState) -> None:
    space = blobs(100)
    state.put(space, "sample", b"s" * 400, pinned=True)
    for index in range(20):
        state.put(space, f"upload{index}", b"u" * 60)
    assert state.get(space, "sample") == b"s" * 400
    assert stored_keys(server, state, space) == {"upload19": 60}
    state.put(space, "sample", b"other", pinned=False)  # the same content id uploaded: it stays pinned, unchanged
    assert state.get(space, "sample") == b"s" * 400
    assert stored_keys(server, state, space) == {"upload19": 60}


def test_pinning_a_budgeted_value_moves_it_out_of_the_budget(server: RedisServer, state: RedisState) -> None:
    space = blobs(1000)
    state.put(space, "x", b"x" * 100)
    state.put(space, "x", b"x" * 100, pinned=True)
    assert stored_keys(server, state, space) == {}
    assert state.get(space, "x") == b"x" * 100
    assert int(server.client().get(f"{state.prefix}blobs:used") or 0) == 0


def test_concurrent_puts_from_many_clients_keep_the_accounting_exact(server: RedisServer, state: RedisState) -> None:
    space = blobs(5_000)
    clients = [RedisState(server.url, prefix=state.prefix) for _ in range(4)]

    def put_many(worker: int) -> None:
        for index in range(50):
            clients[worker].put(space, f"w{worker}-{index}", bytes([worker]) * (100 + index))

    threads = [threading.Thread(target=put_many, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept = stored_keys(server, state, space)
    assert sum(kept.values()) == state.used(space) <= 5_000
    assert len(kept) == state.count(space) > 10


def test_image_store_finds_an_image_another_process_stored(server: RedisServer, state: RedisState) -> None:
    first, second = ImageStore(1 << 20, state), ImageStore(1 << 20, RedisState(server.url, prefix=state.prefix))
    pixels = freeze(np.full((3, 4, 5), 7.0, dtype=np.float32))
    first.put("c" * 24, StoredImage("c" * 24, pixels, freeze(pixels[:1].copy()), "x.png"))
    found = second.get("c" * 24)
    assert found is not None and np.array_equal(found.rgb, pixels) and found.name == "x.png"
    assert second.get("d" * 24) is None


def test_an_image_a_process_keeps_using_from_its_own_copy_stays_recently_used_in_redis(server: RedisServer,
                                                                                      state: RedisState) -> None:
    def image(name: str) -> StoredImage:
        pixels = freeze(np.full((3, 4, 5), float(ord(name)), dtype=np.float32))
        return StoredImage(name * 24, pixels, freeze(pixels[:1].copy()), name)

    size = len(encode_image(image("x")))
    store = ImageStore(2 * size + size // 2, state)  # room for two
    store.put("x" * 24, image("x"))
    store.put("y" * 24, image("y"))
    store._touched["x" * 24] -= store.TOUCH_SECONDS + 1  # x was last marked used in Redis a while ago
    assert asyncio.run(store.aget("x" * 24)) is not None  # served from this process' copy, and marked used
    store.put("z" * 24, image("z"))
    other = ImageStore(1 << 20, RedisState(server.url, prefix=state.prefix))
    assert other.get("x" * 24) is not None and other.get("y" * 24) is None  # y, not x, was least recently used


def test_a_redis_that_is_down_raises_state_unavailable(tmp_path: Path) -> None:
    stopped = start_redis(tmp_path)
    stopped.stop()
    state = RedisState(stopped.url, prefix="down:")
    with pytest.raises(StateUnavailable, match=r"Redis at redis://127\.0\.0\.1:\d+/0.*unavailable"):
        state.get(blobs(10), "k")
    with pytest.raises(StateUnavailable):
        state.put(blobs(10), "k", b"v")


def test_a_redis_that_stops_answering_raises_state_unavailable(tmp_path: Path) -> None:
    stalled = start_redis(tmp_path)
    state = RedisState(stalled.url, prefix="stalled:", timeout=1.0)
    state.put(blobs(100), "k", b"v")
    stalled.process.send_signal(signal.SIGSTOP)  # accepts connections (the kernel does), answers nothing
    try:
        with pytest.raises(StateUnavailable, match="unavailable"):
            state.get(blobs(100), "k")
    finally:
        stalled.process.send_signal(signal.SIGCONT)
        stalled.stop()


def test_the_app_answers_503_with_a_reason_while_redis_is_down(tmp_path: Path) -> None:
    redis_server = start_redis(tmp_path)
    try:
        settings = Settings(redis_url=redis_server.url, redis_prefix="app503:")
        with TestClient(create_app(settings)) as client:
            sample = client.get("/api/samples").json()[0]
            upload = client.post("/api/images", files={"file": ("a.png", png_bytes(20, 20), "image/png")})
            assert upload.status_code == 201
            run = client.post("/api/run", json={"source": {"image_id": sample["id"]}, "operation": {"op": "relu"}})
            assert run.status_code == 200
            redis_server.stop()
            unknown = "f" * 24
            for response in (client.get(f"/api/images/{unknown}"), client.get(f"/api/runs/{unknown}"),
                             client.post("/api/images", files={"file": ("b.png", png_bytes(21, 20), "image/png")}),
                             client.get(f"/api/chains/{unknown}")):
                assert response.status_code == 503, response.text
                assert "Redis at redis://127.0.0.1" in response.json()["detail"]
                assert "unavailable" in response.json()["detail"]
            # what this process holds still answers: the samples and a run it computed
            assert client.get(sample["preview_url"]).status_code == 200
            assert client.get(f"/api/runs/{run.json()['run_id']}").status_code == 200
            with client.websocket_connect("/ws/animate") as ws:
                ws.send_json({"type": "open", "run_id": unknown})
                message = ws.receive_json()
                assert message["type"] == "error" and message["status"] == 503
                assert "Redis" in message["detail"]
    finally:
        redis_server.stop()


def test_a_server_built_run_is_recomputed_by_another_process_under_its_own_limits(server: RedisServer) -> None:
    """Backprop's dL/dW run uses dL/dY as a kernel, larger than a typed kernel may be: another process finds it in
    Redis with the limits it was built under (not refused under its own)."""
    settings = Settings(redis_url=server.url, redis_prefix="adopt:")
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        answer = first.post("/api/backprop/example", json={})
        assert answer.status_code == 200, answer.text
        kinds = ("weight_gradient", "input_gradient")
        runs = [layer[kind]["run"] for layer in answer.json()["layers"] for kind in kinds if layer.get(kind)]
        assert runs
        for run in runs:
            here, there = first.get(f"/api/runs/{run['run_id']}"), second.get(f"/api/runs/{run['run_id']}")
            assert there.status_code == 200, there.text
            assert there.json() == here.json()
            assert second.get(run["result_npy_url"]).content == first.get(run["result_npy_url"]).content
