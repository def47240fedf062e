"""The max pool's backward for tiling windows (stride = kernel, no dilation) against a loop, bit for bit.

cnn_core._grad_pool._tiled_max_backward runs the tap loop a cache-sized chunk at a time (groups of maps,
or bands of window rows of one map) and writes every pixel once, zeroing only what no window reads.
Checked here against each window's first maximum found by a loop (PyTorch's rule for ties), with inputs
full of ties (small integers, as after a ReLU), at chunk sizes that make bands and groups, and with
floor-sized outputs that leave rows and columns unread.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from cnn_core import _pool, grad
from cnn_core._grad_pool import planned_pool_backward
from cnn_core._plans import plan_pool

KERNELS = [(2, 2), (3, 3), (2, 3), (1, 2), (3, 1), (1, 1)]
SHAPES = [(2, 3, 11, 11), (4, 26, 26), (1, 1, 7, 13), (5, 6, 8)]


def first_maximum_routes(x: np.ndarray, g: np.ndarray, kernel: tuple[int, int]) -> np.ndarray:
    """grad_x by loops: each window's gradient goes to its first maximum in row-major order."""
    kh, kw = kernel
    maps = x.reshape(-1, *x.shape[-2:])
    grads = g.reshape(-1, *g.shape[-2:])
    out = np.zeros(maps.shape, dtype=x.dtype)
    for m in range(maps.shape[0]):
        for i in range(grads.shape[1]):
            for j in range(grads.shape[2]):
                window = maps[m, i * kh:i * kh + kh, j * kw:j * kw + kw].reshape(-1)
                first = int(np.flatnonzero(window == window.max())[0])
                out[m, i * kh + first // kw, j * kw + first % kw] = grads[m, i, j]
    return out.reshape(x.shape)


@pytest.mark.parametrize("chunk", [48, 1 << 19])  # bands of window rows of one map; groups of whole maps
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kernel", KERNELS)
def test_tiled_max_backward_routes_to_the_first_maximum_bit_for_bit(kernel: tuple[int, int], shape: tuple[int, ...],
                                                                    dtype: type, chunk: int,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pool, "POOL_CHUNK_BYTES", chunk)
    rng = np.random.default_rng(sum(shape) + kernel[0])
    x: np.ndarray = np.maximum(rng.integers(-2, 3, shape), 0).astype(dtype)  # mostly ties: zeros, ones and twos
    plan = plan_pool("max", x, kernel, None, 0, 1, False)
    g: np.ndarray = rng.standard_normal((*plan.padded.shape[:-2], *plan.window.out_shape)).astype(dtype)
    got = planned_pool_backward("max", plan, g.reshape((1,) * (4 - g.ndim) + g.shape))
    expected = first_maximum_routes(x, g, kernel)
    assert got.dtype == dtype and got.size == expected.size
    assert_array_equal(got.reshape(expected.shape), expected)


@pytest.mark.parametrize(("padding", "ceil_mode"), [(1, False), (0, True), (1, True)])
def test_tiled_max_backward_with_padding_never_routes_to_it(padding: int, ceil_mode: bool,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pool, "POOL_CHUNK_BYTES", 64)
    rng = np.random.default_rng(padding + 2 * ceil_mode)
    x = np.maximum(rng.integers(-3, 2, (2, 3, 9, 10)), 0).astype(np.float64)
    plan = plan_pool("max", x, 2, None, padding, 1, ceil_mode)
    g = rng.standard_normal((2, 3, *plan.window.out_shape))
    top, _, left, _ = plan.window.pads
    expected = first_maximum_routes(plan.padded, g, (2, 2))[..., top:top + 9, left:left + 10]
    assert_array_equal(grad.max_pool2d_backward(g, x, 2, padding=padding, ceil_mode=ceil_mode), expected)
