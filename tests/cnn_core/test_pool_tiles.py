"""The tiling pools' fast path (stride = kernel, no dilation) against loops, on the edges of its chunks.

cnn_core._pool._reduce_tiles reads the maps as one flat array, reduces whole-run shifts (rows, then
columns) and gathers each window's result from its top-left pixel; an average with no padding is divided
by kh*kw as it is gathered. Checked here bit for bit against the same reductions written as loops, with
chunks small enough that bands of one map and groups of maps both occur, and through the public ops
against the loop definition (tests/cnn_core/naive.py) with and without padding and ceil_mode.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from cnn_core import _pool, ops
from tests.cnn_core import naive

KERNELS = [(2, 2), (3, 3), (2, 3), (1, 2), (3, 1), (1, 1)]
SHAPES = [(2, 3, 11, 11), (4, 26, 26), (1, 1, 7, 13), (5, 6, 8)]


def rows_then_columns(x: np.ndarray, kernel: tuple[int, int], reducer: np.ufunc) -> np.ndarray:
    """Each window reduced by loops in the fast path's order: its rows in turn, then its columns in turn."""
    kh, kw = kernel
    oh, ow = x.shape[-2] // kh, x.shape[-1] // kw
    out = np.empty((*x.shape[:-2], oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            row = x[..., i * kh, j * kw:j * kw + kw].copy()
            for ky in range(1, kh):
                row = reducer(row, x[..., i * kh + ky, j * kw:j * kw + kw])
            cell = row[..., 0]
            for kx in range(1, kw):
                cell = reducer(cell, row[..., kx])
            out[..., i, j] = cell
    return out


@pytest.mark.parametrize("chunk", [48, 1 << 19])  # bands of window rows of one map; groups of whole maps
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kernel", KERNELS)
def test_reduce_windows_tiles_match_loops_bit_for_bit(kernel: tuple[int, int], shape: tuple[int, ...],
                                                      dtype: type, chunk: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pool, "POOL_CHUNK_BYTES", chunk)
    x: np.ndarray = np.random.default_rng(sum(shape)).standard_normal(shape).astype(dtype)
    out_shape = (shape[-2] // kernel[0], shape[-1] // kernel[1])
    for reducer in (np.maximum, np.add):
        got = _pool.reduce_windows(x, kernel, kernel, (1, 1), out_shape, reducer)
        expected = rows_then_columns(x, kernel, reducer)
        assert got.shape == expected.shape and got.dtype == dtype
        assert_array_equal(got, expected)
    averaged = _pool.reduce_windows(x, kernel, kernel, (1, 1), out_shape, np.add, float(kernel[0] * kernel[1]))
    assert_array_equal(averaged, expected / dtype(kernel[0] * kernel[1]))


def test_reduce_windows_tiles_read_a_non_contiguous_input() -> None:
    x = np.random.default_rng(1).standard_normal((3, 10, 9)).transpose(0, 2, 1)  # (3, 9, 10), not contiguous
    got = _pool.reduce_windows(x, (2, 2), (2, 2), (1, 1), (4, 5), np.maximum)
    assert_array_equal(got, rows_then_columns(np.ascontiguousarray(x), (2, 2), np.maximum))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("kernel", "padding", "ceil_mode"),
                         [(2, 0, False), (3, 0, False), (2, 0, True), (3, 1, False), (2, 1, True), (3, 0, True)])
@pytest.mark.parametrize("kind", ["max", "avg", "sum"])
def test_tiling_pools_match_the_loop_definition(kind: str, kernel: int, padding: int, ceil_mode: bool,
                                                dtype: type) -> None:
    # no padding and no overhang: the uniform divisor is fused; otherwise the divisor map divides after
    x: np.ndarray = np.random.default_rng(kernel + padding).standard_normal((2, 3, 11, 10)).astype(dtype)
    if kind == "max":
        got = ops.max_pool2d(x, kernel, padding=padding, ceil_mode=ceil_mode)
    elif kind == "avg":
        got = ops.avg_pool2d(x, kernel, padding=padding, ceil_mode=ceil_mode)
    else:
        got = ops.sum_pool2d(x, kernel, padding=padding, ceil_mode=ceil_mode)
    expected = np.stack([naive.pool(sample.astype(np.float64), kind, kernel, kernel, padding, ceil_mode)
                         for sample in x])
    assert got.dtype == dtype and got.shape == expected.shape
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


def test_avg_pool2d_with_padding_left_out_of_the_count_divides_by_each_windows_count() -> None:
    x = np.random.default_rng(5).standard_normal((2, 9, 9))
    got = ops.avg_pool2d(x, 3, padding=1, count_include_pad=False)
    assert_allclose(got, naive.pool(x, "avg", 3, 3, 1, count_include_pad=False), rtol=1e-12, atol=1e-12)
