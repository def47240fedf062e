"""Output-size formulas (integers in, integers out), as PyTorch documents them.

This module is the only place where a window's output size and padding are worked out: the ops
(through :mod:`cnn_core._windows`), the frames and the web app's formula text all read them from here.

>>> conv_output_size(224, 3, stride=2, padding=1)
112
>>> conv_transpose_output_size(3, 3, stride=2)
7
>>> pool_output_size(5, 2, ceil_mode=True)
3
"""

from __future__ import annotations

from typing import NamedTuple

from cnn_core._checks import PADDING_STRINGS, is_int
from cnn_core.errors import ArgumentError, ArgumentTypeError


class AxisGeometry(NamedTuple):
    """A window's resolved geometry along one axis.

    ``before`` and ``after`` are the declared padding; ``out`` the output length; ``dropped_last`` is True
    when ``ceil_mode`` dropped a last window that would have started in the right padding (PyTorch's rule).
    """

    before: int
    after: int
    out: int
    dropped_last: bool = False


def _at_least(value: object, name: str, minimum: int) -> int:
    if not is_int(value):
        raise ArgumentTypeError(f"{name} must be an int, got {value!r}")
    if int(value) < minimum:
        rule = "a positive integer" if minimum == 1 else f">= {minimum}"
        raise ArgumentError(f"{name} must be {rule}, got {value!r}")
    return int(value)


def _positive(value: object, name: str) -> int:
    return _at_least(value, name, 1)


def _non_negative(value: object, name: str) -> int:
    return _at_least(value, name, 0)


def effective_kernel_size(kernel_size: int, dilation: int = 1) -> int:
    """Span of a dilated kernel along one axis: ``dilation * (kernel_size - 1) + 1``.

    >>> effective_kernel_size(3, dilation=2)
    5
    """
    return dilation * (kernel_size - 1) + 1


def padding_amounts(padding: int | str, n: int, kernel_size: int, stride: int = 1,
                    dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding along one axis for an int or a padding string.

    ``"same"`` follows Keras/TensorFlow: output ``ceil(n / stride)``, the odd pixel after.

    >>> padding_amounts("same", 240, 3, stride=2)
    (0, 1)
    """
    if isinstance(padding, str):
        if padding not in PADDING_STRINGS:
            raise ArgumentError(f"padding must be an int, a pair or one of 'valid', 'same', 'full', got {padding!r}")
        span = effective_kernel_size(kernel_size, dilation)
        if padding == "valid":
            return 0, 0
        if padding == "full":
            return span - 1, span - 1
        out = -(-n // stride)
        total = max((out - 1) * stride + span - n, 0)
        return total // 2, total - total // 2
    amount = _non_negative(padding, "padding")
    return amount, amount


def _does_not_fit(n: int, before: int, after: int, kernel_size: int, dilation: int, unit: str,
                  overhang: int) -> ArgumentError:
    """The one error for a kernel that does not fit its padded input (conv, pool, frames, chains)."""
    span = effective_kernel_size(kernel_size, dilation)
    allowance = f" plus stride - 1 = {overhang} (ceil_mode)" if overhang else ""
    return ArgumentError(
        f"kernel must not be larger than the padded input{allowance}: the kernel spans {span} {unit} "
        f"({kernel_size} taps, dilation {dilation}) but the padded input has {n} + {before + after} = "
        f"{n + before + after}"
    )


def conv_axis(n: int, kernel_size: int, stride: int = 1, padding: int | str = 0, dilation: int = 1, *,
              unit: str = "pixels") -> AxisGeometry:
    """A convolution's padding and output length along one axis.

    ``out = floor((n + before + after - dilation*(kernel_size - 1) - 1) / stride) + 1``. ``unit`` names
    the axis in the error message ("rows", "columns").

    Raises
    ------
    ValueError
        When an argument is out of range, or the (dilated) kernel is larger than the padded input.

    >>> conv_axis(240, 3, stride=2, padding="same")
    AxisGeometry(before=0, after=1, out=120, dropped_last=False)
    """
    n = _positive(n, "n")
    kernel_size = _positive(kernel_size, "kernel_size")
    stride = _positive(stride, "stride")
    dilation = _positive(dilation, "dilation")
    before, after = padding_amounts(padding, n, kernel_size, stride, dilation)
    excess = effective_kernel_size(kernel_size, dilation) - (n + before + after)
    if excess > 0:
        raise _does_not_fit(n, before, after, kernel_size, dilation, unit, 0)
    return AxisGeometry(before, after, -excess // stride + 1)


def pool_axis(n: int, kernel_size: int, stride: int | None = None, padding: int | str = 0, dilation: int = 1,
              ceil_mode: bool = False, *, unit: str = "pixels") -> AxisGeometry:
    """A pooling window's padding and output length along one axis, accepting exactly what PyTorch does.

    An int ``padding`` must be at most ``kernel_size // 2`` (PyTorch's rule; its "half the effective
    kernel" rule for dilated windows is always weaker). Without ``ceil_mode`` the dilated window must fit
    the padded input; with it, the last window may overhang by up to ``stride - 1``, and a last window
    that would start in the right padding is dropped (``dropped_last``).

    Raises
    ------
    ValueError
        When an argument is out of range, padding exceeds half the kernel, or the window does not fit.

    >>> pool_axis(5, 2, stride=2, padding=1, ceil_mode=True)
    AxisGeometry(before=1, after=1, out=3, dropped_last=True)
    >>> pool_axis(2, 3, stride=2, ceil_mode=True).out
    1
    """
    n = _positive(n, "n")
    kernel_size = _positive(kernel_size, "kernel_size")
    stride = kernel_size if stride is None else _positive(stride, "stride")
    dilation = _positive(dilation, "dilation")
    if isinstance(padding, str):
        before, after = padding_amounts(padding, n, kernel_size, stride, dilation)
    else:
        before = after = _non_negative(padding, "padding")
        if before > kernel_size // 2:
            raise ArgumentError(
                f"padding must be at most half the kernel size ({kernel_size // 2} for kernel_size "
                f"{kernel_size}), got {before}"
            )
    overhang = stride - 1 if ceil_mode else 0
    room = n + before + after - effective_kernel_size(kernel_size, dilation) + overhang
    if room < 0:
        raise _does_not_fit(n, before, after, kernel_size, dilation, unit, overhang)
    out = room // stride + 1
    # PyTorch drops a last window that would start in the right padding (it can only happen with ceil_mode)
    dropped = ceil_mode and (out - 1) * stride >= n + before
    return AxisGeometry(before, after, out - 1 if dropped else out, dropped)


def conv_output_size(n: int, kernel_size: int, stride: int = 1, padding: int | str = 0,
                     dilation: int = 1) -> int:
    """Output length of a convolution along one axis.

    ``floor((n + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1``; ``padding`` may also be
    ``"valid"``, ``"same"`` or ``"full"``.

    Raises
    ------
    ValueError
        When the (dilated) kernel is larger than the padded input.

    >>> conv_output_size(5, 3)
    3
    """
    return conv_axis(n, kernel_size, stride, padding, dilation).out


def conv_transpose_output_size(n: int, kernel_size: int, stride: int = 1, padding: int = 0,
                               output_padding: int = 0, dilation: int = 1) -> int:
    """Output length of a transposed convolution along one axis.

    ``(n - 1)*stride - 2*padding + dilation*(kernel_size - 1) + output_padding + 1``.

    Raises
    ------
    ValueError
        When ``output_padding`` is not smaller than stride or dilation, or the size is not positive.

    >>> conv_transpose_output_size(4, 3, stride=2, padding=1, output_padding=1)
    8
    """
    n = _positive(n, "n")
    kernel_size = _positive(kernel_size, "kernel_size")
    stride = _positive(stride, "stride")
    dilation = _positive(dilation, "dilation")
    padding = _non_negative(padding, "padding")
    output_padding = _non_negative(output_padding, "output_padding")
    if output_padding >= max(stride, dilation):
        raise ArgumentError(
            f"output_padding must be smaller than stride or dilation (< {max(stride, dilation)}), "
            f"got {output_padding}"
        )
    size = (n - 1) * stride - 2 * padding + effective_kernel_size(kernel_size, dilation) + output_padding
    if size < 1:
        raise ArgumentError(f"padding {padding} crops the whole output (its size would be {size}); lower padding")
    return size


def pool_output_size(n: int, kernel_size: int, stride: int | None = None, padding: int | str = 0,
                     dilation: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a pooling window along one axis (PyTorch's rule, ``ceil_mode`` included).

    Accepts and refuses exactly the sizes ``torch.nn.functional.max_pool2d`` does; see :func:`pool_axis`.

    Raises
    ------
    ValueError
        When padding exceeds half the kernel, or the window does not fit.

    >>> pool_output_size(4, 2)
    2
    """
    return pool_axis(n, kernel_size, stride, padding, dilation, ceil_mode).out
