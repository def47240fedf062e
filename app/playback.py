"""Playback shares the server fairly: a server-wide rate (bytes of frames per second) split equally
among the players, a cap per connection, and its own thread slot for building large batches, so fast
players slow each other down instead of delaying other clients' runs and seeks."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio


class PlaybackShare:
    """Who is playing, and how many bytes of frames per second each may stream now."""

    def __init__(self, total: int, per_connection: int, slots: int, busy_share: float = 0.35) -> None:
        self.total = total
        self.per_connection = per_connection
        self.players: set[object] = set()
        self.limiter = anyio.CapacityLimiter(slots)
        # the event loop's seconds spent building and sending frames, all players together: at most busy_share of
        # each second, so a full-speed class slows its own playback, never another client's run or seek
        self.busy = TokenBucket(busy_share, busy_share / 10)

    def rate(self) -> float:
        """Bytes per second one player may stream: an equal share of the total, within its own cap."""
        return min(self.per_connection, self.total / max(len(self.players), 1))


class TokenBucket:
    """A token bucket: ``rate`` tokens a second sustained, at most ``burst`` saved up. A connection's incoming
    messages spend one each (a client that floods them is read more slowly, TCP pushes back on it, and the event
    loop stays free for everyone else); playback spends the seconds it took to build and send each batch."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = burst
        self.last = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now

    def due(self) -> float:
        """Seconds until the bucket is out of debt (0 now)."""
        self._refill()
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def take(self, amount: float = 1.0) -> float:
        """Spend ``amount``; the seconds to wait before the work it paid for (0 within the budget)."""
        self._refill()
        self.tokens -= amount
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate
