"""Convolution, transposed convolution, pooling, up-sampling and activations (PyTorch semantics).

Every function takes a channel-first ``(C, H, W)`` or plain ``(H, W)`` array and returns the same
rank. Integers are computed in float64; float32 stays float32 and float64 stays float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cnn_core import _compute
from cnn_core._checks import (
    FloatArray,
    as_bias,
    as_image,
    as_kernel,
    check_bool,
    check_choice,
    check_result,
    restore_rank,
    to_pair,
)
from cnn_core._windows import Window, check_padding_mode, conv_window, pad_input, pool_window, scale_pair
from cnn_core.geometry import conv_transpose_output_size


@dataclass(frozen=True)
class ConvPlan:
    """A validated conv2d: the padded batch, the 4-D weight, the bias and the window."""

    padded: FloatArray  # (B, C, Hp, Wp): B = channels for a depthwise kernel, else 1
    weight: FloatArray  # (F, C, kh, kw)
    bias: FloatArray  # (F * B,)
    window: Window
    depthwise: bool
    was_2d: bool


def _weight_for(image: FloatArray, weight: object, channel_axis: int) -> tuple[FloatArray, bool]:
    """A 4-D weight whose ``channel_axis`` matches the input's channels; a 2-D kernel becomes (1, 1, kh, kw)
    and is marked depthwise (applied to each channel on its own)."""
    kernel = as_kernel(weight, image.dtype)
    if kernel.ndim == 2:
        return kernel[None, None], True
    channels = image.shape[0]
    if kernel.shape[channel_axis] != channels:
        layout = "(F, C, kh, kw)" if channel_axis == 1 else "(C, F, kh, kw)"
        raise ValueError(
            f"weight must be {layout} with C = the channels of x: weight is {kernel.shape} "
            f"(C = {kernel.shape[channel_axis]}) but x has {channels} channel(s)"
        )
    return kernel, False


def plan_conv2d(x: object, weight: object, bias: object = None, stride: object = 1, padding: object = 0,
                dilation: object = 1, padding_mode: object = "zeros") -> ConvPlan:
    """Validate conv2d's arguments and pad the input once (shared by the op and its frames)."""
    image, was_2d = as_image(x)
    mode = check_padding_mode(padding_mode)
    kernel, depthwise = _weight_for(image, weight, channel_axis=1)
    channels = image.shape[0]
    window = conv_window(image.shape[1:], kernel.shape[2:], stride, padding, dilation)
    outputs = channels if depthwise else kernel.shape[0]
    bias_vector = as_bias(bias, outputs, image.dtype, allow_scalar=depthwise)
    batch = image[:, None] if depthwise else image[None]
    padded = pad_input(batch, window.pads, mode)
    return ConvPlan(padded, kernel, bias_vector, window, depthwise, was_2d)


def conv2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           padding_mode: str = "zeros") -> FloatArray:
    """2-D cross-correlation, as ``torch.nn.functional.conv2d`` (with ``torch.nn.Conv2d``'s padding_mode).

    Parameters
    ----------
    x : (C, H, W) or (H, W) array
    weight : (F, C, kh, kw) array, or (kh, kw) applied to each channel on its own (depthwise)
    bias : (F,) array, or a number with a 2-D kernel
    stride, dilation : int or (rows, cols), >= 1
    padding : int or (rows, cols) >= 0, or "valid", "same" (Keras rule), "full"
    padding_mode : "zeros", "reflect", "replicate" or "circular"

    Returns
    -------
    (F, H', W') array; (C, H', W') for a 2-D kernel; (H', W') for a 2-D input and 2-D kernel.

    Raises
    ------
    ValueError, TypeError
        For a bad argument, a kernel larger than the padded input or a channel mismatch.

    Examples
    --------
    >>> conv2d(np.arange(9.0).reshape(3, 3), np.ones((2, 2)))
    array([[ 8., 12.],
           [20., 24.]])
    """
    plan = plan_conv2d(x, weight, bias, stride, padding, dilation, padding_mode)
    window = plan.window
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by check_result, not warned
        result = _compute.correlate(plan.padded, plan.weight, window.stride, window.dilation, window.out_shape)
    # (F, B, oh, ow) -> (F*B, oh, ow): either F or B is 1
    maps = result.reshape(-1, *window.out_shape)
    if plan.bias.any():
        with np.errstate(over="ignore"):
            maps += plan.bias[:, None, None]
    return restore_rank(check_result(maps, "conv2d"), plan.was_2d and plan.depthwise)


@dataclass(frozen=True)
class TransposePlan:
    """A validated conv_transpose2d: input batch, weight, bias, stride, dilation, crop and output size."""

    batch: FloatArray  # (B, C, H, W)
    weight: FloatArray  # (C, F, kh, kw)
    bias: FloatArray
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[int, int]
    out_shape: tuple[int, int]
    depthwise: bool
    was_2d: bool


def plan_conv_transpose2d(x: object, weight: object, bias: object = None, stride: object = 1,
                          padding: object = 0, output_padding: object = 0,
                          dilation: object = 1) -> TransposePlan:
    """Validate conv_transpose2d's arguments (shared by the op and its frames)."""
    image, was_2d = as_image(x)
    kernel, depthwise = _weight_for(image, weight, channel_axis=0)
    channels = image.shape[0]
    if isinstance(padding, str):
        raise TypeError(f"padding must be an int or a (rows, cols) pair for conv_transpose2d, got {padding!r}")
    stride_pair = to_pair(stride, "stride")
    dilation_pair = to_pair(dilation, "dilation")
    pad = to_pair(padding, "padding", minimum=0)
    extra = to_pair(output_padding, "output_padding", minimum=0)
    out_shape = tuple(
        conv_transpose_output_size(image.shape[1 + a], kernel.shape[2 + a], stride_pair[a], pad[a], extra[a],
                                   dilation_pair[a])
        for a in (0, 1)
    )
    outputs = channels if depthwise else kernel.shape[1]
    bias_vector = as_bias(bias, outputs, image.dtype, allow_scalar=depthwise)
    batch = image[:, None] if depthwise else image[None]
    return TransposePlan(batch, kernel, bias_vector, stride_pair, dilation_pair, pad,
                         (out_shape[0], out_shape[1]), depthwise, was_2d)


def crop_transposed(full: FloatArray, padding: tuple[int, int], out_shape: tuple[int, int]) -> FloatArray:
    """Cut ``padding`` off each side of an uncropped canvas (..., Hf, Wf); output_padding adds zeros."""
    top, left = padding
    height, width = out_shape
    lacking = (max(0, top + height - full.shape[-2]), max(0, left + width - full.shape[-1]))
    if any(lacking):
        full = np.pad(full, [(0, 0)] * (full.ndim - 2) + [(0, lacking[0]), (0, lacking[1])])
    return full[..., top:top + height, left:left + width]


def conv_transpose2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, dilation: Any = 1) -> FloatArray:
    """Transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    Each input pixel scatters ``x[c, iy, ix] * weight[c, f]`` into the output at
    ``(iy*stride + ky*dilation - padding, ix*stride + kx*dilation - padding)``.

    Parameters
    ----------
    x : (C, H, W) or (H, W) array
    weight : (C, F, kh, kw) array, or (kh, kw) applied to each channel on its own
    bias : (F,) array, or a number with a 2-D kernel
    stride, padding, output_padding, dilation : int or (rows, cols); output_padding < max(stride, dilation)

    Returns
    -------
    (F, H', W') with ``H' = (H-1)*stride - 2*padding + dilation*(kh-1) + output_padding + 1``.

    Raises
    ------
    ValueError, TypeError
        For a bad argument or a channel mismatch.

    Examples
    --------
    >>> conv_transpose2d(np.array([[1.0, 2.0]]), np.ones((1, 2)), stride=2)
    array([[1., 1., 2., 2.]])
    """
    plan = plan_conv_transpose2d(x, weight, bias, stride, padding, output_padding, dilation)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by check_result, not warned
        full = _compute.scatter_transposed(plan.batch, plan.weight, plan.stride, plan.dilation)
        maps = crop_transposed(full, plan.padding, plan.out_shape).reshape(-1, *plan.out_shape)
        if plan.bias.any():
            maps = maps + plan.bias[:, None, None]
    return restore_rank(check_result(maps, "conv_transpose2d"), plan.was_2d and plan.depthwise)


@dataclass(frozen=True)
class PoolPlan:
    """A validated pool: the padded input, the window and the divisor map (avg only)."""

    padded: FloatArray  # (C, Hp, Wp), padding filled with the pool's neutral value
    window: Window
    divisor: FloatArray | None
    was_2d: bool


def plan_pool(kind: str, x: object, kernel_size: object, stride: object, padding: object, dilation: object,
              ceil_mode: object, count_include_pad: object = True) -> PoolPlan:
    """Validate a pool's arguments and pad the input with -inf (max) or zeros (avg, sum)."""
    image, was_2d = as_image(x)
    ceil = check_bool(ceil_mode, "ceil_mode")
    include = check_bool(count_include_pad, "count_include_pad")
    window, declared = pool_window(image.shape[1:], kernel_size, stride, padding, dilation, ceil)
    fill = -np.inf if kind == "max" else 0.0
    padded = pad_input(image, window.pads, "zeros", fill)
    divisor = None
    if kind == "avg":
        keras_style = isinstance(padding, str)
        axes = [_divisor_axis(image.shape[1 + a], window, declared, a, include and not keras_style)
                for a in (0, 1)]
        divisor = np.outer(axes[0], axes[1]).astype(image.dtype)
    return PoolPlan(padded, window, divisor, was_2d)


def _divisor_axis(n: int, window: Window, declared: tuple[int, int, int, int], axis: int,
                  include_pad: bool) -> Any:
    """Per-axis window counts as PyTorch's avg_pool2d: clipped to the declared padding, or to the image."""
    before, after = declared[2 * axis], declared[2 * axis + 1]
    start = np.arange(window.out_shape[axis]) * window.stride[axis] - before
    end = np.minimum(start + window.kernel[axis], n + after)
    if include_pad:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


def _pool(kind: str, plan: PoolPlan) -> FloatArray:
    window = plan.window
    reducer = np.maximum if kind == "max" else np.add
    with np.errstate(over="ignore", invalid="ignore"):  # a sum that overflows is reported, not warned
        out = _compute.reduce_windows(plan.padded, window.kernel, window.stride, window.dilation,
                                      window.out_shape, reducer)
        if plan.divisor is not None:
            out /= plan.divisor
    return restore_rank(check_result(out, f"{kind}_pool2d"), plan.was_2d)


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False) -> FloatArray:
    """Max pooling, as ``torch.nn.functional.max_pool2d`` (stride defaults to kernel_size).

    Padding never wins: it counts as -inf. ``padding`` may also be "valid", "same" (Keras) or "full".
    Returns (C, H', W') (or (H', W')); raises ValueError/TypeError for bad arguments.

    >>> max_pool2d(np.arange(16.0).reshape(4, 4), 2)
    array([[ 5.,  7.],
           [13., 15.]])
    """
    return _pool("max", plan_pool("max", x, kernel_size, stride, padding, dilation, ceil_mode))


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> FloatArray:
    """Average pooling, as ``torch.nn.functional.avg_pool2d``.

    With a padding string ("same", "full") padding is left out of the averages, as Keras does.

    >>> avg_pool2d(np.arange(16.0).reshape(4, 4), 2)
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    return _pool("avg", plan_pool("avg", x, kernel_size, stride, padding, 1, ceil_mode, count_include_pad))


def sum_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False) -> FloatArray:
    """Sum of each window over the zero-padded input (``avg_pool2d(..., divisor_override=1)``).

    >>> sum_pool2d(np.arange(16.0).reshape(4, 4), 2)
    array([[10., 18.],
           [42., 50.]])
    """
    return _pool("sum", plan_pool("sum", x, kernel_size, stride, padding, 1, ceil_mode))


def upsample_sources(n: int, scale: int, mode: str, align_corners: bool) -> tuple[Any, Any, Any]:
    """For each output index along one axis: (low source, high source, weight of the high source)."""
    out = np.arange(n * scale)
    if mode == "nearest":
        low = out // scale
        return low, low, np.zeros(out.shape)
    if align_corners:
        position = out * ((n - 1) / (n * scale - 1)) if n * scale > 1 else np.zeros(out.shape)
    else:
        position = np.maximum((out + 0.5) / scale - 0.5, 0.0)
    low = np.minimum(np.floor(position).astype(np.int64), n - 1)
    high = np.minimum(low + 1, n - 1)
    return low, high, position - low


def check_upsample(x: object, scale_factor: object, mode: object,
                   align_corners: object) -> tuple[FloatArray, bool, tuple[int, int], str, bool]:
    """Validate upsample's arguments."""
    image, was_2d = as_image(x)
    scale = scale_pair(scale_factor)
    chosen = check_choice(mode, "mode", ("nearest", "bilinear"))
    corners = check_bool(align_corners, "align_corners")
    if chosen == "nearest" and corners:
        raise ValueError("align_corners=True only applies to mode='bilinear'")
    return image, was_2d, scale, chosen, corners


def upsample(x: Any, scale_factor: Any, mode: str = "nearest", align_corners: bool = False) -> FloatArray:
    """Up-sampling by an integer factor, as ``torch.nn.functional.interpolate``.

    "nearest" repeats each pixel; "bilinear" blends the four nearest sources, in two separable passes.

    >>> upsample(np.array([[1.0, 2.0]]), 2)
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.]])
    """
    image, was_2d, scale, chosen, corners = check_upsample(x, scale_factor, mode, align_corners)
    if chosen == "nearest":
        return restore_rank(image.repeat(scale[0], axis=1).repeat(scale[1], axis=2), was_2d)
    resample = _gather_bilinear_axis if corners else _phase_bilinear_axis
    # columns first, on the smaller array: the rows pass then writes whole contiguous rows
    cols = resample(image, 2, scale[1])
    return restore_rank(resample(cols, 1, scale[0]), was_2d)


def _phase_bilinear_axis(x: FloatArray, axis: int, scale: int) -> FloatArray:
    """Bilinear x``scale`` along one axis with align_corners=False, by output phase.

    Output ``scale*i + r`` samples source ``i + d`` with ``d = (2r + 1 - scale) / (2 scale)``, the same
    offset for every i: each phase is two shifted slices of the edge-padded input and one blend.
    """
    n = x.shape[axis]
    padded = np.concatenate([x.take([0], axis), x, x.take([n - 1], axis)], axis=axis)
    shape = list(x.shape)
    shape[axis] = n * scale
    out = np.empty(shape, dtype=x.dtype)

    def cut(array: FloatArray, start: int, stop: int | None, step: int = 1) -> FloatArray:
        index: list[slice] = [slice(None)] * array.ndim
        index[axis] = slice(start, stop, step)
        return array[tuple(index)]

    # the neighbour differences are shared by every phase: each phase is then one multiply and one add
    steps = np.diff(padded, axis=axis)
    for phase in range(scale):
        offset = (2 * phase + 1 - scale) / (2 * scale)
        start, weight = (1, offset) if offset >= 0 else (0, 1 + offset)
        target = cut(out, phase, None, scale)
        np.multiply(cut(steps, start, start + n), x.dtype.type(weight), out=target)
        target += cut(padded, start, start + n)
    return out


def _gather_bilinear_axis(x: FloatArray, axis: int, scale: int) -> FloatArray:
    """Bilinear x``scale`` along one axis with align_corners=True: whole rows gathered, then blended."""
    moved = np.ascontiguousarray(np.moveaxis(x, axis, 1))
    low, high, weight = upsample_sources(moved.shape[1], scale, "bilinear", True)
    weight = weight.astype(x.dtype).reshape(-1, *([1] * (moved.ndim - 2)))
    low_rows = moved[:, low]
    out = low_rows + (moved[:, high] - low_rows) * weight
    return np.ascontiguousarray(np.moveaxis(out, 1, axis))


def relu(x: Any) -> FloatArray:
    """max(x, 0) elementwise.

    >>> relu(np.array([-1.0, 2.0]).reshape(1, 2))
    array([[0., 2.]])
    """
    image, was_2d = as_image(x)
    return restore_rank(np.maximum(image, 0), was_2d)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> FloatArray:
    """x where x >= 0, else negative_slope * x.

    >>> leaky_relu(np.array([[-10.0, 3.0]]), 0.1)
    array([[-1.,  3.]])
    """
    image, was_2d = as_image(x)
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, int | float) \
            or not np.isfinite(negative_slope):
        raise TypeError(f"negative_slope must be a finite number, got {negative_slope!r}")
    return restore_rank(np.where(image >= 0, image, image * image.dtype.type(negative_slope)), was_2d)


def sigmoid(x: Any) -> FloatArray:
    """1 / (1 + exp(-x)), computed without overflow.

    >>> sigmoid(np.zeros((1, 1)))
    array([[0.5]])
    """
    image, was_2d = as_image(x)
    exp = np.exp(-np.abs(image))
    out = np.where(image >= 0, 1 / (1 + exp), exp / (1 + exp))
    return restore_rank(out.astype(image.dtype, copy=False), was_2d)


def tanh(x: Any) -> FloatArray:
    """Hyperbolic tangent elementwise.

    >>> tanh(np.zeros((1, 1)))
    array([[0.]])
    """
    image, was_2d = as_image(x)
    return restore_rank(np.tanh(image), was_2d)
