"""Frames of an elementwise activation: one element each, channel-major then row-major."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cnn_core import ops
from cnn_core._checks import FloatArray, as_image, check_choice
from cnn_core.frames.base import Batch, FrameSequence, _output_index

_ACTIVATIONS: dict[str, Callable[[Any], FloatArray]] = {"relu": ops.relu, "leaky_relu": ops.leaky_relu,
                                                       "sigmoid": ops.sigmoid, "tanh": ops.tanh}


class ActivationFrames(FrameSequence):
    """Frames of an elementwise activation: one element each, channel-major then row-major."""

    def __init__(self, x: Any, function: str, negative_slope: float) -> None:
        check_choice(function, "function", tuple(_ACTIVATIONS))
        self.image, was_2d = as_image(x)
        self.op = function
        self.function = function
        self.negative_slope = negative_slope
        self._apply(self.image[:, :1, :1])  # validates negative_slope before any frame is asked for
        self.input_shape = self.output_shape = self.image.shape[1:] if was_2d else self.image.shape
        super().__init__(self.image.size)

    def _arguments(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope} if self.function == "leaky_relu" else {}

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

    def _compute_result(self) -> FloatArray:
        return self._apply(self.image).reshape(self.output_shape)


def activation_frames(x: Any, function: str = "relu", negative_slope: float = 0.01) -> ActivationFrames:
    """Frames of an elementwise activation ("relu", "leaky_relu", "sigmoid", "tanh"): ``output_index``,
    ``input`` and ``value`` (not in the contract's list; the page steps through activations with it).

    >>> activation_frames(np.array([[-2.0, 3.0]]))[0].value
    0.0
    >>> activation_frames(np.zeros((2, 3)), "leaky_relu", 0.2)  # doctest: +NORMALIZE_WHITESPACE
    ActivationFrames(op='leaky_relu', input_shape=(2, 3), output_shape=(2, 3), frames=6, negative_slope=0.2)
    """
    return ActivationFrames(x, function, negative_slope)
