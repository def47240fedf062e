"""Random-access animation frames: one step of a conv, pool, transposed conv or up-sampling each.

A sequence is lazy: it validates and pads once, then ``seq[i]`` gathers only that step's window
and ``seq.batch(start, stop)`` gathers a whole range with one fancy index. Numbers come from the
same plans as :mod:`cnn_core.ops` and taps from the window plan (``Window.tap_rows``); nothing here
re-derives a formula. One module per op; :mod:`cnn_core.frames.base` holds what they share.

>>> import numpy as np
>>> seq = conv2d_frames(np.arange(16.0).reshape(4, 4), np.ones((3, 3)))
>>> len(seq), seq.output_shape, seq[-1].output_index
(4, (2, 2), (0, 1, 1))
"""

from __future__ import annotations

from cnn_core.frames.activation import ActivationFrames, activation_frames
from cnn_core.frames.base import Batch, Frame, FrameSequence
from cnn_core.frames.conv import Conv2dFrames, conv2d_frames
from cnn_core.frames.pool import PoolFrames, avg_pool2d_frames, max_pool2d_frames, sum_pool2d_frames
from cnn_core.frames.transposed import ConvTranspose2dFrames, conv_transpose2d_frames
from cnn_core.frames.upsample import UpsampleFrames, upsample_frames

__all__ = [
    "ActivationFrames",
    "Batch",
    "Conv2dFrames",
    "ConvTranspose2dFrames",
    "Frame",
    "FrameSequence",
    "PoolFrames",
    "UpsampleFrames",
    "activation_frames",
    "avg_pool2d_frames",
    "conv2d_frames",
    "conv_transpose2d_frames",
    "max_pool2d_frames",
    "sum_pool2d_frames",
    "upsample_frames",
]
