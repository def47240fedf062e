"""The OpenAPI schema says what the server does: every error is {"detail"}, its statuses are documented,
and integers are integers (true and false are not 1 and 0)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.app.test_limits import MATRIX_2X2


def operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    schema = client.get("/openapi.json").json()
    return [(path, method, operation) for path, methods in schema["paths"].items()
            for method, operation in methods.items()]


def test_every_error_response_is_the_detail_body(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, method, operation in operations(client):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                content = response["content"]["application/json"]["schema"]
                assert content == {"$ref": "#/components/schemas/ErrorBody"}, (path, method, status)


def test_statuses_of_the_shared_limits_are_documented(client: TestClient) -> None:
    for path, method, operation in operations(client):
        responses = operation["responses"]
        if method == "post":
            assert {"403", "408", "413", "422"} <= set(responses), (path, responses.keys())
        assert "500" in responses


@pytest.mark.parametrize(("url", "body", "detail"), [
    ("/api/chains", {"source": MATRIX_2X2, "layers": [{"type": "flatten"}], "seed": False},
     "seed: Input should be a valid integer (got False)"),
    ("/api/run", {"source": MATRIX_2X2, "operation": {"op": "conv_transpose2d", "output_padding": [0, False]}},
     "operation.conv_transpose2d.output_padding.int: Input should be a valid integer; "
     "operation.conv_transpose2d.output_padding.tuple[int, int].1: Input should be a valid integer (got False)"),
    ("/api/run", {"source": MATRIX_2X2, "operation": {"op": "conv2d", "stride": True}},
     "operation.conv2d.stride.int: Input should be a valid integer (got True)"),
])
def test_booleans_are_not_integers(client: TestClient, url: str, body: dict[str, Any], detail: str) -> None:
    response = client.post(url, json=body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)
