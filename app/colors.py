"""Palette indices and text colours, computed on the server so the page only looks colours up: the rule
``colorOf`` applied in the browser before (docs/frames-binary.md, "Colour indices")."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from cnn_core.imageio import palette

TRANSPARENT = -1  # the colour index of a non-finite number (max-pool padding's -inf): no background
PALETTE_LENGTHS = {scheme: len(palette(scheme)) for scheme in ("diverging", "sequential", "gray")}


def color_indices(values: Any, scheme: str, low: float, high: float) -> NDArray[np.int16]:
    """Each number's index into ``palette(scheme)`` on the scale (low, high), the same shape as ``values``.

    position = (v - low) / (high - low) clamped to [0, 1], index = round(position * (len - 1)) (halves up);
    a collapsed scale (high <= low) puts everything at the middle of "diverging", else at the start; a
    non-finite number gets ``TRANSPARENT``. An unknown scheme is coloured as "sequential".

    >>> color_indices([-2.0, 0.0, 1.0, 5.0, float("nan")], "diverging", -2.0, 2.0).tolist()
    [0, 127, 191, 254, -1]
    """
    array = np.asarray(values, dtype=np.float64)
    length = PALETTE_LENGTHS.get(scheme, PALETTE_LENGTHS["sequential"])
    span = high - low
    if span > 0:
        with np.errstate(invalid="ignore", over="ignore"):
            position = np.clip((array - low) / span, 0.0, 1.0)
    else:
        position = np.full(array.shape, 0.5 if scheme == "diverging" else 0.0)
    index = np.floor(position * (length - 1) + 0.5)
    return np.where(np.isfinite(array), np.nan_to_num(index), TRANSPARENT).astype(np.int16)


def ink(hex_color: str) -> str:
    """The text colour that reads on a "#rrggbb" background: near-black on light colours, white on dark."""
    red, green, blue = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return "#111" if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else "#fff"
