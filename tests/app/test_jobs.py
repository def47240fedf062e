"""Batch jobs (GIFs) are bounded in number, total and per client, and never delay interactive work."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.routes import extras

REQUEST = {"source": {"matrix": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]}, "operation": {"op": "relu"}}


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """GIF jobs that wait until the test opens the gate, so they stay queued or running."""
    opened = threading.Event()

    def held(run: Any, frames: int, progress: Any) -> bytes:
        opened.wait(60)
        return b"GIF89a"

    monkeypatch.setattr(extras, "render_gif", held)
    yield opened
    opened.set()


@pytest.mark.parametrize(("total", "per_client", "detail"), [
    (2, 5, "the server already has 2 jobs waiting or running, the most allowed; try again in a few seconds"),
    (9, 2, "you already have 2 jobs waiting or running, the most allowed per client; wait for one to finish"),
])
def test_jobs_beyond_the_caps_get_429_with_retry_after(gate: threading.Event, total: int, per_client: int,
                                                       detail: str) -> None:
    settings = Settings(max_jobs=total, max_jobs_per_client=per_client, max_concurrent=1)
    with TestClient(create_app(settings)) as client:
        run_id = client.post("/api/run", json=REQUEST).json()["run_id"]
        for _ in range(2):
            assert client.post(f"/api/runs/{run_id}/gif?frames=4").status_code == 202
        refused = client.post(f"/api/runs/{run_id}/gif?frames=4")
        assert refused.status_code == 429
        assert refused.json() == {"detail": detail}
        assert int(refused.headers["retry-after"]) > 0
        small = {**REQUEST, "operation": {"op": "tanh"}}
        assert client.post("/api/run", json=small).status_code == 200  # interactive work is not queued behind
        gate.set()


def test_a_failed_job_says_why(monkeypatch: pytest.MonkeyPatch, client: TestClient) -> None:
    def broken(run: Any, frames: int, progress: Any) -> bytes:
        raise RuntimeError("a bug")

    monkeypatch.setattr(extras, "render_gif", broken)
    run_id = client.post("/api/run", json=REQUEST).json()["run_id"]
    job = client.post(f"/api/runs/{run_id}/gif?frames=4").json()
    status = client.get(job["status_url"]).json()
    while not status["done"]:
        status = client.get(job["status_url"]).json()
    assert status == {"job_id": job["job_id"], "progress": 0.0, "done": True, "gif_url": None,
                      "detail": "internal error: the job failed (the server logged why)"}
