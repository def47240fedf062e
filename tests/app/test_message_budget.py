"""Each WebSocket's incoming messages are paced by a token bucket (app.playback.TokenBucket), so one client's
flood of seeks or restarts can't hold the event loop from the others (issue 11, item 9)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.playback import TokenBucket
from tests.app.test_animate import REQUEST, receive


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_allows_a_burst_then_paces_at_its_rate() -> None:
    clock = Clock()
    budget = TokenBucket(rate=10, burst=3, clock=clock)
    assert [budget.take() for _ in range(3)] == [0.0, 0.0, 0.0]  # the burst
    assert budget.take() == 0.1  # the 4th message at once: one token short, a tenth of a second at 10/s
    assert budget.take() == 0.2  # and the 5th two tokens short
    clock.now += 0.5  # half a second refills 5 tokens: back to 3 (the burst) after paying the 2 owed
    assert budget.take() == 0.0
    clock.now += 10  # a long quiet spell refills only up to the burst
    assert [budget.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert budget.take() > 0


def test_a_flood_of_messages_is_paced_not_dropped() -> None:
    # Before: 8 bots restarting a 225-frame run at full speed sent ~10,000 messages a second, all handled at
    # once on the event loop; a small run waited behind them (bench_server's contention row, p99 over 200 ms)
    with TestClient(create_app(Settings(ws_messages_per_second=50))) as client:
        with client.websocket_connect("/ws/animate") as ws:
            ws.send_json({"type": "open", "request": REQUEST})
            assert receive(ws)["type"] == "opened"
            for index in range(150):  # 50 over the burst of 100: paced, each answered in order
                ws.send_json({"type": "seek", "index": index % 100})
            starts = [receive(ws)["start"] for _ in range(150)]
            assert starts == [index % 100 for index in range(150)]


def test_the_busy_budget_charges_seconds_and_says_when_playback_may_go_on() -> None:
    # Before: 8 full-speed players of a 225-frame run built and sent frames for most of every second on the
    # event loop (py-spy: 1,011 of 2,025 samples), and a small run waited behind them
    clock = Clock()
    clock.now = 0.0  # whole numbers of tenths stay exact near zero
    busy = TokenBucket(rate=0.5, burst=0.05, clock=clock)  # half of each second, 50 ms saved up at most
    assert busy.due() == 0.0
    busy.take(0.03)
    assert busy.due() == 0.0  # 20 ms of the burst left
    busy.take(0.07)  # a batch that took 70 ms: 50 ms in debt
    assert busy.due() == pytest.approx(0.1)  # paid back at half a second per second
    clock.now += 0.1 + 1e-9
    assert busy.due() == 0.0
