"""Where a sliding window goes: resolved geometry of a conv or pool, and padding of the input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cnn_core import geometry
from cnn_core._checks import PADDING_STRINGS, FloatArray, Pair, check_choice, is_int, to_pair
from cnn_core.errors import ArgumentError, ArgumentTypeError

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
        return self.tap_padded_rows(oy) - self.pads[0]

    def tap_cols(self, ox: Any) -> Any:
        """Input columns (unpadded coordinates) of the taps of output column(s) ``ox``, as (..., kw)."""
        return self.tap_padded_cols(ox) - self.pads[2]

    def tap_padded_rows(self, oy: Any) -> Any:
        """Rows of the taps of output row(s) ``oy`` in the padded input, as (..., kh)."""
        return np.asarray(oy)[..., None] * self.stride[0] + np.arange(self.kernel[0]) * self.dilation[0]

    def tap_padded_cols(self, ox: Any) -> Any:
        """Columns of the taps of output column(s) ``ox`` in the padded input, as (..., kw)."""
        return np.asarray(ox)[..., None] * self.stride[1] + np.arange(self.kernel[1]) * self.dilation[1]


def _padding_arg(padding: object) -> str | Pair:
    if isinstance(padding, str):
        if padding not in PADDING_STRINGS:
            raise ArgumentError(
                f"padding must be a non-negative int, a (rows, cols) pair or one of 'valid', 'same', "
                f"'full', got {padding!r}"
            )
        return padding
    return to_pair(padding, "padding", minimum=0)


def _axis_padding(padding: str | Pair, axis: int) -> int | str:
    return padding if isinstance(padding, str) else padding[axis]


_UNITS = ("rows", "columns")


def conv_window(in_shape: Pair, kernel: Pair, stride: object, padding: object,
                dilation: object) -> Window:
    """Resolve a convolution's window (sizes from :func:`cnn_core.geometry.conv_axis`); raises when the
    kernel does not fit."""
    stride_pair = to_pair(stride, "stride")
    dilation_pair = to_pair(dilation, "dilation")
    pad = _padding_arg(padding)
    rows, cols = (geometry.conv_axis(in_shape[a], kernel[a], stride_pair[a], _axis_padding(pad, a),
                                     dilation_pair[a], unit=_UNITS[a]) for a in (0, 1))
    return Window(in_shape, kernel, stride_pair, dilation_pair, (rows.before, rows.after, cols.before, cols.after),
                  (rows.out, cols.out))


def pool_window(in_shape: Pair, kernel_size: object, stride: object, padding: object,
                dilation: object, ceil_mode: bool) -> tuple[Window, tuple[int, int, int, int]]:
    """Resolve a pool's window (sizes from :func:`cnn_core.geometry.pool_axis`); returns it with pads that
    also cover ceil_mode's overhang, and the declared pads (which avg_pool2d's divisor counts).

    Refuses a dilated window that would read padding only (PyTorch's max_pool2d returns -inf there)."""
    kernel = to_pair(kernel_size, "kernel_size")
    stride_pair = kernel if stride is None else to_pair(stride, "stride")
    dilation_pair = to_pair(dilation, "dilation")
    pad = _padding_arg(padding)
    declared: list[int] = []
    extended: list[int] = []
    out: list[int] = []
    for axis in (0, 1):
        n = in_shape[axis]
        sizes = geometry.pool_axis(n, kernel[axis], stride_pair[axis], _axis_padding(pad, axis),
                                   dilation_pair[axis], ceil_mode, unit=_UNITS[axis])
        span = geometry.effective_kernel_size(kernel[axis], dilation_pair[axis])
        needed = (sizes.out - 1) * stride_pair[axis] + span
        declared += [sizes.before, sizes.after]
        extended += [sizes.before, max(sizes.after, needed - n - sizes.before)]
        out.append(sizes.out)
    window = Window(in_shape, kernel, stride_pair, dilation_pair,
                    (extended[0], extended[1], extended[2], extended[3]), (out[0], out[1]))
    _check_every_window_reads_input(window)
    return window, (declared[0], declared[1], declared[2], declared[3])


def _check_every_window_reads_input(window: Window) -> None:
    """Refuse a dilated pool window whose taps all land in the padding (only possible with dilation > 1)."""
    for axis, taps_of in enumerate((window.tap_rows, window.tap_cols)):
        if window.dilation[axis] == 1:
            continue  # contiguous taps: padding <= kernel_size // 2 keeps every window on the input
        n = window.in_shape[axis]
        taps = taps_of(np.arange(window.out_shape[axis]))
        empty = np.flatnonzero(((taps < 0) | (taps >= n)).all(axis=1))
        if empty.size:
            unit = _UNITS[axis]
            raise ArgumentError(
                f"dilation must leave at least one input pixel in every pooling window, got dilation "
                f"{window.dilation[axis]} with padding {window.pads[2 * axis]}: output {unit[:-1]} {empty[0]} "
                f"reads {unit} {taps[empty[0]].tolist()} of an input {n} {unit} long, all padding "
                f"(PyTorch returns -inf there); lower the padding or the dilation"
            )


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
            raise ArgumentError(
                f"reflect padding must be smaller than the input: {amount} {axis} of padding on an input "
                f"{size} {axis} wide; use replicate or zeros, or less padding"
            )
        if mode == "circular" and amount > size:
            raise ArgumentError(
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
        raise ArgumentTypeError(f"scale_factor must be an int (write {int(scale_factor)}), got {scale_factor!r}")
    if not (is_int(scale_factor) or isinstance(scale_factor, tuple | list)):
        raise ArgumentTypeError(f"scale_factor must be a positive int or a (rows, cols) pair, got {scale_factor!r}")
    return to_pair(scale_factor, "scale_factor")
