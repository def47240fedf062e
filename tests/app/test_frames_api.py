"""GET /api/frames (JSON and binary) against the engine's own frame sequences."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.testing import assert_allclose, assert_array_equal

from app.codec import decode_batch, decode_batches, encode_batch
from app.config import Settings
from app.main import create_app
from cnn_core import conv2d_frames, get_kernel, max_pool2d_frames

X = np.random.default_rng(5).standard_normal((3, 9, 11)).round(3)


def open_run(client: TestClient, operation: dict[str, Any]) -> str:
    response = client.post("/api/run", json={"source": {"matrix": X.tolist()}, "operation": operation})
    assert response.status_code == 200, response.text
    run_id: str = response.json()["run_id"]
    return run_id


CONV = {"op": "conv2d", "filters": [{"kernel": {"name": "sobel_x"}, "bias": 0.25}], "stride": 2, "padding": 1,
        "padding_mode": "reflect"}


def test_json_frames_equal_the_engine(client: TestClient) -> None:
    run_id = open_run(client, CONV)
    response = client.get(f"/api/frames?run_id={run_id}&start=3&count=4")
    assert response.status_code == 200
    body = response.json()
    assert (body["run_id"], body["start"], body["count"], body["total"]) == (run_id, 3, 4, 30)
    weight = np.repeat(get_kernel("sobel_x")[None, None], 3, axis=1)
    seq = conv2d_frames(X, weight, np.array([0.25]), stride=2, padding=1, padding_mode="reflect")
    for offset, frame in enumerate(body["frames"]):
        engine = {name: value for name, value in frame.items() if not name.endswith("_color")}  # + colour indices
        assert engine == seq[3 + offset].to_dict()


def test_binary_frames_decode_to_the_engine_batch(client: TestClient) -> None:
    run_id = open_run(client, CONV)
    response = client.get(f"/api/frames?run_id={run_id}&start=0&count=30&format=binary&precision=64")
    assert response.headers["content-type"] == "application/x-kernel-lens-frames"
    header, arrays = decode_batch(response.content)
    assert (header["start"], header["count"], header["total"]) == (0, 30, 30)
    weight = np.repeat(get_kernel("sobel_x")[None, None], 3, axis=1)
    expected = conv2d_frames(X, weight, np.array([0.25]), stride=2, padding=1, padding_mode="reflect").batch(0, 30)
    assert set(arrays) == set(expected) | {f"{name}_color" for name in ("patch", "products", "channel_sums", "value")}
    for name, values in expected.items():
        assert_array_equal(arrays[name], values)
    compact = decode_batch(client.get(f"/api/frames?run_id={run_id}&count=30&format=binary").content)[1]
    assert compact["value"].dtype == np.float32
    assert_allclose(compact["value"], expected["value"], rtol=1e-6)


def test_binary_max_pool_keeps_minus_infinity_padding(client: TestClient) -> None:
    run_id = open_run(client, {"op": "max_pool2d", "kernel_size": 3, "stride": 2, "padding": 1})
    _, arrays = decode_batch(client.get(f"/api/frames?run_id={run_id}&count=2&format=binary").content)
    expected = max_pool2d_frames(X, 3, 2, 1).batch(0, 2)
    assert_array_equal(arrays["patch"], expected["patch"].astype(np.float32))
    assert np.isneginf(arrays["patch"][0, 0, 0])
    json_body = client.get(f"/api/frames?run_id={run_id}&count=1").json()
    assert json_body["frames"][0]["patch"][0] == [None, None, None]


def test_range_is_cut_at_the_end_and_limits_are_named(client: TestClient) -> None:
    run_id = open_run(client, CONV)
    tail = client.get(f"/api/frames?run_id={run_id}&start=28&count=10").json()
    assert (tail["count"], len(tail["frames"])) == (2, 2)
    too_many = client.get(f"/api/frames?run_id={run_id}&count=501")
    assert too_many.status_code == 422
    assert too_many.json() == {"detail": "count must be at most 500 for format=json, got 501"}
    past = client.get(f"/api/frames?run_id={run_id}&start=31")
    assert past.json() == {"detail": "start must be at most 30 (the frame count), got 31"}
    negative = client.get(f"/api/frames?run_id={run_id}&start=-1")
    assert negative.status_code == 422 and "start" in negative.json()["detail"]
    bad_format = client.get(f"/api/frames?run_id={run_id}&format=xml")
    assert bad_format.status_code == 422 and "format" in bad_format.json()["detail"]
    unknown = client.get("/api/frames?run_id=abc")
    assert unknown.status_code == 404


def test_single_frame_with_partial_output(client: TestClient) -> None:
    response = client.post("/api/run", json={"source": {"matrix": [[1, 2], [3, 4]]},
                                             "operation": {"op": "conv_transpose2d", "stride": 2}})
    run_id = response.json()["run_id"]
    frame = client.get(f"/api/frames/1?run_id={run_id}").json()
    assert frame["index"] == 1 and frame["total"] == 4
    assert frame["frame"]["partial_output"] == [[[1, 1, 2, 2], [1, 1, 2, 2], [0, 0, 0, 0], [0, 0, 0, 0]]]
    assert client.get(f"/api/frames/-1?run_id={run_id}").json()["index"] == 3
    assert client.get(f"/api/frames/4?run_id={run_id}").json() == {"detail": "frame index 4 out of range for 4 frames"}


@pytest.mark.parametrize("precision", [32, 64])
def test_codec_round_trip_and_alignment(precision: int) -> None:
    batch = {"output_index": np.arange(6).reshape(2, 3), "value": np.array([1.5, -np.inf]),
             "patch": np.ones((2, 1, 3, 3))}
    data = encode_batch(batch, {"start": 0}, precision)
    header, arrays = decode_batch(data)
    assert [field["offset"] % 8 for field in header["fields"]] == [0, 0, 0]
    assert (8 + len(data) - len(data)) % 8 == 0
    assert arrays["output_index"].dtype == np.int32
    assert_array_equal(arrays["value"], batch["value"])
    with pytest.raises(ValueError, match="missing the KLF1 magic"):
        decode_batch(b"nope")


WIDE = {"op": "conv2d", "filters": [{"kernel": {"name": "box_blur", "params": {"size": 7}}}], "padding": 3}


def test_a_frames_response_is_capped_by_bytes_and_streamed_in_bounded_chunks() -> None:
    settings = Settings(max_response_bytes=1 << 16, max_message_bytes=1 << 12)
    with TestClient(create_app(settings)) as client:
        run_id = open_run(client, WIDE)
        one = decode_batch(client.get(f"/api/frames?run_id={run_id}&count=1&format=binary").content)[1]
        per_frame = sum(values.nbytes for values in one.values())  # float32 and int32 blocks: 4 bytes a number
        fit = (1 << 16) // per_frame
        refused = client.get(f"/api/frames?run_id={run_id}&count={fit + 1}&format=binary")
        assert refused.status_code == 422
        assert refused.json() == {"detail": f"count must be at most {fit:,} for this run (each frame takes up to "
                                            f"{per_frame:,} bytes, a response at most 65,536), got {fit + 1:,}"}
        response = client.get(f"/api/frames?run_id={run_id}&start=5&count={fit}&format=binary")
        messages = list(decode_batches(response.content))
        assert len(messages) > 1 and [header["start"] for header, _ in messages][:2] == [5, 5 + (1 << 12) // per_frame]
        assert sum(header["count"] for header, _ in messages) == fit
        whole = {name: np.concatenate([arrays[name] for _, arrays in messages]) for name in one}
        expected = client.get(f"/api/frames?run_id={run_id}&start={5 + fit - 3}&count=3").json()["frames"]
        assert_allclose(whole["value"][-3:], [frame["value"] for frame in expected], rtol=1e-6)


def test_websocket_messages_stay_within_the_message_bytes() -> None:
    settings = Settings(max_message_bytes=1 << 12, ws_window_frames=10_000)
    with TestClient(create_app(settings)) as client, client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": {"source": {"matrix": X.tolist()}, "operation": WIDE}})
        assert ws.receive_json()["type"] == "opened"
        ws.send_json({"type": "play", "fps": 1_000_000})
        sizes = []
        while sum(count for count, _ in sizes) < 99:
            message = ws.receive()
            if message.get("bytes"):
                sizes.append((decode_batch(message["bytes"])[0]["count"], len(message["bytes"])))
        assert max(size for _, size in sizes) <= (1 << 12) + 1024  # the blocks, plus the JSON header
        assert max(count for count, _ in sizes) > 1
