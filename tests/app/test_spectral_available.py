"""GET /api/runs/{id}/spectral/available: the page disables the Fourier view with this reason."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

FIVE = "1 1 1 0 0\n0 1 1 1 0\n0 0 1 1 1\n0 0 1 1 0\n0 1 1 0 0"


def available(client: TestClient, source: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    run = client.post("/api/run", json={"source": source, "operation": operation})
    assert run.status_code == 200, run.text
    response = client.get(f"/api/runs/{run.json()['run_id']}/spectral/available")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(("operation", "expected"), [
    ({"op": "conv2d", "padding": 1}, {"available": True, "reason": None}),
    ({"op": "conv2d", "stride": 2}, {"available": False,
                                     "reason": "the Fourier view needs stride 1, dilation 1 and zeros padding"}),
    ({"op": "relu"}, {"available": False, "reason": "the Fourier view is for convolutions"}),
])
def test_spectral_available_on_a_matrix(client: TestClient, operation: dict[str, Any],
                                        expected: dict[str, Any]) -> None:
    assert available(client, {"matrix_text": FIVE}, operation) == expected


def test_spectral_available_refuses_a_colour_photo_with_its_reason(client: TestClient) -> None:
    sample = client.get("/api/samples").json()[0]
    assert available(client, {"image_id": sample["id"]}, {"op": "conv2d"}) == {
        "available": False,
        "reason": "the Fourier view needs one input channel and one filter: choose Gray or a typed matrix"}


def test_spectral_available_of_an_unknown_run_is_404(client: TestClient) -> None:
    assert client.get(f"/api/runs/{'0' * 24}/spectral/available").status_code == 404
