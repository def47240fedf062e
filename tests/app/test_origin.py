"""Cross-site use is refused: a WebSocket or a state-changing request from another origin gets 403."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.config import Settings
from app.main import create_app
from tests.app.conftest import png_bytes

EVIL = "http://evil.example"
REFUSED = {"detail": "cross-site requests are refused: origin http://evil.example is not this server "
                     "(allow it with KERNEL_LENS_CORS_ORIGINS)"}


def test_a_cross_site_form_post_is_refused(client: TestClient) -> None:
    files = {"file": ("cat.png", png_bytes(), "image/png")}
    refused = client.post("/api/images", files=files, headers={"origin": EVIL})
    assert refused.status_code == 403 and refused.json() == REFUSED
    assert client.post("/api/images", files=files, headers={"origin": "http://testserver"}).status_code == 201
    assert client.post("/api/images", files=files).status_code == 201  # no Origin: not a browser's cross-site call
    assert client.get("/api/samples", headers={"origin": EVIL}).status_code == 200  # reading is harmless


def test_a_cross_site_websocket_is_refused(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as refused, \
            client.websocket_connect("/ws/animate", headers={"origin": EVIL}):
        pass
    assert refused.value.code == 1008
    with client.websocket_connect("/ws/animate", headers={"origin": "http://testserver"}) as ws:
        ws.send_json({"type": "status"})
        assert ws.receive_json()["type"] == "state"


def test_allowed_origins_are_configurable() -> None:
    with TestClient(create_app(Settings(cors_origins=[EVIL]))) as client:
        with client.websocket_connect("/ws/animate", headers={"origin": EVIL}) as ws:
            ws.send_json({"type": "status"})
            assert ws.receive_json()["type"] == "state"
        response = client.post("/api/kernels/parse", json={"text": "1 2"}, headers={"origin": EVIL})
        assert response.status_code == 200
