"""GIF jobs on a Redis queue: a real redis-server on a free port, two app instances (each its own memory, as two
processes have) and a real `kernel-lens worker` process. A job started on one is followed and fetched on the
other, the caps hold across both, results are kept within their byte budget, and the GIF is the same bytes the
in-process path renders."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from PIL import Image

from app.config import Settings
from app.gif import render_gif
from app.jobqueue import keep_result, keys_of
from app.main import create_app
from tests.app.conftest import png_bytes
from tests.packaging.processes import redis_server

ROOT = Path(__file__).resolve().parents[2]
KEYS = keys_of(Settings())
REQUEST = {"operation": {"op": "conv2d", "filters": [{"kernel": {"name": "sobel_x"}}], "padding": 1}}


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def connection(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    yield client
    client.close()


@contextmanager
def worker(redis_url: str, log: Path, burst: bool = False) -> Iterator[subprocess.Popen[bytes]]:
    """`kernel-lens worker` (as `python -m app.cli worker`) in its own process."""
    env = {**os.environ, "KERNEL_LENS_REDIS_URL": redis_url}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "app.cli", "worker", *(["--burst"] if burst else [])],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()  # RQ's warm shutdown: it finishes the job in hand
                process.wait(timeout=30)


def apps(redis_url: str, **limits: int) -> tuple[TestClient, TestClient]:
    settings = Settings(redis_url=redis_url, max_upload_bytes=2_000_000, **limits)  # type: ignore[arg-type]
    return TestClient(create_app(settings)), TestClient(create_app(settings))


def upload_and_run(client: TestClient, seed: int = 0) -> tuple[str, dict[str, object]]:
    upload = client.post("/api/images", files={"file": ("a.png", png_bytes(48, 36, seed), "image/png")})
    image_id = upload.json()["id"]
    request = {"source": {"image_id": image_id, "color": "rgb"}, **REQUEST}
    response = client.post("/api/run", json=request)
    assert response.status_code == 200, response.text
    return response.json()["run_id"], request


def test_a_gif_started_on_one_process_is_followed_and_fetched_on_the_other(
        redis_url: str, connection: redis.Redis, tmp_path: Path) -> None:
    first, second = apps(redis_url)
    with first, second, worker(redis_url, tmp_path / "worker.log") as process:
        run_id, _ = upload_and_run(first)
        started = first.post(f"/api/runs/{run_id}/gif?frames=12")
        assert started.status_code == 202, started.text
        job = started.json()
        assert connection.exists(KEYS.input(job["job_id"]))  # the picture waits for the worker
        seen = [second.get(job["status_url"]).json()]
        while not seen[-1]["done"]:
            if process.poll() is not None:
                pytest.fail(f"the worker stopped: {(tmp_path / 'worker.log').read_text()}")
            seen.append(second.get(job["status_url"]).json())
        progress = [state["progress"] for state in seen]
        assert progress == sorted(progress) and progress[-1] == 1.0
        assert seen[-1] == {"job_id": job["job_id"], "progress": 1.0, "done": True, "detail": None,
                            "gif_url": job["gif_url"]}
        gif = second.get(job["gif_url"])
        assert gif.status_code == 200 and gif.headers["content-type"] == "image/gif"
        assert Image.open(io.BytesIO(gif.content)).n_frames == 12
        # the worker computed exactly what this process renders in-process
        run = first.portal.call(first.app.state.registry.get, run_id)  # type: ignore[attr-defined]
        assert gif.content == render_gif(run, 12)
        assert not connection.exists(KEYS.input(job["job_id"]))  # read once, then deleted
        assert connection.zcard(KEYS.active) == 0 and connection.zcard(KEYS.client("testclient")) == 0
        assert 0 < connection.ttl(KEYS.result(job["job_id"])) <= Settings().job_result_ttl
    assert second.get("/api/jobs/0123456789abcdef01234567").status_code == 404
    assert second.get("/api/jobs/not-an-id/result.gif").status_code == 404


def test_the_caps_hold_across_processes_and_free_up_when_jobs_end(
        redis_url: str, connection: redis.Redis, tmp_path: Path) -> None:
    settings = Settings(redis_url=redis_url, max_jobs=3, max_jobs_per_client=2)
    here = TestClient(create_app(settings), client=("10.0.0.1", 5000))
    there = TestClient(create_app(settings), client=("10.0.0.1", 5001))
    other = TestClient(create_app(settings), client=("10.0.0.2", 5000))
    with here, there, other:  # no worker yet: every job stays queued
        run_id, _ = upload_and_run(here)
        there.post("/api/run", json={"source": {"matrix": [[1.0, 2.0], [3.0, 4.0]]}, "operation": {"op": "relu"}})
        assert here.post(f"/api/runs/{run_id}/gif?frames=4").status_code == 202
        assert there.post(f"/api/runs/{run_id}/gif?frames=4").status_code == 202
        mine = there.post(f"/api/runs/{run_id}/gif?frames=4")
        assert mine.status_code == 429 and int(mine.headers["retry-after"]) > 0
        assert mine.json() == {"detail": "you already have 2 jobs waiting or running, the most allowed per client; "
                                         "wait for one to finish"}
        assert other.post(f"/api/runs/{run_id}/gif?frames=4").status_code == 202
        full = other.post(f"/api/runs/{run_id}/gif?frames=4")
        assert full.status_code == 429 and full.json() == {
            "detail": "the server already has 3 jobs waiting or running, the most allowed; try again in a few seconds"}
        assert connection.zcard(KEYS.active) == 3
        with worker(redis_url, tmp_path / "worker.log", burst=True) as process:
            assert process.wait(timeout=120) == 0  # burst: renders the three, then stops
        assert connection.zcard(KEYS.active) == 0
        assert here.post(f"/api/runs/{run_id}/gif?frames=4").status_code == 202


def test_a_job_whose_picture_is_gone_says_why(redis_url: str, connection: redis.Redis, tmp_path: Path) -> None:
    first, second = apps(redis_url)
    with first, second:
        run_id, _ = upload_and_run(first, seed=3)
        job = first.post(f"/api/runs/{run_id}/gif?frames=4").json()
        connection.delete(KEYS.input(job["job_id"]))  # as if it waited beyond its time
        with worker(redis_url, tmp_path / "worker.log", burst=True) as process:
            assert process.wait(timeout=120) == 0
        state = second.get(job["status_url"]).json()
        assert state == {"job_id": job["job_id"], "progress": 0.0, "done": True, "gif_url": None,
                         "detail": f"the picture of job {job['job_id']} is gone (it waited too long); ask for the "
                                   "GIF again"}
        assert second.get(job["gif_url"]).status_code == 404
        assert connection.zcard(KEYS.active) == 0


def test_a_matrix_run_needs_no_picture(redis_url: str, connection: redis.Redis, tmp_path: Path) -> None:
    first, second = apps(redis_url)
    request = {"source": {"matrix": [[1.0, -2.0, 3.0], [4.0, 5.0, -6.0], [7.0, 8.0, 9.0]]},
               "operation": {"op": "max_pool2d", "kernel_size": 2, "stride": 1}}
    with first, second:
        run_id = first.post("/api/run", json=request).json()["run_id"]
        job = first.post(f"/api/runs/{run_id}/gif?frames=4").json()
        assert connection.keys(KEYS.input("*")) == []
        with worker(redis_url, tmp_path / "worker.log", burst=True) as process:
            assert process.wait(timeout=120) == 0
        run = first.portal.call(first.app.state.registry.get, run_id)  # type: ignore[attr-defined]
        assert second.get(job["gif_url"]).content == render_gif(run, 4)


def test_results_stay_within_their_byte_budget_oldest_first(connection: redis.Redis) -> None:
    settings = Settings(job_result_bytes=100_000, job_result_ttl=60)
    sizes = {"a" * 24: 40_000, "b" * 24: 40_000, "c" * 24: 40_000}
    held = [keep_result(connection, job_id, bytes(size), settings) for job_id, size in sizes.items()]
    assert held == [40_000, 80_000, 80_000]
    assert not connection.exists(KEYS.result("a" * 24))
    assert connection.strlen(KEYS.result("b" * 24)) == connection.strlen(KEYS.result("c" * 24)) == 40_000
    assert [name.decode() for name in connection.zrange(KEYS.results, 0, -1)] == ["b" * 24, "c" * 24]
    assert keep_result(connection, "d" * 24, bytes(150_000), settings) == 150_000  # the newest stays, alone
    assert connection.hkeys(KEYS.sizes) == [b"d" * 24]
    assert 0 < connection.ttl(KEYS.result("d" * 24)) <= 60


def test_a_redis_gone_away_is_a_503_not_a_500(tmp_path: Path) -> None:
    with redis_server(tmp_path) as url, TestClient(create_app(Settings(redis_url=url))) as client:
        run_id = client.post("/api/run", json={"source": {"matrix": [[1.0, 2.0], [3.0, 4.0]]},
                                               "operation": {"op": "relu"}}).json()["run_id"]
        job = client.post(f"/api/runs/{run_id}/gif?frames=4").json()
        redis.Redis.from_url(url).shutdown(nosave=True)
        unreachable = {"detail": "the job queue (Redis) is unreachable; try again shortly"}
        for answer in (client.post(f"/api/runs/{run_id}/gif?frames=4"), client.get(job["status_url"]),
                       client.get(job["gif_url"])):
            assert answer.status_code == 503 and answer.json() == unreachable
            assert int(answer.headers["retry-after"]) > 0


def test_the_worker_command_needs_redis() -> None:
    env = {key: value for key, value in os.environ.items() if key != "KERNEL_LENS_REDIS_URL"}
    done = subprocess.run([sys.executable, "-m", "app.cli", "worker", "--burst"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "kernel-lens worker needs KERNEL_LENS_REDIS_URL" in done.stderr
