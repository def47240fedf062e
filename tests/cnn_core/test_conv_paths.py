"""The forward convolution core's two layouts and its tiling, against the loop definition (tests/cnn_core/naive.py).

cnn_core._compute.correlate_batch picks, by a rule on the shapes, channels first ("rows": a column matrix
of C*kh*kw rows, a slab of column phases for strides and padding) or channels last ("pixels": an (H, W, C)
copy, windows as kh runs of kw*C numbers). Both are checked here on every geometry, whichever the rule
would pick, with tiles small enough that bands of rows, groups of samples and tiles made only of padding
all occur; then the fused bias and the finiteness flag, and the lazily padded plan.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose

from cnn_core import _compute, _plans, _pool, ops
from cnn_core.errors import ArgumentError
from tests.cnn_core import naive

GEOMETRIES = [  # (N, C, H, W), (F, kh, kw), stride, dilation, pads (top, bottom, left, right)
    ((2, 3, 11, 13), (4, 3, 3), (1, 1), (1, 1), (0, 0, 0, 0)),
    ((2, 3, 11, 13), (4, 3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
    ((1, 2, 12, 9), (3, 3, 2), (2, 3), (1, 1), (2, 0, 1, 3)),
    ((3, 5, 9, 10), (2, 3, 3), (1, 1), (2, 2), (2, 2, 2, 2)),
    ((2, 4, 10, 11), (3, 2, 3), (3, 2), (2, 3), (0, 3, 2, 0)),
    ((2, 1, 8, 8), (2, 5, 5), (1, 1), (1, 1), (4, 4, 4, 4)),  # "full": first and last bands all padding
    ((1, 6, 7, 7), (5, 1, 1), (2, 2), (1, 1), (0, 0, 0, 0)),
    ((4, 8, 5, 5), (6, 3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
]


def _reference(x: np.ndarray, weight: np.ndarray, stride: tuple[int, int], dilation: tuple[int, int],
               pads: tuple[int, int, int, int]) -> np.ndarray:
    bias = np.zeros(weight.shape[0])
    return np.stack([naive.conv2d(sample, weight, bias, stride, pads, dilation) for sample in x])


def _out_shape(shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
               pads: tuple[int, int, int, int]) -> tuple[int, int]:
    padded = (shape[2] + pads[0] + pads[1], shape[3] + pads[2] + pads[3])
    rows, cols = ((padded[a] - dilation[a] * (kernel[a] - 1) - 1) // stride[a] + 1 for a in (0, 1))
    return rows, cols


@pytest.mark.parametrize("layout", ["rows", "pixels"])
@pytest.mark.parametrize("tile_bytes", [1 << 20, 200, 1])
@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_both_layouts_match_the_loop_definition_at_any_tile_size(geometry: tuple[Any, ...], tile_bytes: int,
                                                                  layout: str, dtype: type,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    shape, (filters, kh, kw), stride, dilation, pads = geometry
    rng = np.random.default_rng(sum(shape) + kh * 10 + tile_bytes % 97)
    x = rng.standard_normal(shape).astype(dtype)
    weight = rng.standard_normal((filters, shape[1], kh, kw)).astype(dtype)
    monkeypatch.setattr(_compute, "TILE_BYTES", tile_bytes)  # 200 and 1 force bands of rows, 1 MiB groups
    monkeypatch.setattr(_compute, "channels_last_pays", lambda *_: layout == "pixels")
    out_shape = _out_shape(shape, (kh, kw), stride, dilation, pads)
    result = _compute.correlate_batch(x, weight, stride, dilation, out_shape, pads)
    assert result.dtype == dtype and result.flags.c_contiguous
    tolerance = 1e-12 if dtype == np.float64 else 2e-5
    assert_allclose(result, _reference(x.astype(np.float64), weight.astype(np.float64), stride, dilation, pads),
                    rtol=tolerance, atol=tolerance)


def test_the_layout_rule_follows_the_copied_run_lengths() -> None:
    # channels last when a window row's kw*C numbers (C when dilated) outrun an output row of ow numbers
    assert not _compute.channels_last_pays(3, 3, 1, 1024)  # an RGB image of the page: rows
    assert not _compute.channels_last_pays(1, 3, 1, 26)  # the seed network's first layer: rows
    assert _compute.channels_last_pays(32, 3, 1, 11)  # its second layer: pixels
    assert _compute.channels_last_pays(64, 3, 1, 3)  # its third
    assert not _compute.channels_last_pays(8, 3, 2, 20)  # dilated: runs of C = 8 only


@pytest.mark.parametrize("channels", [2, 40])  # rows, then pixels
def test_conv2d_of_a_batch_equals_the_loop_definition_with_bias_and_virtual_padding(channels: int) -> None:
    rng = np.random.default_rng(channels)
    x = rng.standard_normal((3, channels, 9, 8))
    weight = rng.standard_normal((5, channels, 3, 3))
    bias = rng.standard_normal(5)
    result = ops.conv2d(x, weight, bias, stride=(2, 1), padding=(2, 1), dilation=(1, 2))
    expected = np.stack([naive.conv2d(sample, weight, bias, (2, 1), (2, 2, 1, 1), (1, 2)) for sample in x])
    assert_allclose(result, expected, rtol=1e-12, atol=1e-12)


def test_convolve_adds_the_bias_per_tile_and_says_when_the_result_is_surely_finite(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compute, "TILE_BYTES", 300)  # several tiles
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 10, 10))
    weight = rng.standard_normal((4, 3, 3, 3))
    bias = np.array([1.0, -2.0, 0.5, 3.0])
    result, finite = _compute.convolve(x, weight, bias, (1, 1), (1, 1), (10, 10), (1, 1, 1, 1))
    plain = _compute.correlate_batch(x, weight, (1, 1), (1, 1), (10, 10), (1, 1, 1, 1))
    assert finite
    assert_allclose(result, plain + bias[:, None, None], rtol=0, atol=0)  # the same additions, tile by tile
    huge = np.full((1, 1, 4, 4), 3e38, dtype=np.float32)
    with np.errstate(over="ignore"):  # as conv2d calls it: the overflow is reported, not warned
        overflowed, finite = _compute.convolve(huge, np.ones((1, 1, 2, 2), np.float32), None, (1, 1), (1, 1),
                                               (3, 3))
    assert not finite and np.isinf(overflowed).all()


def test_conv2d_refuses_an_overflow_inside_one_tile_of_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compute, "TILE_BYTES", 64)
    x = np.ones((2, 1, 12, 12), dtype=np.float32)
    x[1, 0, 9, 3] = 3e38  # one window of the last sample sums past float32
    with pytest.raises(ArgumentError, match="conv2d overflowed"):
        ops.conv2d(x, np.full((1, 1, 2, 2), 2.0, dtype=np.float32))


def test_large_finite_sums_that_overflow_the_check_are_not_refused() -> None:
    # every output is finite, but their float32 sum is not: the full check settles it, nothing is refused
    x = np.full((1, 1, 40, 40), 1e37, dtype=np.float32)
    result = ops.conv2d(x, np.ones((1, 1, 1, 1), dtype=np.float32))
    assert np.isfinite(result).all() and result.max() == np.float32(1e37)


def test_a_zero_padded_plan_pads_only_on_demand_and_other_modes_at_once() -> None:
    x = np.arange(12.0).reshape(1, 3, 4)
    plan = _plans.plan_conv2d(x, np.ones((1, 1, 3, 3)), padding=1)
    assert "padded" not in vars(plan)  # conv2d never asks for it
    assert plan.padded.shape == (1, 1, 5, 6) and plan.padded[0, 0, 0].sum() == 0
    reflect = _plans.plan_conv2d(x, np.ones((1, 1, 3, 3)), padding=1, padding_mode="reflect")
    assert "padded" in vars(reflect)
    with pytest.raises(ArgumentError, match="reflect padding must be smaller than the input"):
        _plans.plan_conv2d(x, np.ones((1, 1, 3, 3)), padding=3, padding_mode="reflect")


@pytest.mark.parametrize("shape", [(3, 4, 11, 11), (2, 5, 9), (1, 2, 7, 13)])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_tiling_pools_on_odd_sizes_match_the_loop_definition(shape: tuple[int, ...], kind: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pool, "POOL_CHUNK_BYTES", 48)  # chunks of rows within a map, then of maps
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    op = ops.max_pool2d if kind == "max" else ops.avg_pool2d
    samples = x.reshape(-1, *shape[-3:])
    expected = np.stack([naive.pool(sample, kind, 2, 2, 0) for sample in samples]).reshape(
        *shape[:-2], shape[-2] // 2, shape[-1] // 2)
    assert_allclose(op(x, 2), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_max_pool2d_results_are_finite_without_a_final_check(ceil_mode: bool) -> None:
    # max_pool2d skips the overflow pass: every window it computes must read at least one input pixel
    x = np.random.default_rng(3).standard_normal((2, 7, 9))
    for kernel in (2, 3, 4):
        for stride in (1, 2, 3):
            for padding in range(kernel // 2 + 1):
                for dilation in (1, 2):
                    try:
                        out = ops.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode)
                    except ArgumentError:
                        continue  # refused, as PyTorch would return -inf there
                    assert np.isfinite(out).all(), (kernel, stride, padding, dilation, ceil_mode)
