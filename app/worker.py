"""``kernel-lens worker``: renders queued GIF jobs (RQ) from the Redis at KERNEL_LENS_REDIS_URL.

The job function takes plain data only (the run request as JSON, the frame count, the picture's description,
the client) and reads the picture from Redis, so any machine with the package computes it with cnn_core exactly
as a server would. RQ forks a fresh process per job, so a job's memory goes back when it ends.
"""

from __future__ import annotations

import logging
import time
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
from cnn_core.errors import ArgumentError, ArgumentTypeError

log = logging.getLogger("kernel_lens")
PROGRESS_SECONDS = 0.1  # the job's progress is saved at most this often (and at the end)


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


def work(settings: Settings, burst: bool = False, name: str | None = None) -> bool:
    """Run a worker on the GIF queue until stopped (SIGINT/SIGTERM: finish the current job first), or with
    ``burst`` until the queue is empty. Returns whether it did any job."""
    if not settings.redis_url:
        raise SystemExit("kernel-lens worker needs KERNEL_LENS_REDIS_URL: the Redis the servers put jobs on "
                         "(e.g. redis://localhost:6379/0)")
    connection = connect(settings.redis_url)
    queue = Queue(keys_of(settings).queue, connection=connection, serializer=JSONSerializer)
    worker = Worker([queue], connection=connection, serializer=JSONSerializer, name=name)
    return bool(worker.work(burst=burst, logging_level="INFO"))
