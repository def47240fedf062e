"""Frames of upsample: one output element each, channel-major then row-major."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from cnn_core import ops
from cnn_core._checks import FloatArray
from cnn_core._plans import check_upsample, upsample_sources
from cnn_core.frames.base import Batch, FrameSequence, _output_index, _sample_only


def _source_list(sources: Any) -> list[tuple[int, int, float]]:
    return [(int(r), int(col), float(w)) for r, col, w in sources]


class UpsampleFrames(FrameSequence):
    """Frames of upsample: one output element each, channel-major then row-major."""

    op = "upsample"
    _single_fields: ClassVar = {**FrameSequence._single_fields, "sources": _source_list}

    def __init__(self, x: Any, scale_factor: Any, mode: str, align_corners: bool) -> None:
        image, was_2d, scale, self.mode, self.align_corners = check_upsample(x, scale_factor, mode, align_corners)
        _sample_only(image.ndim, image.shape)
        self.image = image
        self.scale = scale
        self.arguments = (x, scale_factor, mode, align_corners)
        self.rows = upsample_sources(image.shape[1], scale[0], self.mode, self.align_corners)
        self.cols = upsample_sources(image.shape[2], scale[1], self.mode, self.align_corners)
        out_shape = (len(self.rows[0]), len(self.cols[0]))
        self._out_shape = out_shape
        self.input_shape = image.shape[1:] if was_2d else image.shape
        self.output_shape = out_shape if was_2d else (image.shape[0], *out_shape)
        super().__init__(image.shape[0] * out_shape[0] * out_shape[1])

    def _arguments(self) -> dict[str, Any]:
        return {"scale_factor": self.scale, "mode": self.mode, "align_corners": self.align_corners}

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

    def _compute_result(self) -> FloatArray:
        return ops.upsample(*self.arguments)


def upsample_frames(x: Any, scale_factor: Any, mode: str = "nearest", align_corners: bool = False) -> UpsampleFrames:
    """Frames of :func:`cnn_core.ops.upsample`: ``output_index``, ``value`` and ``sources`` [(row, col, weight)].

    >>> upsample_frames(np.array([[1.0, 3.0]]), 2, mode="bilinear")[1].value
    1.5
    >>> upsample_frames(np.zeros((2, 3)), (1, 2))  # doctest: +NORMALIZE_WHITESPACE
    UpsampleFrames(op='upsample', input_shape=(2, 3), output_shape=(2, 6), frames=12, scale_factor=(1, 2),
                   mode='nearest', align_corners=False)
    """
    return UpsampleFrames(x, scale_factor, mode, align_corners)
