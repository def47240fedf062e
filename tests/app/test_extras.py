"""The Fourier view, the flip toggle, GIF jobs with progress, and code export of single runs."""

from __future__ import annotations

import ast
import importlib.util
import io
import time
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.testing import assert_allclose
from PIL import Image

FIVE = "1 1 1 0 0; 0 1 1 1 0; 0 0 1 1 1; 0 0 1 1 0; 0 1 1 0 0"


def run(client: TestClient, operation: dict[str, Any], source: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post("/api/run", json={"source": source or {"matrix_text": FIVE}, "operation": operation})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_spectral_route_matches_the_direct_one(client: TestClient) -> None:
    body = run(client, {"op": "conv2d", "padding": "same", "filters": [{"kernel": {"name": "laplace_4"}}]})
    spectral = client.get(f"/api/runs/{body['run_id']}/spectral").json()
    assert spectral["max_difference"] < 1e-9 * max(spectral["largest_value"], 1)
    assert spectral["grid"] == [9, 9]
    for name in ("image", "kernel", "product", "result"):
        picture = client.get(spectral[f"{name}_url"])
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    rgb = client.get("/api/samples").json()[0]
    colour = run(client, {"op": "conv2d"}, {"image_id": rgb["id"]})
    refused = client.get(f"/api/runs/{colour['run_id']}/spectral")
    assert refused.status_code == 422
    assert refused.json() == {"detail": "the Fourier view needs one input channel and one filter: choose Gray or a "
                                        "typed matrix"}


def test_flip_gives_true_convolution(client: TestClient) -> None:
    signal = pytest.importorskip("scipy.signal")
    x = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]], float)
    kernel = [[1, 2, 0], [0, 1, -1], [3, 0, 1]]
    body = run(client, {"op": "conv2d", "flip": True, "filters": [{"kernel": {"values": kernel}}]})
    result = np.load(io.BytesIO(client.get(body["result_npy_url"]).content))[0]
    assert_allclose(result, signal.convolve2d(x, np.array(kernel, float), mode="valid"))
    assert body["weight"][0][0] == [[1, 0, 3], [-1, 1, 0], [0, 2, 1]]
    correlation = signal.correlate2d(x, np.array(kernel, float), mode="valid")
    assert body["comparison"]["max_difference_from_cross_correlation"] == pytest.approx(
        np.abs(result - correlation).max())


def test_gif_job_reports_progress_and_gives_an_animation(client: TestClient) -> None:
    body = run(client, {"op": "conv2d", "padding": 1})
    started = client.post(f"/api/runs/{body['run_id']}/gif?frames=12")
    assert started.status_code == 202
    job = started.json()
    for _ in range(200):  # bounded polling of a background job
        status = client.get(job["status_url"]).json()
        if status["done"]:
            break
        time.sleep(0.02)
    assert status["done"] and status["progress"] == 1.0 and status["detail"] is None
    gif = Image.open(io.BytesIO(client.get(job["gif_url"]).content))
    assert gif.format == "GIF" and gif.n_frames == 12
    assert client.post(f"/api/runs/{body['run_id']}/gif?frames=1").status_code == 422
    assert client.get("/api/jobs/nope").status_code == 404


@pytest.mark.parametrize("operation", [
    {"op": "conv2d", "padding": 1, "stride": 2, "filters": [{"kernel": {"name": "sobel_x"}, "bias": 0.5}]},
    {"op": "conv2d", "depthwise": True, "padding": "same", "filters": [{"kernel": {"name": "gaussian"}}]},
    {"op": "avg_pool2d", "kernel_size": 2},
    {"op": "upsample", "scale_factor": 2, "mode": "bilinear"},
    {"op": "conv_transpose2d", "stride": 2},
    {"op": "sigmoid"},
])
def test_run_export_parses_and_reproduces_the_numbers(client: TestClient, operation: dict[str, Any]) -> None:
    source = {"matrix": np.random.default_rng(3).random((2, 6, 7)).round(3).tolist()}
    body = run(client, operation, source)
    code = client.get(f"/api/runs/{body['run_id']}/export?framework=pytorch").text
    ast.parse(code)
    ast.parse(client.get(f"/api/runs/{body['run_id']}/export?framework=keras").text)
    if importlib.util.find_spec("torch") is None:
        pytest.skip("PyTorch is not installed (a multi-GB download): the code is only parsed")
    namespace: dict[str, Any] = {}
    exec(compile(code, "exported", "exec"), namespace)
    result = np.load(io.BytesIO(client.get(body["result_npy_url"]).content))
    assert_allclose(namespace["outputs"][-1], result.reshape(namespace["outputs"][-1].shape), rtol=1e-9, atol=1e-9)
