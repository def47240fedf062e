"""Output-size formulas (integers in, integers out), as PyTorch documents them.

>>> conv_output_size(224, 3, stride=2, padding=1)
112
>>> conv_transpose_output_size(3, 3, stride=2)
7
>>> pool_output_size(5, 2, ceil_mode=True)
3
"""

from __future__ import annotations

from cnn_core._checks import PADDING_STRINGS, is_int


def _at_least(value: object, name: str, minimum: int) -> int:
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if int(value) < minimum:
        rule = "a positive integer" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return int(value)


def _positive(value: object, name: str) -> int:
    return _at_least(value, name, 1)


def _non_negative(value: object, name: str) -> int:
    return _at_least(value, name, 0)


def effective_kernel_size(kernel_size: int, dilation: int = 1) -> int:
    """Span of a dilated kernel along one axis: ``dilation * (kernel_size - 1) + 1``."""
    return dilation * (kernel_size - 1) + 1


def padding_amounts(padding: int | str, n: int, kernel_size: int, stride: int = 1,
                    dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding along one axis for an int or a padding string.

    ``"same"`` follows Keras/TensorFlow: output ``ceil(n / stride)``, the odd pixel after.
    """
    if isinstance(padding, str):
        if padding not in PADDING_STRINGS:
            raise ValueError(f"padding must be an int, a pair or one of 'valid', 'same', 'full', got {padding!r}")
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
    n = _positive(n, "n")
    kernel_size = _positive(kernel_size, "kernel_size")
    stride = _positive(stride, "stride")
    dilation = _positive(dilation, "dilation")
    before, after = padding_amounts(padding, n, kernel_size, stride, dilation)
    span = effective_kernel_size(kernel_size, dilation)
    padded = n + before + after
    if span > padded:
        raise ValueError(
            f"kernel_size {kernel_size} (spanning {span} with dilation {dilation}) must not be larger than "
            f"the padded input ({n} + {before + after} padding = {padded})"
        )
    return (padded - span) // stride + 1


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
        raise ValueError(
            f"output_padding must be smaller than stride or dilation (< {max(stride, dilation)}), "
            f"got {output_padding}"
        )
    size = (n - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    if size < 1:
        raise ValueError(f"padding {padding} crops the whole output (its size would be {size}); lower padding")
    return size


def pool_output_size(n: int, kernel_size: int, stride: int | None = None, padding: int | str = 0,
                     dilation: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a pooling window along one axis (PyTorch's rule, ``ceil_mode`` included).

    Raises
    ------
    ValueError
        When padding exceeds half the kernel, or the window does not fit.

    >>> pool_output_size(4, 2)
    2
    """
    n = _positive(n, "n")
    kernel_size = _positive(kernel_size, "kernel_size")
    stride = kernel_size if stride is None else _positive(stride, "stride")
    dilation = _positive(dilation, "dilation")
    span = effective_kernel_size(kernel_size, dilation)
    if isinstance(padding, str):
        before, after = padding_amounts(padding, n, kernel_size, stride, dilation)
    else:
        before = after = _non_negative(padding, "padding")
        if before > kernel_size // 2:
            raise ValueError(
                f"padding must be at most half the kernel size ({kernel_size // 2} for kernel_size "
                f"{kernel_size}), got {before}"
            )
    padded = n + before + after
    if span > padded:
        raise ValueError(
            f"kernel_size {kernel_size} (spanning {span} with dilation {dilation}) must not be larger than "
            f"the padded input ({n} + {before + after} padding = {padded})"
        )
    extra = stride - 1 if ceil_mode else 0
    size = (padded - span + extra) // stride + 1
    if ceil_mode and (size - 1) * stride >= n + before:
        size -= 1
    return size
