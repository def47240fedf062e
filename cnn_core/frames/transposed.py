"""Frames of conv_transpose2d: one input position each, row-major, scattering into the output."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnn_core import _compute
from cnn_core._checks import FloatArray, check_result
from cnn_core._plans import TransposePlan, crop_transposed, plan_conv_transpose2d
from cnn_core._windows import Window
from cnn_core.frames.base import Batch, FrameSequence, _sample_only, _sample_shape


class ConvTranspose2dFrames(FrameSequence):
    """Frames of conv_transpose2d: one input position each, row-major, scattering into the output."""

    op = "conv_transpose2d"

    def __init__(self, plan: TransposePlan) -> None:
        channels = plan.batch.shape[0] // plan.samples if plan.depthwise else plan.batch.shape[1]
        height, width = plan.batch.shape[2:]
        _sample_only(plan.rank, (plan.samples, channels, height, width))
        self.plan = plan
        maps = plan.bias.shape[0]
        self.input_shape = _sample_shape(plan.rank, channels, (height, width))
        self.output_shape = (plan.out_shape if plan.was_2d and plan.depthwise and maps == 1
                             else (maps, *plan.out_shape))
        # where input (iy, ix) lands is a window over the output: taps iy*stride + k*dilation - padding
        top, left = plan.padding
        self.scatter = Window((height, width), (plan.weight.shape[2], plan.weight.shape[3]), plan.stride,
                              plan.dilation, (top, top, left, left), plan.out_shape)
        self._full: FloatArray | None = None
        super().__init__(height * width)

    def _arguments(self) -> dict[str, Any]:
        plan = self.plan
        return {"weight": plan.weight.shape[2:] if plan.depthwise else plan.weight.shape, "stride": plan.stride,
                "padding": plan.padding, "dilation": plan.dilation}

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
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing result is refused by result()
            contribution = np.einsum("bcn,cfij->nbfij", values, plan.weight).reshape(len(index), maps, kh, kw)
        return {
            "input_index": np.stack([iy, ix], axis=1),
            "input_values": values.reshape(batch * channels, len(index)).T,
            "contribution": contribution,
            "out_rows": self.scatter.tap_rows(iy),
            "out_cols": self.scatter.tap_cols(ix),
        }

    def _single_only(self, position: int) -> dict[str, Any]:
        return {"partial_output": self.partial_output(position)}

    def index_shape(self) -> tuple[int, ...]:
        return tuple(self.plan.batch.shape[2:])

    def _uncropped(self) -> FloatArray:
        if self._full is None:
            with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by check_result
                self._full = _compute.scatter_transposed(self.plan.batch, self.plan.weight, self.plan.stride,
                                                         self.plan.dilation)
        return self._full

    def partial_output(self, index: int) -> FloatArray:
        """The output (no bias) after the contributions of frames ``0..index``, in O(output size):
        rows above the current input row's reach are final; only the last few input rows are redone.

        Raises ValueError ("conv_transpose2d overflowed") when the sums overflow, as the op does."""
        position = self._index(index)
        plan = self.plan
        full = self._uncropped()
        iy, ix = divmod(position, plan.batch.shape[3])
        sy, kh, dy = plan.stride[0], plan.weight.shape[2], plan.dilation[0]
        low = max(0, iy - -(-dy * (kh - 1) // sy))
        recent = plan.batch[:, :, low:iy + 1].copy()
        recent[:, :, -1, ix + 1:] = 0
        with np.errstate(over="ignore", invalid="ignore"):
            local = _compute.scatter_transposed(recent, plan.weight, plan.stride, plan.dilation)
        partial = np.zeros_like(full)
        partial[:, :, :iy * sy] = full[:, :, :iy * sy]
        partial[:, :, iy * sy:low * sy + local.shape[2]] = local[:, :, (iy - low) * sy:]
        cropped = crop_transposed(partial, plan.padding, plan.out_shape).reshape(-1, *plan.out_shape)
        return check_result(cropped, "conv_transpose2d").reshape(self.output_shape)

    def _compute_result(self) -> FloatArray:
        plan = self.plan
        maps = crop_transposed(self._uncropped(), plan.padding, plan.out_shape).reshape(-1, *plan.out_shape)
        with np.errstate(over="ignore"):
            maps = maps + plan.bias[:, None, None]
        return check_result(maps, "conv_transpose2d").reshape(self.output_shape)


def conv_transpose2d_frames(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                            output_padding: Any = 0, dilation: Any = 1) -> ConvTranspose2dFrames:
    """Frames of :func:`cnn_core.ops.conv_transpose2d`: one per input position (iy, ix), row-major.

    Each frame has ``input_index``, ``input_values`` (C,), ``contribution`` (F, kh, kw) = the kernel scaled
    by the input pixel, ``out_rows``/``out_cols`` where it lands, and ``partial_output`` (no bias).
    ``result()`` and ``partial_output`` raise ValueError ("conv_transpose2d overflowed") as the op does.

    >>> seq = conv_transpose2d_frames(np.array([[1.0, 2.0]]), np.ones((1, 2)), stride=2)
    >>> seq[0].partial_output.tolist()
    [[1.0, 1.0, 0.0, 0.0]]
    >>> seq  # doctest: +NORMALIZE_WHITESPACE
    ConvTranspose2dFrames(op='conv_transpose2d', input_shape=(1, 2), output_shape=(1, 4), frames=2,
                          weight=(1, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1))
    """
    return ConvTranspose2dFrames(plan_conv_transpose2d(x, weight, bias, stride, padding, output_padding,
                                                       dilation))
