"""Backward of conv2d and conv_transpose2d: every gradient is itself a convolution or a transposed one.

Shared pieces: the grad_output check, the weight gradient (an im2col correlation of the input with
grad_output), the adjoint of a crop (``uncrop``) and the adjoint of reflect/replicate/circular padding
(``fold_padding``, which adds the border's gradient back onto the pixels it copied).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from cnn_core import _compute
from cnn_core._checks import FloatArray, Pair, as_array, compute_dtype
from cnn_core._grad_pixels import fits_a_tile, input_gradient_pixels, weight_gradient_pixels
from cnn_core._plans import ConvPlan, crop_transposed, plan_conv2d, plan_conv_transpose2d
from cnn_core._windows import pad_input
from cnn_core.errors import ArgumentError
from cnn_core.geometry import conv_transpose_output_size

# One column matrix of the weight gradient stays under this many bytes (it is tiled by output rows beyond)
COLUMNS_BYTES = 1 << 25


def forward_shape(shape4: tuple[int, ...], rank: int, squeeze: bool) -> tuple[int, ...]:
    """The forward result's shape for a (N, C, H, W) ``shape4`` in the caller's rank (as ``from_batch``)."""
    if rank == 4:
        return shape4
    if rank == 2 and squeeze and shape4[1] == 1:
        return shape4[2:]
    return shape4[1:]


def take_grad_output(grad_output: object, shape4: tuple[int, ...], rank: int, squeeze: bool,
                     dtype: np.dtype[Any]) -> FloatArray:
    """grad_output checked against the forward result's shape, cast to ``dtype``, as (N, C, H, W)."""
    array = as_array(grad_output, "grad_output")
    compute_dtype(array, "grad_output")
    expected = forward_shape(shape4, rank, squeeze)
    if array.shape != expected:
        raise ArgumentError(f"grad_output must have the forward output's shape {expected}, got {array.shape}")
    return array.astype(dtype, copy=False).reshape(shape4)


def weight_gradient(xp: FloatArray, g: FloatArray, kernel: Pair, stride: Pair, dilation: Pair) -> FloatArray:
    """``sum over n, oy, ox of g[n, f, oy, ox] * xp[n, c, oy*sy + i*dy, ox*sx + j*dx]``: (F, C, kh, kw).

    The correlation of the padded input ``xp`` (N, C, Hp, Wp) with ``g`` (N, F, oh, ow) used as a kernel
    dilated by the stride. It is computed as the forward does, im2col-style: the taps of ``xp`` are copied
    into a column matrix (C*kh*kw, positions) and a BLAS product contracts it with ``g``. Samples whose
    matrices fit ``_compute.TILE_BYTES`` go in groups, one product per sample (``g`` is read where it lies,
    (F, oh*ow) per sample: no transposed copy of it), summed; a larger sample goes in bands of output rows.
    """
    batch, channels = xp.shape[:2]
    filters, oh, ow = g.shape[1:]
    kh, kw = kernel
    sy, sx = stride
    dy, dx = dilation
    taps = channels * kh * kw
    sample_bytes = taps * oh * ow * xp.itemsize
    if sample_bytes <= _compute.TILE_BYTES:
        group = _compute._tiles(batch, 1, sample_bytes)[0]  # whole samples, groups made even, as the forward's
        sn, sc, sr, sv = xp.strides
        windows = as_strided(xp, (batch, channels, kh, kw, oh, ow), (sn, sc, dy * sr, dx * sv, sy * sr, sx * sv))
        cols = np.empty((group, taps, oh * ow), dtype=xp.dtype)
        out = np.zeros((filters, taps), dtype=xp.dtype)
        for n0 in range(0, batch, group):
            samples = min(group, batch - n0)
            cols[:samples].reshape(samples, channels, kh, kw, oh, ow)[...] = windows[n0:n0 + samples]
            per_sample = np.matmul(g[n0:n0 + samples].reshape(samples, filters, oh * ow),
                                   cols[:samples].transpose(0, 2, 1))
            out += per_sample.sum(axis=0)
        return out.reshape(filters, channels, kh, kw)
    rows = max(1, min(oh, COLUMNS_BYTES // max(taps * batch * ow * xp.itemsize, 1)))
    buffer = np.empty(taps * batch * rows * ow, dtype=xp.dtype)
    out = np.zeros((filters, taps), dtype=xp.dtype)
    for y0 in range(0, oh, rows):
        count = min(rows, oh - y0)
        band = buffer[:taps * batch * count * ow].reshape(channels, kh, kw, batch, count, ow)
        for i in range(kh):
            top = y0 * sy + i * dy
            for j in range(kw):
                left = j * dx
                window = xp[:, :, top:top + (count - 1) * sy + 1:sy, left:left + (ow - 1) * sx + 1:sx]
                band[:, i, j] = window.transpose(1, 0, 2, 3)
        kernel_rows = g[:, :, y0:y0 + count].transpose(1, 0, 2, 3).reshape(filters, -1)
        out += kernel_rows @ band.reshape(taps, -1).T
    return out.reshape(filters, channels, kh, kw)


def uncrop(g: FloatArray, padding: Pair, full_shape: Pair) -> FloatArray:
    """The adjoint of ``crop_transposed``: ``g`` (..., H, W) placed ``padding`` into a zero canvas of
    ``full_shape``; rows and columns that output_padding added (beyond the canvas) are dropped."""
    top, left = padding
    canvas = np.zeros((*g.shape[:-2], *full_shape), dtype=g.dtype)
    height = min(g.shape[-2], full_shape[0] - top)
    width = min(g.shape[-1], full_shape[1] - left)
    canvas[..., top:top + height, left:left + width] = g[..., :height, :width]
    return canvas


def _source_indices(n: int, before: int, after: int, mode: str) -> Any:
    """For each padded index along one axis, the input index it copies (the forward's own padding, on arange)."""
    column = np.arange(n, dtype=np.float64)[:, None]
    return pad_input(column, (before, after, 0, 0), mode)[:, 0].astype(np.intp)


def fold_padding(padded: FloatArray, pads: tuple[int, int, int, int], mode: str) -> FloatArray:
    """The adjoint of padding (..., H, W) to (..., Hp, Wp): the interior, plus each border row and column
    added back onto the input row or column that reflect, replicate or circular padding copied into it."""
    top, bottom, left, right = pads
    height = padded.shape[-2] - top - bottom
    width = padded.shape[-1] - left - right
    sources = _source_indices(height, top, bottom, mode)
    rows = padded[..., top:top + height, :].copy()
    for p in [*range(top), *range(top + height, top + height + bottom)]:
        rows[..., sources[p], :] += padded[..., p, :]
    sources = _source_indices(width, left, right, mode)
    out = rows[..., left:left + width].copy()
    for p in [*range(left), *range(left + width, left + width + right)]:
        out[..., sources[p]] += rows[..., p]
    return out


def conv2d_backward(grad_output: Any, x: Any, weight: Any, stride: Any, padding: Any, dilation: Any,
                    padding_mode: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(grad_x, grad_weight, grad_bias) of conv2d; see :func:`cnn_core.grad.conv2d_backward`."""
    plan = plan_conv2d(x, weight, None, stride, padding, dilation, padding_mode)
    if plan.depthwise:
        raise ArgumentError(f"weight must be a 4-D (F, C, kh, kw) array, got shape {np.shape(weight)}")
    batch = plan.padded.shape[0]
    g = take_grad_output(grad_output, (batch, plan.weight.shape[0], *plan.window.out_shape), plan.rank, False,
                         plan.padded.dtype)
    grad_x, grad_weight, grad_bias = planned_conv2d_backward(plan, g)
    assert grad_x is not None  # asked for
    return grad_x.reshape(forward_shape((batch, plan.padded.shape[1], *plan.window.in_shape), plan.rank, True)), \
        grad_weight, grad_bias


def planned_conv2d_backward(plan: ConvPlan, g: FloatArray,
                            need_input: bool = True) -> tuple[FloatArray | None, FloatArray, FloatArray]:
    """The gradients of a planned (not depthwise) conv2d for ``g`` (N, F, oh, ow): grad_x (N, C, H, W) (None
    when not ``need_input``, as for a network's first layer), grad_weight and grad_bias."""
    window = plan.window
    channels = plan.maps.shape[1]
    if _compute.channels_last_pays(channels, window.kernel[1], window.dilation[1], window.out_shape[1]) and \
            fits_a_tile(window.out_shape, window.kernel, channels, g.itemsize):
        return _pixels_backward(plan, g, need_input)
    hp, wp = plan.padded.shape[2:]
    grad_weight = weight_gradient(plan.padded, g, window.kernel, window.stride, window.dilation)
    if not need_input:
        return None, grad_weight, g.sum(axis=(0, 2, 3))
    # grad_x: the transposed convolution of grad_output with the same weight, (F, C) read as (in, out)
    full = _compute.scatter_transposed(g, plan.weight, window.stride, window.dilation)
    top, _, left, _ = window.pads
    if plan.padding_mode == "zeros":
        grad_x = np.ascontiguousarray(crop_transposed(full, (top, left), window.in_shape))
    else:
        grad_x = fold_padding(crop_transposed(full, (0, 0), (hp, wp)), window.pads, plan.padding_mode)
    return grad_x, grad_weight, g.sum(axis=(0, 2, 3))


def _pixels_backward(plan: ConvPlan, g: FloatArray,
                     need_input: bool) -> tuple[FloatArray | None, FloatArray, FloatArray]:
    """:func:`planned_conv2d_backward` channels last (``_grad_pixels``), where the forward's layout rule
    chooses channels last: zero padding stays virtual (never a padded copy of the input)."""
    window = plan.window
    zeros = plan.padding_mode == "zeros"
    maps, pads = (plan.maps, window.pads) if zeros else (plan.padded, (0, 0, 0, 0))
    grad_weight = weight_gradient_pixels(maps, pads, g, window.kernel, window.stride, window.dilation)
    if not need_input:
        return None, grad_weight, g.sum(axis=(0, 2, 3))
    grad_x = input_gradient_pixels(g, plan.weight, window.stride, window.dilation, window.padded_shape,
                                   window.pads if zeros else None)
    if not zeros:
        grad_x = fold_padding(grad_x, window.pads, plan.padding_mode)
    return grad_x, grad_weight, g.sum(axis=(0, 2, 3))


def conv_transpose2d_backward(grad_output: Any, x: Any, weight: Any, stride: Any, padding: Any,
                              output_padding: Any, dilation: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(grad_x, grad_weight, grad_bias) of conv_transpose2d; see :func:`cnn_core.grad.conv_transpose2d_backward`."""
    plan = plan_conv_transpose2d(x, weight, None, stride, padding, output_padding, dilation)
    if plan.depthwise:
        raise ArgumentError(f"weight must be a 4-D (C, F, kh, kw) array, got shape {np.shape(weight)}")
    batch, channels, height, width = plan.batch.shape
    _, filters, kh, kw = plan.weight.shape
    g = take_grad_output(grad_output, (batch, filters, *plan.out_shape), plan.rank, False, plan.batch.dtype)
    full_shape = (conv_transpose_output_size(height, kh, plan.stride[0], 0, 0, plan.dilation[0]),
                  conv_transpose_output_size(width, kw, plan.stride[1], 0, 0, plan.dilation[1]))
    canvas = uncrop(g, plan.padding, full_shape)
    # grad_x: conv2d of the uncropped grad_output with the same weight, (C, F) read as (out, in)
    grad_x = _compute.correlate(canvas, plan.weight, plan.stride, plan.dilation, (height, width))
    grad_x = np.ascontiguousarray(grad_x.transpose(1, 0, 2, 3))
    # grad_weight: the input correlated with the uncropped grad_output: (C, F, kh, kw), the weight's layout
    grad_weight = weight_gradient(canvas, plan.batch, (kh, kw), plan.stride, plan.dilation)
    shape = (batch, channels, height, width)
    return grad_x.reshape(forward_shape(shape, plan.rank, True)), grad_weight, g.sum(axis=(0, 2, 3))
