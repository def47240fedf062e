"""Frames of max, average and sum pooling: one output element each, channel-major then row-major."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from cnn_core import ops
from cnn_core._checks import FloatArray
from cnn_core._plans import PoolPlan, plan_pool
from cnn_core.frames.base import Batch, FrameSequence, _int_tuple, _output_index, _sample_only, _sample_shape


class PoolFrames(FrameSequence):
    """Frames of a pool ("max", "avg" or "sum"): one output element each, channel-major then row-major."""

    _single_fields: ClassVar = {**FrameSequence._single_fields, "argmax": _int_tuple}

    def __init__(self, kind: str, plan: PoolPlan, ceil_mode: bool, count_include_pad: bool) -> None:
        window = plan.window
        channels = plan.padded.shape[-3]
        _sample_only(plan.rank, (*plan.padded.shape[:2], *window.in_shape))
        self.kind = kind
        self.op = f"{kind}_pool2d"
        self.plan = plan
        self._options = {"ceil_mode": ceil_mode, "count_include_pad": count_include_pad}
        self.input_shape = _sample_shape(plan.rank, channels, window.in_shape)
        self.output_shape = window.out_shape if plan.was_2d else (channels, *window.out_shape)
        self._flat = plan.padded.reshape(channels, -1)
        super().__init__(channels * window.out_shape[0] * window.out_shape[1])

    def _arguments(self) -> dict[str, Any]:
        window = self.plan.window
        arguments = {"kernel_size": window.kernel, "stride": window.stride, "pads": self.plan.declared,
                     "dilation": window.dilation, "ceil_mode": self._options["ceil_mode"]}
        if self.kind == "avg":
            arguments["count_include_pad"] = self._options["count_include_pad"]
        return arguments

    def batch(self, start: int, stop: int) -> Batch:
        """Fields: output_index (n, 3), value (n,), patch (n, kh, kw) (padding as -inf for max, else 0),
        rows (n, kh), cols (n, kw); max adds argmax (n, 2); avg adds sum (n,) and divisor (n,)."""
        index = self._range(start, stop)
        plan, window = self.plan, self.plan.window
        c, oy, ox = _output_index(window.out_shape, index)
        flat = window.tap_padded_rows(oy)[:, :, None] * plan.padded.shape[-1] + window.tap_padded_cols(ox)[:, None, :]
        patch = self._flat[c[:, None, None], flat]
        rows, cols = window.tap_rows(oy), window.tap_cols(ox)
        fields: Batch = {"output_index": np.stack([c, oy, ox], axis=1), "patch": patch, "rows": rows, "cols": cols}
        if self.kind == "max":
            winner = patch.reshape(len(index), window.kernel[0] * window.kernel[1]).argmax(axis=1)
            ky, kx = np.divmod(winner, window.kernel[1])
            fields["value"] = patch.max(axis=(1, 2))
            fields["argmax"] = np.stack([np.take_along_axis(rows, ky[:, None], 1)[:, 0],
                                         np.take_along_axis(cols, kx[:, None], 1)[:, 0]], axis=1)
        elif plan.divisor is not None:  # avg
            total = patch.sum(axis=(1, 2))
            divisor = plan.divisor[oy, ox]
            fields.update(value=total / divisor, sum=total, divisor=divisor)
        else:
            fields["value"] = patch.sum(axis=(1, 2))
        return fields

    def _compute_result(self) -> FloatArray:
        return ops._pool(self.kind, self.plan)


def max_pool2d_frames(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                      ceil_mode: bool = False) -> PoolFrames:
    """Frames of :func:`cnn_core.ops.max_pool2d`: ``output_index`` (c, oy, ox), ``value``, ``patch``
    (kh, kw) with padding as -inf, ``rows``, ``cols`` and ``argmax`` (row, col) of the winner.

    >>> max_pool2d_frames(np.arange(16.0).reshape(4, 4), 2)[1].argmax
    (1, 3)
    >>> max_pool2d_frames(np.zeros((2, 5, 5)), 2, ceil_mode=True)  # doctest: +NORMALIZE_WHITESPACE
    PoolFrames(op='max_pool2d', input_shape=(2, 5, 5), output_shape=(2, 3, 3), frames=18, kernel_size=(2, 2),
               stride=(2, 2), pads=(0, 0, 0, 0), dilation=(1, 1), ceil_mode=True)
    """
    plan = plan_pool("max", x, kernel_size, stride, padding, dilation, ceil_mode)
    return PoolFrames("max", plan, ceil_mode, True)


def avg_pool2d_frames(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                      count_include_pad: bool = True) -> PoolFrames:
    """Frames of :func:`cnn_core.ops.avg_pool2d`: as max's, with ``sum`` and ``divisor`` instead of argmax.

    >>> avg_pool2d_frames(np.arange(16.0).reshape(4, 4), 2)[0].value
    2.5
    """
    plan = plan_pool("avg", x, kernel_size, stride, padding, 1, ceil_mode, count_include_pad)
    return PoolFrames("avg", plan, ceil_mode, count_include_pad)


def sum_pool2d_frames(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                      ceil_mode: bool = False) -> PoolFrames:
    """Frames of :func:`cnn_core.ops.sum_pool2d`: ``output_index``, ``value``, ``patch``, ``rows``, ``cols``.

    >>> sum_pool2d_frames(np.arange(16.0).reshape(4, 4), 2)[0].value
    10.0
    """
    return PoolFrames("sum", plan_pool("sum", x, kernel_size, stride, padding, 1, ceil_mode), ceil_mode, True)
