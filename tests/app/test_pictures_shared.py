"""Pictures made once: a photo's padded picture shared by the runs that pad it alike, a display resolved once
when several requests ask together, and maps as Huffman-coded palette PNGs with the exact pixels."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.testing import assert_array_equal
from PIL import Image

import app.display as display
from app.runs import map_png
from cnn_core.imageio import display_indices
from tests.app.test_display import astronaut, conv, run


def padded_entries(client: TestClient) -> list[str]:
    pngs = client.app.state.registry.pngs  # type: ignore[attr-defined]
    return [key for key in pngs._items if key.startswith("padded-photo/")]


def picture(client: TestClient, url: str) -> tuple[bytes, np.ndarray]:
    response = client.get(url)
    assert response.status_code == 200
    return response.content, np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


def test_a_new_kernel_on_the_same_photo_reuses_its_padded_picture(client: TestClient) -> None:
    first, second = run(client, conv("sobel_x")), run(client, conv("sobel_y", stride=2))
    assert first["padded_png_url"] != second["padded_png_url"]  # each run names its own
    bytes_x, pixels_x = picture(client, first["padded_png_url"])
    bytes_y, _ = picture(client, second["padded_png_url"])
    assert bytes_x == bytes_y and len(padded_entries(client)) == 1
    sample = astronaut(client)
    assert pixels_x.shape == (sample["height"] + 2, sample["width"] + 2, 3)
    assert (pixels_x[0] == 0).all() and (pixels_x[1:-1, 1:-1] > 0).any()  # the zero border, the photo inside
    # another padding, another padding mode, another colour mode: pictures of their own
    for other in (run(client, conv("sobel_x", padding=2)), run(client, conv("sobel_x", padding_mode="reflect")),
                  run(client, conv("sobel_x"), color="gray")):
        other_bytes = picture(client, other["padded_png_url"])[0]
        assert other_bytes != bytes_x
    assert len(padded_entries(client)) == 4
    reflected = picture(client, run(client, conv("sobel_x", padding_mode="reflect"))["padded_png_url"])[1]
    assert_array_equal(reflected[0, 1:-1], reflected[2, 1:-1])  # reflect copies row 1 across the edge


def test_a_display_asked_for_by_several_requests_at_once_is_resolved_once(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    body = run(client, conv("laplace_4"))
    registry = client.app.state.registry  # type: ignore[attr-defined]
    the_run = registry._computed.get(body["run_id"])
    calls: list[int] = []
    original = display._resolve

    def slow(*args: Any) -> display.DisplayChoice:
        calls.append(1)
        time.sleep(0.2)  # long enough for every thread to be waiting on it
        return original(*args)

    monkeypatch.setattr(display, "_resolve", slow)
    results: list[display.DisplayChoice] = []
    threads = [threading.Thread(target=lambda: results.append(display.resolve(the_run, "abs", "percentile")))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 4 and all(result == results[0] for result in results)
    assert not display._choices._making  # nothing left behind


def test_a_failed_resolve_leaves_nothing_behind(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    body = run(client, conv("laplace_8"))
    the_run = client.app.state.registry._computed.get(body["run_id"])  # type: ignore[attr-defined]

    def broken(*args: Any) -> display.DisplayChoice:
        raise RuntimeError("boom")

    monkeypatch.setattr(display, "_resolve", broken)
    with pytest.raises(RuntimeError):
        display.resolve(the_run, "gray", "full")
    assert not display._choices._making


@pytest.mark.parametrize("scheme", ["sequential", "diverging", "gray"])
def test_map_pictures_keep_every_pixel(scheme: str) -> None:
    rng = np.random.default_rng(7)
    plane = rng.normal(size=(301, 257)).astype(np.float32) * 100  # noisy: the case Huffman coding is for
    index, lut = display_indices(plane, scheme)
    decoded = Image.open(io.BytesIO(map_png(plane, scheme)))
    assert decoded.mode == "P"
    assert_array_equal(np.asarray(decoded), index)
    assert_array_equal(np.asarray(decoded.getpalette(), dtype=np.uint8).reshape(-1, 3)[:len(lut)], lut)
