"""Turn a RunRequest into engine calls: the input array, the weight, the frame sequence, the result.

The server's own limits (kernel size, stride, output size...) are checked here, before any
computation; the engine checks everything else and its ValueErrors become 422 responses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.config import Settings
from app.schemas import (
    ActivationSpec,
    Conv2dSpec,
    ConvTranspose2dSpec,
    FilterSpec,
    KernelRef,
    PoolSpec,
    RunRequest,
    Source,
    UpsampleSpec,
)
from app.store import ImageStore
from app.typed import parse_matrix, split_blocks
from cnn_core import frames, get_kernel, parse_kernel
from cnn_core.errors import ArgumentError
from cnn_core.frames import FrameSequence, activation_frames
from cnn_core.spectral import flip_kernel


class NotFound(LookupError):
    """A referenced image does not exist (404)."""


@dataclass(frozen=True)
class Prepared:
    """A validated run: its input, its resolved weight and bias, and its (lazy) frame sequence."""

    x: NDArray[Any]
    weight: NDArray[Any] | None
    bias: NDArray[Any] | float | None
    frames: FrameSequence
    photo: bool = True


def load_source(source: Source, store: ImageStore, settings: Settings) -> tuple[NDArray[Any], bool]:
    """The input array (a stored image in the requested colour mode, or the typed matrix) and whether
    it is a picture (0-255, shown in its own colours) rather than numbers."""
    if source.image_id is not None:
        image = store.get(source.image_id)
        if image is None:
            raise NotFound(f"image {source.image_id} is not stored (it may have been evicted): upload it again "
                           "or choose a sample")
        return image.pixels(source.color), image.photo
    if source.matrix_text is not None:
        return parse_matrix(source.matrix_text, settings.max_matrix_side), False
    assert source.matrix is not None  # the model requires exactly one source
    rule = f"matrix must be at most {settings.max_matrix_side}x{settings.max_matrix_side} (and 16 channels)"
    planes: list[Any] = source.matrix if _is_3d(source.matrix) else [source.matrix]
    if len(planes) > 16:
        raise ArgumentError(f"{rule}, got {len(planes)} channels")
    check_rows(planes, settings.max_matrix_side, rule)
    try:
        matrix = np.array(source.matrix, dtype=np.float64)
    except ValueError:
        raise ArgumentError("matrix must be rectangular: every row needs the same number of values") from None
    return matrix, False


def _is_3d(nested: list[Any]) -> bool:
    return bool(nested) and bool(nested[0]) and isinstance(nested[0][0], list)


def check_rows(planes: list[Any], side: int, rule: str) -> None:
    """Measure nested lists (rows, then values per row) before NumPy turns them into an array."""
    for plane in planes:
        if isinstance(plane, list) and len(plane) > side:
            raise ArgumentError(f"{rule}, got {len(plane)} rows")
        for row in plane if isinstance(plane, list) else ():
            if isinstance(row, list) and len(row) > side:
                raise ArgumentError(f"{rule}, got a row of {len(row)} values")


def _kernel(ref: KernelRef, settings: Settings, where: str) -> NDArray[Any]:
    if ref.name is not None:
        kernel = get_kernel(ref.name, **ref.params)
    elif ref.text is not None:
        if len(split_blocks(ref.text)) > 1:
            raise ArgumentError(f"{where}: kernel text holds several kernels (blocks separated by a blank line); "
                                "give one kernel per text, per-channel kernels as 'channels'")
        kernel = parse_kernel(ref.text)
    else:
        assert ref.values is not None  # the model requires exactly one kind
        check_rows([ref.values], settings.max_kernel_side,
                    f"{where}: kernels may be at most {settings.max_kernel_side}x{settings.max_kernel_side}")
        try:
            kernel = np.array(ref.values, dtype=np.float64)
        except ValueError:
            raise ArgumentError(f"{where}: kernel values must be rectangular (every row the same length)") from None
        if kernel.ndim != 2 or 0 in kernel.shape:
            raise ArgumentError(f"{where}: kernel values must be a non-empty matrix, got shape {list(kernel.shape)}")
    if max(kernel.shape) > settings.max_kernel_side:
        raise ArgumentError(f"{where}: kernels may be at most {settings.max_kernel_side}x{settings.max_kernel_side}, "
                            f"got {kernel.shape[0]}x{kernel.shape[1]}")
    return kernel


def _filter_slices(spec: FilterSpec, channels: int, settings: Settings, index: int) -> NDArray[Any]:
    where = f"filter {index + 1}"
    if spec.channels is None:
        kernel = _kernel(spec.kernel, settings, where)
        return np.repeat(kernel[None], channels, axis=0)
    if len(spec.channels) != channels:
        raise ArgumentError(f"{where}: give one kernel per input channel ({channels}), got {len(spec.channels)}")
    slices = [_kernel(ref, settings, f"{where}, channel {c + 1}") for c, ref in enumerate(spec.channels)]
    if len({s.shape for s in slices}) > 1:
        raise ArgumentError(f"{where}: every channel's kernel must have the same size, got "
                            f"{', '.join(f'{s.shape[0]}x{s.shape[1]}' for s in slices)}")
    return np.stack(slices)


def build_filters(spec: Conv2dSpec | ConvTranspose2dSpec, channels: int,
                  settings: Settings) -> tuple[NDArray[Any], NDArray[Any] | float]:
    """The (F, C, kh, kw) weight and (F,) bias, or for depthwise the (kh, kw) kernel and a scalar bias."""
    check_limits(settings, {"filters": ("filters", len(spec.filters))})
    if spec.depthwise:
        if len(spec.filters) != 1 or spec.filters[0].channels is not None:
            raise ArgumentError("depthwise applies one 2-D kernel to every channel: give exactly one filter with a "
                                "single kernel")
        return _kernel(spec.filters[0].kernel, settings, "filter 1"), spec.filters[0].bias
    stacks = [_filter_slices(item, channels, settings, i) for i, item in enumerate(spec.filters)]
    if len({s.shape for s in stacks}) > 1:
        raise ArgumentError("every filter of a layer must have the same kernel size, got "
                         + ", ".join(f"{s.shape[1]}x{s.shape[2]}" for s in stacks))
    return np.stack(stacks), np.array([item.bias for item in spec.filters])


LIMITS = {"kernel_size": "max_kernel_side", "stride": "max_stride", "padding": "max_padding",
          "dilation": "max_dilation", "scale_factor": "max_scale_factor", "filters": "max_filters"}


def check_limits(settings: Settings, options: dict[str, tuple[str, Any]], where: str = "") -> None:
    """The server's limits, the same for a single run and for every layer of a chain.

    ``options`` maps a rule (a key of LIMITS) to the name the user wrote and its value; values
    that are not integers are left to the engine, which says what it accepts.
    """
    prefix = f"{where}: " if where else ""
    for rule, (name, value) in options.items():
        maximum = getattr(settings, LIMITS[rule])
        for item in value if isinstance(value, tuple | list) else (value,):
            if isinstance(item, int) and not isinstance(item, bool) and item > maximum:
                if rule == "filters":
                    raise ArgumentError(f"{prefix}filters may number at most {maximum}, got {item}")
                raise ArgumentError(f"{prefix}{name} may be at most {maximum} here, got {item}")


def _window(stride: Any, padding: Any, dilation: Any) -> dict[str, tuple[str, Any]]:
    return {"stride": ("stride", stride), "padding": ("padding", padding), "dilation": ("dilation", dilation)}


def prepare(request: RunRequest, store: ImageStore, settings: Settings) -> Prepared:
    """Validate a request against the server's limits and build its lazy frame sequence."""
    x, photo = load_source(request.source, store, settings)
    spec = request.operation
    channels = 1 if x.ndim == 2 else x.shape[0]
    weight: NDArray[Any] | None = None
    bias: NDArray[Any] | float | None = None
    sequence: FrameSequence
    if isinstance(spec, Conv2dSpec):
        check_limits(settings, _window(spec.stride, spec.padding, spec.dilation))
        weight, bias = build_filters(spec, channels, settings)
        if spec.flip:
            weight = flip_kernel(weight)
        sequence = frames.conv2d_frames(x, weight, bias, spec.stride, spec.padding, spec.dilation,
                                        spec.padding_mode)
    elif isinstance(spec, ConvTranspose2dSpec):
        check_limits(settings, _window(spec.stride, spec.padding, spec.dilation))
        built, bias = build_filters(spec, channels, settings)
        weight = built if spec.depthwise else built.transpose(1, 0, 2, 3)
        sequence = frames.conv_transpose2d_frames(x, weight, bias, spec.stride, spec.padding, spec.output_padding,
                                                  spec.dilation)
    elif isinstance(spec, PoolSpec):
        check_limits(settings, {"kernel_size": ("kernel_size", spec.kernel_size),
                                **_window(spec.stride, spec.padding, spec.dilation)})
        if spec.op == "max_pool2d":
            sequence = frames.max_pool2d_frames(x, spec.kernel_size, spec.stride, spec.padding, spec.dilation,
                                                spec.ceil_mode)
        else:
            if spec.dilation not in (1, (1, 1)):
                raise ArgumentError(f"dilation applies to max_pool2d only; {spec.op} takes dilation 1")
            if spec.op == "avg_pool2d":
                sequence = frames.avg_pool2d_frames(x, spec.kernel_size, spec.stride, spec.padding, spec.ceil_mode,
                                                    spec.count_include_pad)
            else:
                sequence = frames.sum_pool2d_frames(x, spec.kernel_size, spec.stride, spec.padding, spec.ceil_mode)
    elif isinstance(spec, UpsampleSpec):
        check_limits(settings, {"scale_factor": ("scale_factor", spec.scale_factor)})
        sequence = frames.upsample_frames(x, spec.scale_factor, spec.mode, spec.align_corners)
    else:
        assert isinstance(spec, ActivationSpec)  # the discriminated union has no other member
        sequence = activation_frames(x, spec.op, spec.negative_slope)
    elements = int(np.prod(sequence.output_shape))
    if elements > settings.max_output_elements:
        shape = "x".join(map(str, sequence.output_shape))
        raise ArgumentError(f"the result would have {elements:,} values ({shape}); at most "
                            f"{settings.max_output_elements:,} are allowed: lower the scale, filters or image size")
    return Prepared(x, weight, bias, sequence, photo)
