"""The numeric cores: row-tiled im2col correlation, col2im scatter, separable window reductions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cnn_core._checks import FloatArray, Pair

# A tile's column matrix should stay in the L2 cache; measured best near 256 KiB here
# (see benchmarks/bench_engine.py), flat from 128 KiB to 1 MiB.
TILE_BYTES = 1 << 18
MIN_RUN = 8192


def _tile_rows(bytes_per_row: int, total: int, elements_per_row: int) -> int:
    """Rows per tile: the column matrix near TILE_BYTES, but each tap's copy at least MIN_RUN long
    (so a large kernel on one channel does not drown in per-copy overhead)."""
    rows = max(TILE_BYTES // max(bytes_per_row, 1), -(-MIN_RUN // max(elements_per_row, 1)), 1)
    return min(rows, total)


def correlate(xp: FloatArray, weight: FloatArray, stride: Pair, dilation: Pair,
              out_shape: Pair) -> FloatArray:
    """Cross-correlate a padded batch ``xp`` (B, C, Hp, Wp) with ``weight`` (F, C, kh, kw).

    Returns (F, B, oh, ow). For each tile of output rows, every tap's inputs are copied into one
    column matrix (C*kh*kw, B*rows*width), which a single BLAS product turns into the tile.
    At stride 1 each tap of a tile is one contiguous run of the flattened input (rows are computed
    at the padded width, and the extra columns are cut off by a view at the end, never copied);
    at larger strides each tap is a strided slice.
    """
    batch, channels = xp.shape[:2]
    filters, _, kh, kw = weight.shape
    sy, sx = stride
    dy, dx = dilation
    oh, ow = out_shape
    contiguous = sy == sx == 1
    source = np.ascontiguousarray(xp).reshape(batch, channels, -1).transpose(1, 0, 2) if contiguous else xp
    width = xp.shape[3] if contiguous else ow
    taps = channels * kh * kw
    flat_weight = np.ascontiguousarray(weight.reshape(filters, taps))
    out = np.empty((filters, batch, oh, width), dtype=xp.dtype)
    rows = _tile_rows(taps * batch * width * xp.itemsize, oh, batch * width)
    buffer = np.empty((channels, kh, kw, batch, rows * width), dtype=xp.dtype)
    for y0 in range(0, oh, rows):
        count = min(rows, oh - y0)
        length = count * width
        cols = buffer[..., :length]
        for i in range(kh):
            for j in range(kw):
                if contiguous:
                    start = (y0 + i * dy) * width + j * dx
                    run = source[:, :, start:start + length]
                    cols[:, i, j, :, :run.shape[-1]] = run
                    # the last row of the last tile may run past the input: only dropped columns read it
                    cols[:, i, j, :, run.shape[-1]:] = 0
                else:
                    top, left = y0 * sy + i * dy, j * dx
                    window = xp[:, :, top:top + (count - 1) * sy + 1:sy, left:left + (ow - 1) * sx + 1:sx]
                    cols[:, i, j].reshape(channels, batch, count, ow)[...] = window.transpose(1, 0, 2, 3)
        product = cols.reshape(taps, batch * length)
        if batch == 1:
            np.matmul(flat_weight, product, out=out[:, 0, y0:y0 + count].reshape(filters, length))
        else:
            out[:, :, y0:y0 + count] = (flat_weight @ product).reshape(filters, batch, count, width)
    return out[..., :ow]


def scatter_transposed(x: FloatArray, weight: FloatArray, stride: Pair, dilation: Pair) -> FloatArray:
    """Transposed convolution without cropping: ``x`` (B, C, H, W), ``weight`` (C, F, kh, kw).

    Returns the full canvas (B, F, (H-1)*sy + dy*(kh-1) + 1, (W-1)*sx + dx*(kw-1) + 1). Each tile of
    input rows makes its per-tap planes with one BLAS product. A tap lands on one stride phase of the
    output (rows ``ky*dy mod sy``, columns ``kx*dx mod sx``) as a contiguous block, so planes are added
    into per-phase canvases, which are interleaved into the output once at the end.
    """
    batch, channels, height, width = x.shape
    _, filters, kh, kw = weight.shape
    sy, sx = stride
    dy, dx = dilation
    full_h = (height - 1) * sy + dy * (kh - 1) + 1
    full_w = (width - 1) * sx + dx * (kw - 1) + 1
    phase_h, phase_w = -(-full_h // sy), -(-full_w // sx)
    phases = np.zeros((sy, sx, batch, filters, phase_h, phase_w), dtype=x.dtype)
    flat_weight = np.ascontiguousarray(weight.reshape(channels, filters * kh * kw).T)
    rows = _tile_rows(filters * kh * kw * batch * width * x.itemsize, height, batch * width)
    for y0 in range(0, height, rows):
        count = min(rows, height - y0)
        inputs = x[:, :, y0:y0 + count].transpose(1, 0, 2, 3).reshape(channels, -1)
        planes = (flat_weight @ inputs).reshape(filters, kh, kw, batch, count, width)
        for ky in range(kh):
            a, top = (ky * dy) % sy, y0 + (ky * dy) // sy
            for kx in range(kw):
                b, left = (kx * dx) % sx, (kx * dx) // sx
                phases[a, b, :, :, top:top + count, left:left + width] += planes[:, ky, kx].transpose(1, 0, 2, 3)
    if sy == sx == 1:
        single: FloatArray = phases[0, 0]
        return single
    out = np.empty((batch, filters, full_h, full_w), dtype=x.dtype)
    for a in range(sy):
        for b in range(sx):
            target = out[:, :, a::sy, b::sx]
            target[...] = phases[a, b, :, :, :target.shape[2], :target.shape[3]]
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
