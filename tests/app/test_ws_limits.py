"""Hostile WebSocket messages get an error answer and the connection keeps working; a stalled client costs
a bounded number of bytes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.app.test_animate import REQUEST, receive, receive_until

SHAPE = "messages must be JSON objects of at most 64 levels with numbers of at most 4300 digits"


@pytest.mark.parametrize(("text", "detail"), [
    pytest.param('{"type": "seek", "index": ' + "1" * 5000 + "}", SHAPE, id="5000-digit integer"),
    pytest.param("[" * 200_000, SHAPE, id="200,000 levels"),
    pytest.param("[" * 65 + "]" * 65, SHAPE, id="65 levels"),
    pytest.param('{"type": "status", "pad": "' + "x" * 300_000 + '"}',
                 "messages must be at most 250,000 bytes here, got 300,029", id="too large"),
    pytest.param('{"type": "play", "fps": 1e-300}', "fps must be a number from 1 to 1,000,000, got 1e-300", id="fps"),
    pytest.param('{"type": "ack", "index": 1000000000000000000000000000000}',
                 "ack index must be from -1 to 0 (the last frame sent), got 1000000000000000000000000000000", id="ack"),
    pytest.param('{"type": "open", "request": {}, "format": "xml"}',
                 "format must be 'binary' or 'json' and precision 32 or 64", id="format"),
])
def test_hostile_messages_are_answered_and_the_connection_stays(text: str, detail: str) -> None:
    with TestClient(create_app(Settings(max_body_bytes=250_000))) as client, \
            client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": REQUEST})
        ws.send_json({"type": "seek", "index": 0})
        assert receive_until(ws, "frames")["start"] == 0
        ws.send_text(text)
        assert receive(ws) == {"type": "error", "detail": detail, "status": 422}
        ws.send_json({"type": "open", "request": REQUEST})  # a refused format is not remembered
        assert receive(ws)["type"] == "opened"
        ws.send_json({"type": "status"})
        assert receive_until(ws, "state")["total"] == 100


def test_a_stalled_client_costs_at_most_the_window_bytes() -> None:
    settings = Settings(ws_window_frames=100_000, ws_window_bytes=1 << 14)
    large = {**REQUEST, "source": {"matrix": [[float(i * j) for j in range(60)] for i in range(60)]}}
    with TestClient(create_app(settings)) as client, client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": large})
        ws.send_json({"type": "seek", "index": 0})
        first = receive_until(ws, "frames")
        per_frame = sum(values.nbytes for values in first["arrays"].values())
        window = (1 << 14) // per_frame
        assert 1 < window < 3600
        ws.send_json({"type": "play", "fps": 1_000_000})
        received = 1
        while received < window:
            message = receive(ws)
            received += message["count"] if message["type"] == "frames" else 0
        ws.send_json({"type": "status"})
        state = receive_until(ws, "state")
        assert (state["frames_sent"], state["position"], state["acked"]) == (window, window - 1, -1)


def test_players_share_the_servers_playback_rate() -> None:
    settings = Settings(playback_bytes_per_second=100_000, playback_connection_bytes_per_second=80_000)
    with TestClient(create_app(settings)) as client, client.websocket_connect("/ws/animate") as first, \
            client.websocket_connect("/ws/animate") as second:
        for ws in (first, second):
            ws.send_json({"type": "open", "request": REQUEST})
            ws.send_json({"type": "seek", "index": 0})
        per_frame = sum(values.nbytes for values in receive_until(first, "frames")["arrays"].values())
        receive_until(second, "frames")
        first.send_json({"type": "play", "fps": 1_000_000})
        assert receive_until(first, "state")["effective_fps"] == round(80_000 / per_frame, 3)  # its own cap
        second.send_json({"type": "play", "fps": 1_000_000})
        assert receive_until(second, "state")["effective_fps"] == round(50_000 / per_frame, 3)  # half the total
        second.send_json({"type": "pause"})
        receive_until(second, "state")
        first.send_json({"type": "status"})
        assert receive_until(first, "state")["effective_fps"] == round(80_000 / per_frame, 3)
