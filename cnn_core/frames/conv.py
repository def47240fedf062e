"""Frames of conv2d: one output element each, filter-major then row-major."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnn_core import ops
from cnn_core._checks import FloatArray
from cnn_core._plans import ConvPlan, plan_conv2d
from cnn_core.frames.base import Batch, FrameSequence, _output_index, _sample_only, _sample_shape


class Conv2dFrames(FrameSequence):
    """Frames of conv2d: one output element each, filter-major then row-major."""

    op = "conv2d"

    def __init__(self, plan: ConvPlan, arguments: dict[str, Any]) -> None:
        window = plan.window
        channels = plan.padded.shape[0] // plan.samples if plan.depthwise else plan.padded.shape[1]
        _sample_only(plan.rank, (plan.samples, channels, *window.in_shape))
        self.plan = plan
        self._arguments_given = arguments
        maps = plan.bias.shape[0]
        self.input_shape = _sample_shape(plan.rank, channels, window.in_shape)
        self.output_shape = (window.out_shape if plan.was_2d and plan.depthwise and maps == 1
                             else (maps, *window.out_shape))
        self._flat = plan.padded.reshape(*plan.padded.shape[:2], -1)
        super().__init__(maps * window.out_shape[0] * window.out_shape[1])

    def _arguments(self) -> dict[str, Any]:
        window = self.plan.window
        return {"weight": self.plan.weight.shape[2:] if self.plan.depthwise else self.plan.weight.shape,
                "stride": window.stride, "pads": window.pads, "dilation": window.dilation,
                "padding_mode": self._arguments_given["padding_mode"]}

    def batch(self, start: int, stop: int) -> Batch:
        """Fields: output_index (n, 3), value (n,), patch and products (n, C, kh, kw), channel_sums (n, C),
        rows (n, kh), cols (n, kw); ``patch`` holds padding values, rows/cols may lie outside the image."""
        index = self._range(start, stop)
        plan, window = self.plan, self.plan.window
        f, oy, ox = _output_index(window.out_shape, index)
        # the window plan's taps, in padded coordinates: flat offsets into each padded channel
        flat = window.tap_padded_rows(oy)[:, :, None] * plan.padded.shape[3] + window.tap_padded_cols(ox)[:, None, :]
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
            "rows": window.tap_rows(oy),
            "cols": window.tap_cols(ox),
        }

    def _compute_result(self) -> FloatArray:
        return ops.conv2d(**self._arguments_given)


def conv2d_frames(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
                  padding_mode: str = "zeros") -> Conv2dFrames:
    """Frames of :func:`cnn_core.ops.conv2d` (same arguments): one per output element.

    Each frame has ``output_index`` (f, oy, ox), ``value``, ``patch`` (C, kh, kw) with padding values,
    ``products`` = patch * weight[f], ``channel_sums`` (C,), ``rows`` (kh,) and ``cols`` (kw,).
    A 2-D kernel on a (C, H, W) input is depthwise: f is the channel and the depth is 1.

    Raises ValueError/TypeError exactly as conv2d does, and ValueError for an (N, C, H, W) batch.

    >>> frame = conv2d_frames(np.eye(3), np.ones((2, 2)), bias=1.0)[0]
    >>> frame.value, frame.channel_sums.tolist()
    (3.0, [2.0])
    >>> conv2d_frames(np.zeros((3, 8, 8)), np.ones((4, 3, 3, 3)), padding=1)  # doctest: +NORMALIZE_WHITESPACE
    Conv2dFrames(op='conv2d', input_shape=(3, 8, 8), output_shape=(4, 8, 8), frames=256, weight=(4, 3, 3, 3),
                 stride=(1, 1), pads=(1, 1, 1, 1), dilation=(1, 1), padding_mode='zeros')
    """
    arguments = {"x": x, "weight": weight, "bias": bias, "stride": stride, "padding": padding,
                 "dilation": dilation, "padding_mode": padding_mode}
    return Conv2dFrames(plan_conv2d(**arguments), arguments)
