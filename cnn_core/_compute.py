"""The numeric cores of the convolutions: row-tiled im2col correlation and the col2im scatter."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.lib.stride_tricks import as_strided

from cnn_core._checks import FloatArray, Pair
from cnn_core._layout import empty_channels_last, is_channels_last

Pads = tuple[int, int, int, int]

# A tile's column matrix: measured best near 1 MiB here (benchmarks/bench_engine.py; 256 KiB to 2 MiB
# within 10% for the batched shapes, 256 KiB about 25% slower for a stride-2 RGB 1024x1024 image, whose
# tiles of 4 rows spend as much in per-call overhead as in copying).
TILE_BYTES = 1 << 20
# scatter_transposed's bands of input rows: their planes near SCATTER_TILE_BYTES (measured best near
# 256 KiB), but each tap's copy at least MIN_RUN elements long (each numpy call costs about a microsecond:
# below 4096 the call overhead doubles the time of small maps)
SCATTER_TILE_BYTES = 1 << 18
MIN_RUN = 16384


def _tile_rows(bytes_per_row: int, total: int, elements_per_row: int) -> int:
    """Rows per band of scatter_transposed: its planes near SCATTER_TILE_BYTES, but each tap's copy at least
    MIN_RUN long (so a large kernel on one channel does not drown in per-copy overhead)."""
    rows = max(SCATTER_TILE_BYTES // max(bytes_per_row, 1), -(-MIN_RUN // max(elements_per_row, 1)), 1)
    return min(rows, total)


def correlate(xp: FloatArray, weight: FloatArray, stride: Pair, dilation: Pair,
              out_shape: Pair) -> FloatArray:
    """Cross-correlate a padded batch ``xp`` (B, C, Hp, Wp) with ``weight`` (F, C, kh, kw): (F, B, oh, ow).

    A transposed view of :func:`correlate_batch`, whose (B, F, oh, ow) layout is the one to prefer.
    """
    return correlate_batch(xp, weight, stride, dilation, out_shape).transpose(1, 0, 2, 3)


def correlate_batch(x: FloatArray, weight: FloatArray, stride: Pair, dilation: Pair, out_shape: Pair,
                    pads: Pads = (0, 0, 0, 0)) -> FloatArray:
    """Cross-correlate a batch ``x`` (B, C, H, W) with ``weight`` (F, C, kh, kw): (B, F, oh, ow), C-contiguous
    (:func:`convolve` leaves the result of an input stored channels last stored so too).

    ``pads`` (top, bottom, left, right) zero-pad ``x`` without a padded copy of it: only the rows a tile
    reads are ever padded, in a cache-sized buffer. The work is im2col: each tile's taps are copied into
    one column matrix, which one BLAS product turns into the tile's outputs, written in place. Two
    layouts of that matrix, chosen by :func:`channels_last_pays` (a rule on the shapes, not a timing):

    * rows (:func:`_correlate_rows`, channels first): the matrix is (C*kh*kw, outputs), each tap a copy of
      ``ow``-long rows, and the product ``weight @ columns`` is written straight into the output.
      Pays for wide maps (long rows) and few channels: a single image of the page, a first layer.
    * pixels (:func:`_correlate_pixels`, channels last): the input is transposed once to (B, H, W, C) and
      the matrix is (outputs, kh*kw*C), each output's window copied as kh runs of kw*C numbers.
      Pays for small maps with many channels (a network's deeper layers), whose rows are too short.

    Both copy only the taps that are used: no column is computed and then dropped, at any stride.
    """
    return np.ascontiguousarray(convolve(x, weight, None, stride, dilation, out_shape, pads, check=False)[0])


def convolve(x: FloatArray, weight: FloatArray, bias: FloatArray | None, stride: Pair, dilation: Pair,
             out_shape: Pair, pads: Pads = (0, 0, 0, 0), check: bool = True) -> tuple[FloatArray, bool]:
    """:func:`correlate_batch` plus ``bias`` (F,) (None: none), added to each tile while it is in the cache;
    returns the result and whether it is surely finite (the sum of every tile was: a NaN or an infinity
    makes a sum non-finite). False only says "not sure" (a finite sum may overflow): check the result.
    ``check=False`` skips the sums (the caller knows otherwise, or does not ask) and returns True.

    An input stored channels last (:mod:`cnn_core._layout`) always goes channels last, and its result is
    stored channels last too, as PyTorch's ``channels_last`` convolution: no transpose on either side."""
    epilogue = _Epilogue(bias, check)
    if is_channels_last(x) or channels_last_pays(x.shape[1], weight.shape[3], dilation[1], out_shape[1]):
        out = _correlate_pixels(x, weight, stride, dilation, out_shape, pads, epilogue)
    else:
        out = _correlate_rows(x, weight, stride, dilation, out_shape, pads, epilogue)
    return out, bool(np.isfinite(epilogue.total))


class _Epilogue:
    """What each tile's outputs get once written: the bias added, their sum kept for the finiteness check."""

    def __init__(self, bias: FloatArray | None, check: bool = True) -> None:
        self.bias = None if bias is None else bias[:, None]
        self.check = check
        self.total = 0.0

    def __call__(self, tile: FloatArray, filters_last: bool = False) -> None:
        """``tile``: (F, outputs) or (samples, F, outputs), or with ``filters_last`` (outputs, F): a view of
        the result."""
        if self.bias is not None:
            tile += self.bias[:, 0] if filters_last else self.bias
        if self.check:
            self.total += float(np.add.reduce(tile, axis=None))


def cannot_overflow(x: FloatArray, weight: FloatArray, bias: FloatArray | None) -> bool:
    """True when no output of ``x`` (B, C, H, W) correlated with ``weight`` (F, C, kh, kw), plus ``bias``, can
    overflow: each is at most ``max|x| * max_f sum|weight[f]| + max|bias|`` in size, and this bound, doubled
    for the rounding of the sums, is below the dtype's largest number. Two passes over ``x``: cheaper than
    the epilogue's sum of every output when there are more outputs than twice the inputs (few channels in,
    many filters out, as a first layer). False also for a NaN or an infinity in ``x``."""
    largest = max(float(x.max()), -float(x.min()))
    reach = float(np.abs(weight).sum(axis=(1, 2, 3), dtype=np.float64).max())
    bound = largest * reach + (0.0 if bias is None else float(np.abs(bias).max(initial=0.0)))
    return bool(2.0 * bound < float(np.finfo(x.dtype).max))


def channels_last_pays(channels: int, kw: int, dx: int, ow: int) -> bool:
    """The layout rule of :func:`correlate_batch`: channels last when the runs it copies (a window row's
    ``kw*C`` numbers, or ``C`` when dilated columns split them) are longer than the rows channels first
    copies (``ow``). A numpy copy costs about a nanosecond per run on top of its numbers, so the longer
    runs win; measured on the seed network's shapes (benchmarks/bench_engine.py, batched table)."""
    run = kw * channels if dx == 1 else channels
    return run > ow


def _tiles(batch: int, rows: int, row_bytes: int) -> tuple[int, int]:
    """(samples, rows) per tile of a column matrix of ``row_bytes`` per output row: whole samples, as many
    as fit TILE_BYTES, or when one sample does not fit, bands of its rows (at least one). The groups of
    samples are made even (64 samples that fit 51 at a time go 32 and 32, not 51 and 13: a product of a
    few columns runs slower per column; 2-4% on the seed network's batched layers)."""
    sample_bytes = row_bytes * rows
    if sample_bytes <= TILE_BYTES:
        fits = min(batch, max(1, TILE_BYTES // max(sample_bytes, 1)))
        groups = -(-batch // fits)
        return -(-batch // groups), rows
    return 1, min(rows, max(1, TILE_BYTES // max(row_bytes, 1)))


def _correlate_rows(x: FloatArray, weight: FloatArray, stride: Pair, dilation: Pair, out_shape: Pair,
                    pads: Pads, epilogue: _Epilogue) -> FloatArray:
    """:func:`correlate_batch` channels first: the column matrix is (C*kh*kw, outputs) in (c, i, j) order.

    At stride 1 without padding every tap is a strided view of ``x`` (rows of ``ow`` numbers), and a tile's
    columns are one copy. Otherwise each tile first copies the input rows it reads into a zero-bordered
    slab split into ``sx`` column phases (phase b holds padded columns b, b + sx, ...): at any stride a tap
    then reads ``ow`` consecutive numbers of one phase, and the taps of a phase are one copy.
    """
    batch, channels, height, width = x.shape
    filters, _, kh, kw = weight.shape
    sy, sx = stride
    dy, dx = dilation
    oh, ow = out_shape
    top, _, left, right = pads
    taps = channels * kh * kw
    flat_weight = np.ascontiguousarray(weight.reshape(filters, taps))
    group, rows = _tiles(batch, oh, taps * ow * x.itemsize)
    out = np.empty((batch, filters, oh, ow), dtype=x.dtype)
    buffer = np.empty(group * taps * rows * ow, dtype=x.dtype)
    sn, sc, sr, sv = x.strides
    if sx == 1 and not any(pads):
        # every window of x as one view (B, C, kh, kw, oh, ow): a tile's columns are a slice of it
        windows = as_strided(x, (batch, channels, kh, kw, oh, ow), (sn, sc, dy * sr, dx * sv, sy * sr, sv))
        for n0, samples, y0, count, cols in _tile_columns(buffer, batch, group, oh, rows, (channels, kh, kw), ow):
            cols[...] = windows[n0:n0 + samples, :, :, :, y0:y0 + count]
            epilogue(_product(flat_weight, cols, out, n0, y0))
        return out
    span = (rows - 1) * sy + (kh - 1) * dy + 1  # padded rows a full tile reads
    phase_width = -(-(left + width + right) // sx)
    slab = np.zeros((group, channels, sx, span, phase_width), dtype=x.dtype)
    pn, pc, _, pr, pv = slab.strides
    fills, gathers = [], []
    for b in range(sx):
        js = [j for j in range(kw) if (j * dx) % sx == b]  # the taps that read phase b: j0, j0 + step, ...
        if not js:
            continue
        step = js[1] - js[0] if len(js) > 1 else 1
        first = -(-(left - b) // sx) if left > b else 0  # the phase's columns that hold input columns
        last = min(phase_width, -(-(left + width - b) // sx))
        if last > first:
            fills.append((b, first, last, first * sx + b - left))
        taps_view = as_strided(slab[:, :, b, :, (js[0] * dx) // sx:], (group, channels, kh, len(js), rows, ow),
                               (pn, pc, dy * pr, (step * dx) // sx * pv, sy * pr, pv))
        gathers.append((slice(js[0], js[-1] + 1, step), taps_view))
    for n0, samples, y0, count, cols in _tile_columns(buffer, batch, group, oh, rows, (channels, kh, kw), ow):
        need = (count - 1) * sy + (kh - 1) * dy + 1
        start = y0 * sy - top  # the input row of the slab's first row
        lo = min(max(start, 0), start + need)
        hi = max(min(start + need, height), lo)
        tile = slab[:samples, :, :, :need]
        if lo > start:
            tile[:, :, :, :lo - start] = 0
        if hi - start < need:
            tile[:, :, :, hi - start:] = 0
        for b, first, last, column in fills:
            tile[:, :, b, lo - start:hi - start, first:last] = \
                x[n0:n0 + samples, :, lo:hi, column:column + (last - first - 1) * sx + 1:sx]
        for kx, taps_view in gathers:
            cols[:, :, :, kx] = taps_view[:samples, :, :, :, :count]
        epilogue(_product(flat_weight, cols, out, n0, y0))
    return out


def _tile_columns(buffer: FloatArray, batch: int, group: int, oh: int, rows: int, taps: tuple[int, ...],
                  ow: int) -> Iterator[tuple[int, int, int, int, FloatArray]]:
    """The tiles of :func:`_correlate_rows`: (first sample, samples, first row, rows, column matrix
    (samples, *taps, rows, ow) in ``buffer``)."""
    size = int(np.prod(taps)) * ow
    for n0 in range(0, batch, group):
        samples = min(group, batch - n0)
        for y0 in range(0, oh, rows):
            count = min(rows, oh - y0)
            yield n0, samples, y0, count, buffer[:samples * count * size].reshape(samples, *taps, count, ow)


def _product(flat_weight: FloatArray, cols: FloatArray, out: FloatArray, n0: int, y0: int) -> FloatArray:
    """``weight @ columns`` of one tile, written straight into ``out`` (B, F, oh, ow) and returned as a view:
    a band of rows of one sample (BLAS writes rows oh*ow apart), or whole samples (one product each)."""
    samples, count, ow = cols.shape[0], cols.shape[-2], cols.shape[-1]
    filters, taps = flat_weight.shape
    tile: FloatArray
    if samples == 1:
        tile = out[n0, :, y0:y0 + count].reshape(filters, count * ow)
        np.matmul(flat_weight, cols.reshape(taps, count * ow), out=tile)
    else:
        tile = out[n0:n0 + samples].reshape(samples, filters, count * ow)
        np.matmul(flat_weight, cols.reshape(samples, taps, count * ow), out=tile)
    return tile


def _correlate_pixels(x: FloatArray, weight: FloatArray, stride: Pair, dilation: Pair, out_shape: Pair,
                      pads: Pads, epilogue: _Epilogue) -> FloatArray:
    """:func:`correlate_batch` channels last: the column matrix is (outputs, kh*kw*C) in (i, j, c) order.

    Each group of samples is copied into a zero-bordered (samples, Hp, Wp, C) array, whose windows are one
    view (samples, oh, ow, kh, kw, C); each tile's columns are one copy of a slice of it (runs of kw*C
    numbers, or C when dilated) and one BLAS product ``weight @ columns.T``, written in place for a band of
    one sample, through a small buffer for a group of samples. An input stored channels last is its own
    (samples, H, W, C) array when unpadded (no copy), and its result is stored channels last: the product
    ``columns @ weight.T`` is then (outputs, F), written in place for any tile.
    """
    batch, channels = x.shape[:2]
    filters, _, kh, kw = weight.shape
    oh, ow = out_shape
    taps = kh * kw * channels
    flat_weight = np.ascontiguousarray(weight.transpose(0, 2, 3, 1).reshape(filters, taps))
    group, rows = _tiles(batch, oh, taps * ow * x.itemsize)
    # one group's samples at a time: a batch's whole (B, Hp, Wp, C) copy would be megabytes of fresh pages
    # every call (1,100 page faults, ~1.5 ms, for 64x32x13x13), a group's stays in the cache for its tiles
    pixels = PixelWindows(x, group, pads, (kh, kw), stride, dilation, out_shape)
    keep_layout = is_channels_last(x)
    if keep_layout:
        out = empty_channels_last((batch, filters, oh, ow), x.dtype)
        hwf = out.transpose(0, 2, 3, 1)  # (B, oh, ow, F), C-contiguous
    else:
        out = np.empty((batch, filters, oh, ow), dtype=x.dtype)
    buffer = np.empty(group * rows * ow * taps, dtype=x.dtype)
    product = np.empty((filters, group * oh * ow), dtype=x.dtype) if group > 1 and not keep_layout else None
    for n0 in range(0, batch, group):
        samples = min(group, batch - n0)
        windows = pixels.load(n0, samples)
        for y0 in range(0, oh, rows):
            count = min(rows, oh - y0)
            cols = buffer[:samples * count * ow * taps].reshape(samples, count, ow, kh, kw, channels)
            cols[...] = windows[:, y0:y0 + count]
            matrix = cols.reshape(samples * count * ow, taps)
            if keep_layout:  # whole samples, or a band of one: a contiguous run of hwf either way
                tile = hwf[n0:n0 + samples, y0:y0 + count].reshape(samples * count * ow, filters)
                np.matmul(matrix, flat_weight.T, out=tile)
                epilogue(tile, filters_last=True)
            elif product is None:
                tile = out[n0, :, y0:y0 + count].reshape(filters, count * ow)
                np.matmul(flat_weight, matrix.T, out=tile)
                epilogue(tile)
            else:
                block = product[:, :samples * oh * ow]
                np.matmul(flat_weight, matrix.T, out=block)
                epilogue(block)
                out[n0:n0 + samples] = block.reshape(filters, samples, oh, ow).transpose(1, 0, 2, 3)
    return out


class PixelWindows:
    """A group of samples of ``x`` (B, C, H, W) channels last with a zero border of ``pads``, (group, Hp, Wp, C),
    and the view of every output's window of it, (group, oh, ow, kh, kw, C): the rows a channels-last column
    matrix copies (runs of kw*C numbers, or C when dilated). Shared by conv2d and its weight gradient.
    An unpadded ``x`` stored channels last (:mod:`cnn_core._layout`) is viewed, never copied."""

    def __init__(self, x: FloatArray, group: int, pads: Pads, kernel: Pair, stride: Pair, dilation: Pair,
                 out_shape: Pair) -> None:
        batch, channels, height, width = x.shape
        top, bottom, left, right = pads
        self.x, self.rows, self.cols = x, slice(top, top + height), slice(left, left + width)
        self.copies = any(pads) or not is_channels_last(x)
        if self.copies:
            self.hwc = np.empty((group, height + top + bottom, width + left + right, channels), dtype=x.dtype)
            if any(pads):
                _zero_border(self.hwc, pads)
        else:
            self.hwc, group = x.transpose(0, 2, 3, 1), batch
        sn, sr, sv, sc = self.hwc.strides
        (sy, sx), (dy, dx) = stride, dilation
        self.windows = as_strided(self.hwc, (group, *out_shape, *kernel, channels),
                                  (sn, sy * sr, sx * sv, dy * sr, dx * sv, sc), writeable=False)

    def load(self, n0: int, samples: int) -> FloatArray:
        """Samples ``n0`` to ``n0 + samples`` copied in; their windows, (samples, oh, ow, kh, kw, C)."""
        if not self.copies:
            viewed: FloatArray = self.windows[n0:n0 + samples]
            return viewed
        self.hwc[:samples, self.rows, self.cols] = self.x[n0:n0 + samples].transpose(0, 2, 3, 1)
        windows: FloatArray = self.windows[:samples]
        return windows


def _zero_border(array: FloatArray, pads: Pads) -> None:
    """Zero the padding of a (B, Hp, Wp, C) array: rows ``top``/``bottom``, columns ``left``/``right``."""
    top, bottom, left, right = pads
    height, width = array.shape[1], array.shape[2]
    array[:, :top] = 0
    array[:, height - bottom:] = 0
    array[:, :, :left] = 0
    array[:, :, width - right:] = 0


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
