"""Backward of the pools and of up-sampling: each scatters grad_output back through the forward's windows."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnn_core import _pool
from cnn_core._checks import FloatArray, Pair
from cnn_core._grad_conv import forward_shape, take_grad_output
from cnn_core._plans import PoolPlan, check_upsample, plan_pool, upsample_sources
from cnn_core._pool import reduce_windows, tile_chunks
from cnn_core._windows import Window


def _taps(window: Window) -> list[tuple[slice, slice]]:
    """For each tap (row-major), the strided slices of the padded input that the tap reads over all outputs."""
    (kh, kw), (sy, sx), (dy, dx), (oh, ow) = window.kernel, window.stride, window.dilation, window.out_shape
    return [(slice(i * dy, i * dy + (oh - 1) * sy + 1, sy), slice(j * dx, j * dx + (ow - 1) * sx + 1, sx))
            for i in range(kh) for j in range(kw)]


def _crop(grad_padded: FloatArray, window: Window) -> FloatArray:
    """The adjoint of the forward's padding with a constant: keep the interior."""
    top, _, left, _ = window.pads
    height, width = window.in_shape
    return np.ascontiguousarray(grad_padded[..., top:top + height, left:left + width])


def pool_backward(kind: str, grad_output: Any, x: Any, kernel_size: Any, stride: Any, padding: Any,
                  dilation: Any, ceil_mode: Any, count_include_pad: Any = True) -> FloatArray:
    """grad_x of max_pool2d, avg_pool2d or sum_pool2d; see :mod:`cnn_core.grad`."""
    plan = plan_pool(kind, x, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad)
    padded = plan.padded.reshape((1,) * (4 - plan.padded.ndim) + plan.padded.shape)
    g = take_grad_output(grad_output, (*padded.shape[:2], *plan.window.out_shape), plan.rank, True, padded.dtype)
    grad_x = planned_pool_backward(kind, plan, g)
    return grad_x.reshape(forward_shape((*padded.shape[:2], *plan.window.in_shape), plan.rank, True))


def planned_pool_backward(kind: str, plan: PoolPlan, g: FloatArray, best: FloatArray | None = None) -> FloatArray:
    """grad_x (N, C, H, W) of a planned pool for ``g`` (N, C, oh, ow); ``best`` is the max pool's forward
    result when the caller kept it (else it is recomputed)."""
    window = plan.window
    padded = plan.padded.reshape((1,) * (4 - plan.padded.ndim) + plan.padded.shape)
    if kind == "max":
        # the forward's maximum of each window; the first tap (row-major) equal to it wins, as in PyTorch
        if best is None:
            best = reduce_windows(padded, window.kernel, window.stride, window.dilation, window.out_shape, np.maximum)
        best = best.reshape(g.shape)
        if window.stride == window.kernel and window.dilation == (1, 1):
            return _crop(_tiled_max_backward(padded, best, g, window.kernel), window)
    grad_padded = np.zeros(padded.shape, dtype=padded.dtype)
    taps = _taps(window)
    overlapping = any(step < span for step, span in zip(window.stride, window.span, strict=True))
    if kind == "max":
        assert best is not None  # made above
        _route_to_first_maximum([(padded[..., rows, cols], grad_padded[..., rows, cols]) for rows, cols in taps],
                                best, g, np.empty(best.shape, dtype=bool), np.empty(best.shape, dtype=bool),
                                overlapping)
    else:
        share = g / plan.divisor if plan.divisor is not None else g
        for rows, cols in taps:
            if overlapping:
                grad_padded[..., rows, cols] += share
            else:
                grad_padded[..., rows, cols] = share
    return _crop(grad_padded, window)


def _tiled_max_backward(padded: FloatArray, best: FloatArray, g: FloatArray, kernel: Pair) -> FloatArray:
    """The max pool's grad of ``padded`` (N, C, Hp, Wp) when the windows tile it (stride = kernel, no
    dilation): :func:`_route_to_first_maximum`, a cache-sized chunk of maps (or of window rows of one map)
    at a time (:func:`cnn_core._pool.tile_chunks`), so that each tap's pass reads the input and writes the
    result while they are in the L2 cache instead of once per tap from memory (about 1.2x on 64x32x26x26,
    float32). An input of up to four chunks goes in one: 64x64x11x11 (2 MiB in
    float32) gained nothing from chunks, whose per-call overhead cost it 5-10%. Every pixel a window reads
    is written once, so the result needs no zeroing when the windows cover the input."""
    kh, kw = kernel
    oh, ow = g.shape[-2:]
    height, width = padded.shape[-2:]
    maps = padded.reshape(-1, height, width)
    count = maps.shape[0]
    grads, bests = g.reshape(count, oh, ow), best.reshape(count, oh, ow)
    exact = oh * kh == height and ow * kw == width
    # zeros for the pixels no window reads: numpy's zeros come from calloc, cheaper than zeroing a column
    out = (np.empty if exact else np.zeros)((count, height, width), dtype=padded.dtype)
    map_bytes = height * width * padded.itemsize
    budget = _pool.POOL_CHUNK_BYTES if count * map_bytes > 4 * _pool.POOL_CHUNK_BYTES else count * map_bytes
    chunks, group, band = tile_chunks(count, oh, kh * width * padded.itemsize, map_bytes, budget)
    free, hit = np.empty((group, band, ow), dtype=bool), np.empty((group, band, ow), dtype=bool)
    for m0, m1, r0, r1 in chunks:
        taps = [(slice(r0 * kh + i, r1 * kh, kh), slice(j, ow * kw, kw)) for i in range(kh) for j in range(kw)]
        _route_to_first_maximum([(maps[m0:m1, rows, cols], out[m0:m1, rows, cols]) for rows, cols in taps],
                                bests[m0:m1, r0:r1], grads[m0:m1, r0:r1], free[:m1 - m0, :r1 - r0],
                                hit[:m1 - m0, :r1 - r0])
    return out.reshape(padded.shape)


def _route_to_first_maximum(taps: list[tuple[FloatArray, FloatArray]], best: FloatArray, g: FloatArray,
                            free: np.ndarray[Any, Any], hit: np.ndarray[Any, Any], overlapping: bool = False) -> None:
    """The max pool's rule, as PyTorch's: each window's ``g`` goes to the first of its taps (row-major) that
    equals its maximum ``best``. ``taps`` pairs each tap's view of the input with its view of grad_x, all of
    ``best``'s shape; ``free`` and ``hit`` are boolean scratch of that shape. Overlapping windows add to
    grad_x, others write it."""
    free[...] = True  # windows whose maximum has not been found yet
    for number, (source, target) in enumerate(taps):
        if number < len(taps) - 1:
            np.equal(source, best, out=hit)
            hit &= free
            free ^= hit
        winners = hit if number < len(taps) - 1 else free  # the rest have their maximum at the last tap
        if overlapping:
            target += g * winners
        else:
            np.multiply(g, winners, out=target)


def _bilinear_matrix(n: int, scale: int, align_corners: bool, dtype: np.dtype[Any]) -> FloatArray:
    """The (n*scale, n) matrix of bilinear up-sampling along one axis, from the forward's own sources."""
    low, high, weight = upsample_sources(n, scale, "bilinear", align_corners)
    matrix = np.zeros((n * scale, n))
    rows = np.arange(n * scale)
    np.add.at(matrix, (rows, low), 1 - weight)
    np.add.at(matrix, (rows, high), weight)
    return matrix.astype(dtype)


def upsample_backward(grad_output: Any, x: Any, scale_factor: Any, mode: Any,
                      align_corners: Any) -> FloatArray:
    """grad_x of upsample; see :func:`cnn_core.grad.upsample_backward`."""
    maps, was_2d, (sy, sx), chosen, corners = check_upsample(x, scale_factor, mode, align_corners)
    batch = maps.reshape((1,) * (4 - maps.ndim) + maps.shape)
    samples, channels, height, width = batch.shape
    rank = 2 if was_2d else maps.ndim
    g = take_grad_output(grad_output, (samples, channels, height * sy, width * sx), rank, True, batch.dtype)
    if chosen == "nearest":
        # the adjoint of repeating each pixel: sum each (sy, sx) block
        grad_x = g.reshape(samples, channels, height, sy, width, sx).sum(axis=(3, 5))
    else:
        # bilinear is the separable linear map rows @ x @ cols.T; its adjoint is rows.T @ g @ cols
        rows = _bilinear_matrix(height, sy, corners, batch.dtype)
        cols = _bilinear_matrix(width, sx, corners, batch.dtype)
        across = (g.reshape(-1, width * sx) @ cols).reshape(samples * channels, height * sy, width)
        grad_x = np.matmul(rows.T, across)
    result: FloatArray = grad_x.reshape(forward_shape(batch.shape, rank, True))
    return result
