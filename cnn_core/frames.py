"""Random-access animation frames: one step of a conv, pool, transposed conv or up-sampling each.

A sequence is lazy: it validates and pads once, then ``seq[i]`` gathers only that step's window
and ``seq.batch(start, stop)`` gathers a whole range with one fancy index. Numbers come from the
same plans as :mod:`cnn_core.ops`; nothing here re-derives a formula.

>>> seq = conv2d_frames(np.arange(16.0).reshape(4, 4), np.ones((3, 3)))
>>> len(seq), seq.output_shape, seq[-1].output_index
(4, (2, 2), (0, 1, 1))
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from cnn_core import _compute, ops
from cnn_core._checks import FloatArray, as_image, check_choice, is_int

Batch = dict[str, Any]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            boxed = value.astype(object)
            boxed[~np.isfinite(value)] = None
            return boxed.tolist()
        return value.tolist()
    if isinstance(value, np.generic):
        return _jsonable(np.asarray(value))
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


class Frame:
    """One step of an animation; its fields are attributes (``frame.value``, ``frame.patch``...)."""

    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, Any]) -> None:
        self._fields = fields

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(f"this frame has no field {name!r}; it has {', '.join(self._fields)}") from None

    @property
    def fields(self) -> tuple[str, ...]:
        """The names of this frame's fields."""
        return tuple(self._fields)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: lists instead of arrays, ``None`` for non-finite values (max-pool padding)."""
        return {name: _jsonable(value) for name, value in self._fields.items()}

    def __repr__(self) -> str:
        index = self._fields.get("output_index", self._fields.get("input_index"))
        return f"Frame({index})"


class FrameSequence(ABC):
    """A random-access, lazily computed sequence of frames with list semantics for indices."""

    output_shape: tuple[int, ...]

    def __init__(self, length: int) -> None:
        self._length = length
        self._result: FloatArray | None = None

    def __len__(self) -> int:
        return self._length

    def _index(self, index: object) -> int:
        if not is_int(index):
            raise TypeError(f"frame indices must be integers, got {type(index).__name__}")
        position = int(index)
        if position < 0:
            position += self._length
        if not 0 <= position < self._length:
            raise IndexError(f"frame index {index} out of range for {self._length} frames")
        return position

    def __getitem__(self, index: object) -> Frame:
        position = self._index(index)
        fields = {name: values[0] for name, values in self.batch(position, position + 1).items()}
        key = "output_index" if "output_index" in fields else "input_index"
        fields[key] = tuple(int(v) for v in fields[key])
        self._single(fields, position)
        return Frame(fields)

    def _single(self, fields: dict[str, Any], position: int) -> None:
        """Adjust a single frame's fields (scalars as Python numbers, extra per-frame fields)."""
        if "value" in fields:
            fields["value"] = fields["value"].item()

    def _range(self, start: object, stop: object) -> Any:
        if not (is_int(start) and is_int(stop)):
            raise TypeError(f"start and stop must be integers, got {start!r} and {stop!r}")
        if not 0 <= int(start) <= int(stop) <= self._length:
            raise IndexError(f"batch range must satisfy 0 <= start <= stop <= {self._length}, "
                             f"got start={start}, stop={stop}")
        return np.arange(int(start), int(stop))

    def index_of(self, position: Any) -> int:
        """The frame index of an output element ``(f, oy, ox)`` (``(oy, ox)`` works for one map).

        >>> conv2d_frames(np.zeros((4, 4)), np.ones((2, 2))).index_of((0, 1, 2))
        5
        """
        shape = self.index_shape()
        values = tuple(position) if isinstance(position, tuple | list) else ()
        if len(values) == len(shape) + 1 and len(shape) == 2 and values[0] == 0:
            values = values[1:]
        if len(values) != len(shape) or not all(is_int(v) for v in values):
            raise ValueError(f"position must be {len(shape)} integers (an index into shape {shape}), "
                             f"got {position!r}")
        if not all(0 <= int(v) < n for v, n in zip(values, shape, strict=True)):
            raise ValueError(f"position {tuple(int(v) for v in values)} is outside shape {shape}")
        return int(np.ravel_multi_index(tuple(int(v) for v in values), shape))

    def index_shape(self) -> tuple[int, ...]:
        """The shape whose row-major order is the frame order (the output's; a transposed
        convolution's input (H, W)); its last axis is one row of steps."""
        return tuple(self.output_shape)

    @abstractmethod
    def batch(self, start: int, stop: int) -> Batch:
        """Every field of frames ``start..stop-1``, stacked along a new first axis."""

    @abstractmethod
    def _compute_result(self) -> FloatArray:
        """The full result of the op."""

    def result(self) -> FloatArray:
        """The full result of the op, equal to the matching :mod:`cnn_core.ops` function (cached)."""
        if self._result is None:
            self._result = self._compute_result()
        return self._result


def _output_index(out_shape: tuple[int, int], index: Any) -> tuple[Any, Any, Any]:
    plane, rest = np.divmod(index, out_shape[0] * out_shape[1])
    oy, ox = np.divmod(rest, out_shape[1])
    return plane, oy, ox


class Conv2dFrames(FrameSequence):
    """Frames of conv2d: one output element each, filter-major then row-major."""

    def __init__(self, plan: ops.ConvPlan, arguments: dict[str, Any]) -> None:
        self.plan = plan
        self._arguments = arguments
        window = plan.window
        maps = plan.bias.shape[0]
        self.output_shape = (window.out_shape if plan.was_2d and plan.depthwise and maps == 1
                             else (maps, *window.out_shape))
        self._flat = plan.padded.reshape(*plan.padded.shape[:2], -1)
        super().__init__(maps * window.out_shape[0] * window.out_shape[1])

    def batch(self, start: int, stop: int) -> Batch:
        """Fields: output_index (n, 3), value (n,), patch and products (n, C, kh, kw), channel_sums (n, C),
        rows (n, kh), cols (n, kw); ``patch`` holds padding values, rows/cols may lie outside the image."""
        index = self._range(start, stop)
        plan, window = self.plan, self.plan.window
        f, oy, ox = _output_index(window.out_shape, index)
        padded_rows = oy[:, None] * window.stride[0] + np.arange(window.kernel[0]) * window.dilation[0]
        padded_cols = ox[:, None] * window.stride[1] + np.arange(window.kernel[1]) * window.dilation[1]
        flat = padded_rows[:, :, None] * plan.padded.shape[3] + padded_cols[:, None, :]
        if plan.depthwise:
            patch = self._flat[f[:, None, None], 0, flat][:, None]
            products = patch * plan.weight[0][None]
        else:
            channel_offsets = np.arange(plan.padded.shape[1]) * self._flat.shape[2]
            patch = self._flat[0].reshape(-1)[flat[:, None] + channel_offsets[None, :, None, None]]
            products = np.empty_like(patch)
            # frames are filter-major, so a range covers a few runs of one filter each: broadcast per run
            starts = np.flatnonzero(np.diff(f, prepend=-1))
            for first, last in zip(starts, np.append(starts[1:], len(f)), strict=False):
                np.multiply(patch[first:last], plan.weight[f[first]], out=products[first:last])
        channel_sums = products.sum(axis=(2, 3))
        return {
            "output_index": np.stack([f, oy, ox], axis=1),
            "value": channel_sums.sum(axis=1) + plan.bias[f],
            "patch": patch,
            "products": products,
            "channel_sums": channel_sums,
            "rows": padded_rows - window.pads[0],
            "cols": padded_cols - window.pads[2],
        }

    def _compute_result(self) -> FloatArray:
        return ops.conv2d(**self._arguments)


def conv2d_frames(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
                  padding_mode: str = "zeros") -> Conv2dFrames:
    """Frames of :func:`cnn_core.ops.conv2d` (same arguments): one per output element.

    Each frame has ``output_index`` (f, oy, ox), ``value``, ``patch`` (C, kh, kw) with padding values,
    ``products`` = patch * weight[f], ``channel_sums`` (C,), ``rows`` (kh,) and ``cols`` (kw,).
    A 2-D kernel on a (C, H, W) input is depthwise: f is the channel and the depth is 1.

    Raises ValueError/TypeError exactly as conv2d does.

    >>> frame = conv2d_frames(np.eye(3), np.ones((2, 2)), bias=1.0)[0]
    >>> frame.value, frame.channel_sums.tolist()
    (3.0, [2.0])
    """
    arguments = {"x": x, "weight": weight, "bias": bias, "stride": stride, "padding": padding,
                 "dilation": dilation, "padding_mode": padding_mode}
    return Conv2dFrames(ops.plan_conv2d(**arguments), arguments)


class PoolFrames(FrameSequence):
    """Frames of a pool: one output element each, channel-major then row-major."""

    def __init__(self, kind: str, plan: ops.PoolPlan) -> None:
        self.kind = kind
        self.plan = plan
        channels = plan.padded.shape[0]
        self.output_shape = plan.window.out_shape if plan.was_2d else (channels, *plan.window.out_shape)
        self._flat = plan.padded.reshape(channels, -1)
        super().__init__(channels * plan.window.out_shape[0] * plan.window.out_shape[1])

    def batch(self, start: int, stop: int) -> Batch:
        """Fields: output_index (n, 3), value (n,), patch (n, kh, kw) (padding as -inf for max, else 0),
        rows (n, kh), cols (n, kw); max adds argmax (n, 2); avg adds sum (n,) and divisor (n,)."""
        index = self._range(start, stop)
        plan, window = self.plan, self.plan.window
        c, oy, ox = _output_index(window.out_shape, index)
        padded_rows = oy[:, None] * window.stride[0] + np.arange(window.kernel[0]) * window.dilation[0]
        padded_cols = ox[:, None] * window.stride[1] + np.arange(window.kernel[1]) * window.dilation[1]
        patch = self._flat[c[:, None, None], padded_rows[:, :, None] * plan.padded.shape[2] + padded_cols[:, None, :]]
        rows, cols = padded_rows - window.pads[0], padded_cols - window.pads[2]
        fields: Batch = {"output_index": np.stack([c, oy, ox], axis=1), "patch": patch, "rows": rows, "cols": cols}
        if self.kind == "max":
            winner = patch.reshape(len(index), window.kernel[0] * window.kernel[1]).argmax(axis=1)
            ky, kx = np.divmod(winner, window.kernel[1])
            fields["value"] = patch.max(axis=(1, 2))
            fields["argmax"] = np.stack([np.take_along_axis(rows, ky[:, None], 1)[:, 0],
                                         np.take_along_axis(cols, kx[:, None], 1)[:, 0]], axis=1)
        elif self.kind == "avg":
            assert plan.divisor is not None  # plan_pool makes one for "avg"
            total = patch.sum(axis=(1, 2))
            divisor = plan.divisor[oy, ox]
            fields.update(value=total / divisor, sum=total, divisor=divisor)
        else:
            fields["value"] = patch.sum(axis=(1, 2))
        return fields

    def _single(self, fields: dict[str, Any], position: int) -> None:
        super()._single(fields, position)
        for name in ("sum", "divisor"):
            if name in fields:
                fields[name] = fields[name].item()
        if "argmax" in fields:
            fields["argmax"] = (int(fields["argmax"][0]), int(fields["argmax"][1]))

    def _compute_result(self) -> FloatArray:
        return ops._pool(self.kind, self.plan)


def max_pool2d_frames(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                      ceil_mode: bool = False) -> PoolFrames:
    """Frames of :func:`cnn_core.ops.max_pool2d`: ``output_index`` (c, oy, ox), ``value``, ``patch``
    (kh, kw) with padding as -inf, ``rows``, ``cols`` and ``argmax`` (row, col) of the winner.

    >>> max_pool2d_frames(np.arange(16.0).reshape(4, 4), 2)[1].argmax
    (1, 3)
    """
    return PoolFrames("max", ops.plan_pool("max", x, kernel_size, stride, padding, dilation, ceil_mode))


def avg_pool2d_frames(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                      count_include_pad: bool = True) -> PoolFrames:
    """Frames of :func:`cnn_core.ops.avg_pool2d`: as max's, with ``sum`` and ``divisor`` instead of argmax.

    >>> avg_pool2d_frames(np.arange(16.0).reshape(4, 4), 2)[0].value
    2.5
    """
    return PoolFrames("avg", ops.plan_pool("avg", x, kernel_size, stride, padding, 1, ceil_mode,
                                           count_include_pad))


def sum_pool2d_frames(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                      ceil_mode: bool = False) -> PoolFrames:
    """Frames of :func:`cnn_core.ops.sum_pool2d`: ``output_index``, ``value``, ``patch``, ``rows``, ``cols``.

    >>> sum_pool2d_frames(np.arange(16.0).reshape(4, 4), 2)[0].value
    10.0
    """
    return PoolFrames("sum", ops.plan_pool("sum", x, kernel_size, stride, padding, 1, ceil_mode))


class ConvTranspose2dFrames(FrameSequence):
    """Frames of conv_transpose2d: one input position each, row-major, scattering into the output."""

    def __init__(self, plan: ops.TransposePlan) -> None:
        self.plan = plan
        maps = plan.bias.shape[0]
        self.output_shape = (plan.out_shape if plan.was_2d and plan.depthwise and maps == 1
                             else (maps, *plan.out_shape))
        self._full: FloatArray | None = None
        height, width = plan.batch.shape[2:]
        super().__init__(height * width)

    def batch(self, start: int, stop: int) -> Batch:
        """Fields: input_index (n, 2), input_values (n, C), contribution (n, F, kh, kw), out_rows (n, kh)
        and out_cols (n, kw), the output coordinates it lands on (outside where padding crops).
        ``partial_output`` costs O(output size), so it is only on single frames (``seq[i]``)."""
        index = self._range(start, stop)
        plan = self.plan
        iy, ix = np.divmod(index, plan.batch.shape[3])
        values = plan.batch[:, :, iy, ix]  # (B, C, n)
        batch, channels = values.shape[:2]
        kh, kw = plan.weight.shape[2:]
        maps = batch * plan.weight.shape[1]
        contribution = np.einsum("bcn,cfij->nbfij", values, plan.weight).reshape(len(index), maps, kh, kw)
        return {
            "input_index": np.stack([iy, ix], axis=1),
            "input_values": values.reshape(batch * channels, len(index)).T,
            "contribution": contribution,
            "out_rows": iy[:, None] * plan.stride[0] + np.arange(kh) * plan.dilation[0] - plan.padding[0],
            "out_cols": ix[:, None] * plan.stride[1] + np.arange(kw) * plan.dilation[1] - plan.padding[1],
        }

    def _single(self, fields: dict[str, Any], position: int) -> None:
        fields["partial_output"] = self.partial_output(position)

    def index_shape(self) -> tuple[int, ...]:
        return tuple(self.plan.batch.shape[2:])

    def _uncropped(self) -> FloatArray:
        if self._full is None:
            self._full = _compute.scatter_transposed(self.plan.batch, self.plan.weight, self.plan.stride,
                                                     self.plan.dilation)
        return self._full

    def partial_output(self, index: int) -> FloatArray:
        """The output (no bias) after the contributions of frames ``0..index``, in O(output size):
        rows above the current input row's reach are final; only the last few input rows are redone."""
        position = self._index(index)
        plan = self.plan
        full = self._uncropped()
        iy, ix = divmod(position, plan.batch.shape[3])
        sy, kh, dy = plan.stride[0], plan.weight.shape[2], plan.dilation[0]
        low = max(0, iy - -(-dy * (kh - 1) // sy))
        recent = plan.batch[:, :, low:iy + 1].copy()
        recent[:, :, -1, ix + 1:] = 0
        local = _compute.scatter_transposed(recent, plan.weight, plan.stride, plan.dilation)
        partial = np.zeros_like(full)
        partial[:, :, :iy * sy] = full[:, :, :iy * sy]
        partial[:, :, iy * sy:low * sy + local.shape[2]] = local[:, :, (iy - low) * sy:]
        cropped = ops.crop_transposed(partial, plan.padding, plan.out_shape).reshape(-1, *plan.out_shape)
        return cropped.reshape(self.output_shape)

    def _compute_result(self) -> FloatArray:
        plan = self.plan
        maps = ops.crop_transposed(self._uncropped(), plan.padding, plan.out_shape).reshape(-1, *plan.out_shape)
        return (maps + plan.bias[:, None, None]).reshape(self.output_shape)


def conv_transpose2d_frames(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                            output_padding: Any = 0, dilation: Any = 1) -> ConvTranspose2dFrames:
    """Frames of :func:`cnn_core.ops.conv_transpose2d`: one per input position (iy, ix), row-major.

    Each frame has ``input_index``, ``input_values`` (C,), ``contribution`` (F, kh, kw) = the kernel scaled
    by the input pixel, ``out_rows``/``out_cols`` where it lands, and ``partial_output`` (no bias).

    >>> seq = conv_transpose2d_frames(np.array([[1.0, 2.0]]), np.ones((1, 2)), stride=2)
    >>> seq[0].partial_output.tolist()
    [[1.0, 1.0, 0.0, 0.0]]
    """
    return ConvTranspose2dFrames(ops.plan_conv_transpose2d(x, weight, bias, stride, padding, output_padding,
                                                           dilation))


class UpsampleFrames(FrameSequence):
    """Frames of upsample: one output element each, channel-major then row-major."""

    def __init__(self, x: Any, scale_factor: Any, mode: str, align_corners: bool) -> None:
        image, was_2d, scale, self.mode, corners = ops.check_upsample(x, scale_factor, mode, align_corners)
        self.image = image
        self.arguments = (x, scale_factor, mode, align_corners)
        self.rows = ops.upsample_sources(image.shape[1], scale[0], self.mode, corners)
        self.cols = ops.upsample_sources(image.shape[2], scale[1], self.mode, corners)
        out_shape = (len(self.rows[0]), len(self.cols[0]))
        self._out_shape = out_shape
        self.output_shape = out_shape if was_2d else (image.shape[0], *out_shape)
        super().__init__(image.shape[0] * out_shape[0] * out_shape[1])

    def batch(self, start: int, stop: int) -> Batch:
        """Fields: output_index (n, 3), value (n,), sources (n, k, 3) of (row, col, weight) and
        source_values (n, k), the input pixels at the sources: value = sum(weight * source_values).
        k = 1 for nearest, 4 for bilinear (weights sum to 1; repeated edge sources may carry 0)."""
        index = self._range(start, stop)
        c, oy, ox = _output_index(self._out_shape, index)
        low_y, high_y, wy = (part[oy] for part in self.rows)
        low_x, high_x, wx = (part[ox] for part in self.cols)
        if self.mode == "nearest":
            corners = [(low_y, low_x, np.ones(len(index)))]
        else:
            corners = [(low_y, low_x, (1 - wy) * (1 - wx)), (low_y, high_x, (1 - wy) * wx),
                       (high_y, low_x, wy * (1 - wx)), (high_y, high_x, wy * wx)]
        sources = np.stack([np.stack([r, col, w], axis=1) for r, col, w in corners], axis=1).astype(np.float64)
        pixels = np.stack([self.image[c, r, col] for r, col, _ in corners], axis=1)
        return {
            "output_index": np.stack([c, oy, ox], axis=1),
            "value": (pixels * sources[:, :, 2]).sum(axis=1).astype(self.image.dtype),
            "sources": sources,
            "source_values": pixels,
        }

    def _single(self, fields: dict[str, Any], position: int) -> None:
        super()._single(fields, position)
        fields["sources"] = [(int(r), int(col), float(w)) for r, col, w in fields["sources"]]

    def _compute_result(self) -> FloatArray:
        return ops.upsample(*self.arguments)


def upsample_frames(x: Any, scale_factor: Any, mode: str = "nearest", align_corners: bool = False) -> UpsampleFrames:
    """Frames of :func:`cnn_core.ops.upsample`: ``output_index``, ``value`` and ``sources`` [(row, col, weight)].

    >>> upsample_frames(np.array([[1.0, 3.0]]), 2, mode="bilinear")[1].value
    1.5
    """
    return UpsampleFrames(x, scale_factor, mode, align_corners)


_ACTIVATIONS: dict[str, Callable[[Any], FloatArray]] = {"relu": ops.relu, "leaky_relu": ops.leaky_relu,
                                                       "sigmoid": ops.sigmoid, "tanh": ops.tanh}


class ActivationFrames(FrameSequence):
    """Frames of an elementwise activation: one element each, channel-major then row-major."""

    def __init__(self, x: Any, function: str, negative_slope: float) -> None:
        check_choice(function, "function", tuple(_ACTIVATIONS))
        self.image, was_2d = as_image(x)
        self.function = function
        self.negative_slope = negative_slope
        self._apply(self.image[:, :1, :1])  # validates negative_slope before any frame is asked for
        self.output_shape = self.image.shape[1:] if was_2d else self.image.shape
        super().__init__(self.image.size)

    def _apply(self, values: FloatArray) -> FloatArray:
        if self.function == "leaky_relu":
            return ops.leaky_relu(values, self.negative_slope)
        return _ACTIVATIONS[self.function](values)

    def batch(self, start: int, stop: int) -> Batch:
        """Fields: output_index (n, 3), input (n,) and value (n,) = function(input)."""
        index = self._range(start, stop)
        c, oy, ox = _output_index(self.image.shape[1:], index)
        inputs = self.image[c, oy, ox]
        values = self._apply(inputs[None]).reshape(-1) if len(index) else inputs.copy()
        return {"output_index": np.stack([c, oy, ox], axis=1), "input": inputs, "value": values}

    def _single(self, fields: dict[str, Any], position: int) -> None:
        super()._single(fields, position)
        fields["input"] = fields["input"].item()

    def _compute_result(self) -> FloatArray:
        return self._apply(self.image).reshape(self.output_shape)


def activation_frames(x: Any, function: str = "relu", negative_slope: float = 0.01) -> ActivationFrames:
    """Frames of an elementwise activation ("relu", "leaky_relu", "sigmoid", "tanh"): ``output_index``,
    ``input`` and ``value`` (not in the contract's list; the page steps through activations with it).

    >>> activation_frames(np.array([[-2.0, 3.0]]))[0].value
    0.0
    """
    return ActivationFrames(x, function, negative_slope)
