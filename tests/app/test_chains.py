"""POST /api/chains: summary, thumbnails, dense values, stepping a layer, export."""

from __future__ import annotations

import ast
import io
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from numpy.testing import assert_allclose, assert_array_equal

from cnn_core.chain import Chain

SIX = "3 0 1 2 7 4; 1 5 8 9 3 1; 2 7 2 5 1 3; 0 1 3 1 7 8; 4 2 1 6 2 8; 2 4 5 2 3 9"
ROUND_TRIP = [{"type": "conv2d", "filters": [[[1, 0, -1], [1, 0, -1], [1, 0, -1]]], "use_bias": False},
              {"type": "max_pool2d", "pool_size": 2}, {"type": "upsample", "size": 3}]


def post(client: TestClient, layers: list[dict[str, Any]], source: dict[str, Any] | None = None,
         status: int = 200) -> dict[str, Any]:
    response = client.post("/api/chains", json={"source": source or {"matrix_text": SIX}, "layers": layers})
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def test_round_trip_chain_summary_and_thumbnails(client: TestClient) -> None:
    body = post(client, ROUND_TRIP)
    assert [(layer["name"], layer["output_shape"], layer["params"]) for layer in body["layers"]] == [
        ("conv2d", [1, 4, 4], 9), ("max_pool2d", [1, 2, 2], 0), ("upsample", [1, 6, 6], 0)]
    assert body["total_params"] == 9
    thumbnail = client.get(body["layers"][1]["maps"][0])
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/png"


def test_stepping_a_layer_runs_its_op_on_the_previous_output(client: TestClient) -> None:
    body = post(client, ROUND_TRIP)
    run = client.post(body["layers"][1]["run_url"]).json()
    assert run["op"] == "max_pool2d" and run["input_shape"] == [1, 4, 4] and run["frame_count"] == 4
    result = np.load(io.BytesIO(client.get(run["result_npy_url"]).content))
    assert_array_equal(result, [[[-2, 8], [0, -3]]])
    frames = client.get(f"/api/frames?run_id={run['run_id']}&count=1").json()["frames"]
    assert frames[0]["patch"] == [[-5, -4], [-10, -2]]


def test_mnist_chain_on_a_digit_like_image(client: TestClient) -> None:
    digit = np.zeros((28, 28))
    digit[6:22, 12:16] = 255
    layers = [{"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"},
              {"type": "max_pool2d", "pool_size": 2},
              {"type": "conv2d", "filters": 64, "kernel_size": 3, "activation": "relu"},
              {"type": "max_pool2d", "pool_size": 2},
              {"type": "conv2d", "filters": 64, "kernel_size": 3, "activation": "relu"},
              {"type": "flatten"}, {"type": "dense", "units": 64, "activation": "relu"},
              {"type": "dense", "units": 10, "activation": "softmax"}]
    body = post(client, layers, {"matrix": digit.tolist()})
    assert body["total_params"] == 93_322
    assert len(body["layers"][0]["maps"]) == 16  # thumbnails of the first 16 of 32 maps
    probabilities = body["layers"][-1]["values"]
    assert len(probabilities) == 10 and abs(sum(probabilities) - 1) < 1e-9
    assert body["layers"][-1]["steppable"] is False and body["layers"][-1]["run_url"] is None
    expected = Chain(layers).run(digit)[-1]
    assert_allclose(probabilities, expected, rtol=1e-9)
    stepped = client.post(body["layers"][2]["run_url"]).json()
    assert stepped["input_shape"] == [32, 13, 13] and stepped["output_shape"] == [64, 11, 11]


def test_chain_errors_and_export(client: TestClient) -> None:
    bad = client.post("/api/chains", json={"source": {"matrix_text": SIX}, "layers": [{"type": "dense", "units": 2}]})
    assert bad.status_code == 422
    assert bad.json() == {"detail": "layer 1 (dense): dense needs a flat input: put a flatten layer before it "
                                    "(input is (1, 6, 6))"}
    unknown = client.get("/api/chains/" + "0" * 24)
    assert unknown.status_code == 404
    body = post(client, ROUND_TRIP)
    for url in (body["pytorch_url"], body["keras_url"]):
        response = client.get(url)
        assert response.status_code == 200
        ast.parse(response.text)
    flat = post(client, [{"type": "flatten"}])
    no_steps = client.post(f"/api/chains/{flat['chain_id']}/layers/0/run")
    assert no_steps.json() == {"detail": "layer 1 (flatten) has no steps to show: it reshapes or mixes everything"}
