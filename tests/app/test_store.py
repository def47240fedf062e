"""Bounded stores: pinned samples are never evicted, and every cache counts what it holds."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.store import ByteBudgetLRU
from tests.app.conftest import png_bytes


def test_byte_budget_lru_never_evicts_pinned_entries() -> None:
    cache: ByteBudgetLRU[bytes] = ByteBudgetLRU(100, len)
    cache.put("sample", b"s" * 60, pinned=True)
    for index in range(5):
        cache.put(f"upload{index}", b"u" * 30)
    assert cache.get("sample") == b"s" * 60
    assert cache.used == 60 + 30 and len(cache) == 2  # the pinned bytes count; only the newest upload fits


def test_samples_survive_uploads_beyond_the_store_budget() -> None:
    with TestClient(create_app(Settings(store_bytes=1 << 20))) as client:
        for seed in range(3):
            upload = client.post("/api/images", files={"file": ("big.png", png_bytes(400, 400, seed), "image/png")})
            assert upload.status_code == 201
        for sample in client.get("/api/samples").json():
            assert client.get(sample["preview_url"]).status_code == 200
            run = client.post("/api/run", json={"source": {"image_id": sample["id"]}, "operation": {"op": "relu"}})
            assert run.status_code == 200


def test_rejected_runs_are_not_remembered(client: TestClient) -> None:
    registry = client.app.state.registry  # type: ignore[attr-defined]
    bulky = "; ".join(" ".join(["1"] * 64) for _ in range(64))
    for stride in range(17, 27):
        response = client.post("/api/run", json={"source": {"matrix_text": bulky},
                                                 "operation": {"op": "conv2d", "stride": stride}})
        assert response.status_code == 422
    assert registry.memory() == {"requests": 0, "runs": 0, "pngs": 0}
    assert len(registry) == 0


def test_remembered_requests_stay_within_their_byte_budget() -> None:
    settings = Settings(run_request_bytes=100_000)
    with TestClient(create_app(settings)) as client:
        registry = client.app.state.registry  # type: ignore[attr-defined]
        for seed in range(20):
            text = "; ".join(" ".join([str(seed)] * 40) for _ in range(40))
            response = client.post("/api/run", json={"source": {"matrix_text": text}, "operation": {"op": "relu"}})
            assert response.status_code == 200
        assert 0 < registry.memory()["requests"] <= 100_000
        assert client.get(f"/api/runs/{response.json()['run_id']}").status_code == 200


def test_image_previews_count_against_the_png_budget(client: TestClient) -> None:
    registry = client.app.state.registry  # type: ignore[attr-defined]
    sample = client.get("/api/samples").json()[1]
    before = registry.memory()["pngs"]
    preview = client.get(sample["preview_url"])
    assert preview.status_code == 200
    assert registry.memory()["pngs"] - before == len(preview.content)


def test_cached_makes_a_value_once_while_others_wait_and_retries_after_a_failure() -> None:
    cache: ByteBudgetLRU[bytes] = ByteBudgetLRU(1 << 20, len)
    made: list[int] = []

    def make() -> bytes:
        made.append(1)
        time.sleep(0.2)  # every other thread arrives meanwhile
        return b"picture"

    got: list[bytes] = []
    threads = [threading.Thread(target=lambda: got.append(cache.cached("k", make))) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert made == [1] and got == [b"picture"] * 5 and not cache._making

    def broken() -> bytes:
        raise OSError("disk full")

    with pytest.raises(OSError):
        cache.cached("other", broken)
    assert cache.cached("other", lambda: b"second try") == b"second try" and not cache._making
