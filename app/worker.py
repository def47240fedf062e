"""``kernel-lens worker``: renders queued GIF jobs and trains queued training jobs (RQ) from the Redis at
KERNEL_LENS_REDIS_URL.

Each queue has its own worker process, so a long training never holds up a GIF, nor a GIF a training:
``kernel-lens worker`` starts one per queue in ``KERNEL_LENS_WORKER_QUEUES`` (``gif`` and ``train``), passes
SIGTERM and SIGINT on to them and stops when they have; with one queue named it is that worker itself.

The GIF job function takes plain data only (the run request as JSON, the frame count, the picture's
description, the client) and reads the picture from Redis, so any machine with the package computes it with
cnn_core exactly as a server would. The training job function is ``app.train_job.train_job``. RQ forks a fresh
process per job, so a job's memory goes back when it ends.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

import redis
from rq import Queue, Worker, get_current_job
from rq.serializers import JSONSerializer

from app.config import Settings, get_settings
from app.gif import render_gif
from app.jobqueue import Keys, connect, keep_result, keys_of, release, unpack_array
from app.operations import NotFound
from app.runs import compute_run
from app.schemas import RunRequest
from app.store import ImageStore, StoredImage, freeze
from app.train_job import digits
from app.train_queue import TrainKeys, train_keys, train_queue
from cnn_core.errors import ArgumentError, ArgumentTypeError

log = logging.getLogger("kernel_lens")
PROGRESS_SECONDS = 0.1  # the job's progress is saved at most this often (and at the end)
CHILD_POLL_SECONDS = 0.2  # how often `kernel-lens worker` looks at its worker processes


def _store(connection: redis.Redis, keys: Keys, job_id: str, image: dict[str, Any] | None,
           settings: Settings) -> ImageStore:
    """A store holding the job's picture (only in the colour mode the run reads)."""
    store = ImageStore(settings.store_bytes)
    if image is not None:
        data = connection.get(keys.input(job_id))
        if data is None:
            raise NotFound(f"the picture of job {job_id} is gone (it waited too long); ask for the GIF again")
        plane = freeze(unpack_array(bytes(data)))  # type: ignore[arg-type]
        store.put(str(image["image_id"]), StoredImage(str(image["image_id"]), plane, plane, str(image["name"]),
                                                      bool(image["photo"])))
    return store


def render_gif_job(request_json: str, run_id: str, frames: int, max_kernel_side: int, image: dict[str, Any] | None,
                   client: str) -> int:
    """Compute the run and render its GIF into Redis; returns the GIF's size. Progress goes to the job's meta;
    a refused run's reason to meta["detail"]."""
    job = get_current_job()
    if job is None:
        raise RuntimeError("render_gif_job runs inside an RQ worker")
    connection = job.connection
    settings = get_settings()
    keys = keys_of(settings)
    last = [0.0]

    def progress(fraction: float) -> None:
        now = time.monotonic()
        if fraction >= 1.0 or now - last[0] >= PROGRESS_SECONDS:
            last[0] = now
            job.meta["progress"] = round(min(max(fraction, 0.0), 1.0), 4)
            job.save_meta()  # type: ignore[no-untyped-call]

    try:
        relaxed = settings.model_copy(update={"max_kernel_side": max(settings.max_kernel_side, max_kernel_side)})
        request = RunRequest.model_validate_json(request_json)
        run = compute_run(run_id, request, _store(connection, keys, job.id, image, settings), relaxed)
        gif = render_gif(run, frames, progress)
        keep_result(connection, job.id, gif, settings)
        return len(gif)
    except (ArgumentError, ArgumentTypeError, IndexError, NotFound) as error:
        job.meta["detail"] = str(error)
        job.save_meta()  # type: ignore[no-untyped-call]
        raise
    finally:
        connection.delete(keys.input(job.id))
        release(connection, keys, job.id, client)


class TrainWorker(Worker):
    """An RQ worker on the training queue whose warm shutdown (SIGTERM, Ctrl-C) asks the job in hand to stop
    after its batch (its weights kept, reason "worker stopped") rather than waiting out a whole training."""

    train_keys: TrainKeys

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        job_id = self.get_current_job_id()
        if job_id is not None:
            try:
                self.connection.rpush(self.train_keys.control(job_id), "stop worker stopped")
            except redis.exceptions.RedisError:  # its socket's process still stops it, or its time limit
                log.warning("training job %s: could not ask it to stop", job_id)
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]


def work(settings: Settings, burst: bool = False, name: str | None = None) -> bool:
    """Run a worker on each queue of ``worker_queues`` until stopped (SIGINT/SIGTERM: finish the current GIF,
    stop the current training after its batch), or with ``burst`` until the queue is empty. Returns whether it
    did any job (with several queues: whether every worker process ended cleanly)."""
    if not settings.redis_url:
        raise SystemExit("kernel-lens worker needs KERNEL_LENS_REDIS_URL: the Redis the servers put jobs on "
                         "(e.g. redis://localhost:6379/0)")
    queues = list(dict.fromkeys(settings.worker_queues))
    if len(queues) > 1:
        return supervise(queues, burst, name)
    connection = connect(settings.redis_url)
    if queues == ["gif"]:
        queue = Queue(keys_of(settings).queue, connection=connection, serializer=JSONSerializer)
        worker = Worker([queue], connection=connection, serializer=JSONSerializer, name=name)
    else:
        digits()  # loaded once here: each job's process is forked from this one
        trainer = TrainWorker([train_queue(settings, connection)], connection=connection, serializer=JSONSerializer,
                              name=name)
        trainer.train_keys = train_keys(settings)
        worker = trainer
    return bool(worker.work(burst=burst, logging_level="INFO"))


def supervise(queues: Sequence[str], burst: bool, name: str | None) -> bool:
    """One ``kernel-lens worker`` process per queue (the same command, ``KERNEL_LENS_WORKER_QUEUES`` set to that
    queue; ``--name`` gets the queue's name appended), SIGTERM and SIGINT passed on to them. When one fails the
    others are stopped too (restart the command whole); the first failure's status is the command's."""
    children = []
    for queue in queues:
        command = [sys.executable, "-m", "app.cli", "worker", *(["--burst"] if burst else []),
                   *(["--name", f"{name}-{queue}"] if name else [])]
        children.append(subprocess.Popen(command, env={**os.environ, "KERNEL_LENS_WORKER_QUEUES": queue}))

    asked: list[int] = []  # the signals this command got: a child they ended stopped as asked

    def forward(signum: int, frame: FrameType | None = None) -> None:
        if frame is not None:
            asked.append(signum)
        for child in children:
            if child.returncode is None:
                child.send_signal(signum)

    previous = {number: signal.signal(number, forward) for number in (signal.SIGTERM, signal.SIGINT)}
    status = 0
    try:
        while True:
            ended = [child for child in children if child.poll() is not None]
            failed = [child for child in ended if child.returncode != 0 and -child.returncode not in asked]
            if failed and not status:
                code = failed[0].returncode
                status = code if code > 0 else 1
                log.warning("kernel-lens worker: %s exited with %s; stopping the others", failed[0].args, code)
                forward(signal.SIGTERM)
            if len(ended) == len(children):
                break
            time.sleep(CHILD_POLL_SECONDS)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if status:
        raise SystemExit(status)
    return True
