"""Errors are classified, not guessed: the engine's refusals are 422s, any other exception is a logged 500."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app

RUN = {"source": {"matrix": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]},
       "operation": {"op": "conv2d", "filters": [{"kernel": {"name": "sobel_x"}}]}}


def test_an_engine_refusal_is_a_422_naming_the_argument(client: TestClient) -> None:
    body: dict[str, Any] = {**RUN, "operation": {"op": "conv2d", "filters": [{"kernel": {"values": [[1.0] * 5] * 5}}]}}
    response = client.post("/api/run", json=body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("kernel must not be larger than the padded input")


@pytest.mark.parametrize("bug", [ValueError("operands could not be broadcast together with shapes (3,) (4,)"),
                                 TypeError("unsupported operand type(s) for +: 'int' and 'NoneType'")])
def test_a_plain_value_or_type_error_is_a_server_bug_not_the_users_fault(
        settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, bug: Exception) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise bug

    monkeypatch.setattr("app.runs.prepare", broken)  # as if a NumPy call deep in a run went wrong
    with TestClient(create_app(settings), raise_server_exceptions=False) as client, \
            caplog.at_level(logging.ERROR, logger="kernel_lens"):
        response = client.post("/api/run", json=RUN)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error: the server could not complete this request"}
    assert str(bug) not in response.text  # no internals leak to the page
    assert any(record.exc_info and record.exc_info[1] is bug for record in caplog.records)  # the traceback is logged
