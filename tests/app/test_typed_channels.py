"""Typed matrices with several channels (a blank line between channels) and typed kernels with several
blocks, over HTTP: CS231n's 5x5x3 example with two 3x3x3 filters against PyTorch
(tests/fixtures/cs231n_golden.json), and clear 422s naming the channel, row and column."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.testing import assert_allclose, assert_array_equal

from app.typed import parse_matrix

GOLDEN = json.loads((Path(__file__).parents[1] / "fixtures" / "cs231n_golden.json").read_text())


def as_text(planes: list[list[list[float]]]) -> str:
    """Channels as a user types them: rows on lines, a blank line between channels."""
    return "\n\n".join("\n".join(" ".join(str(v) for v in row) for row in plane) for plane in planes)


def cs231n_request() -> dict[str, Any]:
    filters = [{"kernel": {"values": w[0]}, "channels": [{"values": plane} for plane in w], "bias": float(b)}
               for w, b in zip(GOLDEN["w"], GOLDEN["b"], strict=True)]
    return {"source": {"matrix_text": as_text(GOLDEN["x"])},
            "operation": {"op": "conv2d", "filters": filters, "stride": 2, "padding": 1}}


def test_the_cs231n_example_typed_with_its_channels_equals_pytorch(client: TestClient) -> None:
    response = client.post("/api/run", json=cs231n_request())
    assert response.status_code == 200, response.text
    run = response.json()
    assert (run["input_shape"], run["output_shape"], run["frame_count"]) == ([3, 5, 5], [2, 3, 3], 18)
    assert run["weight"] == GOLDEN["w"] and run["bias"] == GOLDEN["b"]
    result = np.load(io.BytesIO(client.get(run["result_npy_url"]).content))
    assert_array_equal(result, GOLDEN["output"])
    frames = client.get(f"/api/frames?run_id={run['run_id']}&start=0&count=18").json()["frames"]
    for frame in frames:
        f, row, col = frame["output_index"]
        assert frame["value"] == GOLDEN["output"][f][row][col]
        assert frame["channel_sums"] == [GOLDEN["channel_sums"][f][c][row][col] for c in range(3)]
    # by hand, map 1 at (0, 0): the window covers input rows and cols 0..1 at taps (1..2, 1..2)
    # R: 2*1 + 0*-1 + 1*0 + 2*0 = 2; G: 1*0 + 1*0 + 0*1 + 2*0 = 0; B: 0*-1 + 2*1 + 1*1 + 0*-1 = 3; + b0 = 6
    assert frames[0]["channel_sums"] == [2.0, 0.0, 3.0] and frames[0]["value"] == 6.0


def test_one_block_stays_a_plain_matrix() -> None:
    assert parse_matrix("1 2; 3 4", 8).shape == (2, 2)
    assert parse_matrix("1 2\n3 4\n \n\n5 6\n7 8\r\n\r\n9 0\n1 2", 8).tolist() == [
        [[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 0], [1, 2]]]


@pytest.mark.parametrize(("text", "detail", "row", "column"), [
    ("1 2\n3 4\n\n5 6\n7 x", "channel 2: row 2, column 2: 'x' is not a number (write decimals like -0.5, "
                             "or fractions like 1/9)", 4, 2),
    ("1 2\n3 4\n\n5 6\n7", "channel 2: row 2 has 1 number but row 1 has 2: every row needs the same count", 4, 2),
    ("1 2\n3 4\n\n5 6 7\n8 9 0", "channel 2 is 2x3 but channel 1 is 2x2: every channel needs the same rows and "
                                 "columns", 3, None),
    ("\n\n".join(["1"] * 17), "a typed matrix has at most 16 channels (blocks separated by a blank line), got 17",
     None, None),
])
def test_a_bad_channel_is_named_with_its_row_and_column(client: TestClient, text: str, detail: str,
                                                        row: int | None, column: int | None) -> None:
    response = client.post("/api/run", json={"source": {"matrix_text": text}, "operation": {"op": "relu"}})
    assert response.status_code == 422
    assert response.json() == {"detail": detail, "row": row, "column": column}


def test_typed_kernels_with_several_blocks(client: TestClient) -> None:
    text = "\n\n".join(as_text([plane]) for plane in GOLDEN["w"][0] + GOLDEN["w"][1])
    body = client.post("/api/kernels/parse", json={"text": text}).json()
    assert body["blocks"] == GOLDEN["w"][0] + GOLDEN["w"][1]
    assert body["kernel"] == GOLDEN["w"][0][0] and body["shape"] == [3, 3]
    assert client.post("/api/kernels/parse", json={"text": "1 0 -1"}).json() == {"kernel": [[1, 0, -1]],
                                                                                 "shape": [1, 3]}
    refused = client.post("/api/kernels/parse", json={"text": "1 0\n0 1\n\n1 1 1"})
    assert refused.status_code == 422
    assert refused.json()["detail"] == ("kernel 2 is 1x3 but kernel 1 is 2x2: every kernel needs the same rows "
                                        "and columns")


def test_a_run_refuses_several_kernels_in_one_kernel_text(client: TestClient) -> None:
    response = client.post("/api/run", json={
        "source": {"matrix": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]},
        "operation": {"op": "conv2d", "filters": [{"kernel": {"text": "1 0\n0 1\n\n1 1\n1 1"}}]}})
    assert response.status_code == 422
    assert response.json()["detail"] == ("filter 1: kernel text holds several kernels (blocks separated by a blank "
                                         "line); give one kernel per text, per-channel kernels as 'channels'")
    assert_allclose(parse_matrix("1/2 1e1", 4), [[0.5, 10.0]])
