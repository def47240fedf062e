"""Cheap requests can't buy expensive work: typed text, body sizes, matrices and chains are bounded first."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from cnn_core.kernels import KernelParseError, parse_kernel
from tests.app.conftest import live_server, raw_http


@pytest.mark.parametrize(("text", "message"), [
    ("1e10000000/1", r"row 1, column 1: exponents must be from -999 to 999, got 10000000"),
    ("1 1e-99999999999999999999", r"row 1, column 2: exponents must be from -999 to 999, got -9999999999\.\.\."),
    ("1/" + "9" * 41, r"row 1, column 1: a number may have at most 40 digits, got 41"),
    ("0." + "1" * 5000, r"row 1, column 1: a number may have at most 40 digits, got 5001"),
])
def test_parse_kernel_bounds_each_number_before_any_arithmetic(text: str, message: str) -> None:
    with pytest.raises(KernelParseError, match=message):
        parse_kernel(text)


def test_parse_kernel_still_reads_long_exact_numbers() -> None:
    forty_digits = "0." + "0" * 37 + "1e39"  # 40 digits: 1e-38 * 1e39
    kernel = parse_kernel(f"1e-999/1e-999 {forty_digits} 1e308 1/3e0000000000000000000009")
    assert kernel.tolist() == [[1.0, 10.0, 1e308, 1 / 3e9]]


def test_a_huge_exponent_is_refused_with_its_place(client: TestClient) -> None:
    for url, body in [("/api/kernels/parse", {"text": "1 0; 0 1e10000000/1"}),
                      ("/api/run", {"source": {"matrix": [[1, 2], [3, 4]]},
                                    "operation": {"op": "conv2d",
                                                  "filters": [{"kernel": {"text": "1 0; 0 1e10000000/1"}}]}})]:
        response = client.post(url, json=body)
        assert response.status_code == 422
        assert response.json() == {"detail": "row 2, column 2: exponents must be from -999 to 999, got 10000000",
                                   "row": 2, "column": 2}


def test_an_oversized_json_body_is_refused_by_its_declared_length() -> None:
    with TestClient(create_app(Settings(max_body_bytes=10_000))) as client:
        response = client.post("/api/run", content=b" " * 10_001, headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert response.json() == {"detail": "the request body is 10,001 bytes; at most 10,000 are allowed here"}
        assert "content-security-policy" in response.headers


def test_a_chunked_body_is_refused_while_it_arrives_and_others_are_served() -> None:
    with live_server(Settings(max_body_bytes=10_000)) as base:
        chunk = b"[" * 4096
        parts = [f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(1_000)]  # 4 MB, never ends
        head = "POST /api/run HTTP/1.1\nHost: test\nContent-Type: application/json\nTransfer-Encoding: chunked\n"
        status, _, body = raw_http(base, head, parts)
        assert status == 413
        assert json.loads(body) == {"detail": "the request body is over 10,000 bytes, the most allowed here"}
        assert httpx.get(f"{base}/healthz").status_code == 200


def test_uploads_keep_their_own_larger_limit() -> None:
    with TestClient(create_app(Settings(max_body_bytes=10_000, max_upload_bytes=50_000))) as client:
        refused = client.post("/api/images", content=b"x" * 200_000, headers={"content-type": "image/png"})
        assert refused.status_code == 413
        assert refused.json() == {"detail": "the request body is 200,000 bytes; at most 115,536 are allowed here"}
        not_an_image = client.post("/api/images", content=b"x" * 20_000, headers={"content-type": "image/png"})
        assert not_an_image.status_code == 415


def test_a_matrix_is_measured_before_it_becomes_an_array(client: TestClient) -> None:
    ragged_deep = [[1.0] * 65 for _ in range(2)]
    response = client.post("/api/run", json={"source": {"matrix": ragged_deep}, "operation": {"op": "relu"}})
    assert response.status_code == 422
    assert response.json() == {"detail": "matrix must be at most 64x64 (and 16 channels), got a row of 65 values"}
    channels = [[[1.0]]] * 17
    response = client.post("/api/run", json={"source": {"matrix": channels}, "operation": {"op": "relu"}})
    assert response.json() == {"detail": "matrix must be at most 64x64 (and 16 channels), got 17 channels"}


def test_a_body_that_stops_arriving_is_timed_out_while_others_are_served() -> None:
    with live_server(Settings(body_idle_timeout=0.5)) as base:
        head = "POST /api/run HTTP/1.1\nHost: test\nContent-Type: application/json\nContent-Length: 100\n"
        status, headers, body = raw_http(base, head, [b'{"source": '])
        assert status == 408 and headers["connection"] == "close"
        assert json.loads(body) == {"detail": "the request body stopped arriving (nothing for 0.5 s); send it again"}
        assert httpx.get(f"{base}/healthz").status_code == 200


MATRIX_2X2 = {"matrix": [[1.0, 2.0], [3.0, 4.0]]}


@pytest.mark.parametrize(("layer", "detail"), [
    ({"type": "conv2d", "filters": 1, "kernel_size": 200, "padding": "same"},
     "layer 1 (conv2d): kernel_size may be at most 15 here, got 200"),
    ({"type": "conv2d", "filters": 1, "kernel_size": 1, "strides": 100_000, "padding": 20_000},
     "layer 1 (conv2d): strides may be at most 16 here, got 100000"),
    ({"type": "conv2d", "filters": 1, "kernel_size": 1, "padding": 20_000},
     "layer 1 (conv2d): padding may be at most 32 here, got 20000"),
    ({"type": "max_pool2d", "pool_size": 30_000}, "layer 1 (max_pool2d): pool_size may be at most 15 here, got 30000"),
    ({"type": "conv2d", "filters": 1_000, "kernel_size": 3},
     "layer 1 (conv2d): filters may number at most 64, got 1000"),
    ({"type": "conv2d", "filters": [[[1.0] * 16] * 3]},
     "layer 1 (conv2d): kernels may be at most 15x15, got a row of 16 values"),
    ({"type": "upsample", "size": [1, 9]}, "layer 1 (upsample): size may be at most 8 here, got 9"),
    ({"type": "conv_transpose2d", "filters": 2, "kernel_size": 2, "dilation": 17},
     "layer 1 (conv_transpose2d): dilation may be at most 16 here, got 17"),
])
def test_chains_obey_the_limits_of_single_runs(client: TestClient, layer: dict[str, object], detail: str) -> None:
    response = client.post("/api/chains", json={"source": MATRIX_2X2, "layers": [layer]})
    assert response.status_code == 422
    assert response.json() == {"detail": detail}


def test_a_chains_weights_and_maps_count_against_its_budget(client: TestClient) -> None:
    chains = client.app.state.chains  # type: ignore[attr-defined]
    source = {"matrix": [[float(i + j) for j in range(20)] for i in range(20)]}
    layers = [{"type": "conv2d", "filters": 8, "kernel_size": 15, "padding": "same"}]
    response = client.post("/api/chains", json={"source": source, "layers": layers})
    assert response.status_code == 200
    weights = 8 * 15 * 15 * 8
    outputs = 8 * 20 * 20 * 8
    assert chains.used >= weights + outputs
