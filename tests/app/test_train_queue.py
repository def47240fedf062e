"""Training jobs on the Redis queue (issue 12, item 3): a real redis-server, two real `kernel-lens serve`
processes and a real `kernel-lens worker`. A job started over one server's /ws/train trains in the worker (its
`worker` field and the worker's log say so) with the same numbers as a server thread, and the other server
serves its model; pause, resume and stop reach the worker; a closed socket, a dead server (its heartbeat
lapses) and a stopping worker each stop the job; queue positions, the per-client and the total caps hold across
the servers. Client addresses come from X-Forwarded-For (uvicorn trusts it from 127.0.0.1)."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient
from numpy.testing import assert_allclose
from rq import Worker
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from app.config import Settings
from app.main import create_app
from app.train_queue import TrainKeys, train_queue
from cnn_core.chain import Chain
from cnn_core.datasets import load_digits
from tests.packaging.processes import redis_server
from tests.redis_server import SERVE_COMMAND, server_environment
from tests.servers import serving

TINY = {"model": "cnn_1", "train_size": 100, "epochs": 1, "batch_size": 50}
ENDLESS = {"model": "cnn_1", "train_size": 1000, "epochs": 50, "batch_size": 10}  # 4,000 batches: stopped first
FINAL = ("done", "stopped", "error")
PREFIX = "tq:"
KEYS = TrainKeys(PREFIX)
WAIT = 60  # seconds any one message may take (a bound for a broken build, not a measured time)
SETTINGS = {"train_time_limit": "60", "train_heartbeat": "1", "train_concurrent": "1", "train_max_queue": "1",
            "redis_prefix": PREFIX}


@dataclass
class Class:
    """Two servers and a worker sharing one Redis."""

    redis_url: str
    a: str
    b: str
    worker: subprocess.Popen[bytes]
    worker_log: Path
    folder: Path
    env: dict[str, str]

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)


@contextmanager
def worker_process(env: dict[str, str], log: Path, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """`kernel-lens worker --name <name>` (its GIF and training workers), stopped with SIGTERM; returns once its
    training worker is registered in Redis (a job is refused with 503 until one is)."""
    with log.open("wb") as out:
        process = subprocess.Popen([*SERVE_COMMAND, "worker", "--name", name], env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
        connection = redis.Redis.from_url(env["KERNEL_LENS_REDIS_URL"])
        queue = train_queue(Settings(redis_prefix=PREFIX), connection)
        deadline = time.monotonic() + 120
        while not any(worker.name == f"{name}-train" for worker in Worker.all(queue=queue)):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the worker did not start: {log.read_text()}")
            time.sleep(0.1)  # polling a starting process: there is no event to wait on
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=60)
            connection.close()


@pytest.fixture(scope="module")
def lesson(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Class]:
    folder = tmp_path_factory.mktemp("train-queue")
    with ExitStack() as stack:
        url = stack.enter_context(redis_server(folder))
        env = server_environment(url, **SETTINGS)
        a = stack.enter_context(serving(SERVE_COMMAND, folder / "a.log", env=env, timeout=120))
        b = stack.enter_context(serving(SERVE_COMMAND, folder / "b.log", env=env, timeout=120))
        worker = stack.enter_context(worker_process(env, folder / "worker.log", "lens"))
        yield Class(url, a, b, worker, folder / "worker.log", folder, env)


@contextmanager
def socket(base: str, client: str = "10.0.0.1") -> Iterator[ClientConnection]:
    """/ws/train on ``base`` as the student at address ``client``."""
    with connect(base.replace("http", "ws") + "/ws/train", additional_headers={"X-Forwarded-For": client},
                 max_size=2**24) as ws:
        yield ws


def start(ws: ClientConnection, config: dict[str, Any]) -> None:
    ws.send(json.dumps({"type": "start", "config": config}))


def until(ws: ClientConnection, *kinds: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Messages up to the first of these kinds: (that message, the ones before it)."""
    seen: list[dict[str, Any]] = []
    while True:
        message: dict[str, Any] = json.loads(ws.recv(timeout=WAIT))
        if message["type"] in kinds:
            return message, seen
        assert message["type"] not in FINAL, message
        seen.append(message)


def last_message(lesson: Class, job_id: str) -> dict[str, Any]:
    """The job's final message as the worker wrote it to the job's stream (blocks until it is there)."""
    connection = lesson.redis()
    last = "0-0"
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for _stream, entries in connection.xread({KEYS.stream(job_id): last}, block=1000) or []:
            for entry_id, fields in entries:
                last = entry_id
                message: dict[str, Any] = json.loads(fields[b"m"])
                if message["type"] in FINAL:
                    return message
    pytest.fail(f"job {job_id} never ended: {lesson.worker_log.read_text()}")


def in_process_weights(config: dict[str, Any]) -> list[np.ndarray]:
    """The same job trained by a server thread (no Redis)."""
    with TestClient(create_app(Settings(train_time_limit=60))) as client, \
            client.websocket_connect("/ws/train") as ws:
        ws.send_json({"type": "start", "config": config})
        while (message := ws.receive_json())["type"] not in FINAL:
            pass
        assert message["type"] == "done" and message["worker"] == "in_process", message
        return Chain.load(io.BytesIO(client.get(message["weights_url"]).content)).get_weights()


def test_a_job_trains_in_the_worker_and_the_other_server_serves_its_model(lesson: Class) -> None:
    with socket(lesson.a) as ws:
        start(ws, TINY)
        started, _ = until(ws, "started")
        done, seen = until(ws, "done")
    assert started["worker"] == done["worker"] == "lens-train"  # not "in_process": the worker trained it
    assert started["job_id"] in lesson.worker_log.read_text()
    assert (started["total_params"], started["train_size"], started["validation_size"], started["batches"]) == (
        63_522, 80, 20, 2)
    kinds = [message["type"] for message in seen]
    assert set(kinds) <= {"queued", "progress", "epoch"} and kinds.count("epoch") == 1
    progress = [message for message in seen if message["type"] == "progress"]
    assert [(m["epoch"], m["batch"]) for m in progress][-1] == (0, 1) and progress[0]["filters"]["shape"] == [8, 5, 5]
    (epoch,) = [message for message in seen if message["type"] == "epoch"]
    assert np.array(epoch["confusion"]).sum() == 20 and done["history"]["val_accuracy"] == [
        epoch["logs"]["val_accuracy"]]
    assert done["reason"] == "finished" and done["model_id"] == started["job_id"]
    weights = [httpx.get(base + done["weights_url"], timeout=WAIT) for base in (lesson.a, lesson.b)]
    assert [answer.status_code for answer in weights] == [200, 200] and weights[0].content == weights[1].content
    chain = Chain.load(io.BytesIO(weights[1].content))
    for queued, local in zip(chain.get_weights(), in_process_weights(TINY), strict=True):
        assert_allclose(queued, local, rtol=1e-6, atol=1e-7)  # the same code, the same numbers
    answer = httpx.post(lesson.b + done["predict_url"], json={"validation_index": 3}, timeout=WAIT)
    assert answer.status_code == 200, answer.text
    (x_train, y_train), _ = load_digits()
    assert_allclose(answer.json()["probabilities"], chain.predict(x_train[83:84])[0], rtol=1e-5)
    assert answer.json()["label"] == y_train[83]
    assert httpx.get(f"{lesson.b}/api/train/{done['model_id']}/export", timeout=WAIT).status_code == 200


def test_pause_resume_stop_and_the_per_client_cap_across_servers(lesson: Class) -> None:
    with socket(lesson.a) as ws:
        start(ws, ENDLESS)
        started, _ = until(ws, "started")
        ws.send(json.dumps({"type": "pause"}))
        paused, _ = until(ws, "paused")
        with socket(lesson.b) as other:  # the same student on the other server
            start(other, TINY)
            refused, _ = until(other, "error")
        assert refused["status"] == 429 and refused["retry_after"] >= 1
        assert refused["detail"] == ("this address already has 1 training job running or waiting on this class's "
                                     "servers, the most allowed per client (1); stop it (another tab?) or try "
                                     "again later")
        ws.send(json.dumps({"type": "resume"}))
        resumed, _ = until(ws, "resumed")
        assert (resumed["epoch"], resumed["batch"]) == (paused["epoch"], paused["batch"])
        ws.send(json.dumps({"type": "stop"}))
        stopped, _ = until(ws, "stopped")
        assert stopped["reason"] == "stopped" and stopped["epochs_run"] < 50 and stopped["worker"] == "lens-train"
        still = {**TINY, "optimizer": "sgd", "learning_rate": 1e-12}  # continuing barely moves the weights
        ws.send(json.dumps({"type": "start", "from": "current", "config": still}))
        again, _ = until(ws, "started")
        assert again["from"] == "current"
        continued, _ = until(ws, "done")
        assert continued["worker"] == "lens-train"
    assert started["job_id"] == stopped["model_id"] != continued["model_id"]
    before = Chain.load(io.BytesIO(httpx.get(lesson.b + stopped["weights_url"], timeout=WAIT).content))
    after = Chain.load(io.BytesIO(httpx.get(lesson.b + continued["weights_url"], timeout=WAIT).content))
    assert before.total_params((1, 28, 28)) == 63_522
    for old, new in zip(before.get_weights(), after.get_weights(), strict=True):
        assert_allclose(new, old, atol=1e-6)  # the worker started from the weights the stopped job reached


def test_closing_the_socket_stops_the_job_and_frees_the_worker(lesson: Class) -> None:
    with socket(lesson.a) as ws:
        start(ws, ENDLESS)
        started, _ = until(ws, "started")
        until(ws, "progress")
    final = last_message(lesson, started["job_id"])
    assert (final["type"], final["reason"], final["worker"]) == ("stopped", "closed", "lens-train")
    with socket(lesson.b) as ws:  # the one training worker takes the next job
        start(ws, TINY)
        assert until(ws, "started")[0]["worker"] == "lens-train"
        assert until(ws, "done")[0]["reason"] == "finished"


def test_queue_positions_and_the_total_cap_across_servers(lesson: Class) -> None:
    """KERNEL_LENS_TRAIN_CONCURRENT + KERNEL_LENS_TRAIN_MAX_QUEUE (1 + 1) jobs at most on the class's servers."""
    with socket(lesson.a, "10.0.0.2") as first, socket(lesson.b, "10.0.0.3") as second, \
            socket(lesson.a, "10.0.0.4") as third:
        start(first, ENDLESS)
        running, _ = until(first, "started")
        start(second, TINY)
        queued, _ = until(second, "queued")
        assert queued["position"] == 1
        assert httpx.get(f"{lesson.a}/api/train/limits").json()["running"] == 1
        assert httpx.get(f"{lesson.a}/api/train/limits").json()["queued"] == 1  # B's job, seen from A
        start(third, TINY)
        full, _ = until(third, "error")
        assert full["status"] == 429 and full["detail"] == (
            f"this class's servers have 2 training jobs running or waiting, the most allowed (2); try again in "
            f"about {full['retry_after']} s")
        second.send(json.dumps({"type": "stop"}))  # a waiting job leaves the queue at once
        assert until(second, "stopped")[0] == {"type": "stopped", "job_id": queued["job_id"], "reason": "stopped",
                                               "model_id": None}
        start(third, TINY)
        assert until(third, "queued")[0]["position"] == 1
        first.send(json.dumps({"type": "stop"}))
        assert until(first, "stopped")[0]["job_id"] == running["job_id"]
        assert until(third, "started")[0]["worker"] == "lens-train"
        assert until(third, "done")[0]["reason"] == "finished"
    assert lesson.redis().zcard(f"{PREFIX}train:jobs:active") == 0


def test_a_job_whose_server_died_stops_when_its_heartbeat_lapses(lesson: Class) -> None:
    started_processes: list[subprocess.Popen[bytes]] = []
    with serving(SERVE_COMMAND, lesson.folder / "c.log", env=lesson.env, timeout=120,
                 started=started_processes) as doomed:
        with suppress(ConnectionClosed, OSError), socket(doomed) as ws:  # its server dies under it
            start(ws, ENDLESS)
            started, _ = until(ws, "started")
            until(ws, "progress")
            started_processes[0].send_signal(signal.SIGKILL)  # no close, no stop: only the heartbeat stops
            started_processes[0].wait(timeout=WAIT)
    final = last_message(lesson, started["job_id"])
    assert (final["type"], final["reason"]) == ("stopped", "closed")
    assert lesson.redis().zcard(f"{PREFIX}train:jobs:active") == 0


def test_a_stopping_worker_stops_its_training_after_the_batch(lesson: Class) -> None:
    """SIGTERM to `kernel-lens worker` (last test: it stops the module's worker) passes on to its workers; the
    training one asks its job to stop rather than waiting out the whole training."""
    with socket(lesson.a) as ws:
        start(ws, ENDLESS)
        started, _ = until(ws, "started")
        until(ws, "progress")
        lesson.worker.terminate()
        stopped, _ = until(ws, "stopped")
    assert (stopped["reason"], stopped["worker"], stopped["model_id"]) == ("worker stopped", "lens-train",
                                                                          started["job_id"])
    assert lesson.worker.wait(timeout=WAIT) == 0
    assert httpx.get(lesson.b + stopped["weights_url"], timeout=WAIT).status_code == 200
