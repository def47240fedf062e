"""Playback shares the server fairly: a server-wide rate (bytes of frames per second) split equally
among the players, a cap per connection, and its own thread slot for building large batches, so fast
players slow each other down instead of delaying other clients' runs and seeks."""

from __future__ import annotations

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
