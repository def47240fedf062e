"""The pools' numeric core: separable window reductions, and the cache-sized chunks of tiling windows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cnn_core._checks import FloatArray, Pair
from cnn_core._layout import is_channels_last

Reducer = Callable[..., Any]
Chunk = tuple[int, int, int, int]  # first map, end map, first window row, end window row
# input bytes per chunk of a tiling pool: its two reduced copies stay in the L2 cache until the outputs are
# gathered (measured on the seed network's batched shapes: 512 KiB about 10% faster than 128 KiB or 1 MiB)
POOL_CHUNK_BYTES = 1 << 19


def tile_chunks(count: int, rows: int, row_bytes: int, map_bytes: int,
                budget: int | None = None) -> tuple[list[Chunk], int, int]:
    """Cache-sized chunks of ``count`` maps of ``rows`` window rows (``row_bytes`` each, ``map_bytes`` a map):
    whole maps, as many as fit ``budget`` bytes (POOL_CHUNK_BYTES by default), or, when one map does not
    fit, bands of one map's window rows. Returns the chunks, the most maps and the most window rows a
    chunk holds."""
    budget = POOL_CHUNK_BYTES if budget is None else budget
    if map_bytes <= budget:
        step = max(1, budget // max(map_bytes, 1))
        return [(m, min(m + step, count), 0, rows) for m in range(0, count, step)], min(step, count), rows
    step = max(1, budget // max(row_bytes, 1))
    return [(m, m + 1, r, min(r + step, rows)) for m in range(count) for r in range(0, rows, step)], 1, min(step, rows)


def reduce_windows(xp: FloatArray, kernel: Pair, stride: Pair, dilation: Pair, out_shape: Pair,
                   reducer: Reducer, divisor: float | None = None) -> FloatArray:
    """Reduce every window of the padded ``xp`` (..., Hp, Wp) with a separable ufunc (max or add), then
    divide by ``divisor`` when given (an average whose windows all hold kh*kw numbers).

    Each pass is a reduction of ``k`` strided views, so the cost is O(kh + kw) passes over the data
    rather than O(kh * kw) per output element. Windows that tile the input (stride = kernel, no
    dilation) go through :func:`_reduce_tiles`, in cache-sized chunks with contiguous passes only.
    A batch stored channels last (:mod:`cnn_core._layout`) is reduced as it is stored, (N, H, W, C), each
    view's runs C (columns) or ow*C (rows) numbers long, and its result is stored channels last too.
    """
    if is_channels_last(xp):
        hwc = _reduce_separable(xp.transpose(0, 2, 3, 1), 1, kernel, stride, dilation, out_shape, reducer)
        out = hwc.transpose(0, 3, 1, 2)
    elif stride == kernel and dilation == (1, 1):
        return _reduce_tiles(xp, kernel, out_shape, reducer, divisor)
    else:
        out = _reduce_separable(xp, xp.ndim - 2, kernel, stride, dilation, out_shape, reducer)
    if divisor is not None:
        out /= divisor
    return out


def _reduce_separable(xp: FloatArray, rows_axis: int, kernel: Pair, stride: Pair, dilation: Pair, out_shape: Pair,
                      reducer: Reducer) -> FloatArray:
    """The windows of ``xp`` whose rows are axis ``rows_axis`` and columns the next axis, reduced: each row
    across its ``kw`` columns into a copy, then those across the ``kh`` rows into another."""
    kh, kw = kernel
    sy, sx = stride
    dy, dx = dilation
    oh, ow = out_shape

    def along(axis: int, start: int, count: int, step: int) -> tuple[slice, ...]:
        return (slice(None),) * axis + (slice(start, start + (count - 1) * step + 1, step),)

    band = xp[along(rows_axis, 0, (oh - 1) * sy + dy * (kh - 1) + 1, 1)]
    across = band[along(rows_axis + 1, 0, ow, sx)].copy()
    for kx in range(1, kw):
        reducer(across, band[along(rows_axis + 1, kx * dx, ow, sx)], out=across)
    out: FloatArray = across[along(rows_axis, 0, oh, sy)].copy()
    for ky in range(1, kh):
        reducer(out, across[along(rows_axis, ky * dy, oh, sy)], out=out)
    return out


def _reduce_tiles(xp: FloatArray, kernel: Pair, out_shape: Pair, reducer: Reducer,
                  divisor: float | None) -> FloatArray:
    """:func:`reduce_windows` for windows that tile the input: (..., oh*kh, ow*kw) -> (..., oh, ow).

    The maps are read as one flat array, a chunk at a time (:func:`tile_chunks`), each chunk a contiguous
    run of input. Two passes of whole-run shifts, ``rows[p] = x[p] op x[p + W] ...`` then ``cells[p] =
    rows[p] op rows[p + 1] ...``, leave every window's result at its top-left pixel; one strided copy
    (dividing, for an average) gathers them. The shifts also reduce windows that are then dropped, but as
    contiguous SIMD passes they beat a strided reduction of only the needed ones (about 1.5x on 26x26
    maps: numpy's strided loops run one number at a time, and short rows pay a call per row). Rows are
    reduced first, then columns, as on the general path: the same sums.
    """
    kh, kw = kernel
    oh, ow = out_shape
    lead = xp.shape[:-2]
    height, width = xp.shape[-2:]
    area, unit, size = height * width, kh * width, xp.itemsize
    flat = np.ascontiguousarray(xp).reshape(-1)  # a view of the usual (contiguous) input
    count = flat.size // area
    out = np.empty((count, oh, ow), dtype=xp.dtype)
    chunks, group, band = tile_chunks(count, oh, unit * size, area * size)
    pitch = area if band == oh else band * unit  # whole maps ``area`` apart, or a band of one map
    # the reduced runs go to buffers (a 1x1 window copies its run), so that the windows' top-left pixels
    # are a reshaped view of one of them (as_strided takes about 7 us a call: 0.4 ms over 8x1024x1024).
    # Both buffers are one allocation: freed together, two of 512 KiB made glibc hand the heap top back
    # after each call of a fresh process, whose next call faulted it in again (225 page faults, 0.85 ms
    # against 0.16 ms for 64x64x11x11 float32)
    separate = kh > 1 and kw > 1
    buffer = np.empty((2 if separate else 1) * group * pitch, dtype=xp.dtype)
    rows = (buffer[:group * pitch] if separate else buffer) if kh > 1 else None
    tops = buffer[group * pitch:] if separate else buffer
    for m0, m1, r0, r1 in chunks:
        run = flat[m0 * area + r0 * unit:(m1 - 1) * area + r1 * unit]
        span = run.size - (kh - 1) * width
        reduced = run[:span] if rows is None else rows[:span]
        if rows is not None:
            reducer(run[:span], run[width:width + span], out=reduced)
            for ky in range(2, kh):
                reducer(reduced, run[ky * width:ky * width + span], out=reduced)
        span -= kw - 1
        if tops is not rows:
            if kw == 1:
                tops[:span] = reduced
            else:
                reducer(reduced[:span], reduced[1:1 + span], out=tops[:span])
            for kx in range(2, kw):
                reducer(tops[:span], reduced[kx:kx + span], out=tops[:span])
        # window (m, i, j) of the chunk has its top-left pixel at m*pitch + i*unit + j*kw of ``tops``
        n, held = m1 - m0, r1 - r0
        corners = tops[:n * pitch].reshape(n, pitch)[:, :held * unit].reshape(n, held, unit)[:, :, :ow * kw:kw]
        target = out[m0:m1, r0:r1]
        if divisor is None:
            target[...] = corners
        else:
            np.divide(corners, divisor, out=target)
    return out.reshape(*lead, oh, ow)
