"""The Layers tab's map pictures use the stage's display rule (app.display.choose): edge maps by percentile,
bold on the bundled photo, with the maps' true min and max stated, and the same picture as the layer opened."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.testing import assert_array_equal
from PIL import Image

from app.samples import SAMPLES
from cnn_core import load_image, to_display
from cnn_core.chain import Chain
from cnn_core.imageio import palette

SOBEL = [{"type": "conv2d", "filters": ["sobel_x", "sobel_y"], "padding": 1, "use_bias": False}, {"type": "magnitude"}]
# The Laplace lesson's kernels (static/js/lessons.js): laplace_8 / 8 in a 7x7 frame of zeros, beside the LoG
LAPLACE_7 = [[0.0] * 7 for _ in range(7)]
for row in range(2, 5):
    LAPLACE_7[row][2:5] = [0.125, 0.125, 0.125]
LAPLACE_7[3][3] = -1.0
LAPLACE = [{"type": "conv2d", "filters": [LAPLACE_7, "log"], "padding": "same", "use_bias": False}]


def chain_on_astronaut(client: TestClient, layers: list[dict[str, Any]]) -> dict[str, Any]:
    samples = client.get("/api/samples").json()
    image_id = next(sample["id"] for sample in samples if sample["name"] == "astronaut")
    response = client.post("/api/chains", json={"source": {"image_id": image_id, "color": "gray"}, "layers": layers})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def picture(client: TestClient, url: str) -> np.ndarray:
    response = client.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


def luminance(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.float64)


def gray_astronaut() -> np.ndarray:
    sample = next(sample for sample in SAMPLES if sample.name == "astronaut")
    return load_image(sample.read(), mode="gray")


def test_chain_sobel_card_is_bold_by_percentile_and_states_the_true_extremes(client: TestClient) -> None:
    body = chain_on_astronaut(client, SOBEL)
    expected = Chain(SOBEL).run(gray_astronaut())
    edges, magnitude = expected[0], expected[1]
    reach = float(np.percentile(np.abs(edges), 98))
    assert body["layers"][0]["display"] == {
        "mode": "signed", "contrast": "percentile", "scheme": "diverging", "low": pytest.approx(-reach),
        "high": pytest.approx(reach), "min": float(edges.min()), "max": float(edges.max()), "rgb": False,
        "label": "value, 2nd to 98th percentile", "palette": palette("diverging")}
    assert edges.min() < -2 * reach and edges.max() > 2 * reach  # the stretch matters: the extremes are far out
    for channel in (0, 1):
        shown = picture(client, body["layers"][0]["maps"][channel])
        assert_array_equal(shown, to_display(edges[channel], "diverging", (-reach, reach)))
        assert luminance(shown).std() >= 30, f"Sobel map {channel} is faint"  # full range: ~10
    strength = body["layers"][1]["display"]
    assert (strength["mode"], strength["contrast"], strength["scheme"], strength["low"]) == (
        "signed", "percentile", "sequential", 0.0)
    assert strength["high"] == pytest.approx(float(np.percentile(magnitude, 98)))
    assert (strength["min"], strength["max"]) == (float(magnitude.min()), float(magnitude.max()))


def test_chain_card_is_the_picture_of_its_layer_opened_on_the_stage(client: TestClient) -> None:
    body = chain_on_astronaut(client, SOBEL)
    layer = body["layers"][0]
    run = client.post(layer["run_url"]).json()
    stage = client.get(f"/api/runs/{run['run_id']}/display").json()
    assert stage == layer["display"]
    for channel in (0, 1):
        assert_array_equal(picture(client, f"{run['result_png_url']}?channel={channel}&mode=auto&contrast=auto"),
                           picture(client, layer["maps"][channel]))


def test_chain_laplace_lesson_shows_raw_specks_and_clean_log_edges(client: TestClient) -> None:
    body = chain_on_astronaut(client, LAPLACE)
    assert body["layers"][0]["display"]["contrast"] == "percentile"
    specks = []
    for url in body["layers"][0]["maps"]:
        shown = luminance(picture(client, url))
        assert shown.std() >= 30  # full range: 5.7 and 4.5, a white square
        tinted = shown < 200
        alone = (tinted[1:-1, 1:-1] & ~tinted[:-2, 1:-1] & ~tinted[2:, 1:-1] & ~tinted[1:-1, :-2]
                 & ~tinted[1:-1, 2:])
        specks.append(alone.sum() / tinted.sum())
    raw, log = specks
    assert raw > 3 * log, f"isolated specks: raw Laplace {raw:.3f}, LoG {log:.3f}"  # measured 0.083 and 0.022


def test_chain_flat_layer_has_no_display(client: TestClient) -> None:
    body = chain_on_astronaut(client, [{"type": "max_pool2d", "pool_size": 8}, {"type": "flatten"}])
    assert body["layers"][0]["display"]["contrast"] == "full"  # not an edge map: the stage's rule keeps it whole
    assert body["layers"][1]["display"] is None
