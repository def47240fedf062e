"""Background jobs with progress (GIF rendering), in process: bounded in number (in all and per client), run in
their own thread slot so interactive work is never queued behind them, their results within a byte budget.
With KERNEL_LENS_REDIS_URL set, app.jobqueue runs them on a Redis queue instead, with the same answers."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import HTTPException

from app.config import Settings
from cnn_core.errors import ArgumentError, ArgumentTypeError

KEEP = 32
RETRY_AFTER = "5"  # seconds: about what a GIF takes
log = logging.getLogger("kernel_lens")


@dataclass
class Job:
    """A job's progress (0..1), and when done its result or its error."""

    job_id: str
    client: str
    progress: float = 0.0
    done: bool = False
    detail: str | None = None
    result: bytes | None = None


@dataclass(frozen=True)
class JobState:
    """What GET /api/jobs/{id} tells, wherever the job runs."""

    job_id: str
    progress: float
    done: bool
    detail: str | None
    has_result: bool


class Jobs:
    """Runs work in the batch thread slot and keeps the newest jobs' results within a byte budget."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limiter = anyio.CapacityLimiter(settings.batch_concurrent)
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def used(self) -> int:
        """Bytes held by finished jobs' results."""
        return sum(len(job.result) for job in self._jobs.values() if job.result is not None)

    def start(self, work: Callable[[Callable[[float], None]], bytes], client: str) -> Job:
        """Start ``work(progress)`` in a thread; returns the job to poll. HTTP 429 when too many are waiting."""
        waiting = [job for job in self._jobs.values() if not job.done]
        if len(waiting) >= self.settings.max_jobs:
            raise HTTPException(429, f"the server already has {len(waiting)} jobs waiting or running, the most "
                                     "allowed; try again in a few seconds", headers={"Retry-After": RETRY_AFTER})
        mine = sum(job.client == client for job in waiting)
        if mine >= self.settings.max_jobs_per_client:
            raise HTTPException(429, f"you already have {mine} jobs waiting or running, the most allowed per "
                                     "client; wait for one to finish", headers={"Retry-After": RETRY_AFTER})
        job = Job(secrets.token_hex(12), client)
        self._jobs[job.job_id] = job
        self._trim()

        def progress(fraction: float) -> None:
            job.progress = round(min(max(fraction, 0.0), 1.0), 4)

        async def run() -> None:
            try:
                job.result = await anyio.to_thread.run_sync(work, progress, limiter=self.limiter)
            except (ArgumentError, ArgumentTypeError, IndexError) as error:
                job.detail = str(error)
            except Exception:
                log.exception("job %s failed", job.job_id)
                job.detail = "internal error: the job failed (the server logged why)"
            finally:
                job.done = True
                self._trim()

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def _trim(self) -> None:
        """Forget the oldest finished jobs beyond KEEP, or while their results pass the byte budget."""
        for job in list(self._jobs.values()):
            if len(self._jobs) <= KEEP and self.used <= self.settings.job_result_bytes:
                return
            if job.done:
                del self._jobs[job.job_id]

    def get(self, job_id: str) -> Job | None:
        """A job by id, or None."""
        return self._jobs.get(job_id)

    async def state(self, job_id: str) -> JobState | None:
        """A job's progress and outcome, or None when unknown or too old."""
        job = self._jobs.get(job_id)
        if job is None:
            return None
        return JobState(job.job_id, job.progress, job.done, job.detail, job.done and job.result is not None)

    async def result(self, job_id: str) -> bytes | None:
        """A finished job's result, or None."""
        job = self._jobs.get(job_id)
        return job.result if job is not None else None


def client_of(request: Any) -> str:
    """Who asked: the peer's address (a class behind one NAT shares the per-client cap)."""
    return request.client.host if request.client else "unknown"
