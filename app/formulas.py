"""The output-size formula of a run, written out with the user's numbers, for rows and columns."""

from __future__ import annotations

from typing import Any

from app.schemas import ActivationSpec, Conv2dSpec, ConvTranspose2dSpec, Operation, PoolSpec, UpsampleSpec
from cnn_core import geometry


def _axis(value: Any, axis: int) -> Any:
    return value[axis] if isinstance(value, tuple | list) else value


def _padding_text(before: int, after: int) -> str:
    return f"2*{before}" if before == after else f"{before}+{after}"


def _window_formula(n: int, k: int, stride: int, padding: Any, dilation: int, ceil: bool | None) -> str:
    """The formula with its numbers; sizes come from the engine's geometry (``ceil`` None means a conv)."""
    if ceil is None:
        sizes = geometry.conv_axis(n, k, stride, padding, dilation)
    else:
        sizes = geometry.pool_axis(n, k, stride, padding, dilation, ceil)
    rounding = "ceil" if ceil else "floor"
    body = f"{rounding}(({n} + {_padding_text(sizes.before, sizes.after)} - {dilation}*({k}-1) - 1) / {stride}) + 1"
    if sizes.dropped_last:
        text = f"{body} - 1 = {sizes.out} (the last window would start in the padding)"
    else:
        text = f"{body} = {sizes.out}"
    if padding == "same":
        text = f"same: ceil({n} / {stride}) = {sizes.out}; " + text
    return text


def output_size_formulas(spec: Operation, in_shape: tuple[int, int], out_shape: tuple[int, ...],
                         kernel_shape: tuple[int, int] = (1, 1)) -> dict[str, str]:
    """{"rows": ..., "cols": ...}, e.g. ``floor((224 + 2*1 - 1*(3-1) - 1) / 2) + 1 = 112``.

    ``kernel_shape`` is the resolved (kh, kw) of a conv's weight.
    """
    texts = {}
    for axis, name in ((0, "rows"), (1, "cols")):
        n, out = in_shape[axis], out_shape[-2 + axis]
        if isinstance(spec, Conv2dSpec):
            k = kernel_shape[axis]
            texts[name] = _window_formula(n, k, _axis(spec.stride, axis), _axis(spec.padding, axis),
                                          _axis(spec.dilation, axis), None)
        elif isinstance(spec, PoolSpec):
            k = _axis(spec.kernel_size, axis)
            stride = k if spec.stride is None else _axis(spec.stride, axis)
            texts[name] = _window_formula(n, k, stride, _axis(spec.padding, axis), _axis(spec.dilation, axis),
                                          spec.ceil_mode)
        elif isinstance(spec, ConvTranspose2dSpec):
            k = kernel_shape[axis]
            texts[name] = (f"({n} - 1)*{_axis(spec.stride, axis)} - 2*{_axis(spec.padding, axis)} + "
                           f"{_axis(spec.dilation, axis)}*({k}-1) + {_axis(spec.output_padding, axis)} + 1 = {out}")
        elif isinstance(spec, UpsampleSpec):
            texts[name] = f"{n} * {_axis(spec.scale_factor, axis)} = {out}"
        else:
            assert isinstance(spec, ActivationSpec)
            texts[name] = f"{n} (elementwise: the size does not change) = {out}"
    return texts

