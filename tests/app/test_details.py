"""Small hardening details: upload names, HEAD on the health check, statistics that can't overflow."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

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


def ico_bytes(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (200, 10, 10)).save(buffer, "ICO", sizes=[(side, side)])
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "data"), [("icon.ico", ico_bytes(64)), ("text.png", b"P3\n1 1\n255\n0 0 0\n")],
                         ids=["ico", "ppm"])
def test_only_the_formats_the_readme_names_are_opened(client: TestClient, name: str, data: bytes) -> None:
    response = client.post("/api/images", files={"file": (name, data, "image/png")})
    assert response.status_code == 415
    assert response.json() == {"detail": "data is not an image file Pillow can read (PNG, JPEG, GIF, BMP, TIFF, "
                                         "WebP): UnidentifiedImageError"}
