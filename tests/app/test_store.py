"""Bounded stores: pinned samples are never evicted, and every cache counts what it holds."""

from __future__ import annotations

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
