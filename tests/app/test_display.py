"""GET /api/runs/{id}/display and result.png?mode=&contrast=: what each kernel shows, against NumPy."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.testing import assert_array_equal
from PIL import Image

from app.samples import SAMPLES
from cnn_core import conv2d, get_kernel, load_image, to_display
from cnn_core.imageio import palette


def astronaut(client: TestClient) -> dict[str, Any]:
    samples: list[dict[str, Any]] = client.get("/api/samples").json()
    return next(sample for sample in samples if sample["name"] == "astronaut")


def run(client: TestClient, operation: dict[str, Any], color: str = "rgb") -> dict[str, Any]:
    response = client.post("/api/run", json={"source": {"image_id": astronaut(client)["id"], "color": color},
                                             "operation": operation})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def conv(kernel: str, **options: Any) -> dict[str, Any]:
    return {"op": "conv2d", "filters": [{"kernel": {"name": kernel}}], "padding": 1, **options}


def photo() -> np.ndarray:
    sample = next(sample for sample in SAMPLES if sample.name == "astronaut")
    return load_image(sample.read())


def png(client: TestClient, url: str) -> np.ndarray:
    response = client.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


def test_display_sobel_defaults_to_magnitude_stretched_by_percentile(client: TestClient) -> None:
    body = run(client, conv("sobel_x"))
    expected = conv2d(photo(), np.repeat(get_kernel("sobel_x")[None, None], 3, axis=1), padding=1)[0]
    choice = client.get(f"/api/runs/{body['run_id']}/display").json()
    assert choice == {"mode": "abs", "contrast": "percentile", "scheme": "sequential", "low": 0.0,
                      "high": pytest.approx(float(np.percentile(np.abs(expected), 98))),
                      "min": float(expected.min()), "max": float(expected.max()), "rgb": False,
                      "label": "|value|, 2nd to 98th percentile", "palette": palette("sequential")}
    shown = png(client, f"{body['result_png_url']}?channel=0&mode=abs&contrast=percentile")
    assert_array_equal(shown, to_display(np.abs(expected), "sequential", (0.0, choice["high"])))
    assert_array_equal(png(client, f"{body['result_png_url']}?channel=0&mode=auto&contrast=auto"), shown)


def test_display_gaussian_of_a_photo_is_a_gray_picture_and_depthwise_a_colour_one(client: TestClient) -> None:
    body = run(client, conv("gaussian"))
    choice = client.get(f"/api/runs/{body['run_id']}/display").json()
    assert (choice["mode"], choice["contrast"], choice["scheme"], choice["rgb"]) == ("photo", "full", "gray", False)
    shown = png(client, f"{body['result_png_url']}?mode=photo&contrast=full")
    assert (shown[..., 0] == shown[..., 1]).all() and (shown[..., 1] == shown[..., 2]).all()
    depthwise = run(client, conv("gaussian", depthwise=True))
    choice = client.get(f"/api/runs/{depthwise['run_id']}/display").json()
    assert (choice["mode"], choice["rgb"], choice["label"]) == ("photo", True, "R, G, B maps as one picture")
    x, kernel = photo(), get_kernel("gaussian")[None, None]
    maps = np.concatenate([conv2d(x[c:c + 1], kernel, padding=1) for c in range(3)])
    colour = png(client, f"{depthwise['result_png_url']}?channel=2&mode=photo&contrast=full")
    scale = 255.0 / (maps.max() - maps.min())
    expected = np.clip(np.rint((maps - maps.min()) * scale), 0, 255).astype(np.uint8).transpose(1, 2, 0)
    assert_array_equal(colour, expected)


@pytest.mark.parametrize(("mode", "contrast", "scheme"), [("signed", "full", "diverging"), ("gray", "full", "gray"),
                                                          ("gray", "percentile", "gray")])
def test_display_modes_chosen_by_hand(client: TestClient, mode: str, contrast: str, scheme: str) -> None:
    body = run(client, conv("laplace_4"), color="gray")
    sample = next(sample for sample in SAMPLES if sample.name == "astronaut")
    values = conv2d(load_image(sample.read(), mode="gray"), get_kernel("laplace_4")[None, None], padding=1)[0]
    choice = client.get(f"/api/runs/{body['run_id']}/display?mode={mode}&contrast={contrast}").json()
    assert (choice["mode"], choice["contrast"], choice["scheme"]) == (mode, contrast, scheme)
    if mode == "signed":
        reach = float(np.abs(values).max())
        assert (choice["low"], choice["high"]) == (-reach, reach)
    elif contrast == "full":
        assert (choice["low"], choice["high"]) == (float(values.min()), float(values.max()))
    else:
        low, high = np.percentile(values, [2, 98])
        assert (choice["low"], choice["high"]) == (pytest.approx(low), pytest.approx(high))
    shown = png(client, f"{body['result_png_url']}?mode={mode}&contrast={contrast}")
    assert_array_equal(shown, to_display(values, scheme, (choice["low"], choice["high"])))


def test_display_of_a_max_pool_on_a_colour_photo_is_the_photo(client: TestClient) -> None:
    body = run(client, {"op": "max_pool2d", "kernel_size": 2, "stride": 2})
    choice = client.get(f"/api/runs/{body['run_id']}/display").json()
    assert (choice["mode"], choice["rgb"]) == ("photo", True)


def test_display_refuses_an_unknown_mode(client: TestClient) -> None:
    body = run(client, conv("sobel_x"))
    response = client.get(f"/api/runs/{body['run_id']}/display?mode=rainbow")
    assert response.status_code == 422
    assert "mode" in response.json()["detail"] and "rainbow" in response.json()["detail"]
    assert client.get(f"{body['result_png_url']}?channel=5&mode=gray").status_code == 422
