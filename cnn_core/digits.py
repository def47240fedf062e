"""A drawn or photographed digit made into an MNIST digit: the same down-sampling MNIST's digits went through.

LeCun et al.: each NIST digit was "size normalized to fit in a 20x20 pixel box while preserving its aspect ratio"
(anti-aliased), then "centered in a 28x28 image by computing the center of mass of the pixels, and translating
the image so as to position this point at the center of the 28x28 field". The shipped digits have their centre of
mass at (14.0, 14.0) on average (row and column indices from 0), so that is the centre used here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from cnn_core.errors import ArgumentError, ArgumentTypeError

__all__ = ["BOX", "CANVAS", "CENTRE", "PreparedDigit", "prepare_digit"]

BOX = 20  # the longer side of the digit after scaling
CANVAS = 28  # the side of the finished digit
CENTRE = 14.0  # where the centre of mass goes, (row, column) from 0, as in the shipped MNIST digits
MIN_CONTRAST = 0.1  # of the full brightness scale: less is a blank (or uniform) pad
MIN_SPAN = 0.1  # the ink's box must span at least this fraction of the image's longer side

Float32Array = NDArray[np.float32]


@dataclass(frozen=True)
class PreparedDigit:
    """A digit ready for an MNIST network, and each step that made it (all float32 in [0, 1], ink bright).

    digit : (28, 28) the network's input, ``centred`` itself.
    normalised : (H, W) the input on [0, 1], inverted when the ink was dark, its background at 0.
    cropped : the ink's bounding box cut from ``normalised``.
    fitted : ``cropped`` scaled so that its longer side is 20 px (aspect kept).
    centred : (28, 28) ``fitted`` placed so that its centre of mass is at (14, 14).
    inverted : the input had dark ink on a bright background.
    box : (top, left, height, width) of the crop in the input.
    offset : (top, left) of ``fitted`` in the 28x28 canvas.
    """

    digit: Float32Array
    normalised: Float32Array
    cropped: Float32Array
    fitted: Float32Array
    centred: Float32Array
    inverted: bool
    box: tuple[int, int, int, int]
    offset: tuple[int, int]


def _brightness(image: object) -> NDArray[np.float64]:
    """The image's values on [0, 1]: integers by their type's largest value, floats as [0, 1] or [0, 255]."""
    array = np.asarray(image)
    if array.ndim != 2 or min(array.shape) < 1:
        raise ArgumentError(f"image must be a 2-D (H, W) array of brightness values, got shape {array.shape}")
    if array.dtype == np.bool_:
        return array.astype(np.float64)
    if array.dtype.kind in "iu":
        if array.min() < 0:
            raise ArgumentError(f"image must not be negative, got a minimum of {array.min()}")
        top = 255 if array.max() <= 255 else np.iinfo(array.dtype).max
        return array.astype(np.float64) / top
    if array.dtype.kind != "f":
        raise ArgumentTypeError(f"image must be an array of numbers, got dtype {array.dtype}")
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise ArgumentError("image must contain only finite numbers")
    low, high = float(values.min()), float(values.max())
    if low < 0 or high > 255:
        raise ArgumentError(f"image values must be in [0, 1] or [0, 255], got [{low:g}, {high:g}]")
    return values if high <= 1 else values / 255


def _resize(values: NDArray[np.float64], height: int, width: int) -> Float32Array:
    """Area (box) resampling when shrinking, bilinear when enlarging: Pillow on a float ("F") image."""
    rows, cols = values.shape
    method = Image.Resampling.BOX if height <= rows and width <= cols else Image.Resampling.BILINEAR
    resized = Image.fromarray(values.astype(np.float32), mode="F").resize((width, height), method)
    return np.clip(np.asarray(resized, dtype=np.float32), 0, 1)


def prepare_digit(image: Any, ink_threshold: float = 0.1) -> PreparedDigit:
    """Down-sample a drawn or photographed digit exactly as MNIST's digits were.

    1. Brightness to [0, 1]; when the border is mostly bright, the ink is dark: invert, so that ink is bright.
    2. Stretch: the background (the border's median) goes to 0, the brightest ink to 1.
    3. Crop to the ink's bounding box (pixels above ``ink_threshold``).
    4. Scale the crop so that its longer side is 20 px, keeping its aspect ratio: area (box) resampling when
       shrinking (anti-aliased, as MNIST's were), bilinear when enlarging (Pillow's BOX / BILINEAR).
    5. Place it in a 28x28 canvas so that its centre of mass lands on (14, 14), the shift rounded to whole
       pixels (half to even, Python's round) and kept within the canvas, so no ink is cut off.

    Parameters
    ----------
    image : (H, W) array of brightness, any size: uint8 / integers (0-255), bool, or floats in [0, 1] or
        [0, 255]. Ink may be bright on dark or dark on bright.
    ink_threshold : in (0, 1): the stretched brightness above which a pixel counts as ink for the box.

    Returns
    -------
    PreparedDigit
        ``digit`` (28, 28) float32 in [0, 1], and the steps ``normalised``, ``cropped``, ``fitted``, ``centred``.

    Raises
    ------
    ValueError
        "the pad is empty: draw a digit ..." when there is no ink, or so little (its box spans less than a tenth
        of the image's longer side) that a network would only guess; for a wrong shape or values out of range.
    TypeError
        For an array that is not numbers.

    Examples
    --------
    >>> pad = np.zeros((280, 280), dtype=np.uint8)
    >>> pad[40:240, 130:150] = 255  # a "1": a bar 200 px tall, 20 wide
    >>> prepared = prepare_digit(pad)
    >>> prepared.digit.shape, prepared.digit.dtype, prepared.fitted.shape, prepared.offset
    ((28, 28), dtype('float32'), (20, 2), (4, 14))
    >>> prepare_digit(255 - pad).inverted  # dark ink on white paper gives the same digit
    True
    """
    if isinstance(ink_threshold, bool) or not isinstance(ink_threshold, int | float) or not 0 < ink_threshold < 1:
        raise ArgumentError(f"ink_threshold must be a number in (0, 1), got {ink_threshold!r}")
    values = _brightness(image)
    if float(values.max() - values.min()) < MIN_CONTRAST:
        raise ArgumentError("the pad is empty: draw a digit (no ink was found, every pixel has about the same "
                            "brightness)")
    border = np.concatenate([values[0], values[-1], values[:, 0], values[:, -1]])
    inverted = bool(np.median(border) > (values.min() + values.max()) / 2)
    if inverted:
        values = 1 - values
    background, top = float(np.median(np.concatenate([values[0], values[-1], values[:, 0], values[:, -1]]))), \
        float(values.max())
    if top - background < MIN_CONTRAST:
        raise ArgumentError("the pad is empty: draw a digit (no ink stands out from the background)")
    normalised = np.clip((values - background) / (top - background), 0, 1)
    rows = np.flatnonzero((normalised > ink_threshold).any(axis=1))
    cols = np.flatnonzero((normalised > ink_threshold).any(axis=0))
    height, width = int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)
    side = max(values.shape)
    if max(height, width) < max(2, MIN_SPAN * side):
        raise ArgumentError(f"the pad is empty: draw a digit larger (the only ink spans {height}x{width} px of the "
                            f"{values.shape[0]}x{values.shape[1]} image, less than a tenth of its side)")
    cropped = normalised[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = BOX / max(height, width)
    fitted = _resize(cropped, max(1, round(height * scale)), max(1, round(width * scale)))
    mass = float(fitted.sum())
    centre_y = float((fitted.sum(axis=1) * np.arange(fitted.shape[0])).sum()) / mass
    centre_x = float((fitted.sum(axis=0) * np.arange(fitted.shape[1])).sum()) / mass
    top_row = min(max(round(CENTRE - centre_y), 0), CANVAS - fitted.shape[0])
    left_col = min(max(round(CENTRE - centre_x), 0), CANVAS - fitted.shape[1])
    centred = np.zeros((CANVAS, CANVAS), dtype=np.float32)
    centred[top_row:top_row + fitted.shape[0], left_col:left_col + fitted.shape[1]] = fitted
    return PreparedDigit(digit=centred, normalised=normalised.astype(np.float32), cropped=cropped.astype(np.float32),
                         fitted=fitted, centred=centred, inverted=inverted,
                         box=(int(rows[0]), int(cols[0]), height, width), offset=(top_row, left_col))
