"""A transposed convolution's running sums over HTTP: JSON and KLF1 binary frames carry sums_before,
sums_after, earlier_stamps and (small outputs) running_output, equal to the engine's."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient
from numpy.testing import assert_array_equal

from app.codec import decode_batch, encode_batch
from cnn_core.frames import conv_transpose2d_frames

KERNEL = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]
REQUEST = {"source": {"matrix": [[1, 2], [3, 4]]},
           "operation": {"op": "conv_transpose2d", "filters": [{"kernel": {"values": KERNEL}}], "stride": 2}}
SUMS = ("sums_before", "sums_after", "earlier_stamps", "running_output")


def test_json_and_binary_frames_carry_the_running_sums(client: TestClient) -> None:
    described = client.post("/api/run", json=REQUEST).json()
    assert set(SUMS) <= set(described["frame_fields"])
    run_id = described["run_id"]
    seq = conv_transpose2d_frames(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array(KERNEL)[None, None], stride=2)
    expected = seq.batch(0, 4)
    body = client.get(f"/api/frames?run_id={run_id}&start=0&count=4").json()
    last = body["frames"][3]
    assert last["sums_before"][0][0][0] == 32.0 and last["sums_after"][0][0][0] == 36.0  # the centre cell
    assert last["earlier_stamps"][0] == [3, 1, 1]
    assert last["running_output"][0][2] == [10.0, 14.0, 36.0, 24.0, 30.0]
    header, arrays = decode_batch(client.get(f"/api/frames?run_id={run_id}&count=4&format=binary").content)
    fields = {field["name"]: field for field in header["fields"]}
    assert fields["earlier_stamps"]["dtype"] == "i4" and fields["sums_after"]["dtype"] == "f4"
    assert fields["running_output"]["shape"] == [4, 1, 5, 5]
    for name in SUMS:
        assert_array_equal(arrays[name], expected[name])
        assert_array_equal(np.array([frame[name] for frame in body["frames"]]), expected[name])


def test_the_codec_round_trips_the_sums_at_64_bits() -> None:
    seq = conv_transpose2d_frames(np.random.default_rng(1).standard_normal((2, 3, 3)) / 3,
                                  np.random.default_rng(2).standard_normal((2, 2, 3, 3)), stride=2, padding=1)
    batch = seq.batch(2, 7)
    _, arrays = decode_batch(encode_batch(batch, {"start": 2, "count": 5, "total": 9}, precision=64))
    for name in SUMS:
        assert arrays[name].dtype == (np.int32 if name == "earlier_stamps" else np.float64)
        assert_array_equal(arrays[name], batch[name])
