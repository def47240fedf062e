"""Training jobs on the Redis queue (KERNEL_LENS_REDIS_URL set): the side of the server process that holds the
page's /ws/train socket. ``kernel-lens worker`` trains them (``app.train_job``), with the same
``app.train_worker.train`` as a server thread does without Redis.

Keys (``kernel-lens:`` is ``KERNEL_LENS_REDIS_PREFIX``; RQ's own keys are under ``rq:``):

- the RQ queue ``kernel-lens:train`` (the GIF queue is ``kernel-lens:gif``: neither waits behind the other);
- the places in the caps, ``kernel-lens:train:jobs:active`` and ``...:jobs:client:<address>``
  (``app.jobqueue.TrainClaims``), pushed on by every heartbeat of the socket;
- ``kernel-lens:train:stream:<id>``: a Redis stream of the job's messages as the page gets them (JSON), capped
  at ``STREAM_LENGTH`` entries: the worker adds, the socket's process reads from the start, so a reader that
  comes late (or reads slowly) gets every message in order, with no window between subscribing and publishing;
- ``kernel-lens:train:control:<id>``: a list of ``pause`` / ``resume`` / ``stop <reason>`` for the worker (a
  thread of the job blocks on it: no Redis call per batch);
- ``kernel-lens:train:socket:<id>``: the socket's heartbeat, refreshed every ``KERNEL_LENS_TRAIN_HEARTBEAT``
  seconds (5) and lapsing after three of them: a job whose socket's process died stops (reason ``closed``);
- ``kernel-lens:train:worker:<id>``: the worker's heartbeat, the same way: a job whose worker died is an error;
- ``kernel-lens:train:state:<id>``: ``started`` (set by the worker) or ``stopped`` (by a stop while it waits),
  whichever comes first, so a job is never both taken off the queue and trained;
- ``kernel-lens:train:input:<id>``: the weights a ``"from": "current"`` job starts from (``Chain.save``).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import math
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import anyio
import redis
import redis.asyncio as aioredis
from rq import Queue, Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from app.config import Settings
from app.jobqueue import TrainClaims, connect
from app.shared_state import StateUnavailable
from app.training import TrainBusy, TrainedModels, TrainingJob

log = logging.getLogger("kernel_lens")
STREAM_LENGTH = 256  # messages kept per job (about 25 s of progress): a reader this far behind loses the oldest
LATE = 3  # heartbeats missed before a job (or its worker) counts as gone
POLL_SECONDS = 0.5  # how often a waiting job's queue position and a running job's worker are checked
FINAL = ("done", "stopped", "error")
ENDED = ("finished", "failed", "stopped", "canceled")  # RQ's statuses of a job that will not run (any more)
UNREACHABLE = "the job queue (Redis) is unreachable; try again shortly"


@dataclass(frozen=True)
class TrainKeys:
    """A training job's keys in Redis (see the module docstring)."""

    prefix: str  # e.g. "kernel-lens:"

    @property
    def queue(self) -> str:
        """The RQ queue's name."""
        return f"{self.prefix}train"

    def _key(self, kind: str, job_id: str) -> str:
        return f"{self.prefix}train:{kind}:{job_id}"

    def stream(self, job_id: str) -> str:
        return self._key("stream", job_id)

    def control(self, job_id: str) -> str:
        return self._key("control", job_id)

    def socket(self, job_id: str) -> str:
        return self._key("socket", job_id)

    def worker(self, job_id: str) -> str:
        return self._key("worker", job_id)

    def state(self, job_id: str) -> str:
        return self._key("state", job_id)

    def input(self, job_id: str) -> str:
        return self._key("input", job_id)


@dataclass(frozen=True)
class Timing:
    """The times a queued training job lives by, from the settings."""

    settings: Settings

    @property
    def lapse(self) -> float:
        """Seconds after which a heartbeat not refreshed counts as gone."""
        return LATE * self.settings.train_heartbeat

    @property
    def claim(self) -> float:
        """Seconds a place in the caps is held past the last heartbeat."""
        return 2 * self.lapse

    @property
    def wait(self) -> int:
        """Seconds a job may wait for a worker: every place ahead of it running to its time limit, and a minute."""
        return math.ceil((self.settings.train_max_queue + 1) * self.settings.train_time_limit) + 60

    @property
    def timeout(self) -> int:
        """RQ's limit on one job: its time limit and a minute (``train`` stops it at the time limit)."""
        return math.ceil(self.settings.train_time_limit) + 60

    @property
    def keep(self) -> int:
        """Seconds a job's keys are kept: longer than it can wait and run."""
        return self.wait + self.timeout + 600


def train_keys(settings: Settings) -> TrainKeys:
    """The training keys for these settings."""
    return TrainKeys(settings.redis_prefix)


def train_queue(settings: Settings, connection: redis.Redis) -> Queue:
    """The RQ queue of training jobs."""
    return Queue(train_keys(settings).queue, connection=connection, serializer=JSONSerializer)


class QueuedTrainer:
    """A :class:`app.training.TrainRunner` that puts jobs on the training queue and relays their messages
    from Redis to the socket; pause, resume and stop go to the worker through Redis."""

    def __init__(self, settings: Settings, models: TrainedModels) -> None:
        assert settings.redis_url
        self.settings = settings
        self.models = models
        self.keys = train_keys(settings)
        self.timing = Timing(settings)
        self.connection = connect(settings.redis_url)
        self.queue = train_queue(settings, self.connection)
        self.claims = TrainClaims(settings, self.connection)
        self.follows: dict[str, Follow] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, job: TrainingJob) -> int:
        """Claim a place (TrainBusy: 429 beyond the caps, 503 without a worker or Redis), enqueue the job, and
        follow it; the follower sends "queued" with its position."""
        try:
            await anyio.to_thread.run_sync(self._enqueue, job)
        except redis.exceptions.RedisError:
            log.warning("Redis unreachable: training job refused", exc_info=True)
            raise TrainBusy(UNREACHABLE, 5, 503) from None
        follow = Follow(self, job)
        self.follows[job.job_id] = follow
        task = asyncio.get_running_loop().create_task(follow.run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return 0

    def _enqueue(self, job: TrainingJob) -> None:
        if not Worker.count(connection=self.connection, queue=self.queue):
            raise TrainBusy("no training worker is running on this class's queue: start `kernel-lens worker` "
                            "(with the same KERNEL_LENS_REDIS_URL), then try again", 5, 503)
        code, count = self.claims.claim(job.job_id, job.client, self.timing.claim)
        wait = max(1, math.ceil(self.settings.train_time_limit / 10))
        if code == 1:
            raise TrainBusy(f"this class's servers have {count} training jobs running or waiting, the most allowed "
                            f"({self.claims.total}); try again in about {wait} s", wait)
        if code == 2:
            raise TrainBusy(f"this address already has {count} training job{'s' if count > 1 else ''} running or "
                            f"waiting on this class's servers, the most allowed per client "
                            f"({self.settings.train_max_per_client}); stop it (another tab?) or try again later", wait)
        keys, timing = self.keys, self.timing
        try:
            with self.connection.pipeline(transaction=False) as pipe:
                pipe.set(keys.socket(job.job_id), "1", px=int(timing.lapse * 1000))
                if job.chain.layers:  # "from": "current": the weights it continues from
                    buffer = io.BytesIO()
                    job.chain.save(buffer)  # type: ignore[arg-type]  # np.savez takes a file object too
                    pipe.set(keys.input(job.job_id), buffer.getvalue(), ex=timing.keep)
                pipe.execute()
            self.queue.enqueue_call(
                "app.train_job.train_job",
                args=(job.plan.config.model_dump_json(), job.plan.layers, job.announce, job.client,
                      bool(job.chain.layers)),
                job_id=job.job_id, ttl=timing.wait, timeout=timing.timeout, result_ttl=60, failure_ttl=timing.keep,
                description=f"training job {job.job_id} ({job.plan.config.model}, {job.plan.config.epochs} epochs)")
        except BaseException:
            self.claims.release(job.job_id, job.client)
            self.connection.delete(keys.socket(job.job_id), keys.input(job.job_id))
            raise

    def forget(self, job_id: str, client: str) -> None:
        """A job stopped while it waited: off the queue, its place and keys gone."""
        with suppress(redis.exceptions.RedisError):
            self.queue.remove(job_id)
            self.claims.release(job_id, client)
            with suppress(Exception):
                Job.fetch(job_id, connection=self.connection, serializer=JSONSerializer).delete()
            self.connection.delete(self.keys.input(job_id), self.keys.control(job_id))

    def pause(self, job: TrainingJob) -> None:
        self._control(job, "pause")

    def resume(self, job: TrainingJob) -> None:
        self._control(job, "resume")

    def cancel(self, job: TrainingJob, reason: str = "stopped") -> None:
        self._control(job, f"stop {reason}")

    def _control(self, job: TrainingJob, word: str) -> None:
        follow = self.follows.get(job.job_id)
        if follow is not None:
            follow.controls.put_nowait(word)

    async def load(self) -> tuple[int, int]:
        """(running, waiting) training jobs on the queue, whichever process started them."""
        def count() -> tuple[int, int]:
            return self.queue.started_job_registry.count, self.queue.count

        try:
            return await anyio.to_thread.run_sync(count)
        except redis.exceptions.RedisError as error:
            raise StateUnavailable(UNREACHABLE) from error


class Follow:
    """One queued job seen from the process holding its socket: relays the job's messages from its stream to
    ``job.emit``, reports its queue position as it moves up, passes controls on in order, beats its heart until
    the socket closes, and notices a worker that died."""

    def __init__(self, trainer: QueuedTrainer, job: TrainingJob) -> None:
        self.trainer = trainer
        self.job = job
        self.keys = trainer.keys
        self.controls: asyncio.Queue[str] = asyncio.Queue()
        self.started = False
        self.over = False  # the final message was passed on (or the socket is gone and the wait for it over)
        self.closed_at: float | None = None  # when the socket closed: the heartbeat stops
        self.position: int | None = None
        self.dropped = False  # stopped while it waited: being taken off the queue
        self.client: aioredis.Redis = aioredis.Redis.from_url(str(trainer.settings.redis_url),
                                                              health_check_interval=30)

    async def run(self) -> None:
        helpers = [asyncio.create_task(self._beat()), asyncio.create_task(self._pass_controls())]
        try:
            await self._follow()
        except redis.exceptions.RedisError as error:
            log.warning("training job %s: Redis unreachable while following it: %s", self.job.job_id, error)
            self._end({"type": "error", "job_id": self.job.job_id, "status": 503,
                       "detail": "the job queue (Redis) became unreachable, so this training can't be followed; "
                                 "start it again shortly"})
        except Exception:
            log.exception("training job %s: following it failed", self.job.job_id)
            self._end({"type": "error", "job_id": self.job.job_id, "status": 500,
                       "detail": "internal error: following the training job failed (the server logged why)"})
        finally:
            for helper in helpers:
                helper.cancel()
            with suppress(redis.exceptions.RedisError):
                await self.client.delete(self.keys.socket(self.job.job_id))
                await anyio.to_thread.run_sync(self.trainer.claims.release, self.job.job_id, self.job.client)
            await self.client.aclose()
            self.trainer.follows.pop(self.job.job_id, None)

    async def _follow(self) -> None:
        last = "0-0"
        await self._check()
        checked = time.monotonic()
        block = int(POLL_SECONDS * 1000)
        while not self.over:
            replies: Any = await self.client.xread({self.keys.stream(self.job.job_id): last}, count=64, block=block)
            for _stream, entries in replies:
                for entry_id, fields in entries:
                    last = entry_id
                    await self._forward(json.loads(fields[b"m"]))
                    if self.over:
                        return
            if time.monotonic() - checked >= POLL_SECONDS:
                checked = time.monotonic()
                await self._check()

    async def _forward(self, message: dict[str, Any]) -> None:
        """Pass a message on; a final one first brings the model here (for "from": "current" and predict)."""
        kind = message.get("type")
        if kind == "started":
            self.started = True
        if kind in FINAL and message.get("model_id"):
            try:
                model = await anyio.to_thread.run_sync(self.trainer.models.get, str(message["model_id"]))
            except StateUnavailable:
                model = None
            if model is not None:
                self.job.chain = model.chain
        if kind in FINAL:
            self.over = True
        self.job.emit(message)

    async def _check(self) -> None:
        """While waiting: its position, again when it moved up (or why it left the queue). While running: that its
        worker still beats. Once the socket closed: give up waiting for the last message after a while."""
        job_id = self.job.job_id
        if self.dropped:
            return
        if self.closed_at is not None and time.monotonic() - self.closed_at > 2 * self.trainer.timing.lapse:
            self.over = True
            return
        if not self.started:
            index: Any = await self.client.lpos(self.trainer.queue.key, job_id)
            if index is not None:
                if int(index) + 1 != self.position:
                    self.position = int(index) + 1
                    self.job.emit({"type": "queued", "job_id": job_id, "position": self.position})
                return
            status: Any = await self.client.hget(Job.key_for(job_id), "status")
            if status is None:
                self._end({"type": "error", "job_id": job_id, "status": 503,
                           "detail": f"the training job waited more than {self.trainer.timing.wait} s for a worker; "
                                     "start it again (is `kernel-lens worker` running?)"})
            elif bytes(status).decode() in ENDED and not await self.client.xlen(self.keys.stream(job_id)):
                self._end({"type": "error", "job_id": job_id, "status": 500,
                           "detail": "internal error: the training worker ended the job without running it (it "
                                     "lost this server's heartbeat, or failed: its log says why); start it again"})
            return
        if not await self.client.exists(self.keys.worker(job_id)):
            newest: Any = await self.client.xrevrange(self.keys.stream(job_id), count=1)
            if newest and json.loads(newest[0][1][b"m"]).get("type") in FINAL:
                return  # it ended meanwhile: the next read passes its last message on
            self._end({"type": "error", "job_id": job_id, "status": 500,
                       "detail": "internal error: the training worker stopped before the job ended (its log says "
                                 "why)"})

    def _end(self, message: dict[str, Any]) -> None:
        if not self.over:
            self.over = True
            self.job.emit(message)

    async def _pass_controls(self) -> None:
        """Controls in the order the socket sent them; a stop of a job still waiting takes it off the queue."""
        job_id = self.job.job_id
        while True:
            word = await self.controls.get()
            try:
                if word.startswith("stop "):
                    await self._stop(word.removeprefix("stop "))
                else:
                    async with self.client.pipeline(transaction=False) as pipe:
                        pipe.rpush(self.keys.control(job_id), word)
                        pipe.expire(self.keys.control(job_id), self.trainer.timing.keep)
                        await pipe.execute()
            except redis.exceptions.RedisError as error:
                log.warning("training job %s: %s not passed on (Redis unreachable: %s)", job_id, word, error)

    async def _stop(self, reason: str) -> None:
        job_id = self.job.job_id
        if reason == "closed":
            self.closed_at = time.monotonic()
            await self.client.delete(self.keys.socket(job_id))
        if self.over:
            return
        if await self.client.set(self.keys.state(job_id), "stopped", nx=True, ex=self.trainer.timing.keep):
            # it never runs now: off the queue with its place free before the page hears so (the page may start
            # another job at once); meanwhile a check must not take it for lost
            self.dropped = True
            await anyio.to_thread.run_sync(self.trainer.forget, job_id, self.job.client)
            self.job.stop(reason)
            self._end({"type": "stopped", "job_id": job_id, "reason": reason, "model_id": None})
            return
        async with self.client.pipeline(transaction=False) as pipe:  # it runs: the worker stops after its batch
            pipe.rpush(self.keys.control(job_id), f"stop {reason}")
            pipe.expire(self.keys.control(job_id), self.trainer.timing.keep)
            await pipe.execute()

    async def _beat(self) -> None:
        """The socket's heartbeat (and the job's place in the caps) until the socket closes."""
        timing = self.trainer.timing
        while self.closed_at is None:
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    pipe.set(self.keys.socket(self.job.job_id), "1", px=int(timing.lapse * 1000))
                    self.trainer.claims.refresh(pipe, self.job.job_id, self.job.client, timing.claim)
                    await pipe.execute()
            except redis.exceptions.RedisError as error:
                log.warning("training job %s: heartbeat missed (Redis unreachable: %s)", self.job.job_id, error)
            await asyncio.sleep(self.trainer.settings.train_heartbeat)
