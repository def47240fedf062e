"""Convolution, transposed convolution, pooling, up-sampling, activations and the dense-layer functions.

PyTorch's ``torch.nn.functional`` semantics. The windowed ops take a channel-first ``(C, H, W)`` sample,
a plain ``(H, W)`` map or an ``(N, C, H, W)`` batch and return the same rank; activations are elementwise
on any shape. Integers are computed in float64; float32 stays float32 and float64 stays float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnn_core import _compute, _upsample
from cnn_core._checks import FloatArray, check_result, from_batch
from cnn_core._dense import cross_entropy, dropout, leaky_relu, linear, log_softmax, relu, sigmoid, softmax, tanh
from cnn_core._plans import (
    ConvPlan,
    PoolPlan,
    check_upsample,
    crop_transposed,
    plan_conv2d,
    plan_conv_transpose2d,
    plan_pool,
    upsample_sources,
)
from cnn_core._pool import reduce_windows

__all__ = [
    "avg_pool2d", "conv2d", "conv_transpose2d", "cross_entropy", "dropout", "leaky_relu", "linear", "log_softmax",
    "max_pool2d", "relu", "sigmoid", "softmax", "sum_pool2d", "tanh", "upsample",
]


def conv2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           padding_mode: str = "zeros") -> FloatArray:
    """2-D cross-correlation, as ``torch.nn.functional.conv2d`` (with ``torch.nn.Conv2d``'s padding_mode).

    Parameters
    ----------
    x : (C, H, W), (H, W) or a batch (N, C, H, W)
    weight : (F, C, kh, kw) array, or (kh, kw) applied to each channel on its own (depthwise)
    bias : (F,) array, or a number with a 2-D kernel
    stride, dilation : int or (rows, cols), >= 1
    padding : int or (rows, cols) >= 0, or "valid", "same" (Keras rule), "full"
    padding_mode : "zeros", "reflect", "replicate" or "circular"

    Returns
    -------
    (F, H', W') array; (C, H', W') for a 2-D kernel; (H', W') for a 2-D input and 2-D kernel;
    (N, F, H', W') (or (N, C, H', W')) for a batch.

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
    return from_batch(_conv2d_maps(plan), plan.rank, plan.depthwise)


def _conv2d_maps(plan: ConvPlan) -> FloatArray:
    """conv2d of a validated plan as (N, outputs, oh, ow), overflow refused (shared with training)."""
    window = plan.window
    # the core adds a filter's bias to each tile while it is in the cache, and sums the tiles: a finite sum
    # is a finite result; a depthwise kernel's bias is per channel, so added here, after the core
    fused = None if plan.depthwise or not plan.bias.any() else plan.bias
    source, pads = (plan.maps, window.pads) if plan.padding_mode == "zeros" else (plan.padded, (0, 0, 0, 0))
    outputs = source.shape[0] * plan.weight.shape[0] * window.out_shape[0] * window.out_shape[1]
    # a bound from the input settles finiteness in two passes over it, when that is less than one over the outputs
    check = 2 * source.size > outputs or not _compute.cannot_overflow(source, plan.weight, fused)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by check_result, not warned
        result, finite = _compute.convolve(source, plan.weight, fused, window.stride, window.dilation,
                                           window.out_shape, pads, check)
        # (B, F, oh, ow) -> (N, outputs, oh, ow): a depthwise kernel has F = 1 and B = N * C
        maps = result.reshape(plan.samples, -1, *window.out_shape)
        if plan.depthwise and plan.bias.any():
            maps += plan.bias[:, None, None]
            finite = False
    return maps if finite else check_result(maps, "conv2d")


def conv_transpose2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, dilation: Any = 1) -> FloatArray:
    """Transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    Each input pixel scatters ``x[c, iy, ix] * weight[c, f]`` into the output at
    ``(iy*stride + ky*dilation - padding, ix*stride + kx*dilation - padding)``.

    Parameters
    ----------
    x : (C, H, W), (H, W) or a batch (N, C, H, W)
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
        maps = crop_transposed(full, plan.padding, plan.out_shape).reshape(plan.samples, -1, *plan.out_shape)
        if plan.bias.any():
            maps = maps + plan.bias[:, None, None]
    return from_batch(check_result(maps, "conv_transpose2d"), plan.rank, plan.depthwise)


def _pool(kind: str, plan: PoolPlan) -> FloatArray:
    """Reduce every window of a planned pool (shared with the frames' ``result``)."""
    window = plan.window
    reducer = np.maximum if kind == "max" else np.add
    # without padding every window holds kh*kw numbers: the core divides by that one number as it writes
    uniform = kind == "avg" and not any(window.pads)
    count = window.kernel[0] * window.kernel[1] if uniform else None
    with np.errstate(over="ignore", invalid="ignore"):  # a sum that overflows is reported, not warned
        out = reduce_windows(plan.padded, window.kernel, window.stride, window.dilation, window.out_shape, reducer,
                             count)
        if plan.divisor is not None and not uniform:
            out /= plan.divisor
    # the largest of finite numbers is one of them (every window reads the input: the plan refuses a window
    # of padding only), so only a sum or an average can overflow and needs the pass that checks
    result = out if kind == "max" else check_result(out, f"{kind}_pool2d")
    return result[0] if plan.was_2d else result


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


def upsample(x: Any, scale_factor: Any, mode: str = "nearest", align_corners: bool = False) -> FloatArray:
    """Up-sampling by an integer factor, as ``torch.nn.functional.interpolate``.

    "nearest" repeats each pixel; "bilinear" blends the four nearest sources, in two separable passes.

    >>> upsample(np.array([[1.0, 2.0]]), 2)
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.]])
    """
    image, was_2d, scale, chosen, corners = check_upsample(x, scale_factor, mode, align_corners)
    if chosen == "nearest":
        out = image.repeat(scale[0], axis=-2).repeat(scale[1], axis=-1)
    elif corners:
        # columns first, on the smaller array: the rows pass then writes whole contiguous rows
        out = _gather_bilinear_axis(_gather_bilinear_axis(image, image.ndim - 1, scale[1]), image.ndim - 2, scale[0])
    else:
        out = _upsample.bilinear(image, scale)
    return out[0] if was_2d else out


def _gather_bilinear_axis(x: FloatArray, axis: int, scale: int) -> FloatArray:
    """Bilinear x``scale`` along one axis with align_corners=True: whole rows gathered, then blended."""
    moved = np.ascontiguousarray(np.moveaxis(x, axis, 1))
    low, high, weight = upsample_sources(moved.shape[1], scale, "bilinear", True)
    weight = weight.astype(x.dtype).reshape(-1, *([1] * (moved.ndim - 2)))
    low_rows = moved[:, low]
    out = low_rows + (moved[:, high] - low_rows) * weight
    return np.ascontiguousarray(np.moveaxis(out, 1, axis))


