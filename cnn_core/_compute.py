"""The numeric cores: row-tiled im2col correlation, col2im scatter, separable window reductions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cnn_core._checks import FloatArray, Pair

# A tile's column matrix should stay in the L2 cache; measured best near 256 KiB here
# (see benchmarks/bench_engine.py), flat from 128 KiB to 1 MiB. But each numpy call costs about a
# microsecond, so a tile is also made big enough that every tap's copy moves MIN_RUN elements:
# measured 16384 to 32768 best here (below 4096 the call overhead doubles the time of small maps).
TILE_BYTES = 1 << 18
MIN_RUN = 16384


def _tile_rows(bytes_per_row: int, total: int, elements_per_row: int) -> int:
    """Rows per tile: the column matrix near TILE_BYTES, but each tap's copy at least MIN_RUN long
    (so a large kernel on one channel does not drown in per-copy overhead)."""
    rows = max(TILE_BYTES // max(bytes_per_row, 1), -(-MIN_RUN // max(elements_per_row, 1)), 1)
    return min(rows, total)


def correlate(xp: FloatArray, weight: FloatArray, stride: Pair, dilation: Pair,
              out_shape: Pair) -> FloatArray:
    """Cross-correlate a padded batch ``xp`` (B, C, Hp, Wp) with ``weight`` (F, C, kh, kw): (F, B, oh, ow).

    A transposed view of :func:`correlate_batch`, whose (B, F, oh, ow) layout is the one to prefer.
    """
    return correlate_batch(xp, weight, stride, dilation, out_shape).transpose(1, 0, 2, 3)


def correlate_batch(xp: FloatArray, weight: FloatArray, stride: Pair, dilation: Pair,
                    out_shape: Pair) -> FloatArray:
    """Cross-correlate a padded batch ``xp`` (B, C, Hp, Wp) with ``weight`` (F, C, kh, kw): (B, F, oh, ow).

    The work goes in tiles: a group of whole samples, or a band of output rows of one large sample. Each
    tap's inputs are copied into one column matrix (C*kh*kw, samples*rows*width), which one BLAS product
    turns into the tile (written straight into the output for a single sample, through a small
    cache-resident buffer for a group). At stride 1 each tap of a tile is one contiguous run of the
    flattened input (rows are computed at the padded width, and the extra columns are cut off by a view
    at the end, never copied); at larger strides each tap is a strided slice.
    """
    batch, channels, _, padded_width = xp.shape
    filters, _, kh, kw = weight.shape
    sy, sx = stride
    dy, dx = dilation
    oh, ow = out_shape
    contiguous = sy == sx == 1
    width = padded_width if contiguous else ow
    taps = channels * kh * kw
    flat_weight = np.ascontiguousarray(weight.reshape(filters, taps))
    sample_bytes = taps * oh * width * xp.itemsize
    sample_run = channels * oh * width  # what one tap copies per sample
    if sample_bytes <= TILE_BYTES or sample_run < MIN_RUN:
        # whole samples, as many as fill the cache budget, and at least enough that each copy is MIN_RUN long
        group, rows = min(batch, max(1, TILE_BYTES // sample_bytes, -(-MIN_RUN // sample_run))), oh
    else:
        group, rows = 1, _tile_rows(taps * width * xp.itemsize, oh, width)
    # one sample: BLAS writes rows at the computed width, cut by a view at the end; a group is copied out
    # of its product buffer anyway, so that copy leaves the extra columns behind (a contiguous result)
    out = np.empty((batch, filters, oh, width if group == 1 else ow), dtype=xp.dtype)
    source = np.ascontiguousarray(xp).reshape(batch, channels, -1).transpose(1, 0, 2) if contiguous else xp
    buffer = np.empty((channels, kh, kw, group, rows, width), dtype=xp.dtype)
    product = np.empty((filters, group * rows * width), dtype=xp.dtype) if group > 1 else None
    for n0 in range(0, batch, group):
        samples = min(group, batch - n0)
        for y0 in range(0, oh, rows):
            count = min(rows, oh - y0)
            length = count * width
            grid = buffer[:, :, :, :samples, :count]
            for i in range(kh):
                for j in range(kw):
                    if contiguous:
                        start = (y0 + i * dy) * width + j * dx
                        run = source[:, n0:n0 + samples, start:start + length]
                        flat = grid[:, i, j].reshape(channels, samples, length)
                        flat[..., :run.shape[-1]] = run
                        # the last row of the last tile may run past the input: only dropped columns read it
                        flat[..., run.shape[-1]:] = 0
                    else:
                        top, left = y0 * sy + i * dy, j * dx
                        grid[:, i, j] = xp[n0:n0 + samples, :, top:top + (count - 1) * sy + 1:sy,
                                           left:left + (ow - 1) * sx + 1:sx].transpose(1, 0, 2, 3)
            cols = grid.reshape(taps, samples * length)
            if product is None:
                np.matmul(flat_weight, cols, out=out[n0, :, y0:y0 + count].reshape(filters, length))
            else:
                tile = product[:, :samples * length]
                np.matmul(flat_weight, cols, out=tile)
                out[n0:n0 + samples] = tile.reshape(filters, samples, oh, width)[..., :ow].transpose(1, 0, 2, 3)
    return out[..., :ow]


def scatter_transposed(x: FloatArray, weight: FloatArray, stride: Pair, dilation: Pair) -> FloatArray:
    """Transposed convolution without cropping: ``x`` (B, C, H, W), ``weight`` (C, F, kh, kw).

    Returns the full canvas (B, F, (H-1)*sy + dy*(kh-1) + 1, (W-1)*sx + dx*(kw-1) + 1). Each tile of
    input rows makes its per-tap planes with one BLAS product. A tap lands on one stride phase of the
    output (rows ``ky*dy mod sy``, columns ``kx*dx mod sx``) as a contiguous block, so planes are added
    into per-phase canvases, which are interleaved into the output once at the end. At stride 1, when
    there are enough outputs per input channel, it is instead :func:`correlate_batch` of the padded input
    with the flipped kernel.
    """
    batch, channels, height, width = x.shape
    _, filters, kh, kw = weight.shape
    sy, sx = stride
    dy, dx = dilation
    ry, rx = dy * (kh - 1), dx * (kw - 1)
    if sy == sx == 1 and 2 * channels * (height + ry) * (width + 2 * rx) <= 3 * filters * height * width:
        # at stride 1 the scatter is a correlation of the fully padded input with the flipped kernel,
        # (C, F) read as (in, out): K = C*kh*kw instead of C, and no per-tap planes to add up; it pays
        # when the copied columns (C per padded pixel) are not many more than the planes (F per pixel)
        padded = np.zeros((batch, channels, height + 2 * ry, width + 2 * rx), dtype=x.dtype)
        padded[:, :, ry:ry + height, rx:rx + width] = x
        flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
        return correlate_batch(padded, flipped, stride, dilation, (height + ry, width + rx))
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
# rows of a pool's row-reduced band per chunk: the band stays in the L2 cache until its columns are reduced
POOL_CHUNK_BYTES = 1 << 17


def reduce_windows(xp: FloatArray, kernel: Pair, stride: Pair, dilation: Pair, out_shape: Pair,
                   reducer: Reducer) -> FloatArray:
    """Reduce every window of the padded ``xp`` (..., Hp, Wp) with a separable ufunc (max or add).

    Each pass is a reduction of ``k`` strided views, so the cost is O(kh + kw) passes over the data
    rather than O(kh * kw) per output element. Windows that tile the input (stride = kernel, no
    dilation) go rows first, a chunk of rows at a time, so the row-reduced band never leaves the cache.
    """
    if stride == kernel and dilation == (1, 1):
        return _reduce_tiles(xp, kernel, out_shape, reducer)
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


def _reduce_tiles(xp: FloatArray, kernel: Pair, out_shape: Pair, reducer: Reducer) -> FloatArray:
    """:func:`reduce_windows` for windows that tile the input: (..., oh*kh, ow*kw) -> (..., oh, ow)."""
    kh, kw = kernel
    oh, ow = out_shape
    lead = xp.shape[:-2]
    rows = xp[..., :oh * kh, :ow * kw].reshape(-1, kh, ow * kw)  # every window row group, (M, kh, ow*kw)
    out = np.empty((rows.shape[0], ow), dtype=xp.dtype)
    chunk = max(1, POOL_CHUNK_BYTES // (ow * kw * xp.itemsize))
    band = np.empty((min(chunk, rows.shape[0]), ow * kw), dtype=xp.dtype)
    for m0 in range(0, rows.shape[0], chunk):
        group = rows[m0:m0 + chunk]
        part = band[:group.shape[0]]
        if kh == 1:
            part[...] = group[:, 0]
        else:
            reducer(group[:, 0], group[:, 1], out=part)
        for ky in range(2, kh):
            reducer(part, group[:, ky], out=part)
        target = out[m0:m0 + chunk]
        if kw == 1:
            target[...] = part
        else:
            reducer(part[:, 0::kw], part[:, 1::kw], out=target)
        for kx in range(2, kw):
            reducer(target, part[:, kx::kw], out=target)
    return out.reshape(*lead, oh, ow)
