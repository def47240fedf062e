"""Playback shares the server fairly: a server-wide rate (bytes of frames per second) split equally
among the players, a cap per connection, and its own thread slot for building large batches, so fast
players slow each other down instead of delaying other clients' runs and seeks."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio


class PlaybackShare:
    """Who is playing, and how many bytes of frames per second each may stream now."""

    def __init__(self, total: int, per_connection: int, slots: int) -> None:
        self.total = total
        self.per_connection = per_connection
        self.players: set[object] = set()
        self.limiter = anyio.CapacityLimiter(slots)

    def rate(self) -> float:
        """Bytes per second one player may stream: an equal share of the total, within its own cap."""
        return min(self.per_connection, self.total / max(len(self.players), 1))


class MessageBudget:
    """A token bucket for one connection's incoming messages: ``rate`` a second sustained, ``burst`` at once.
    :meth:`take` spends one token and says how long to wait first (0 within the budget), so a client that floods
    messages is read more slowly (TCP pushes back on it) and leaves the event loop to everyone else."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = burst
        self.last = clock()

    def take(self) -> float:
        """Spend a token; the seconds to wait before handling this message."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate) - 1
        self.last = now
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate
