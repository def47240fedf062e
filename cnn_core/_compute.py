"""The numeric cores: row-tiled im2col correlation, col2im scatter, separable window reductions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnn_core._checks import FloatArray, Pair

# A tile's column matrix should stay in the L2 cache; measured best near 256 KiB here
# (see benchmarks/bench_engine.py), flat from 128 KiB to 1 MiB.
TILE_BYTES = 1 << 18


def _tile_rows(bytes_per_row: int, total: int) -> int:
    return max(1, min(total, TILE_BYTES // max(bytes_per_row, 1)))


def correlate(xp: FloatArray, weight: FloatArray, stride: Pair, dilation: Pair,
              out_shape: Pair) -> FloatArray:
    """Cross-correlate a padded batch ``xp`` (B, C, Hp, Wp) with ``weight`` (F, C, kh, kw).

    Returns (F, B, oh, ow). Each tile of output rows gathers its windows into one column
    matrix (C*kh*kw, B*rows*ow) and does a single BLAS product with the flattened weight.
    """
    batch, channels = xp.shape[:2]
    filters, _, kh, kw = weight.shape
    sy, sx = stride
    dy, dx = dilation
    oh, ow = out_shape
    taps = channels * kh * kw
    span_h, span_w = dy * (kh - 1) + 1, dx * (kw - 1) + 1
    flat_weight = np.ascontiguousarray(weight.reshape(filters, taps))
    out = np.empty((filters, batch, oh, ow), dtype=xp.dtype)
    rows = _tile_rows(taps * batch * ow * xp.itemsize, oh)
    buffer = np.empty((channels, kh, kw, batch, rows, ow), dtype=xp.dtype)
    product = np.empty((filters, batch * rows * ow), dtype=xp.dtype)
    for y0 in range(0, oh, rows):
        count = min(rows, oh - y0)
        band = xp[:, :, y0 * sy:(y0 + count - 1) * sy + span_h, :(ow - 1) * sx + span_w]
        windows = sliding_window_view(band, (span_h, span_w), axis=(2, 3))
        windows = windows[:, :, ::sy, ::sx, ::dy, ::dx]  # (B, C, count, ow, kh, kw)
        cols = buffer[:, :, :, :, :count] if count < rows else buffer
        np.copyto(cols, windows.transpose(1, 4, 5, 0, 2, 3))
        target = product[:, :batch * count * ow]
        np.matmul(flat_weight, cols.reshape(taps, batch * count * ow), out=target)
        out[:, :, y0:y0 + count] = target.reshape(filters, batch, count, ow)
    return out


def scatter_transposed(x: FloatArray, weight: FloatArray, stride: Pair, dilation: Pair) -> FloatArray:
    """Transposed convolution without cropping: ``x`` (B, C, H, W), ``weight`` (C, F, kh, kw).

    Returns the full canvas (B, F, (H-1)*sy + dy*(kh-1) + 1, (W-1)*sx + dx*(kw-1) + 1): each tile
    of input rows makes its per-tap planes with one BLAS product, then adds them at strided offsets.
    """
    batch, channels, height, width = x.shape
    _, filters, kh, kw = weight.shape
    sy, sx = stride
    dy, dx = dilation
    full_h = (height - 1) * sy + dy * (kh - 1) + 1
    full_w = (width - 1) * sx + dx * (kw - 1) + 1
    out = np.zeros((batch, filters, full_h, full_w), dtype=x.dtype)
    flat_weight = np.ascontiguousarray(weight.reshape(channels, filters * kh * kw).T)
    rows = _tile_rows(filters * kh * kw * batch * width * x.itemsize, height)
    for y0 in range(0, height, rows):
        count = min(rows, height - y0)
        inputs = x[:, :, y0:y0 + count].transpose(1, 0, 2, 3).reshape(channels, -1)
        planes = (flat_weight @ inputs).reshape(filters, kh, kw, batch, count, width)
        for ky in range(kh):
            top = y0 * sy + ky * dy
            for kx in range(kw):
                target = out[:, :, top:top + (count - 1) * sy + 1:sy,
                             kx * dx:kx * dx + (width - 1) * sx + 1:sx]
                target += planes[:, ky, kx].transpose(1, 0, 2, 3)
    return out


Reducer = Callable[..., Any]


def reduce_windows(xp: FloatArray, kernel: Pair, stride: Pair, dilation: Pair, out_shape: Pair,
                   reducer: Reducer) -> FloatArray:
    """Reduce every window of the padded ``xp`` (..., Hp, Wp) with a separable ufunc (max or add).

    Columns first, then rows: each pass is a reduction of ``k`` strided views, so the cost is
    O(k) passes over the data rather than O(kh * kw) windows per output element.
    """
    kh, kw = kernel
    sy, sx = stride
    dy, dx = dilation
    oh, ow = out_shape
    rows_needed = (oh - 1) * sy + dy * (kh - 1) + 1
    band = xp[..., :rows_needed, :]
    across = band[..., 0:(ow - 1) * sx + 1:sx].copy()
    for kx in range(1, kw):
        reducer(across, band[..., kx * dx:kx * dx + (ow - 1) * sx + 1:sx], out=across)
    out = across[..., 0:(oh - 1) * sy + 1:sy, :].copy()
    for ky in range(1, kh):
        reducer(out, across[..., ky * dy:ky * dy + (oh - 1) * sy + 1:sy, :], out=out)
    return out
