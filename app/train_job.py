"""The worker side of a queued training job (``kernel-lens worker``, on the training queue; keys in
``app.train_queue``).

The RQ job function takes plain data (the config as JSON, the layers, the "started" message, the client) and
trains with ``app.training.run_job``, the code a server thread runs without Redis. Its messages go to the job's
stream, where the process holding the socket reads them; its model goes to Redis (``SharedModels``), so every
process serves it. A thread blocks on the job's control list (pause, resume, stop) and checks the socket's
heartbeat, so the training loop itself makes no Redis call per batch.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
from functools import lru_cache
from typing import Any

import redis
from pydantic import ValidationError
from rq import get_current_job

from app.allocator import keep_freed_memory
from app.config import Settings, get_settings
from app.errors import validation_message
from app.jobqueue import TrainClaims
from app.train_queue import STREAM_LENGTH, Timing, TrainKeys, train_keys
from app.train_schemas import TrainConfig
from app.train_worker import Send
from app.training import INPUT_SHAPE, TrainedModels, TrainingJob, check_config, run_job
from cnn_core.chain import Chain
from cnn_core.datasets import load_digits
from cnn_core.errors import ArgumentError, ArgumentTypeError

log = logging.getLogger("kernel_lens")


@lru_cache(maxsize=1)
def digits() -> tuple[Any, ...]:
    """The shipped digits, loaded once (the worker loads them before it forks a process per job)."""
    (x_train, y_train), (x_test, y_test) = load_digits()
    return x_train, y_train, x_test, y_test


def stream_sender(connection: redis.Redis, keys: TrainKeys, job_id: str, keep: int) -> Send:
    """A ``send`` that adds each message, as the page gets it (JSON), to the job's capped stream."""
    def send(message: dict[str, Any]) -> None:
        with connection.pipeline(transaction=False) as pipe:
            pipe.xadd(keys.stream(job_id), {"m": json.dumps(message, allow_nan=False)}, maxlen=STREAM_LENGTH,
                      approximate=True)
            pipe.expire(keys.stream(job_id), keep)
            pipe.execute()
    return send


class Controls(threading.Thread):
    """Applies the socket's pause / resume / stop to the job as they come (blocking on the control list), stops
    it when the socket's heartbeat lapses (its server process died: reason "closed"), and beats the worker's
    heartbeat. The training loop only reads the job's events, as it does in a server thread."""

    def __init__(self, connection: redis.Redis, keys: TrainKeys, job: TrainingJob, timing: Timing) -> None:
        super().__init__(name=f"controls-{job.job_id}", daemon=True)
        self.connection, self.keys, self.job, self.timing = connection, keys, job, timing
        self.done = threading.Event()

    def beat(self) -> bool:
        """Refresh the worker's heartbeat; whether the socket's is still there."""
        job_id = self.job.job_id
        with self.connection.pipeline(transaction=False) as pipe:
            pipe.set(self.keys.worker(job_id), "1", px=int(self.timing.lapse * 1000))
            pipe.exists(self.keys.socket(job_id))
            return bool(pipe.execute()[1])

    def apply(self, word: str) -> None:
        if word == "pause":
            self.job.pause()
        elif word == "resume":
            self.job.resume()
        elif word.startswith("stop "):
            self.job.stop(word.removeprefix("stop "))

    def run(self) -> None:
        wait = min(1.0, self.timing.settings.train_heartbeat)
        while not self.done.is_set():
            try:
                if not self.beat():
                    self.job.stop("closed")
                popped: Any = self.connection.blpop([self.keys.control(self.job.job_id)], timeout=wait)
                if popped is not None:
                    self.apply(bytes(popped[1]).decode())
            except redis.exceptions.RedisError as error:  # the job's messages fail too: it ends as an error
                log.warning("training job %s: controls unreadable (%s)", self.job.job_id, error)
                self.done.wait(wait)


def prepare(config_json: str, layers: list[dict[str, Any]], from_weights: bytes | None, client: str, job_id: str,
            settings: Settings) -> TrainingJob:
    """The job as the socket's process checked it: its plan, and its chain (new, or with the weights it
    continues from)."""
    config = TrainConfig.model_validate_json(config_json)
    plan = check_config(config, settings, layers)
    if from_weights is None:
        chain = Chain(plan.layers, seed=config.seed, max_weights=settings.max_layer_weights)
    else:
        chain = Chain(layers, seed=config.seed)
        chain.build(INPUT_SHAPE)
        chain.set_weights(Chain.load(io.BytesIO(from_weights)).get_weights())
    return TrainingJob(plan, chain, lambda message: None, job_id=job_id, client=client)


def train_job(config_json: str, layers: list[dict[str, Any]], announce: dict[str, Any], client: str,
              from_current: bool) -> str:
    """Train a queued job, its messages to its stream and its model to Redis; returns its last message's type
    (or why it did not run: stopped while it waited, or its socket's process is gone)."""
    rq_job = get_current_job()
    if rq_job is None:
        raise RuntimeError("train_job runs inside an RQ worker")
    keep_freed_memory()  # this process is forked for the job: its batches stop faulting in fresh pages
    connection, job_id = rq_job.connection, rq_job.id
    settings = get_settings()
    keys, timing = train_keys(settings), Timing(settings)
    worker = os.environ.get("RQ_WORKER_ID") or rq_job.worker_name or "worker"
    claims = TrainClaims(settings, connection)
    send = stream_sender(connection, keys, job_id, timing.keep)
    controls: Controls | None = None
    try:
        if not connection.exists(keys.socket(job_id)):
            connection.set(keys.state(job_id), "stopped", nx=True, ex=timing.keep)
            return "not run: the server process holding its socket is gone"
        if not connection.set(keys.state(job_id), "started", nx=True, ex=timing.keep):
            return "not run: stopped while it waited"
        try:
            weights = connection.get(keys.input(job_id)) if from_current else None
            if from_current and weights is None:
                raise ArgumentError("the weights to continue from are gone (the job waited too long); start again")
            job = prepare(config_json, layers, None if weights is None else bytes(weights),  # type: ignore[arg-type]
                          client, job_id, settings)
        except ValidationError as error:
            final = {"type": "error", "job_id": job_id, "status": 422,
                     "detail": validation_message(error)}  # type: ignore[arg-type]
        except (ArgumentError, ArgumentTypeError) as error:
            final = {"type": "error", "job_id": job_id, "status": 422, "detail": str(error)}
        except Exception:
            log.exception("training job %s could not be prepared", job_id)
            final = {"type": "error", "job_id": job_id, "status": 500,
                     "detail": "internal error: the training worker could not prepare the job (its log says why)"}
        else:
            controls = Controls(connection, keys, job, timing)
            controls.beat()  # the worker's heartbeat is there before "started"
            controls.start()
            send({**announce, "worker": worker})
            final = run_job(job, digits(), settings, send, TrainedModels(settings), worker)
    finally:
        if controls is not None:
            controls.done.set()
        connection.delete(keys.input(job_id))
        claims.release(job_id, client)  # before the last message: its reader may start another job at once
    send(final)
    return str(final["type"])
