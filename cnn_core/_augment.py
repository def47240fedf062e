"""Data augmentation for training batches: random shifts, rotations and Gaussian noise, drawn per sample."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from cnn_core._checks import FloatArray
from cnn_core.errors import ArgumentError, ArgumentTypeError

AUGMENTATIONS = ("shift", "rotate", "noise")


def check_augment(augment: object, height: int, width: int) -> dict[str, float]:
    """Validate ``fit``'s ``augment``: None or a dict with any of shift (pixels), rotate (degrees), noise (std)."""
    if augment is None:
        return {}
    if not isinstance(augment, dict):
        raise ArgumentTypeError(f"augment must be None or a dict with any of {', '.join(AUGMENTATIONS)}, "
                                f"got {augment!r}")
    unknown = sorted(set(augment) - set(AUGMENTATIONS))
    if unknown:
        raise ArgumentError(f"augment takes {', '.join(AUGMENTATIONS)}, got unknown key(s) "
                            f"{', '.join(map(repr, unknown))}")
    checked: dict[str, float] = {}
    for key, value in augment.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)) \
                or value < 0:
            raise ArgumentError(f"augment[{key!r}] must be a finite number >= 0, got {value!r}")
        checked[key] = float(value)
    if "shift" in checked and (not float(checked["shift"]).is_integer() or checked["shift"] >= min(height, width)):
        raise ArgumentError(f"augment['shift'] must be a whole number of pixels below {min(height, width)} "
                            f"(the input is {height}x{width}), got {augment['shift']!r}")
    if checked.get("rotate", 0) > 180:
        raise ArgumentError(f"augment['rotate'] must be at most 180 degrees, got {augment['rotate']!r}")
    return {key: value for key, value in checked.items() if value}


def augment_batch(x: FloatArray, options: dict[str, float], rng: np.random.Generator) -> FloatArray:
    """A new (N, C, H, W) batch: each sample rotated, then shifted (zero fill), then given noise.

    Draws, per sample and in this order, an angle uniform in [-rotate, rotate] degrees, integer shifts in
    [-shift, shift] rows and columns, and noise of standard deviation ``noise``.
    """
    if not options:
        return x
    out = x
    if "rotate" in options:
        angles = np.deg2rad(rng.uniform(-options["rotate"], options["rotate"], len(x)))
        out = _rotate(out, angles)
    if "shift" in options:
        limit = int(options["shift"])
        offsets = rng.integers(-limit, limit + 1, (len(x), 2))
        out = _shift(out, offsets)
    if "noise" in options:
        out = out + rng.normal(0.0, options["noise"], out.shape).astype(out.dtype)
    return out


def _shift(x: FloatArray, offsets: np.ndarray[Any, Any]) -> FloatArray:
    """Move each sample by (rows, cols) = offsets[n]; what moves in is zero."""
    _, _, height, width = x.shape
    out = np.zeros_like(x)
    for n, (dy, dx) in enumerate(offsets):
        out[n, :, max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
            x[n, :, max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    return out


def _rotate(x: FloatArray, angles: FloatArray) -> FloatArray:
    """Rotate each sample about its centre by angles[n] radians (bilinear, zero outside the image)."""
    batch, channels, height, width = x.shape
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    cos, sin = np.cos(angles)[:, None, None], np.sin(angles)[:, None, None]
    # the source of each output pixel: the output position rotated back
    source_y = cy + (rows - cy) * cos - (cols - cx) * sin
    source_x = cx + (rows - cy) * sin + (cols - cx) * cos
    top, left = np.floor(source_y).astype(np.intp), np.floor(source_x).astype(np.intp)
    fy, fx = (source_y - top).astype(x.dtype), (source_x - left).astype(x.dtype)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 2), (1, 2)))
    flat = padded.reshape(batch, channels, -1)
    stride = width + 3
    out = np.zeros_like(x)
    for dy, dx, share in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)),
                          (1, 1, fy * fx)):
        y = np.clip(top + dy, -1, height) + 1
        x_index = np.clip(left + dx, -1, width) + 1
        index = (y * stride + x_index).reshape(batch, 1, -1)
        values = np.take_along_axis(flat, np.broadcast_to(index, (batch, channels, index.shape[-1])), axis=2)
        out += values.reshape(x.shape) * share[:, None]
    return out
