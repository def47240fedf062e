"""The step panel's colours come from the server: each tinted number's palette index (``<field>_color`` in
JSON and KLF1 frames, over HTTP and /ws/animate; ``weight_colors`` for the kernel) and, per palette entry,
the text colour to write on it (GET /api/palettes). Expected indices are worked out by hand below."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.testing import assert_array_equal

from app.codec import decode_batch
from app.colors import TRANSPARENT, color_indices, ink
from app.train_worker import first_filters
from app.training import TrainingJob

# x = [[1, 2], [3, 4]] ⊙ k = [[1, -1], [0, 2]]: products [1, -2, 0, 8], sum 7.
# input on sequential (0, 4), 256 colours: round(v / 4 * 255) -> 1: 63.75 -> 64, 2: 127.5 -> 128 (halves up),
#   3: 191.25 -> 191, 4: 255
# kernel on diverging (-2, 2), 255 colours: round((v + 2) / 4 * 254) -> 1: 190.5 -> 191, -1: 63.5 -> 64,
#   0: 127, 2: 254
# products on diverging (-8, 8): 1: 142.875 -> 143, -2: 95.25 -> 95, 0: 127, 8: 254; the sum 7: 238.125 -> 238
# the value 7 on sequential (0, 7): 255
CONV = {"source": {"matrix": [[1, 2], [3, 4]]},
        "operation": {"op": "conv2d", "filters": [{"kernel": {"values": [[1, -1], [0, 2]]}}]}}
CONV_COLORS = {"patch_color": [[[64, 128], [191, 255]]], "products_color": [[[143, 95], [127, 254]]],
               "channel_sums_color": [238], "value_color": 255}
# max-pool of [[1, -2], [3, 4]] with padding 1: padding is -inf (no colour, -1); on diverging (-4, 4):
# 1: 5/8 * 254 = 158.75 -> 159, -2: 2/8 * 254 = 63.5 -> 64
POOL = {"source": {"matrix": [[1, -2], [3, 4]]},
        "operation": {"op": "max_pool2d", "kernel_size": 2, "stride": 1, "padding": 1}}
POOL_COLORS = [{"patch_color": [[-1, -1], [-1, 159]], "value_color": 159},
               {"patch_color": [[-1, -1], [159, 64]], "value_color": 159}]


def test_the_rule_on_hand_computed_values() -> None:
    # clamped beyond the ends; the diverging midpoint; halves round up (190.5 -> 191, not to even 190)
    assert color_indices([-3.0, -2.0, 0.0, 1.0, 2.0, 5.0], "diverging", -2.0, 2.0).tolist() == [0, 0, 127, 191, 254,
                                                                                                254]
    assert color_indices([0.0, 5.0, 10.0, -1.0, 11.0], "sequential", 0.0, 10.0).tolist() == [0, 128, 255, 0, 255]
    assert color_indices([[2.0, 3.0]], "gray", 2.0, 6.0).tolist() == [[0, 64]]  # 1/4 * 255 = 63.75
    # a collapsed scale: the middle of diverging, else the start
    assert color_indices([3.0, -7.0], "diverging", 3.0, 3.0).tolist() == [127, 127]
    assert color_indices([3.0, 9.0], "sequential", 3.0, 3.0).tolist() == [0, 0]
    assert color_indices([3.0], "gray", 4.0, 1.0).tolist() == [0]
    # non-finite numbers have no colour
    values = [math.nan, math.inf, -math.inf, 1.0]
    assert color_indices(values, "diverging", -1.0, 1.0).tolist() == [TRANSPARENT] * 3 + [254]
    assert color_indices(values, "sequential", 1.0, 1.0).tolist() == [TRANSPARENT] * 3 + [0]
    assert TRANSPARENT == -1
    # an unknown scheme is coloured as sequential (256 colours)
    assert color_indices([1.0], "nonesuch", 0.0, 2.0).tolist() == [128]


def test_ink_by_luminance() -> None:
    assert ink("#ffffff") == "#111" and ink("#000000") == "#fff"
    assert ink("#979797") == "#111" and ink("#959595") == "#fff"  # light above a luminance of 150 (of 255)
    assert ink("#ff0000") == "#fff"  # 0.299 * 255 = 76.2
    assert ink("#00ff00") == "#fff"  # 0.587 * 255 = 149.7, just below
    assert ink("#ffff00") == "#111"  # 0.886 * 255 = 225.9


def test_palettes_carry_the_ink_for_each_colour(client: TestClient) -> None:
    tables = client.get("/api/palettes").json()
    for scheme, length in (("diverging", 255), ("sequential", 256), ("gray", 256)):
        assert len(tables[scheme]) == len(tables[f"{scheme}_ink"]) == length
        assert tables[f"{scheme}_ink"] == [ink(color) for color in tables[scheme]]
    assert tables["gray_ink"][0] == "#fff" and tables["gray_ink"][255] == "#111"
    assert tables["diverging_ink"][127] == "#111"  # white at zero
    assert tables["sequential_ink"][0] == "#fff" and tables["sequential_ink"][255] == "#111"  # viridis


def test_json_and_binary_frames_carry_the_colour_indices(client: TestClient) -> None:
    described = client.post("/api/run", json=CONV).json()
    assert described["weight_colors"] == [[[[191, 64], [127, 254]]]]
    run_id = described["run_id"]
    frame = client.get(f"/api/frames?run_id={run_id}&count=1").json()["frames"][0]
    assert {name: frame[name] for name in CONV_COLORS} == CONV_COLORS
    header, arrays = decode_batch(client.get(f"/api/frames?run_id={run_id}&count=1&format=binary").content)
    dtypes = {field["name"]: field["dtype"] for field in header["fields"]}
    for name, expected in CONV_COLORS.items():
        assert dtypes[name] == "i2"
        assert_array_equal(arrays[name], np.array([expected]))

    pooled = client.post("/api/run", json=POOL).json()
    assert pooled["weight_colors"] is None
    frames = client.get(f"/api/frames?run_id={pooled['run_id']}&count=2").json()["frames"]
    assert [{name: f[name] for name in ("patch_color", "value_color")} for f in frames] == POOL_COLORS
    _, arrays = decode_batch(client.get(f"/api/frames?run_id={pooled['run_id']}&count=2&format=binary").content)
    assert arrays["patch_color"].tolist() == [f["patch_color"] for f in POOL_COLORS]
    assert arrays["value_color"].tolist() == [f["value_color"] for f in POOL_COLORS]


def test_each_coloured_field_follows_its_run_scale(client: TestClient) -> None:
    """A photo-free 3x5 matrix through a padded, strided 3x3 conv: every tinted field of every frame, against
    the rule written out number by number."""
    rng = np.random.default_rng(3)
    request = {"source": {"matrix": rng.integers(-9, 10, (3, 5)).tolist()},
               "operation": {"op": "conv2d", "filters": [{"kernel": {"values": rng.integers(-3, 4, (3, 3)).tolist()}}],
                             "padding": 1, "stride": 2}}
    described = client.post("/api/run", json=request).json()
    scales = described["scales"]
    lengths = {"diverging": 255, "sequential": 256, "gray": 256}

    def rule(value: float, scale: dict[str, Any]) -> int:
        if not math.isfinite(value):
            return -1
        span = scale["high"] - scale["low"]
        position = (value - scale["low"]) / span if span > 0 else (0.5 if scale["scheme"] == "diverging" else 0.0)
        return math.floor(min(max(position, 0.0), 1.0) * (lengths[scale["scheme"]] - 1) + 0.5)

    count = described["frame_count"]
    frames = client.get(f"/api/frames?run_id={described['run_id']}&count={count}").json()["frames"]
    _, arrays = decode_batch(client.get(f"/api/frames?run_id={described['run_id']}&count={count}"
                                        "&format=binary&precision=64").content)
    pairs = {"patch": "input", "products": "products", "channel_sums": "products", "value": "output"}
    for i, frame in enumerate(frames):
        for name, scale in pairs.items():
            numbers = np.atleast_1d(np.array(frame[name], dtype=float))
            expected = np.array([rule(v, scales[scale]) for v in numbers.ravel()]).reshape(numbers.shape)
            assert_array_equal(np.atleast_1d(np.array(frame[f"{name}_color"])), expected)
            assert_array_equal(np.atleast_1d(arrays[f"{name}_color"][i]), expected)


@pytest.mark.parametrize("format", ["binary", "json"])
def test_animate_frames_carry_the_colour_indices(client: TestClient, format: str) -> None:
    with client.websocket_connect("/ws/animate") as ws:
        ws.send_json({"type": "open", "request": CONV, "format": format})
        assert json.loads(ws.receive()["text"])["type"] == "opened"
        ws.send_json({"type": "seek", "index": 0})
        message = ws.receive()
        if format == "binary":
            _, arrays = decode_batch(message["bytes"])
            got = {name: arrays[name][0].tolist() for name in CONV_COLORS}
        else:
            got = {name: json.loads(message["text"])["frames"][0][name] for name in CONV_COLORS}
        assert got == CONV_COLORS


def test_the_train_filters_carry_their_colours() -> None:
    # two 2x2 filters; the scale is the largest magnitude, 4, so on diverging (-4, 4), 255 colours:
    # round((v + 4) / 8 * 254) -> 1: 158.75 -> 159, -1: 95.25 -> 95, 0.5: 142.875 -> 143, 2: 190.5 -> 191,
    # -2: 63.5 -> 64, 0: 127, 4: 254
    weight = np.array([[[[1.0, -1.0], [0.5, 2.0]]], [[[-2.0, 0.0], [0.0, 4.0]]]])
    job = cast(TrainingJob, SimpleNamespace(chain=SimpleNamespace(
        layers=[SimpleNamespace(kind="dense", weight=None, name="d"),
                SimpleNamespace(kind="conv2d", weight=weight, name="conv1")])))
    filters = first_filters(job)
    assert filters is not None and filters["scale"] == 4.0
    assert filters["colors"] == [[[159, 95], [143, 191]], [[64, 127], [127, 254]]]
    flat = cast(TrainingJob, SimpleNamespace(chain=SimpleNamespace(
        layers=[SimpleNamespace(kind="conv2d", weight=np.zeros((1, 1, 2, 2)), name="conv1")])))
    assert first_filters(flat)["colors"] == [[[127, 127], [127, 127]]]  # type: ignore[index]  # all zero: the middle


def test_catalogue_kernels_carry_their_colours(client: TestClient) -> None:
    catalogue = {entry["name"]: entry for entry in client.get("/api/kernels").json()}
    # sobel_x on (-2, 2): -1 -> 63.5 -> 64, 0 -> 127, 1 -> 190.5 -> 191, -2 -> 0, 2 -> 254
    assert catalogue["sobel_x"]["colors"] == [[64, 127, 191], [0, 127, 254], [64, 127, 191]]
    assert catalogue["identity"]["colors"] == [[127, 127, 127], [127, 254, 127], [127, 127, 127]]
    # the range those colours span, given (before, the Train tab took max |k| itself for its "sobel x ±2" label)
    assert (catalogue["sobel_x"]["extent"], catalogue["identity"]["extent"]) == (2, 1)
    assert catalogue["laplace_4"]["extent"] == 4
