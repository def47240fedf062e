"""conv2d's bound from the input, which replaces the sum of every output when there are many more outputs.

cnn_core._compute.cannot_overflow says no output can overflow when max|x| * max_f sum|w_f| + max|b|,
doubled, is below the dtype's largest number; conv2d then skips the per-tile sums. Checked here: the bound
holds on the edge (every result it clears is finite), it clears nothing it should not (NaN, infinity, a
sum that does overflow), and conv2d still refuses the overflows of a layer with many filters.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnn_core import _compute, ops
from cnn_core.errors import ArgumentError


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cannot_overflow_clears_only_results_that_are_finite(dtype: type) -> None:
    rng = np.random.default_rng(0)
    largest = float(np.finfo(dtype).max)
    x: np.ndarray = rng.uniform(-1, 1, (2, 3, 6, 6)).astype(dtype)
    weight: np.ndarray = rng.uniform(-1, 1, (5, 3, 3, 3)).astype(dtype)
    reach = float(np.abs(weight).sum(axis=(1, 2, 3)).max())
    cleared = 0
    for fraction in (0.01, 0.2, 0.45, 0.55, 0.9, 1.5):  # of the largest number, over the bound's doubling
        scaled = (x * dtype(fraction * largest / reach / float(np.abs(x).max()))).astype(dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            result = _compute.correlate_batch(scaled, weight, (1, 1), (1, 1), (4, 4))
        if _compute.cannot_overflow(scaled, weight, None):
            cleared += 1
            assert np.isfinite(result).all(), fraction
    assert cleared == 3  # 0.01, 0.2, 0.45: just below half the largest number


def test_cannot_overflow_refuses_nan_infinity_and_a_large_bias() -> None:
    weight = np.ones((2, 1, 2, 2))
    for bad in (np.nan, np.inf, -np.inf):
        x = np.ones((1, 1, 3, 3))
        x[0, 0, 1, 1] = bad
        assert not _compute.cannot_overflow(x, weight, None)
    assert _compute.cannot_overflow(np.ones((1, 1, 3, 3)), weight, np.array([1.0, -2.0]))
    assert not _compute.cannot_overflow(np.ones((1, 1, 3, 3)), weight, np.array([1.0, -1e308]))


def test_conv2d_with_many_filters_still_refuses_an_overflow() -> None:
    # 64 filters over one channel: many more outputs than inputs, so conv2d asks the bound, which says "maybe"
    x = np.ones((2, 1, 8, 8), dtype=np.float32)
    x[1, 0, 5, 2] = 1e38
    with pytest.raises(ArgumentError, match="conv2d overflowed"):
        ops.conv2d(x, np.full((64, 1, 3, 3), 4.0, dtype=np.float32))
    # a large but safe input is computed, not refused
    safe = np.full((2, 1, 8, 8), 1e36, dtype=np.float32)
    result = ops.conv2d(safe, np.ones((64, 1, 3, 3), dtype=np.float32))
    assert np.isfinite(result).all()
    np.testing.assert_allclose(result, 9e36, rtol=1e-6)


def test_conv2d_with_many_filters_matches_the_checked_path() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 1, 9, 9)).astype(np.float32)
    weight = rng.standard_normal((16, 1, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(16).astype(np.float32)
    checked, finite = _compute.convolve(x, weight, bias, (1, 1), (1, 1), (7, 7), check=True)
    assert finite
    np.testing.assert_array_equal(ops.conv2d(x, weight, bias), checked)
