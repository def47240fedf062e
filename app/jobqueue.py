"""GIF jobs on a Redis queue (RQ) when KERNEL_LENS_REDIS_URL is set: any server process starts a job and answers
for any job, ``kernel-lens worker`` processes render them.

What lives in Redis (besides RQ's own keys, under ``rq:``; ``kernel-lens:`` is ``KERNEL_LENS_REDIS_PREFIX``; the
queue is ``kernel-lens:gif``):

- ``kernel-lens:jobs:active`` and ``kernel-lens:jobs:client:<address>``: sorted sets of the jobs waiting or
  running (score: the time by which the job is surely over), counted and claimed by one Lua script, so the caps
  ``max_jobs`` and ``max_jobs_per_client`` hold across every server process; the worker releases a job's
  place when it ends (a server also does when it sees the job ended; a lost worker's place expires).
- ``kernel-lens:jobs:input:<id>``: the job's input picture (NumPy bytes), read once by the worker; the job's own
  arguments stay small plain data (the run request as JSON, the frame count, the client), JSON-serialized.
- ``kernel-lens:jobs:result:<id>``: the finished GIF, kept ``job_result_ttl`` seconds, and all results together
  within ``job_result_bytes`` (the oldest go first, the newest always stays), by a second Lua script.
- Progress (0..1) is the RQ job's meta, saved by the worker and read by whichever server process is asked.

Training jobs have a queue of their own (``kernel-lens:train``, so a long training never waits behind GIFs nor
GIFs behind it), their places in ``kernel-lens:train:jobs:active`` and ``kernel-lens:train:jobs:client:<address>``
(:class:`TrainClaims`) and the rest of their keys in :mod:`app.train_queue`.
"""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import anyio
import numpy as np
import redis
from fastapi import HTTPException
from numpy.typing import NDArray
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from app.config import Settings
from app.jobs import RETRY_AFTER, JobState
from app.runs import Run, canonical
from app.store import ImageStore

log = logging.getLogger("kernel_lens")
QUEUE_TTL = 600  # seconds a job may wait for a worker before RQ drops it
JOB_TIMEOUT = 300  # seconds a worker may spend on one GIF
JOB_ID = re.compile(r"^[0-9a-f]{24}$")
UNREACHABLE = "the job queue (Redis) is unreachable; try again shortly"

# KEYS: active, client's; ARGV: now, deadline, job id, max in all, max per client.
# Returns {0} when claimed, {1, count} when the server is full, {2, count} when the client is.
CLAIM = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
local total = redis.call('ZCARD', KEYS[1])
if total >= tonumber(ARGV[4]) then return {1, total} end
local mine = redis.call('ZCARD', KEYS[2])
if mine >= tonumber(ARGV[5]) then return {2, mine} end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('EXPIREAT', KEYS[2], math.ceil(tonumber(ARGV[2])))
return {0}
"""

# KEYS: results, sizes, this result's key; ARGV: job id, GIF bytes, ttl, budget, now, result key prefix.
# Forgets results whose key expired, stores this one, then drops the oldest while over the budget.
KEEP = """
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[5]) - tonumber(ARGV[3]))
for _, id in ipairs(stale) do
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
end
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[5], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], string.len(ARGV[2]))
local total = 0
for _, size in ipairs(redis.call('HVALS', KEYS[2])) do total = total + tonumber(size) end
while total > tonumber(ARGV[4]) do
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  if oldest == nil or oldest == ARGV[1] then break end
  total = total - tonumber(redis.call('HGET', KEYS[2], oldest) or '0')
  redis.call('HDEL', KEYS[2], oldest)
  redis.call('ZREM', KEYS[1], oldest)
  redis.call('DEL', ARGV[6] .. oldest)
end
return total
"""


@dataclass(frozen=True)
class Keys:
    """This app's job keys in Redis, under ``KERNEL_LENS_REDIS_PREFIX`` (so several apps can share a Redis)."""

    prefix: str  # e.g. "kernel-lens:"

    @property
    def queue(self) -> str:
        """The RQ queue's name."""
        return f"{self.prefix}gif"

    @property
    def active(self) -> str:
        """Sorted set: job id -> the time by which it is surely over, for every job waiting or running."""
        return f"{self.prefix}jobs:active"

    @property
    def results(self) -> str:
        """Sorted set: job id -> the time its result was stored."""
        return f"{self.prefix}jobs:results"

    @property
    def sizes(self) -> str:
        """Hash: job id -> bytes of its result."""
        return f"{self.prefix}jobs:sizes"

    def client(self, client: str) -> str:
        """Sorted set of one client's jobs."""
        return f"{self.prefix}jobs:client:{client}"

    def input(self, job_id: str) -> str:
        """Where a job's input picture waits for the worker."""
        return f"{self.prefix}jobs:input:{job_id}"

    def result(self, job_id: str = "") -> str:
        """Where a finished job's GIF is kept (with no id: the prefix of those keys)."""
        return f"{self.prefix}jobs:result:{job_id}"


def keys_of(settings: Settings) -> Keys:
    """The job keys for these settings."""
    return Keys(settings.redis_prefix)


def connect(url: str) -> redis.Redis:
    """A client for the Redis at ``url`` (bytes in and out, as RQ needs)."""
    return redis.Redis.from_url(url, health_check_interval=30)


def release(connection: redis.Redis, keys: Keys, job_id: str, client: str) -> None:
    """Give back a job's places in the caps (idempotent)."""
    with connection.pipeline() as pipe:
        pipe.zrem(keys.active, job_id)
        pipe.zrem(keys.client(client), job_id)
        pipe.execute()


def keep_result(connection: redis.Redis, job_id: str, data: bytes, settings: Settings) -> int:
    """Store a finished GIF for ``job_result_ttl`` seconds within the results' byte budget; returns the bytes
    all results now hold."""
    keys = keys_of(settings)
    held = connection.eval(KEEP, 3, keys.results, keys.sizes, keys.result(job_id), job_id, data,
                           settings.job_result_ttl, settings.job_result_bytes, time.time(), keys.result())
    return int(held)


def pack_array(array: NDArray[Any]) -> bytes:
    """An array as .npy bytes (no pickles)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def unpack_array(data: bytes) -> NDArray[Any]:
    """The array of :func:`pack_array`."""
    return np.load(io.BytesIO(data), allow_pickle=False)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class GifOrder:
    """Everything a worker needs to render a run's GIF, as plain data."""

    request_json: str  # the run request, every default written out
    run_id: str
    frames: int
    max_kernel_side: int  # a server-built run (a gradient as kernel) may exceed the typed-kernel limit
    image: dict[str, Any] | None  # image_id, name, photo, color: the picture itself waits under input_key
    pixels: bytes | None


def gif_order(run: Run, frames: int, store: ImageStore, settings: Settings) -> GifOrder:
    """The order for ``run``: its request and, for a stored picture, the pixels it was computed on."""
    source = run.request.source
    image: dict[str, Any] | None = None
    pixels: bytes | None = None
    if source.image_id is not None:
        stored = store.get(source.image_id)
        plane = stored.pixels(source.color) if stored is not None else run.prepared.x
        image = {"image_id": source.image_id, "name": stored.name if stored else "",
                 "photo": stored.photo if stored else run.prepared.photo, "color": source.color}
        pixels = pack_array(plane)
    side = settings.max_kernel_side
    if run.prepared.weight is not None:
        side = max(side, *(int(n) for n in run.prepared.weight.shape[-2:]))
    return GifOrder(canonical(run.request).decode(), run.run_id, frames, side, image, pixels)


class QueuedJobs:
    """The server side of queued jobs: claim a place, enqueue, report progress and hand out results."""

    def __init__(self, settings: Settings, connection: redis.Redis | None = None) -> None:
        assert settings.redis_url or connection is not None
        self.settings = settings
        self.connection = connection or connect(str(settings.redis_url))
        self.keys = keys_of(settings)
        self.queue = Queue(self.keys.queue, connection=self.connection, serializer=JSONSerializer)

    async def _call(self, function: Any, *args: Any) -> Any:
        """A blocking Redis call off the event loop; 503 when Redis cannot be reached."""
        try:
            return await anyio.to_thread.run_sync(function, *args)
        except redis.exceptions.ConnectionError as error:
            log.warning("Redis unreachable: %s", error)
            raise HTTPException(503, UNREACHABLE, headers={"Retry-After": RETRY_AFTER}) from None

    async def start_gif(self, run: Run, frames: int, store: ImageStore, client: str) -> str:
        """Claim a place (HTTP 429 when the server or the client has too many jobs) and enqueue the run's GIF."""
        return await self._call(self._start, run, frames, store, client)  # type: ignore[no-any-return]

    def _start(self, run: Run, frames: int, store: ImageStore, client: str) -> str:
        order = gif_order(run, frames, store, self.settings)
        job_id = secrets.token_hex(12)
        now = time.time()
        claimed = self.connection.eval(CLAIM, 2, self.keys.active, self.keys.client(client), now,
                                       now + QUEUE_TTL + JOB_TIMEOUT, job_id, self.settings.max_jobs,
                                       self.settings.max_jobs_per_client)
        code, count = [*claimed, 0][:2]
        if int(code) == 1:
            raise HTTPException(429, f"the server already has {int(count)} jobs waiting or running, the most "
                                     "allowed; try again in a few seconds", headers={"Retry-After": RETRY_AFTER})
        if int(code) == 2:
            raise HTTPException(429, f"you already have {int(count)} jobs waiting or running, the most allowed per "
                                     "client; wait for one to finish", headers={"Retry-After": RETRY_AFTER})
        try:
            if order.pixels is not None:
                self.connection.set(self.keys.input(job_id), order.pixels, ex=QUEUE_TTL + JOB_TIMEOUT)
            self.queue.enqueue_call(
                "app.worker.render_gif_job",
                args=(order.request_json, order.run_id, order.frames, order.max_kernel_side, order.image, client),
                job_id=job_id, ttl=QUEUE_TTL, timeout=JOB_TIMEOUT, result_ttl=self.settings.job_result_ttl,
                failure_ttl=self.settings.job_result_ttl, meta={"progress": 0.0, "client": client},
                description=f"GIF of run {order.run_id}")
        except BaseException:
            release(self.connection, self.keys, job_id, client)
            raise
        return job_id

    async def state(self, job_id: str) -> JobState | None:
        """A job's progress and outcome, or None when unknown, expired or its result was dropped."""
        if not JOB_ID.match(job_id):
            return None
        return await self._call(self._state, job_id)  # type: ignore[no-any-return]

    def _state(self, job_id: str) -> JobState | None:
        try:
            job = Job.fetch(job_id, connection=self.connection, serializer=JSONSerializer)
        except NoSuchJobError:
            return None
        status = job.get_status(refresh=False)
        meta = job.meta
        progress = float(meta.get("progress", 0.0))
        if status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
            return JobState(job_id, progress, False, None, False)
        release(self.connection, self.keys, job_id, str(meta.get("client", "")))
        if status == JobStatus.FINISHED:
            if not self.connection.exists(self.keys.result(job_id)):
                return None  # dropped to keep the results within their budget: as if too old
            return JobState(job_id, progress, True, None, True)
        detail = meta.get("detail") if status == JobStatus.FAILED else "the job was stopped"
        return JobState(job_id, progress, True, str(detail or "internal error: the job failed (the worker "
                                                           "logged why)"), False)

    async def result(self, job_id: str) -> bytes | None:
        """A finished job's GIF, or None."""
        if not JOB_ID.match(job_id):
            return None
        data = await self._call(self.connection.get, self.keys.result(job_id))
        return bytes(data) if data is not None else None


class TrainClaims:
    """Training jobs' places across every process, claimed by the same script as GIF jobs' (with Redis training
    jobs run on the training queue, ``app.train_queue``): at most ``train_concurrent + train_max_queue`` running
    or waiting in all, and ``train_max_per_client`` per client address, so a student can't train on each server
    at once. A place's score is the time by which it lapses: the socket's heartbeat pushes it on
    (:meth:`refresh`), so the places of a server process that died free themselves."""

    def __init__(self, settings: Settings, connection: redis.Redis | None = None) -> None:
        self.settings = settings
        self.connection = connection or connect(str(settings.redis_url))
        self.keys = Keys(f"{settings.redis_prefix}train:")

    @property
    def total(self) -> int:
        """The most training jobs running or waiting in all."""
        return self.settings.train_concurrent + self.settings.train_max_queue

    def claim(self, job_id: str, client: str, ttl: float) -> tuple[int, int]:
        """Claim a place for ``ttl`` seconds: (0, 0) when claimed, (1, count) when all places are taken, (2, count)
        when the client already has its most."""
        now = time.time()
        claimed = self.connection.eval(CLAIM, 2, self.keys.active, self.keys.client(client), now, now + ttl, job_id,
                                       self.total, self.settings.train_max_per_client)
        code, count = [*claimed, 0][:2]
        return int(code), int(count)

    def refresh(self, pipe: Any, job_id: str, client: str, ttl: float) -> None:
        """Queue on ``pipe`` (a pipeline, sync or asyncio) what keeps the job's place ``ttl`` seconds more."""
        until = time.time() + ttl
        pipe.zadd(self.keys.active, {job_id: until}, xx=True)
        pipe.zadd(self.keys.client(client), {job_id: until}, xx=True)
        pipe.expireat(self.keys.client(client), int(until) + 1)

    def release(self, job_id: str, client: str) -> None:
        """Give the job's place back (idempotent)."""
        release(self.connection, self.keys, job_id, client)


MODEL_TTL = 24 * 3600  # seconds a trained model stays in Redis (a day of lessons), within train_model_bytes


class SharedModels:
    """Trained models in Redis, so any process answers predict, weights and backprop for a model trained on
    another: the chain's ``.npz`` (``Chain.save``) and its description, kept ``MODEL_TTL`` seconds and all of
    them within ``train_model_bytes`` (the oldest dropped first, by the results' script)."""

    def __init__(self, settings: Settings, connection: redis.Redis | None = None) -> None:
        self.settings = settings
        self.connection = connection or connect(str(settings.redis_url))
        self.keys = Keys(f"{settings.redis_prefix}train:models:")

    def put(self, model_id: str, chain_npz: bytes, description: dict[str, Any]) -> None:
        """Store a model (its description as JSON, then its weights)."""
        head = json.dumps(description).encode()
        data = len(head).to_bytes(4, "little") + head + chain_npz
        self.connection.eval(KEEP, 3, self.keys.results, self.keys.sizes, self.keys.result(model_id), model_id,
                             data, MODEL_TTL, self.settings.train_model_bytes, time.time(), self.keys.result())

    def get(self, model_id: str) -> tuple[dict[str, Any], bytes] | None:
        """(description, weights .npz) of a stored model, or None."""
        if not JOB_ID.match(model_id):
            return None
        data = self.connection.get(self.keys.result(model_id))
        if data is None:
            return None
        raw = bytes(data)  # type: ignore[arg-type]
        length = int.from_bytes(raw[:4], "little")
        description: dict[str, Any] = json.loads(raw[4:4 + length])
        return description, raw[4 + length:]
