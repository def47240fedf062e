"""Frames of conv_transpose2d: one input position each, row-major, scattering into the output."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnn_core import _compute
from cnn_core._checks import FloatArray, check_result
from cnn_core._plans import TransposePlan, crop_transposed, plan_conv_transpose2d
from cnn_core._windows import Window
from cnn_core.frames.base import Batch, FrameSequence, _sample_only, _sample_shape

RUNNING_OUTPUT_LIMIT = 4096  # a small output (at most this many numbers) rides whole on every frame
OVERLAP_MATRIX_LIMIT = 1 << 22  # numbers in the matrix of every overlap's taps (else one product per overlap)


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
        self._matrix: FloatArray | None = None
        self._overlap_list: list[tuple[int, int, slice, slice, slice, slice]] | None = None
        self.small = maps * plan.out_shape[0] * plan.out_shape[1] <= RUNNING_OUTPUT_LIMIT
        super().__init__(height * width)

    def _arguments(self) -> dict[str, Any]:
        plan = self.plan
        return {"weight": plan.weight.shape[2:] if plan.depthwise else plan.weight.shape, "stride": plan.stride,
                "padding": plan.padding, "dilation": plan.dilation}

    def batch(self, start: int, stop: int) -> Batch:
        """Fields: input_index (n, 2), input_values (n, C), contribution (n, F, kh, kw), out_rows (n, kh)
        and out_cols (n, kw), the output coordinates it lands on (outside where padding crops);
        sums_before and sums_after (n, F, kh, kw), the running sum (no bias) of each stamped cell just
        before and after this stamp (sums_after = sums_before + contribution, added in frame order, so
        the last stamp on a cell leaves its result minus the bias; cells cropped by padding have them
        too); earlier_stamps (n, kh, kw), how many earlier stamps added to each cell (0: a fresh cell,
        more: an overlap). On a small output (at most RUNNING_OUTPUT_LIMIT numbers) running_output
        (n, *output_shape) is every cell's running sum after the stamp. ``partial_output`` (the same
        for one frame, any size) costs O(output size), so it is only on single frames (``seq[i]``)."""
        index = self._range(start, stop)
        plan = self.plan
        iy, ix = np.divmod(index, plan.batch.shape[3])
        values = plan.batch[:, :, iy, ix]  # (B, C, n)
        batch, channels = values.shape[:2]
        kh, kw = plan.weight.shape[2:]
        maps = batch * plan.weight.shape[1]
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing result is refused by result()
            contribution = np.einsum("bcn,cfij->nbfij", values, plan.weight).reshape(len(index), maps, kh, kw)
        fields = {
            "input_index": np.stack([iy, ix], axis=1),
            "input_values": values.reshape(batch * channels, len(index)).T,
            "contribution": contribution,
            "out_rows": self.scatter.tap_rows(iy),
            "out_cols": self.scatter.tap_cols(ix),
        }
        if not len(index):
            empty = np.zeros_like(contribution)
            fields.update(sums_before=empty, sums_after=empty.copy(),
                          earlier_stamps=np.zeros((0, kh, kw), dtype=np.int64))
            if self.small:
                fields["running_output"] = np.zeros((0, *self.output_shape))
            return fields
        fields.update(self._sums(iy, ix, contribution))
        fields["earlier_stamps"] = self._earlier_stamps(iy, ix)
        if self.small:
            fields["running_output"] = self._running(fields["out_rows"], fields["out_cols"], contribution,
                                                     self._partial_parts(int(index[0]) - 1))
        return fields

    def _single_only(self, position: int) -> dict[str, Any]:
        return {"partial_output": self.partial_output(position)}

    def _overlaps(self) -> list[tuple[int, int, slice, slice, slice, slice]]:
        """Where earlier stamps overlap a stamp, in frame order: (dr, dc) input offsets of the earlier
        stamp, then the taps (rows, cols) of this stamp it reaches and its own taps that land there."""
        if self._overlap_list is not None:
            return self._overlap_list
        plan = self.plan
        (sy, sx), (dy, dx) = plan.stride, plan.dilation
        kh, kw = plan.weight.shape[2:]
        found = []
        for dr in range(-(dy * (kh - 1) // sy), 1):
            if (dr * sy) % dy:
                continue
            a = -dr * sy // dy  # its tap row i + a lands on this stamp's tap row i
            for dc in range(-(dx * (kw - 1) // sx), dx * (kw - 1) // sx + 1):
                if (dc * sx) % dx or (dr == 0 and dc >= 0):
                    continue
                b = -dc * sx // dx
                cols, own = (slice(0, kw - b), slice(b, kw)) if b >= 0 else (slice(-b, kw), slice(0, kw + b))
                found.append((dr, dc, slice(0, kh - a), cols, slice(a, kh), own))
        self._overlap_list = found
        return found

    def _overlap_matrix(self) -> FloatArray | None:
        """(C x overlaps, F x kh x kw): which of an earlier stamp's taps lands on each tap of this one,
        so one product gives every stamp's ``sums_before``; None when it would exceed the limit."""
        plan = self.plan
        overlaps = self._overlaps()
        channels, filters, kh, kw = plan.weight.shape
        if self._matrix is None and channels * len(overlaps) * filters * kh * kw <= OVERLAP_MATRIX_LIMIT:
            matrix = np.zeros((channels, len(overlaps), filters, kh, kw))
            for o, (_, _, rows, cols, own_rows, own_cols) in enumerate(overlaps):
                matrix[:, o, :, rows, cols] = plan.weight[:, :, own_rows, own_cols]
            self._matrix = matrix.reshape(channels * len(overlaps), filters * kh * kw)
        return self._matrix

    def _sums(self, iy: Any, ix: Any, contribution: FloatArray) -> dict[str, FloatArray]:
        """Each stamped cell's running sum before and after its stamp. Every stamp that reaches a cell is
        within the kernel's reach (``_overlaps``), so ``sums_before`` is the sum of the earlier stamps'
        products there: one matrix product for the whole batch, or (a large kernel with many filters)
        one product per overlap. ``sums_after`` = ``sums_before`` + ``contribution``."""
        plan = self.plan
        batch, channels, _, width = plan.batch.shape
        count, maps, kh, kw = contribution.shape
        overlaps = self._overlaps()
        matrix = self._overlap_matrix()
        before = np.zeros_like(contribution)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing run is refused by result()
            if overlaps and matrix is not None:
                rows = iy[:, None] + np.array([o[0] for o in overlaps])[None, :]  # (n, overlaps)
                cols = ix[:, None] + np.array([o[1] for o in overlaps])[None, :]
                reach = (rows >= 0) & (cols >= 0) & (cols < width)  # that earlier stamp exists
                values = plan.batch[:, :, np.maximum(rows, 0), np.clip(cols, 0, width - 1)] * reach
                stacked = values.transpose(0, 2, 1, 3).reshape(batch, count, -1)  # (B, n, C x overlaps)
                before = (stacked @ matrix).reshape(batch, count, -1, kh, kw).transpose(1, 0, 2, 3, 4).reshape(
                    count, maps, kh, kw)
            for dr, dc, rows, cols, own_rows, own_cols in overlaps if matrix is None else ():
                reach = (iy + dr >= 0) & (ix + dc >= 0) & (ix + dc < width)
                values = plan.batch[:, :, np.maximum(iy + dr, 0), np.clip(ix + dc, 0, width - 1)] * reach
                taps = plan.weight[:, :, own_rows, own_cols]  # (C, F, rows, cols)
                earlier = values.transpose(0, 2, 1) @ taps.reshape(channels, -1)  # (B, n, F x rows x cols)
                before[:, :, rows, cols] += earlier.reshape(batch, count, *taps.shape[1:]).transpose(
                    1, 0, 2, 3, 4).reshape(count, maps, *taps.shape[2:])
            after = before + contribution
        return {"sums_before": before, "sums_after": after}

    def _earlier_stamps(self, iy: Any, ix: Any) -> Any:
        """How many stamps before each frame's added to each of its cells: from the geometry alone."""
        plan = self.plan
        kh, kw = plan.weight.shape[2:]
        height, width = plan.batch.shape[2:]

        def reach(taps: int, stride: int, dilation: int, at: Any, size: int) -> tuple[Any, Any]:
            places, back = np.unique(at, return_inverse=True)  # a batch spans few rows; columns repeat
            shift = (np.arange(taps)[:, None] - np.arange(taps)[None, :]) * dilation  # tap t hit by tap u
            lands = shift % stride == 0
            source = places[:, None, None] + shift // stride  # the input position whose tap u lands there
            hits = lands & (source >= 0) & (source < size)
            earlier = hits & (np.arange(taps)[None, :] > np.arange(taps)[:, None])
            return hits.sum(axis=2)[back], earlier.sum(axis=2)[back]

        _, rows_earlier = reach(kh, plan.stride[0], plan.dilation[0], iy, height)
        cols_all, cols_earlier = reach(kw, plan.stride[1], plan.dilation[1], ix, width)
        return rows_earlier[:, :, None] * cols_all[:, None, :] + cols_earlier[:, None, :]

    def _running(self, out_rows: Any, out_cols: Any, contribution: FloatArray,
                 base: tuple[FloatArray, int, int, FloatArray] | None) -> FloatArray:
        """Every output cell's running sum after each frame of the batch (a small output only)."""
        plan = self.plan
        count, maps, kh, kw = contribution.shape
        height, width = plan.out_shape
        steps = np.zeros((count, maps, height, width))
        steps[0] = (np.zeros((maps, height, width)) if base is None
                    else crop_transposed(self._assemble(base), plan.padding, plan.out_shape).reshape(maps, height,
                                                                                                      width))
        frame, tap_y, tap_x = np.meshgrid(np.arange(count), np.arange(kh), np.arange(kw), indexing="ij")
        rows, cols = out_rows[frame, tap_y], out_cols[frame, tap_x]
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        frame, tap_y, tap_x, rows, cols = (a[inside] for a in (frame, tap_y, tap_x, rows, cols))
        with np.errstate(over="ignore", invalid="ignore"):
            steps[frame, :, rows, cols] += contribution[frame, :, tap_y, tap_x]
            running = np.cumsum(steps, axis=0)  # frame order, the same additions as sums_after
        return running.reshape(count, *self.output_shape)

    def index_shape(self) -> tuple[int, ...]:
        return tuple(self.plan.batch.shape[2:])

    def _uncropped(self) -> FloatArray:
        if self._full is None:
            with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by check_result
                self._full = _compute.scatter_transposed(self.plan.batch, self.plan.weight, self.plan.stride,
                                                         self.plan.dilation)
        return self._full

    def _partial_parts(self, position: int) -> tuple[FloatArray, int, int, FloatArray] | None:
        """The uncropped output after frames ``0..position`` as parts, in O(kernel rows x width): rows
        above ``cut`` are final (the full result's), rows from ``cut`` are ``local`` (which starts at
        canvas row ``start``), rows below are still 0. None before the first frame."""
        if position < 0:
            return None
        plan = self.plan
        full = self._uncropped()
        iy, ix = divmod(position, plan.batch.shape[3])
        sy, kh, dy = plan.stride[0], plan.weight.shape[2], plan.dilation[0]
        low = max(0, iy - -(-dy * (kh - 1) // sy))
        recent = plan.batch[:, :, low:iy + 1].copy()
        recent[:, :, -1, ix + 1:] = 0
        with np.errstate(over="ignore", invalid="ignore"):
            local = _compute.scatter_transposed(recent, plan.weight, plan.stride, plan.dilation)
        local = local[:, :, (iy - low) * sy:]
        maps = full.shape[0] * full.shape[1]
        return (full.reshape(maps, *full.shape[2:]), iy * sy, iy * sy,
                local.reshape(maps, *local.shape[2:]))

    def _assemble(self, parts: tuple[FloatArray, int, int, FloatArray]) -> FloatArray:
        full, cut, start, local = parts
        partial = np.zeros_like(full)
        partial[:, :cut] = full[:, :cut]
        partial[:, start:start + local.shape[1]] = local[:, :full.shape[1] - start]
        return partial

    def partial_output(self, index: int) -> FloatArray:
        """The output (no bias) after the contributions of frames ``0..index``, in O(output size):
        rows above the current input row's reach are final; only the last few input rows are redone.

        Raises ValueError ("conv_transpose2d overflowed") when the sums overflow, as the op does."""
        parts = self._partial_parts(self._index(index))
        assert parts is not None  # an index is never negative here
        plan = self.plan
        cropped = crop_transposed(self._assemble(parts), plan.padding, plan.out_shape).reshape(-1, *plan.out_shape)
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
