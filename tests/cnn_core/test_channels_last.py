"""Inputs stored channels last (an (N, C, H, W) view of (N, H, W, C) memory, as PyTorch's channels_last):
every op gives PyTorch's numbers (tests/fixtures/torch_golden.npz) on them, and conv2d and the unpadded pools
give back a result stored channels last, as PyTorch does, computed without transposing either side."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cnn_core import ops
from cnn_core._compute import PixelWindows
from cnn_core._layout import empty_channels_last, flat_view, is_channels_last
from tests.cnn_core.test_torch_golden import CASES, GOLDEN, _tuples


def channels_last(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def batched(case: dict[str, Any]) -> bool:
    x = GOLDEN[case["inputs"]["x"]]
    return x.ndim == 3 and x.shape[0] > 1 and x.shape[1] * x.shape[2] > 1


LAYOUT_CASES = [case for case in CASES if batched(case)]


def run_channels_last(case: dict[str, Any], dtype: type) -> tuple[np.ndarray, np.ndarray]:
    inputs = {key: GOLDEN[ref].astype(dtype) for key, ref in case["inputs"].items()}
    x = channels_last(inputs.pop("x")[None])
    assert is_channels_last(x)
    return x, getattr(ops, case["op"])(x, **inputs, **_tuples(case["args"]))


def test_the_layout_cases_cover_conv2d_and_every_pool_with_and_without_padding() -> None:
    ops_seen = {case["op"] for case in LAYOUT_CASES}
    assert {"conv2d", "max_pool2d", "avg_pool2d", "sum_pool2d"} <= ops_seen
    assert len(LAYOUT_CASES) > 300


@pytest.mark.parametrize("case", LAYOUT_CASES, ids=lambda c: f"{c['name']}-{c['op']}")
def test_an_input_stored_channels_last_gives_pytorchs_numbers(case: dict[str, Any]) -> None:
    expected = GOLDEN[f"{case['name']}_out"][None]
    _, result = run_channels_last(case, np.float64)
    assert result.shape == expected.shape and result.dtype == np.float64
    np.testing.assert_allclose(result, expected, rtol=1e-10, atol=1e-12)
    args = case["args"]
    unpadded = args.get("padding", 0) in (0, [0, 0], "valid") and not args.get("ceil_mode", False)
    filters = result.shape[1] > 1 and result.shape[2] * result.shape[3] > 1
    keeps = (case["op"] == "conv2d" and GOLDEN[case["inputs"]["weight"]].ndim == 4
             and args.get("padding_mode", "zeros") == "zeros")
    keeps = keeps or (case["op"] in ("max_pool2d", "avg_pool2d", "sum_pool2d") and unpadded)
    if keeps and filters:  # as PyTorch: the result of a channels-last input is stored channels last
        assert is_channels_last(result), case
    assert flat_view(result) is not None  # one block of memory either way


@pytest.mark.parametrize("case", LAYOUT_CASES[::5], ids=lambda c: f"{c['name']}-{c['op']}")
def test_float32_channels_last(case: dict[str, Any]) -> None:
    expected = GOLDEN[f"{case['name']}_out"][None]
    _, result = run_channels_last(case, np.float32)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("shape", "weight_shape", "padding", "stride"), [
    ((64, 32, 13, 13), (64, 32, 3, 3), 0, 1),   # groups of samples
    ((64, 64, 5, 5), (64, 64, 3, 3), 1, 1),     # padded: copied into a zero border
    ((2, 16, 160, 160), (8, 16, 3, 3), 0, 2),  # one sample over a tile: bands of rows
])
def test_batched_channels_last_is_the_contiguous_result(shape: tuple[int, ...], weight_shape: tuple[int, ...],
                                                          padding: int, stride: int) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    weight, bias = rng.standard_normal(weight_shape), rng.standard_normal(weight_shape[0])
    expected = ops.conv2d(x, weight, bias, stride=stride, padding=padding)
    result = ops.conv2d(channels_last(x), weight, bias, stride=stride, padding=padding)
    assert is_channels_last(result) and not is_channels_last(expected)
    np.testing.assert_allclose(result, expected, rtol=1e-10, atol=1e-12)
    pooled = ops.max_pool2d(result, 2)
    assert is_channels_last(pooled)
    same = np.ascontiguousarray(result)  # the same numbers, stored channels first
    np.testing.assert_array_equal(pooled, ops.max_pool2d(same, 2))
    averaged = ops.avg_pool2d(result, 3, stride=2)
    assert is_channels_last(averaged)
    np.testing.assert_allclose(averaged, ops.avg_pool2d(same, 3, stride=2), rtol=1e-13)


def test_an_unpadded_channels_last_input_is_its_own_windows() -> None:
    x = channels_last(np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5))
    pixels = PixelWindows(x, 1, (0, 0, 0, 0), (2, 2), (1, 1), (1, 1), (3, 4))
    windows = pixels.load(1, 1)
    assert np.shares_memory(windows, x)  # no copy
    np.testing.assert_array_equal(windows[0, 2, 3], x[1, :, 2:4, 3:5].transpose(1, 2, 0))


def test_layout_helpers() -> None:
    x = empty_channels_last((2, 3, 4, 5), np.float32)
    assert x.shape == (2, 3, 4, 5) and is_channels_last(x)
    assert not is_channels_last(np.zeros((2, 3, 4, 5)))
    assert not is_channels_last(channels_last(np.zeros((2, 1, 4, 5))))  # one channel: both layouts
    assert flat_view(np.zeros((4, 4))[:, :2]) is None
    data = np.arange(24.0).reshape(1, 2, 3, 4)
    np.testing.assert_array_equal(flat_view(channels_last(data)), data.transpose(0, 2, 3, 1).reshape(-1))
