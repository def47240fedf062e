"""Where a sliding window goes: resolved geometry of a conv or pool, and padding of the input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cnn_core import geometry
from cnn_core._checks import PADDING_STRINGS, FloatArray, Pair, check_choice, is_int, to_pair

_NUMPY_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@dataclass(frozen=True)
class Window:
    """A window's resolved geometry over a (H, W) input: pads are (top, bottom, left, right)."""

    in_shape: Pair
    kernel: Pair
    stride: Pair
    dilation: Pair
    pads: tuple[int, int, int, int]
    out_shape: Pair

    @property
    def span(self) -> Pair:
        """Extent of the dilated kernel, (rows, cols)."""
        return (geometry.effective_kernel_size(self.kernel[0], self.dilation[0]),
                geometry.effective_kernel_size(self.kernel[1], self.dilation[1]))

    @property
    def padded_shape(self) -> Pair:
        """Size of the padded input, (rows, cols)."""
        top, bottom, left, right = self.pads
        return self.in_shape[0] + top + bottom, self.in_shape[1] + left + right

    def tap_rows(self, oy: Any) -> Any:
        """Input rows (unpadded coordinates) of the taps of output row(s) ``oy``, as (..., kh)."""
        base = np.asarray(oy)[..., None] * self.stride[0] - self.pads[0]
        return base + np.arange(self.kernel[0]) * self.dilation[0]

    def tap_cols(self, ox: Any) -> Any:
        """Input columns (unpadded coordinates) of the taps of output column(s) ``ox``, as (..., kw)."""
        base = np.asarray(ox)[..., None] * self.stride[1] - self.pads[2]
        return base + np.arange(self.kernel[1]) * self.dilation[1]


def _padding_arg(padding: object) -> str | Pair:
    if isinstance(padding, str):
        if padding not in PADDING_STRINGS:
            raise ValueError(
                f"padding must be a non-negative int, a (rows, cols) pair or one of 'valid', 'same', "
                f"'full', got {padding!r}"
            )
        return padding
    return to_pair(padding, "padding", minimum=0)


def _axis_pads(padding: str | Pair, axis: int, n: int, kernel: Pair, stride: Pair,
               dilation: Pair) -> tuple[int, int]:
    amount: int | str = padding if isinstance(padding, str) else padding[axis]
    return geometry.padding_amounts(amount, n, kernel[axis], stride[axis], dilation[axis])


def conv_window(in_shape: Pair, kernel: Pair, stride: object, padding: object,
                dilation: object) -> Window:
    """Resolve a convolution's window; raises when the kernel does not fit."""
    stride_pair = to_pair(stride, "stride")
    dilation_pair = to_pair(dilation, "dilation")
    pad = _padding_arg(padding)
    rows = _axis_pads(pad, 0, in_shape[0], kernel, stride_pair, dilation_pair)
    cols = _axis_pads(pad, 1, in_shape[1], kernel, stride_pair, dilation_pair)
    out = []
    for axis, (before, after) in enumerate((rows, cols)):
        span = _fits(in_shape[axis], before + after, kernel[axis], dilation_pair[axis], axis)
        out.append((in_shape[axis] + before + after - span) // stride_pair[axis] + 1)
    return Window(in_shape, kernel, stride_pair, dilation_pair, (*rows, *cols), (out[0], out[1]))


def _fits(n: int, total_pad: int, k: int, dilation: int, axis: int) -> int:
    """Raise unless the dilated kernel fits in the padded axis; returns its span."""
    span = geometry.effective_kernel_size(k, dilation)
    if span > n + total_pad:
        name = ("rows", "columns")[axis]
        raise ValueError(
            f"kernel must not be larger than the padded input: the kernel spans {span} {name} "
            f"({k} taps, dilation {dilation}) but the padded input has {n} + {total_pad} = {n + total_pad}"
        )
    return span


def pool_window(in_shape: Pair, kernel_size: object, stride: object, padding: object,
                dilation: object, ceil_mode: bool) -> tuple[Window, tuple[int, int, int, int]]:
    """Resolve a pool's window; returns it with pads that also cover ceil_mode's overhang,
    and the declared pads (which avg_pool2d's divisor counts)."""
    kernel = to_pair(kernel_size, "kernel_size")
    stride_pair = kernel if stride is None else to_pair(stride, "stride")
    dilation_pair = to_pair(dilation, "dilation")
    pad = _padding_arg(padding)
    declared: list[int] = []
    extended: list[int] = []
    out: list[int] = []
    for axis in (0, 1):
        n = in_shape[axis]
        before, after = _axis_pads(pad, axis, n, kernel, stride_pair, dilation_pair)
        if not isinstance(pad, str) and before > kernel[axis] // 2:
            raise ValueError(
                f"padding must be at most half the kernel size ({kernel[axis] // 2} for kernel_size "
                f"{kernel[axis]}), got {before}"
            )
        span = _fits(n, before + after, kernel[axis], dilation_pair[axis], axis)
        extra = stride_pair[axis] - 1 if ceil_mode else 0
        size = (n + before + after - span + extra) // stride_pair[axis] + 1
        if ceil_mode and (size - 1) * stride_pair[axis] >= n + before:
            size -= 1
        needed = (size - 1) * stride_pair[axis] + span
        declared += [before, after]
        extended += [before, max(after, needed - n - before)]
        out.append(size)
    window = Window(in_shape, kernel, stride_pair, dilation_pair,
                    (extended[0], extended[1], extended[2], extended[3]), (out[0], out[1]))
    return window, (declared[0], declared[1], declared[2], declared[3])


def pad_input(x: FloatArray, pads: tuple[int, int, int, int], mode: str = "zeros",
              value: float = 0.0) -> FloatArray:
    """Pad the last two axes of ``x``; returns ``x`` itself when nothing is padded."""
    top, bottom, left, right = pads
    if not any(pads):
        return x
    widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
    if mode == "zeros":
        return np.pad(x, widths, mode="constant", constant_values=value)
    height, width = x.shape[-2:]
    for amount, size, axis in ((max(top, bottom), height, "rows"), (max(left, right), width, "columns")):
        if mode == "reflect" and amount >= size:
            raise ValueError(
                f"reflect padding must be smaller than the input: {amount} {axis} of padding on an input "
                f"{size} {axis} wide; use replicate or zeros, or less padding"
            )
        if mode == "circular" and amount > size:
            raise ValueError(
                f"circular padding must be at most the input size: {amount} {axis} of padding on an input "
                f"{size} {axis} wide would wrap around more than once"
            )
    return np.pad(x, widths, mode=_NUMPY_PAD_MODES[mode])  # type: ignore[call-overload,no-any-return]


def check_padding_mode(padding_mode: object) -> str:
    """Validate conv2d's padding_mode."""
    return check_choice(padding_mode, "padding_mode", ("zeros", "reflect", "replicate", "circular"))


def scale_pair(scale_factor: object) -> Pair:
    """Validate an integer up-sampling factor (int or pair)."""
    if isinstance(scale_factor, float) and scale_factor.is_integer():
        raise TypeError(f"scale_factor must be an int (write {int(scale_factor)}), got {scale_factor!r}")
    if not (is_int(scale_factor) or isinstance(scale_factor, tuple | list)):
        raise TypeError(f"scale_factor must be a positive int or a (rows, cols) pair, got {scale_factor!r}")
    return to_pair(scale_factor, "scale_factor")
