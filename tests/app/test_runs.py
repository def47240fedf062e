"""POST /api/run and its result URLs, the kernel catalogue and parser, with every error path."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image

from cnn_core import conv2d, get_kernel, load_image, max_pool2d, to_display

FIVE = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
SIX = [[3, 0, 1, 2, 7, 4], [1, 5, 8, 9, 3, 1], [2, 7, 2, 5, 1, 3], [0, 1, 3, 1, 7, 8], [4, 2, 1, 6, 2, 8],
       [2, 4, 5, 2, 3, 9]]


def run(client: TestClient, source: dict[str, Any], operation: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = client.post("/api/run", json={"source": source, "operation": operation})
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def npy(client: TestClient, body: dict[str, Any]) -> np.ndarray:
    response = client.get(body["result_npy_url"])
    assert response.status_code == 200
    return np.load(io.BytesIO(response.content), allow_pickle=False)


def test_textbook_5x5_with_3x3_filter(client: TestClient) -> None:
    body = run(client, {"matrix": FIVE}, {"op": "conv2d", "filters": [{"kernel": {"values": [[1, 0, 1], [0, 1, 0],
                                                                                           [1, 0, 1]]}}]})
    run_id = body["run_id"]
    palette = body["display"].pop("palette")
    assert len(palette) == 256 and palette[0] == "#440154" and palette[-1] == "#fde725"
    assert body == {
        "run_id": run_id, "op": "conv2d", "input_shape": [5, 5], "output_shape": [1, 3, 3], "frame_count": 9,
        "frame_fields": ["output_index", "value", "patch", "products", "channel_sums", "rows", "cols"],
        "formula": {"rows": "floor((5 + 2*0 - 1*(3-1) - 1) / 1) + 1 = 3",
                    "cols": "floor((5 + 2*0 - 1*(3-1) - 1) / 1) + 1 = 3"},
        "stats": {"min": 2.0, "max": 4.0, "mean": 29 / 9},
        "display": {"scheme": "sequential", "low": 0.0, "high": 4.0},
        "weight": [[[[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]]], "bias": [0.0],
        # each weight's palette index on the kernel scale (diverging -1..1, 255 colours): 1 -> 254, 0 -> 127
        "weight_colors": [[[[254, 127, 254], [127, 254, 127], [254, 127, 254]]]],
        "comparison": {},
        "scales": {"input": {"scheme": "sequential", "low": 0.0, "high": 1.0, "palette": []},
                   "output": {"scheme": "sequential", "low": 0.0, "high": 4.0, "palette": []},
                   "kernel": {"scheme": "diverging", "low": -1.0, "high": 1.0, "palette": []},
                   "products": {"scheme": "diverging", "low": -1.0, "high": 1.0, "palette": []}},
        "geometry": {"in_shape": [5, 5], "out_shape": [3, 3], "pads": [0, 0, 0, 0], "kernel": [3, 3],
                     "stride": [1, 1], "dilation": [1, 1], "padded_shape": [5, 5]},
        "result_png_url": f"/api/runs/{run_id}/result.png", "result_npy_url": f"/api/runs/{run_id}/result.npy",
        "input_png_url": f"/api/runs/{run_id}/input.png", "padded_png_url": f"/api/runs/{run_id}/padded.png",
        "frames_url": f"/api/frames?run_id={run_id}",
    }
    assert_array_equal(npy(client, body), [[[4, 3, 4], [2, 4, 3], [2, 3, 4]]])
    assert client.get(body["input_png_url"]).headers["content-type"] == "image/png"


def test_textbook_6x6_chain_pieces(client: TestClient) -> None:
    edges = run(client, {"matrix": SIX}, {"op": "conv2d", "filters": [{"kernel": {"text": "1 0 -1; 1 0 -1; 1 0 -1"}}]})
    features = npy(client, edges)
    assert edges["output_shape"] == [1, 4, 4]
    pooled = run(client, {"matrix": features[0].tolist()}, {"op": "max_pool2d", "kernel_size": 2})
    assert_array_equal(npy(client, pooled), [[-2, 8], [0, -3]])
    back = run(client, {"matrix": [[-2, 8], [0, -3]]},
               {"op": "conv_transpose2d", "stride": 3, "filters": [{"kernel": {"name": "box_blur"}}]})
    assert back["output_shape"] == [1, 6, 6]
    assert back["formula"]["rows"] == "(2 - 1)*3 - 2*0 + 1*(3-1) + 0 + 1 = 6"
    up = run(client, {"matrix": [[-2, 8], [0, -3]]}, {"op": "upsample", "scale_factor": 3})
    assert up["formula"] == {"rows": "2 * 3 = 6", "cols": "2 * 3 = 6"}


def test_run_on_a_sample_matches_the_engine(client: TestClient) -> None:
    sample = client.get("/api/samples").json()[0]
    body = run(client, {"image_id": sample["id"], "color": "gray"},
               {"op": "conv2d", "filters": [{"kernel": {"name": "sobel_x"}, "bias": 0.5}], "stride": 2,
                "padding": "same", "padding_mode": "reflect"})
    assert body["output_shape"] == [1, 120, 160]
    assert body["formula"]["rows"] == "same: ceil(240 / 2) = 120; floor((240 + 0+1 - 1*(3-1) - 1) / 2) + 1 = 120"
    from app.samples import SAMPLES

    image = load_image(SAMPLES[0].read(), mode="gray")
    expected = conv2d(image, get_kernel("sobel_x")[None, None], np.array([0.5]), stride=2, padding="same",
                      padding_mode="reflect")
    assert_allclose(npy(client, body), expected, rtol=1e-5, atol=1e-3)
    png = Image.open(io.BytesIO(client.get(body["result_png_url"]).content))
    assert png.mode == "P"  # a palette picture: one byte a pixel and the scheme's colour table
    assert np.array_equal(np.asarray(png.convert("RGB")), to_display(expected[0], "diverging",
                                                                     (body["display"]["low"], body["display"]["high"])))


def test_rgb_filter_per_channel_and_several_filters(client: TestClient) -> None:
    matrix = np.arange(3 * 4 * 4, dtype=float).reshape(3, 4, 4)
    one = [[0, 0, 0], [0, 1, 0], [0, 0, 0]]
    minus = [[0, 0, 0], [0, -1, 0], [0, 0, 0]]
    zero = [[0.0] * 3] * 3
    body = run(client, {"matrix": matrix.tolist()}, {"op": "conv2d", "padding": 1, "filters": [
        {"kernel": {"name": "identity"}},
        {"channels": [{"values": one}, {"values": zero}, {"values": minus}], "bias": 1.0},
    ]})
    assert body["output_shape"] == [2, 4, 4]
    assert body["bias"] == [0.0, 1.0]
    result = npy(client, body)
    assert_array_equal(result[0], matrix.sum(axis=0))  # same kernel on every channel: R + G + B
    assert_array_equal(result[1], matrix[0] - matrix[2] + 1)
    mismatch = client.post("/api/run", json={"source": {"matrix": matrix.tolist()}, "operation": {
        "op": "conv2d", "filters": [{"kernel": {"name": "identity"}}, {"kernel": {"values": [[1]]}}]}})
    assert mismatch.json() == {"detail": "every filter of a layer must have the same kernel size, got 3x3, 1x1"}
    wrong_depth = client.post("/api/run", json={"source": {"matrix": matrix.tolist()}, "operation": {
        "op": "conv2d", "filters": [{"channels": [{"values": one}]}]}})
    assert wrong_depth.json() == {"detail": "filter 1: give one kernel per input channel (3), got 1"}


def test_depthwise_and_pools_and_activations(client: TestClient) -> None:
    x = np.random.default_rng(0).standard_normal((2, 6, 6))
    depthwise = run(client, {"matrix": x.tolist()}, {"op": "conv2d", "depthwise": True,
                                                     "filters": [{"kernel": {"name": "laplace_4"}}], "padding": 1})
    assert depthwise["output_shape"] == [2, 6, 6]
    pooled = run(client, {"matrix": x.tolist()}, {"op": "max_pool2d", "kernel_size": 3, "stride": 2, "padding": 1,
                                                  "ceil_mode": True})
    assert_array_equal(npy(client, pooled), max_pool2d(x, 3, 2, 1, ceil_mode=True))
    assert pooled["formula"]["rows"] == "ceil((6 + 2*1 - 1*(3-1) - 1) / 2) + 1 = 4"
    dropped = run(client, {"matrix": x[0, :5, :5].tolist()}, {"op": "max_pool2d", "kernel_size": 2, "padding": 1,
                                                             "ceil_mode": True})
    assert dropped["output_shape"] == [3, 3]
    assert dropped["formula"]["rows"] == ("ceil((5 + 2*1 - 1*(2-1) - 1) / 2) + 1 - 1 = 3 "
                                          "(the last window would start in the padding)")
    relu = run(client, {"matrix": x.tolist()}, {"op": "relu"})
    assert_array_equal(npy(client, relu), np.maximum(x, 0))
    assert relu["frame_fields"] == ["output_index", "input", "value"]


@pytest.mark.parametrize(("operation", "status", "detail"), [
    ({"op": "conv2d", "stride": 0}, 422, "stride must be a positive integer, got 0"),
    ({"op": "conv2d", "stride": 99}, 422, "stride may be at most 16 here, got 99"),
    ({"op": "conv2d", "padding": "half"}, 422, "operation.conv2d.padding"),
    ({"op": "conv2d", "filters": [{"kernel": {"name": "nope"}}]}, 422, "name must be one of identity, sobel_x"),
    ({"op": "conv2d", "filters": [{"kernel": {"text": "1 2; 3"}}]}, 422, "row 2 has 1 number but row 1 has 2"),
    ({"op": "conv2d", "filters": [{"kernel": {"values": [[1] * 17]}}]}, 422,
     "filter 1: kernels may be at most 15x15, got a row of 17 values"),
    ({"op": "conv2d", "filters": [{"kernel": {"values": [[1] * 9] * 9}}]}, 422,
     "kernel must not be larger than the padded input: the kernel spans 9 rows"),
    ({"op": "conv2d", "stride": 1, "bogus": 1}, 422, "operation.conv2d.bogus: Extra inputs are not permitted"),
    ({"op": "fft"}, 422, "operation: Input tag 'fft' found using 'op' does not match any of the expected tags"),
    ({"op": "upsample", "scale_factor": 9}, 422, "scale_factor may be at most 8 here, got 9"),
    ({"op": "avg_pool2d", "dilation": 2}, 422, "dilation applies to max_pool2d only; avg_pool2d takes dilation 1"),
    ({"op": "max_pool2d", "kernel_size": 2, "padding": 2}, 422, "padding must be at most half the kernel size"),
    ({"op": "conv_transpose2d", "stride": 2, "output_padding": 3}, 422,
     "output_padding must be smaller than stride or dilation (< 2), got 3"),
])
def test_bad_operations_get_422_naming_the_problem(client: TestClient, operation: dict[str, Any], status: int,
                                                   detail: str) -> None:
    response = client.post("/api/run", json={"source": {"matrix": FIVE}, "operation": operation})
    assert response.status_code == status
    assert set(response.json()) <= {"detail", "row", "column"}
    assert detail in response.json()["detail"]


def test_bad_sources(client: TestClient) -> None:
    missing = client.post("/api/run", json={"source": {"image_id": "0" * 24}, "operation": {"op": "relu"}})
    assert missing.status_code == 404
    assert missing.json() == {"detail": f"image {'0' * 24} is not stored (it may have been evicted): "
                                               "upload it again or choose a sample"}
    both = client.post("/api/run", json={"source": {"image_id": "0" * 24, "matrix": FIVE}, "operation": {"op": "relu"}})
    assert both.status_code == 422
    assert both.json() == {"detail": "source: give exactly one of image_id, matrix or matrix_text"}
    ragged = client.post("/api/run", json={"source": {"matrix": [[1, 2], [3]]}, "operation": {"op": "relu"}})
    assert ragged.json() == {"detail": "matrix must be rectangular: every row needs the same number of values"}
    big = client.post("/api/run", json={"source": {"matrix": [[0] * 65]}, "operation": {"op": "relu"}})
    assert big.json() == {"detail": "matrix must be at most 64x64 (and 16 channels), got a row of 65 values"}
    broken = client.post("/api/run", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 422


def test_output_size_limit_is_checked_before_computing(client: TestClient) -> None:
    sample = client.get("/api/samples").json()[1]
    response = client.post("/api/run", json={"source": {"image_id": sample["id"]},
                                             "operation": {"op": "upsample", "scale_factor": 8}})
    assert response.status_code == 422
    assert response.json() == {"detail": "the result would have 50,331,648 values (3x4096x4096); at most 16,777,216 "
                                         "are allowed: lower the scale, filters or image size"}


def test_kernels_catalogue_and_parser(client: TestClient) -> None:
    catalogue = client.get("/api/kernels").json()
    sobel = next(entry for entry in catalogue if entry["name"] == "sobel_x")
    assert sobel["kernel"] == [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    parsed = client.post("/api/kernels/parse", json={"text": "1/9 1/9; 1/9 1/9"})
    assert parsed.status_code == 200
    assert parsed.json() == {"kernel": [[1 / 9, 1 / 9], [1 / 9, 1 / 9]], "shape": [2, 2]}
    bad = client.post("/api/kernels/parse", json={"text": "1 2 3\n4 x 6"})
    assert bad.status_code == 422
    assert bad.json() == {"detail": "row 2, column 2: 'x' is not a number (write decimals like -0.5, or fractions "
                                    "like 1/9)", "row": 2, "column": 2}


def test_result_png_channel_and_unknown_runs(client: TestClient) -> None:
    body = run(client, {"matrix": FIVE}, {"op": "conv2d", "filters": [{"kernel": {"name": "sobel_x"}},
                                                                     {"kernel": {"name": "sobel_y"}}]})
    assert client.get(body["result_png_url"] + "?channel=1").status_code == 200
    bad = client.get(body["result_png_url"] + "?channel=2")
    assert bad.status_code == 422 and bad.json() == {"detail": "channel must be from 0 to 1, got 2"}
    unknown = client.get("/api/runs/ffffffffffffffffffffffff/result.png")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "run ffffffffffffffffffffffff is unknown or has expired; POST /api/run again"}


def test_partial_png_for_transposed_conv(client: TestClient) -> None:
    body = run(client, {"matrix": [[1, 2], [3, 4]]}, {"op": "conv_transpose2d", "stride": 2})
    assert client.get(f"/api/runs/{body['run_id']}/partial.png?index=2").status_code == 200
    bad = client.get(f"/api/runs/{body['run_id']}/partial.png?index=9")
    assert bad.status_code == 422 and bad.json() == {"detail": "frame index 9 out of range for 4 frames"}
    relu = run(client, {"matrix": FIVE}, {"op": "relu"})
    wrong = client.get(f"/api/runs/{relu['run_id']}/partial.png?index=0")
    assert wrong.json() == {"detail": "partial outputs exist for conv_transpose2d runs only"}


def test_padded_input_and_regions(client: TestClient) -> None:
    body = run(client, {"matrix_text": "1 2 3; 4 5 6; 7 8 9"},
               {"op": "conv2d", "padding": 1, "padding_mode": "reflect", "filters": [{"kernel": {"name": "sobel_x"}}]})
    assert body["geometry"]["pads"] == [1, 1, 1, 1] and body["geometry"]["padded_shape"] == [5, 5]
    padded = client.get(f"/api/runs/{body['run_id']}/region?which=input&top=0&left=0&height=5&width=5").json()
    assert padded["values"][0] == [5, 4, 5, 6, 5]  # reflect copies across the edge, not the edge itself
    output = client.get(f"/api/runs/{body['run_id']}/region?which=output&top=1&left=1&height=9&width=9").json()
    assert output == {"which": "output", "channel": 0, "top": 1, "left": 1, "values": [[8.0, 0.0], [8.0, 0.0]]}
    assert client.get(body["padded_png_url"]).headers["content-type"] == "image/png"
    too_big = client.get(f"/api/runs/{body['run_id']}/region?height=65")
    assert too_big.status_code == 422 and "height" in too_big.json()["detail"]
    pool = run(client, {"matrix_text": "1 2; 3 4"}, {"op": "max_pool2d", "kernel_size": 2, "padding": 1,
                                                     "stride": 1})
    cells = client.get(f"/api/runs/{pool['run_id']}/region?which=input&height=4&width=4").json()["values"]
    assert cells[0] == [None, None, None, None] and cells[1] == [None, 1.0, 2.0, None]
