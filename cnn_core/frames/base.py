"""What every frame sequence shares: the Frame record, list semantics, batches and the cached result."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from cnn_core._checks import FloatArray, is_int
from cnn_core.errors import ArgumentError, ArgumentTypeError

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


def _int_tuple(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _output_index(out_shape: tuple[int, int], index: Any) -> tuple[Any, Any, Any]:
    """(plane, oy, ox) of frame numbers ``index`` in plane-major, then row-major order."""
    plane, rest = np.divmod(index, out_shape[0] * out_shape[1])
    oy, ox = np.divmod(rest, out_shape[1])
    return plane, oy, ox


def _sample_only(rank: int, shape: tuple[int, ...]) -> None:
    """Frames step through one sample: refuse an (N, C, H, W) batch, which the ops take."""
    if rank == 4:
        raise ArgumentError(f"x must be a (H, W) or (C, H, W) array (frames step through one sample; "
                            f"the ops take batches), got shape {shape}")


def _sample_shape(rank: int, channels: int, in_shape: tuple[int, int]) -> tuple[int, ...]:
    return in_shape if rank == 2 else (channels, *in_shape)


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
    """A random-access, lazily computed sequence of frames with list semantics for indices.

    A subclass gives ``batch`` (every field of a range of frames, vectorised) and ``_compute_result``;
    ``seq[i]`` is row ``i`` of a one-frame batch, with scalars as Python numbers and the fields named
    in ``_single_fields`` converted for a single frame.
    """

    op: str
    _single_fields: ClassVar[dict[str, Callable[[Any], Any]]] = {
        "output_index": _int_tuple, "input_index": _int_tuple}
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]

    def __init__(self, length: int) -> None:
        self._length = length
        self._result: FloatArray | None = None

    def __len__(self) -> int:
        return self._length

    def __repr__(self) -> str:
        arguments = "".join(f", {name}={value!r}" for name, value in self._arguments().items())
        return (f"{type(self).__name__}(op={self.op!r}, input_shape={self.input_shape}, "
                f"output_shape={self.output_shape}, frames={len(self)}{arguments})")

    @abstractmethod
    def _arguments(self) -> dict[str, Any]:
        """The op's main arguments, resolved (pairs, pads), for ``repr``."""

    def _index(self, index: object) -> int:
        if not is_int(index):
            raise ArgumentTypeError(f"frame indices must be integers, got {type(index).__name__}")
        position = int(index)
        if position < 0:
            position += self._length
        if not 0 <= position < self._length:
            raise IndexError(f"frame index {index} out of range for {self._length} frames")
        return position

    def __getitem__(self, index: object) -> Frame:
        position = self._index(index)
        fields = {name: self._single(name, values[0]) for name, values in self.batch(position, position + 1).items()}
        return Frame({**fields, **self._single_only(position)})

    def _single(self, name: str, value: Any) -> Any:
        convert = self._single_fields.get(name)
        if convert is not None:
            return convert(value)
        return value.item() if isinstance(value, np.generic) else value

    def _single_only(self, position: int) -> dict[str, Any]:
        """Fields that only a single frame has (too costly for a batch); none by default."""
        return {}

    def _range(self, start: object, stop: object) -> Any:
        if not (is_int(start) and is_int(stop)):
            raise ArgumentTypeError(f"start and stop must be integers, got {start!r} and {stop!r}")
        if not 0 <= int(start) <= int(stop) <= self._length:
            raise IndexError(f"batch range must satisfy 0 <= start <= stop <= {self._length}, "
                             f"got start={start}, stop={stop}")
        return np.arange(int(start), int(stop))

    def index_of(self, position: Any) -> int:
        """The frame index of an output element ``(f, oy, ox)`` (``(oy, ox)`` works for one map).

        >>> from cnn_core.frames import conv2d_frames
        >>> conv2d_frames(np.zeros((4, 4)), np.ones((2, 2))).index_of((0, 1, 2))
        5
        """
        shape = self.index_shape()
        values = tuple(position) if isinstance(position, tuple | list) else ()
        if len(values) == len(shape) + 1 and len(shape) == 2 and values[0] == 0:
            values = values[1:]
        if len(values) != len(shape) or not all(is_int(v) for v in values):
            raise ArgumentError(f"position must be {len(shape)} integers (an index into shape {shape}), "
                                f"got {position!r}")
        if not all(0 <= int(v) < n for v, n in zip(values, shape, strict=True)):
            raise ArgumentError(f"position {tuple(int(v) for v in values)} is outside shape {shape}")
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
