"""Small hardening details: upload names, HEAD on the health check, statistics that can't overflow."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.app.conftest import png_bytes


def test_the_same_file_uploaded_twice_keeps_each_uploaders_name(client: TestClient) -> None:
    data = png_bytes(12, 10, seed=7)
    first = client.post("/api/images", files={"file": ("alice-cat.png", data, "image/png")}).json()
    second = client.post("/api/images", files={"file": ("bob.png", data, "image/png")}).json()
    assert (first["id"], first["name"], second["name"]) == (second["id"], "alice-cat.png", "bob.png")


def test_head_healthz_answers(client: TestClient) -> None:
    response = client.head("/healthz")
    assert response.status_code == 200 and response.content == b""


def test_the_mean_of_large_finite_values_is_finite(client: TestClient) -> None:
    big = 1.5e308
    response = client.post("/api/run", json={"source": {"matrix": [[big, big], [big, big]]},
                                             "operation": {"op": "relu"}})
    assert response.status_code == 200
    assert response.json()["stats"] == {"min": big, "max": big, "mean": big}
