"""Give freed memory back to the system once the server is idle, without slowing it while it works.

NumPy's arrays come from glibc's malloc. While the server is busy, freed arrays stay in malloc's heap and are
reused by the next ones (no page faults); but a heap seldom shrinks by itself, so a server that once held a
class's images would stay that large when idle. ``IdleTrim`` calls ``malloc_trim(0)`` once the server has had
no request or WebSocket open for a few seconds: glibc then returns every free page of every arena to the
system, wherever it lies in the heap.

Pinning malloc's mmap threshold low (every array of 256 KiB or more in its own mapping, unmapped when freed)
would also return memory, but at the price of fresh zero-filled pages for each such array: a training batch
then faults in its pages again every time, and ``Chain.fit`` took 1.8x the CPU time. glibc's default (a
threshold that rises to the size of the arrays in use) keeps training as fast as in a bare process.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from collections.abc import Callable
from typing import Any

import anyio

log = logging.getLogger("kernel_lens")


def _libc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl)
        return None
    return trim


_TRIM = _libc_trim()


def trim_freed_memory() -> bool:
    """Return the free pages of malloc's heaps to the system; False where there is no glibc (nothing to do)."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True


class IdleTrim:
    """ASGI middleware: ``trim`` (in a thread) once no request or WebSocket has been open for ``idle_seconds``.

    One trim per idle period: a new request starts a new period. ``trims`` counts them (for tests and stats).
    """

    def __init__(self, app: Any, idle_seconds: float, trim: Callable[[], bool] = trim_freed_memory) -> None:
        self.app = app
        self.idle_seconds = idle_seconds
        self.trim = trim
        self.active = 0
        self.period = 0
        self.trims = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        self.active += 1
        self.period += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
            if self.active == 0:
                asyncio.get_running_loop().call_later(self.idle_seconds, self._due, self.period)

    def _due(self, period: int) -> None:
        if self.active or period != self.period:
            return  # busy again since: the request that ends that period schedules the next trim
        task = asyncio.get_running_loop().create_task(self._run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self) -> None:
        try:
            if await anyio.to_thread.run_sync(self.trim):
                self.trims += 1
        except Exception:  # pragma: no cover - malloc_trim does not fail; never let it reach the loop
            log.exception("returning freed memory failed")
