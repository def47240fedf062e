"""Validated plans of the windowed ops: arguments checked, geometry resolved, input padded at most once.

Shared by :mod:`cnn_core.ops` (which computes the result), :mod:`cnn_core.frames` (which gathers one
step at a time) and :mod:`cnn_core.grad` (which runs the backward pass). Inputs are a (H, W) or
(C, H, W) sample or an (N, C, H, W) batch; a plan keeps the rank so that results come back in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from cnn_core._checks import (
    FloatArray,
    as_bias,
    as_kernel,
    as_maps,
    check_bool,
    check_choice,
    to_pair,
)
from cnn_core._windows import Window, check_padding_mode, conv_window, pad_input, pool_window, scale_pair
from cnn_core.errors import ArgumentError, ArgumentTypeError
from cnn_core.geometry import conv_transpose_output_size


@dataclass(frozen=True)
class ConvPlan:
    """A validated conv2d: the input batch, the 4-D weight, the bias and the window.

    The padded input is made only when asked for (``padded``): the forward core pads zeros virtually, tile
    by tile, so a conv2d with zero padding never copies its whole input.
    """

    maps: FloatArray  # (B, C, H, W), unpadded: B = N * channels (C = 1) for a depthwise kernel, else N
    weight: FloatArray  # (F, C, kh, kw)
    bias: FloatArray  # (outputs,): one per filter, or per channel for a depthwise kernel
    window: Window
    depthwise: bool
    samples: int  # N
    rank: int  # 2, 3 or 4: the rank x came in with
    padding_mode: str = "zeros"

    @cached_property
    def padded(self) -> FloatArray:
        """(B, C, Hp, Wp): the input padded by the window's pads in ``padding_mode`` (made once, on first use)."""
        return pad_input(self.maps, self.window.pads, self.padding_mode)

    @property
    def was_2d(self) -> bool:
        """True when x was a plain (H, W) map."""
        return self.rank == 2


def _weight_for(maps: FloatArray, weight: object, channel_axis: int) -> tuple[FloatArray, bool]:
    """A 4-D weight whose ``channel_axis`` matches the input's channels; a 2-D kernel becomes (1, 1, kh, kw)
    and is marked depthwise (applied to each channel on its own)."""
    kernel = as_kernel(weight, maps.dtype)
    if kernel.ndim == 2:
        return kernel[None, None], True
    channels = maps.shape[1]
    if kernel.shape[channel_axis] != channels:
        layout = "(F, C, kh, kw)" if channel_axis == 1 else "(C, F, kh, kw)"
        raise ArgumentError(
            f"weight must be {layout} with C = the channels of x: weight is {kernel.shape} "
            f"(C = {kernel.shape[channel_axis]}) but x has {channels} channel(s)"
        )
    return kernel, False


def _stack(maps: FloatArray, depthwise: bool) -> FloatArray:
    """(N, C, H, W) as the cores take it: each channel its own sample for a depthwise kernel."""
    return maps.reshape(-1, 1, *maps.shape[2:]) if depthwise else maps


def plan_conv2d(x: object, weight: object, bias: object = None, stride: object = 1, padding: object = 0,
                dilation: object = 1, padding_mode: object = "zeros", checked_input: bool = False) -> ConvPlan:
    """Validate conv2d's arguments (``checked_input``: x is an engine op's own output, already scanned for
    NaN and infinity); the padding is resolved, the padded input made on demand (``ConvPlan.padded``)."""
    maps, rank = as_maps(x, finite=not checked_input)
    mode = check_padding_mode(padding_mode)
    kernel, depthwise = _weight_for(maps, weight, channel_axis=1)
    window = conv_window(maps.shape[2:], kernel.shape[2:], stride, padding, dilation)
    outputs = maps.shape[1] if depthwise else kernel.shape[0]
    bias_vector = as_bias(bias, outputs, maps.dtype, allow_scalar=depthwise)
    plan = ConvPlan(_stack(maps, depthwise), kernel, bias_vector, window, depthwise, maps.shape[0], rank, mode)
    if mode != "zeros":
        _ = plan.padded  # reflect, replicate and circular are copied (and refused when too wide) right here
    return plan


@dataclass(frozen=True)
class TransposePlan:
    """A validated conv_transpose2d: input batch, weight, bias, stride, dilation, crop and output size."""

    batch: FloatArray  # (B, C, H, W): B = N * channels (C = 1) for a depthwise kernel, else N
    weight: FloatArray  # (C, F, kh, kw)
    bias: FloatArray
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[int, int]
    out_shape: tuple[int, int]
    depthwise: bool
    samples: int
    rank: int

    @property
    def was_2d(self) -> bool:
        """True when x was a plain (H, W) map."""
        return self.rank == 2


def plan_conv_transpose2d(x: object, weight: object, bias: object = None, stride: object = 1,
                          padding: object = 0, output_padding: object = 0,
                          dilation: object = 1) -> TransposePlan:
    """Validate conv_transpose2d's arguments."""
    maps, rank = as_maps(x)
    kernel, depthwise = _weight_for(maps, weight, channel_axis=0)
    if isinstance(padding, str):
        raise ArgumentTypeError(f"padding must be an int or a (rows, cols) pair for conv_transpose2d, got {padding!r}")
    stride_pair = to_pair(stride, "stride")
    dilation_pair = to_pair(dilation, "dilation")
    pad = to_pair(padding, "padding", minimum=0)
    extra = to_pair(output_padding, "output_padding", minimum=0)
    out_shape = tuple(
        conv_transpose_output_size(maps.shape[2 + a], kernel.shape[2 + a], stride_pair[a], pad[a], extra[a],
                                   dilation_pair[a])
        for a in (0, 1)
    )
    outputs = maps.shape[1] if depthwise else kernel.shape[1]
    bias_vector = as_bias(bias, outputs, maps.dtype, allow_scalar=depthwise)
    return TransposePlan(_stack(maps, depthwise), kernel, bias_vector, stride_pair, dilation_pair, pad,
                         (out_shape[0], out_shape[1]), depthwise, maps.shape[0], rank)


def crop_transposed(full: FloatArray, padding: tuple[int, int], out_shape: tuple[int, int]) -> FloatArray:
    """Cut ``padding`` off each side of an uncropped canvas (..., Hf, Wf); output_padding adds zeros."""
    top, left = padding
    height, width = out_shape
    lacking = (max(0, top + height - full.shape[-2]), max(0, left + width - full.shape[-1]))
    if any(lacking):
        full = np.pad(full, [(0, 0)] * (full.ndim - 2) + [(0, lacking[0]), (0, lacking[1])])
    return full[..., top:top + height, left:left + width]


@dataclass(frozen=True)
class PoolPlan:
    """A validated pool: the padded input, the window, the declared pads and the divisor map (avg only)."""

    padded: FloatArray  # (C, Hp, Wp) for a sample, (N, C, Hp, Wp) for a batch; padding is the neutral value
    window: Window
    declared: tuple[int, int, int, int]  # the pads the caller asked for (window.pads also cover ceil_mode)
    divisor_axes: tuple[Any, Any] | None  # avg only: each window's count of rows and of columns
    rank: int

    @cached_property
    def divisor(self) -> FloatArray | None:
        """(oh, ow): each window's divisor (avg only; None otherwise), made on first use: an average without
        padding divides by kh*kw everywhere and never asks for it."""
        if self.divisor_axes is None:
            return None
        divisor: FloatArray = np.outer(*self.divisor_axes).astype(self.padded.dtype)
        return divisor

    @property
    def was_2d(self) -> bool:
        """True when x was a plain (H, W) map."""
        return self.rank == 2


def plan_pool(kind: str, x: object, kernel_size: object, stride: object, padding: object, dilation: object,
              ceil_mode: object, count_include_pad: object = True, checked_input: bool = False) -> PoolPlan:
    """Validate a pool's arguments and pad the input with -inf (max) or zeros (avg, sum)."""
    maps, rank = as_maps(x, finite=not checked_input)
    ceil = check_bool(ceil_mode, "ceil_mode")
    include = check_bool(count_include_pad, "count_include_pad")
    window, declared = pool_window(maps.shape[2:], kernel_size, stride, padding, dilation, ceil)
    fill = -np.inf if kind == "max" else 0.0
    padded = pad_input(maps if rank == 4 else maps[0], window.pads, "zeros", fill)
    axes = None
    if kind == "avg":
        keras_style = isinstance(padding, str)
        axes = (_divisor_axis(maps.shape[2], window, declared, 0, include and not keras_style),
                _divisor_axis(maps.shape[3], window, declared, 1, include and not keras_style))
    return PoolPlan(padded, window, declared, axes, rank)


def _divisor_axis(n: int, window: Window, declared: tuple[int, int, int, int], axis: int,
                  include_pad: bool) -> Any:
    """Per-axis window counts as PyTorch's avg_pool2d: clipped to the declared padding, or to the image."""
    before, after = declared[2 * axis], declared[2 * axis + 1]
    start = np.arange(window.out_shape[axis]) * window.stride[axis] - before
    end = np.minimum(start + window.kernel[axis], n + after)
    if include_pad:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


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
    """Validate upsample's arguments; the input comes back as (C, H, W) for a sample, (N, C, H, W) for a batch."""
    maps, rank = as_maps(x)
    scale = scale_pair(scale_factor)
    chosen = check_choice(mode, "mode", ("nearest", "bilinear"))
    corners = check_bool(align_corners, "align_corners")
    if chosen == "nearest" and corners:
        raise ArgumentError("align_corners=True only applies to mode='bilinear'")
    return (maps if rank == 4 else maps[0]), rank == 2, scale, chosen, corners
