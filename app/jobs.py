"""Background jobs with progress (GIF rendering): started, polled, fetched; the newest 32 are kept."""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KEEP = 32


@dataclass
class Job:
    """A job's progress (0..1), and when done its result or its error."""

    job_id: str
    progress: float = 0.0
    done: bool = False
    detail: str | None = None
    result: bytes | None = None


class Jobs:
    """Runs work in the app's thread pool and keeps the newest jobs' results."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Callable[[Callable[[float], None]], bytes], in_thread: Any) -> Job:
        """Start ``work(progress)`` in a thread; returns the job to poll."""
        job = Job(secrets.token_hex(12))
        self._jobs[job.job_id] = job
        while len(self._jobs) > KEEP:
            self._jobs.popitem(last=False)

        def progress(fraction: float) -> None:
            job.progress = round(min(max(fraction, 0.0), 1.0), 4)

        async def run() -> None:
            try:
                job.result = await in_thread(work, progress)
            except (ValueError, TypeError, IndexError) as error:
                job.detail = str(error)
            finally:
                job.done = True

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def get(self, job_id: str) -> Job | None:
        """A job by id, or None."""
        return self._jobs.get(job_id)
