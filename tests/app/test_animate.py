"""The /ws/animate playback protocol: open, play, pause, step, seek, set, ack window, close, bad messages."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from app.codec import decode_batch

MATRIX = np.arange(100, dtype=float).reshape(10, 10).tolist()
REQUEST = {"source": {"matrix": MATRIX}, "operation": {"op": "conv2d", "filters": [{"kernel": {"name": "box_blur"}}],
                                                       "padding": 1}}

LONG_REQUEST = {"source": {"matrix": np.arange(4096.0).reshape(64, 64).tolist()},  # 4,096 frames: time to play
                "operation": {"op": "conv2d", "filters": [{"kernel": {"name": "box_blur"}}], "padding": 1}}


def receive(ws: WebSocketTestSession) -> dict[str, Any]:
    """The next message: JSON as a dict, or a binary batch as {"type": "frames", header..., "arrays"}."""
    message = ws.receive()
    if message.get("bytes") is not None:
        header, arrays = decode_batch(message["bytes"])
        return {**header, "arrays": arrays}
    import json

    result: dict[str, Any] = json.loads(message["text"])
    return result


def receive_until(ws: WebSocketTestSession, kind: str) -> dict[str, Any]:
    while True:
        message = receive(ws)
        if message["type"] == kind:
            return message


def test_open_seek_step_and_close(client: TestClient) -> None:
    with client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": REQUEST})
        opened = receive(ws)
        assert opened["type"] == "opened" and opened["position"] == -1
        assert opened["run"]["frame_count"] == 100 and opened["run"]["output_shape"] == [1, 10, 10]
        ws.send_json({"type": "seek", "index": 42})
        frame = receive(ws)
        assert (frame["type"], frame["start"], frame["count"]) == ("frames", 42, 1)
        assert frame["arrays"]["output_index"].tolist() == [[0, 4, 2]]
        ws.send_json({"type": "step", "by": -2})
        assert receive(ws)["start"] == 40
        ws.send_json({"type": "step", "by": 500})
        assert receive(ws)["start"] == 99  # clamped to the last frame
        ws.send_json({"type": "seek", "index": -7})
        assert receive(ws)["start"] == 0
        ws.send_json({"type": "close"})
        assert receive(ws) == {"type": "closed"}


def test_play_streams_in_order_until_the_end_then_reports_it(client: TestClient) -> None:
    with client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": REQUEST})
        receive(ws)
        ws.send_json({"type": "play", "fps": 100_000})
        assert receive(ws)["type"] == "state"
        seen: list[int] = []
        while True:
            message = receive(ws)
            if message["type"] == "frames":
                seen.extend(range(message["start"], message["start"] + message["count"]))
                ws.send_json({"type": "ack", "index": seen[-1]})
            elif message["type"] == "state" and message["ended"]:
                break
        assert seen == list(range(100))
        assert message["position"] == 99 and message["playing"] is False


def test_json_format_and_pause(client: TestClient) -> None:
    with client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": REQUEST, "format": "json"})
        receive(ws)
        ws.send_json({"type": "seek", "index": 11})
        frame = receive(ws)
        assert frame["frames"][0]["output_index"] == [0, 1, 1]
        assert frame["frames"][0]["value"] == sum(MATRIX[r][c] for r in range(3) for c in range(3)) / 9
        ws.send_json({"type": "pause"})
        state = receive(ws)
        assert state["type"] == "state" and state["playing"] is False and state["position"] == 11


def test_set_keeps_the_position_where_it_still_exists(client: TestClient) -> None:
    with client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": REQUEST})
        receive(ws)
        ws.send_json({"type": "seek", "index": 30})
        receive(ws)
        strided = {**REQUEST, "operation": {**REQUEST["operation"], "stride": 2}}
        ws.send_json({"type": "set", "request": strided})
        opened = receive(ws)
        assert opened["run"]["frame_count"] == 25 and opened["position"] == 24
        assert receive(ws)["start"] == 24


def test_a_client_that_stops_acking_gets_at_most_the_window(client: TestClient, settings: Any) -> None:
    with client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": REQUEST})
        receive(ws)
        ws.send_json({"type": "play", "fps": 1_000_000})
        receive(ws)
        received = 0
        while received < settings.ws_window_frames:
            message = receive(ws)
            if message["type"] == "frames":
                received += message["count"]
        ws.send_json({"type": "status"})
        state = receive_until(ws, "state")
        assert state["playing"] is True  # still playing, but waiting for acks
        assert state["frames_sent"] == settings.ws_window_frames == state["position"] + 1
        ws.send_json({"type": "ack", "index": 9})
        more = receive_until(ws, "frames")
        assert more["start"] == settings.ws_window_frames


def test_bad_messages_are_reported_and_the_connection_survives(client: TestClient) -> None:
    with client.websocket_connect("/ws/animate") as ws:
        for message, detail in [
            ("not json", "messages must be JSON: Expecting value at character 0"),
            ("[1, 2]", "messages must be JSON objects with a 'type'"),
            ('{"type": "dance"}', "unknown message type 'dance'; use open, set, play, pause, step, seek, peek, "
                                  "ack, status or close"),
            ('{"type": "play", "fps": 10}', 'open a run first: {"type": "open", "request": {...}}'),
            ('{"type": "open", "request": {"source": {"matrix": [[1]]}, "operation": {"op": "conv2d", '
             '"stride": 0}}}', "stride must be a positive integer, got 0"),
            ('{"type": "open", "request": {"source": {}, "operation": {"op": "relu"}}}',
             "source: give exactly one of image_id, matrix or matrix_text"),
        ]:
            ws.send_text(message)
            assert receive(ws) == {"type": "error", "detail": detail, "status": 422}
        ws.send_text('{"type": "open", "run_id": "nope"}')
        assert receive(ws) == {"type": "error", "detail": "run nope is unknown or has expired; POST /api/run again",
                               "status": 404}
        ws.send_bytes(b"\x00\x01")
        assert receive(ws)["detail"].startswith("send control messages as JSON text")
        ws.send_json({"type": "open", "request": REQUEST})
        assert receive(ws)["type"] == "opened"
        for message, detail in [
            ({"type": "seek", "index": "5"}, "seek needs an integer 'index', got '5'"),
            ({"type": "step"}, "step needs an integer 'by', got None"),
            ({"type": "play", "fps": 0}, "fps must be a number from 1 to 1,000,000, got 0"),
            ({"type": "play", "fps": True}, "fps must be a number from 1 to 1,000,000, got True"),
        ]:
            ws.send_json(message)
            assert receive(ws) == {"type": "error", "detail": detail, "status": 422}
        ws.send_json({"type": "seek", "index": 5})
        assert receive(ws)["start"] == 5
        ws.send_json({"type": "seek", "position": [0, 20, 0]})
        assert receive(ws) == {"type": "error", "detail": "position (0, 20, 0) is outside shape (1, 10, 10)",
                               "status": 422}


def test_seek_and_peek_by_output_position(client: TestClient) -> None:
    with client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": REQUEST})
        receive(ws)
        ws.send_json({"type": "seek", "position": [0, 3, 4]})
        frame = receive(ws)
        assert frame["start"] == 34 and frame["peek"] is False
        ws.send_json({"type": "peek", "position": [0, 9, 9]})
        peeked = receive(ws)
        assert peeked["start"] == 99 and peeked["peek"] is True
        ws.send_json({"type": "status"})
        assert receive(ws)["position"] == 34  # a peek does not move the playhead


def test_step_by_rows_moves_a_whole_row_of_the_map(client: TestClient) -> None:
    with client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": REQUEST})
        receive(ws)
        ws.send_json({"type": "step", "by": 1})
        assert receive(ws)["start"] == 0
        ws.send_json({"type": "step", "rows": 2})
        assert receive(ws)["start"] == 20
        ws.send_json({"type": "step", "rows": -1})
        assert receive(ws)["start"] == 10


def test_a_late_ack_for_a_frame_sent_before_a_seek_back_is_taken(client: TestClient) -> None:
    # Before: "ack index must be from -1 to 3" for frame 42, which the server itself had sent before the seek to 3
    with client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": REQUEST})
        receive(ws)
        ws.send_json({"type": "seek", "index": 42})
        assert receive(ws)["start"] == 42
        ws.send_json({"type": "seek", "index": 3})
        assert receive(ws)["start"] == 3
        ws.send_json({"type": "ack", "index": 42})  # in flight while the page moved back
        ws.send_json({"type": "status"})
        state = receive_until(ws, "state")
        assert (state["position"], state["acked"]) == (3, 3)  # counted only up to where playback is now
        ws.send_json({"type": "ack", "index": 43})  # never sent: still refused
        error = receive_until(ws, "error")
        assert "from -1 to 42" in error["detail"]


def test_an_ack_for_a_run_no_longer_open_is_ignored(client: TestClient) -> None:
    # Before: "ack index must be from -1 to -1" for a frame the page painted while its open of another run was in
    # flight; the page showed it as a refused setting
    other = {**REQUEST, "operation": {**REQUEST["operation"], "padding": 0}}
    with client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": REQUEST})
        first = receive(ws)["run"]["run_id"]
        ws.send_json({"type": "seek", "index": 42})
        assert receive(ws)["start"] == 42
        ws.send_json({"type": "open", "request": other})
        second = receive_until(ws, "opened")["run"]["run_id"]
        assert second != first
        ws.send_json({"type": "ack", "index": 42, "run_id": first})  # painted before the open arrived
        ws.send_json({"type": "status"})
        state = receive(ws)
        assert (state["type"], state["acked"], state["position"]) == ("state", -1, -1)
        ws.send_json({"type": "seek", "index": 5})
        assert receive(ws)["run_id"] == second
        ws.send_json({"type": "ack", "index": 5, "run_id": second})
        ws.send_json({"type": "status"})
        assert receive(ws)["acked"] == 5
        ws.send_json({"type": "ack", "index": 6, "run_id": second})  # never sent: refused as before
        assert "from -1 to 5" in receive_until(ws, "error")["detail"]
        ws.send_json({"type": "ack", "index": 5, "run_id": 7})
        assert "run_id must be a run id string" in receive_until(ws, "error")["detail"]


def test_frames_built_for_a_run_replaced_meanwhile_are_not_sent(client: TestClient,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: a batch of the old run, built in a thread while an open was handled, went out after "opened" of
    # the new run; the page painted it against the new run, and its painter stopped for good
    import threading
    import time

    from app.routes import animate

    building, release, built = threading.Event(), threading.Event(), threading.Event()
    real = animate.run_batch

    def slow_batch(run: Any, start: int, stop: int) -> Any:
        if stop - start > 1 and not building.is_set():  # the first batch played, built off the event loop
            building.set()
            release.wait(10)
            try:
                return real(run, start, stop)
            finally:
                built.set()
        return real(run, start, stop)

    monkeypatch.setattr(animate, "run_batch", slow_batch)
    monkeypatch.setattr(animate, "INLINE_FRAMES", 1)  # the test's small window: its batches go to a thread too
    with client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": REQUEST})
        receive(ws)
        ws.send_json({"type": "play", "fps": 100_000})
        assert building.wait(10)
        ws.send_json({"type": "open", "request": {**REQUEST, "operation": {**REQUEST["operation"], "padding": 0}}})
        second = receive_until(ws, "opened")["run"]["run_id"]
        release.set()
        assert built.wait(10)
        time.sleep(0.3)  # the player task, resumed, would send the batch now
        ws.send_json({"type": "status"})
        after: list[dict[str, Any]] = [receive(ws)]
        while after[-1]["type"] != "state":
            after.append(receive(ws))
        shown = [(m["run_id"], m["start"]) for m in after if m["type"] == "frames"]
        assert shown and {run_id for run_id, _ in shown} == {second}  # playing on: the new run, from its start
        assert shown[0][1] == 0


def test_an_open_naming_its_picture_has_it_rendered_before_the_page_asks(client: TestClient) -> None:
    registry = client.app.state.registry  # type: ignore[attr-defined]
    three = {**REQUEST, "operation": {"op": "conv2d", "padding": 1, "filters": [
        {"kernel": {"name": "sobel_x"}}, {"kernel": {"name": "sobel_y"}}, {"kernel": {"name": "laplace_4"}}]}}
    with client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "set", "request": three, "picture": {"map": 7, "mode": "abs", "contrast": "full"}})
        run = receive(ws)["run"]
        key = f"{run['run_id']}/view-abs-full-2"  # map 7 of 3 maps: the last, as the page shows it
        for _ in range(200):
            if registry.pngs.get(key) is not None:
                break
            time.sleep(0.01)
        made = registry.pngs.get(key)
        assert made is not None
        asked = client.get(f"{run['result_png_url']}?channel=2&mode=abs&contrast=full")
        assert asked.status_code == 200 and asked.content == made


@pytest.mark.parametrize("picture", [{"map": -1, "mode": "auto", "contrast": "auto"},
                                     {"map": True, "mode": "auto", "contrast": "auto"},
                                     {"map": 0, "mode": "rainbow", "contrast": "auto"},
                                     {"map": 0, "mode": "auto"}, [0, "auto", "auto"], "auto"])
def test_a_bad_picture_is_refused_and_the_open_run_stays(client: TestClient, picture: Any) -> None:
    with client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": REQUEST})
        first = receive(ws)["run"]["run_id"]
        other = {**REQUEST, "operation": {"op": "relu"}}
        ws.send_json({"type": "set", "request": other, "picture": picture})
        error = receive(ws)
        assert error["type"] == "error" and error["status"] == 422
        assert error["detail"].startswith('picture must be {"map": a whole number from 0, "mode": one of auto, ')
        ws.send_json({"type": "status"})
        assert receive_until(ws, "state")["total"] == 100  # still the first run's 100 frames
        ws.send_json({"type": "seek", "index": 3})
        assert receive(ws)["run_id"] == first


def test_fast_playback_comes_in_one_batch_a_display_tick(client: TestClient) -> None:
    # Before: at 1,000 steps/s the server slept only until the next frame was due, so it sent ~330 messages of
    # ~3 frames a second; the page paints at most 60 times a second, so every message beyond that was waste
    with client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": LONG_REQUEST})
        receive(ws)
        ws.send_json({"type": "play", "fps": 1000})
        counts: list[int] = []
        while sum(counts) < 1500:
            message = receive(ws)
            if message["type"] == "frames":
                counts.append(message["count"])
                ws.send_json({"type": "ack", "index": message["start"] + message["count"] - 1})
        ws.send_json({"type": "pause"})
    # one frame at once after play, then batches of about 1000/60 frames (more when a tick comes late)
    assert sorted(counts)[len(counts) // 2] >= 15, counts


def test_playback_runs_at_most_a_quarter_second_ahead_of_the_last_ack(client: TestClient) -> None:
    # Before: a client that read slowly had the whole window in flight (65,536 frames by default; 64 here), and a
    # seek waited behind all of it; now at most LEAD_SECONDS of playing is unacked: 40 steps/s -> 10 frames
    with client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": LONG_REQUEST})
        receive(ws)
        ws.send_json({"type": "play", "fps": 40})
        time.sleep(1.0)  # 40 frames' worth of time, never acked
        ws.send_json({"type": "pause"})
        frames = 0
        while (message := receive(ws))["type"] != "state" or message["playing"]:
            frames += message["count"] if message["type"] == "frames" else 0
        assert frames == 10 and message["position"] == 9
        ws.send_json({"type": "ack", "index": 9})  # acked: it goes on
        ws.send_json({"type": "play", "fps": 40})
        assert receive_until(ws, "frames")["start"] == 10


def test_after_a_seek_playback_counts_its_lead_from_the_seek_not_from_an_old_ack(client: TestClient) -> None:
    # Before: after a seek to 2,000 with nothing acked, 2,001 frames counted as in flight, over the lead: it stalled
    with client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": LONG_REQUEST})
        receive(ws)
        ws.send_json({"type": "seek", "index": 2000})
        assert receive(ws)["start"] == 2000
        ws.send_json({"type": "play", "fps": 40})
        time.sleep(0.5)
        ws.send_json({"type": "pause"})
        starts = []
        while (message := receive(ws))["type"] != "state" or message["playing"]:
            if message["type"] == "frames":
                starts.append(message["start"])
        assert starts and starts[0] == 2001 and message["position"] == 2000 + len(starts)
