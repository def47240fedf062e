"""Uploads (multipart and raw), previews, samples, and a corpus of bad files."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.app.conftest import jpeg_bytes, png_bytes


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + chunk(b"IEND", b""))


def test_upload_multipart_returns_the_stored_image(client: TestClient) -> None:
    data = png_bytes(40, 30)
    response = client.post("/api/images", files={"file": ("cat.png", data, "image/png")})
    assert response.status_code == 201
    body = response.json()
    assert body == {"id": body["id"], "width": 40, "height": 30, "channels": 3, "name": "cat.png",
                    "preview_url": f"/api/images/{body['id']}.png",
                    "gray_preview_url": f"/api/images/{body['id']}.png?color=gray"}
    assert len(body["id"]) == 24
    again = client.post("/api/images", files={"file": ("other-name.png", data, "image/png")})
    assert again.json()["id"] == body["id"]


def test_upload_raw_bytes_and_preview_round_trips_the_pixels(client: TestClient) -> None:
    data = png_bytes(16, 8, seed=3)
    response = client.post("/api/images", content=data, headers={"content-type": "image/png"})
    assert response.status_code == 201
    preview = client.get(response.json()["preview_url"])
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/png"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(preview.content))),
                          np.asarray(Image.open(io.BytesIO(data))))
    gray = Image.open(io.BytesIO(client.get(response.json()["gray_preview_url"]).content))
    assert np.array_equal(np.asarray(gray)[..., 0], np.asarray(Image.open(io.BytesIO(data)).convert("L")))


def test_large_upload_is_downsized_to_the_longest_side(client: TestClient) -> None:
    response = client.post("/api/images", files={"file": ("big.jpg", jpeg_bytes(2400, 1200), "image/jpeg")})
    assert response.status_code == 201
    assert (response.json()["width"], response.json()["height"]) == (1024, 512)


def test_samples_are_listed_with_provenance(client: TestClient) -> None:
    samples = client.get("/api/samples").json()
    assert [sample["name"] for sample in samples] == ["shapes", "astronaut"]
    assert samples[1]["width"] == samples[1]["height"] == 512
    assert "Public domain" in samples[1]["license"]
    assert client.get(samples[0]["preview_url"]).status_code == 200


BAD_FILES = [
    ("empty", b"", 400, "the upload is empty: send the bytes of an image file"),
    ("text renamed .png", b"just some text, not a picture", 415,
     "data is not an image file Pillow can read (PNG, JPEG, GIF, BMP, TIFF, WebP): UnidentifiedImageError"),
    ("svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><rect width="9" height="9"/></svg>', 415,
     "data is not an image file Pillow can read (PNG, JPEG, GIF, BMP, TIFF, WebP): UnidentifiedImageError"),
    ("60000x60000 png", png_claiming(60_000, 60_000), 422,
     "the image has 3,600,000,000 pixels; at most 50,000,000 are allowed"),
]


@pytest.mark.parametrize(("label", "data", "status", "detail"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_files_get_a_clear_4xx_and_the_server_keeps_serving(client: TestClient, label: str, data: bytes,
                                                                 status: int, detail: str) -> None:
    response = client.post("/api/images", files={"file": ("x.png", data, "image/png")})
    assert response.status_code == status
    assert response.json() == {"detail": detail}
    assert client.get("/healthz").status_code == 200
    assert client.post("/api/images", files={"file": ("ok.png", png_bytes(), "image/png")}).status_code == 201


def test_truncated_jpeg_is_refused_as_damaged(client: TestClient) -> None:
    data = jpeg_bytes(256, 256)
    response = client.post("/api/images", files={"file": ("cut.jpg", data[: len(data) // 2], "image/jpeg")})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("the image file is damaged or truncated and cannot be decoded")


def test_upload_over_the_limit_is_413_and_stored_images_survive(client: TestClient) -> None:
    kept = client.post("/api/images", files={"file": ("ok.png", png_bytes(), "image/png")}).json()
    huge = b"\xff\xd8" + bytes(3_000_000)
    response = client.post("/api/images", content=huge, headers={"content-type": "image/jpeg"})
    assert response.status_code == 413
    assert response.json() == {"detail": "the request body is 3,000,002 bytes; at most 2,065,536 are allowed here"}
    form = client.post("/api/images", files={"file": ("big.png", huge[:2_050_000], "image/png")})
    assert form.status_code == 413
    assert form.json() == {"detail": "the file is 2,050,000 bytes; at most 2,000,000 are allowed"}
    assert client.get(f"/api/images/{kept['id']}").json() == kept


def test_upload_stream_without_length_stops_at_the_limit(client: TestClient) -> None:
    sent = []

    def chunks():  # no Content-Length: the server must count as it reads
        for _ in range(100):
            sent.append(1)
            yield bytes(100_000)

    response = client.post("/api/images", content=chunks(), headers={"content-type": "image/png"})
    assert response.status_code == 413
    assert response.json() == {"detail": "the request body is over 2,065,536 bytes, the most allowed here"}


def test_form_without_a_file_field_is_400(client: TestClient) -> None:
    response = client.post("/api/images", data={"picture": "nope"}, files={"other": ("a.png", b"x", "image/png")})
    assert response.status_code == 400
    assert response.json() == {"detail": "send the image in a multipart form field named 'file'"}


@pytest.mark.parametrize("image_id", ["0" * 24, "../../etc/passwd", "ABCDEF" * 4, "x"])
def test_unknown_or_malformed_image_ids_are_404(client: TestClient, image_id: str) -> None:
    response = client.get(f"/api/images/{image_id}.png")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_preview_color_must_be_rgb_or_gray(client: TestClient) -> None:
    sample = client.get("/api/samples").json()[0]
    response = client.get(f"/api/images/{sample['id']}.png?color=cmyk")
    assert response.status_code == 422
    assert response.json() == {"detail": "color must be 'rgb' or 'gray', got 'cmyk'"}
