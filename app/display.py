"""How a run's result is shown: signed, |value|, gray or as a photo, full range or by percentile, and what
each kernel shows by default (edges bold, blurs as pictures). The page paints what this decides."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from app.colors import PALETTE_LENGTHS, color_indices, ink
from app.runs import Run, encode_png, map_png
from app.schemas import Conv2dSpec, DisplayChoice
from app.store import ByteBudgetLRU
from cnn_core.errors import ArgumentError
from cnn_core.imageio import display_range, palette

Mode = Literal["auto", "signed", "abs", "gray", "photo"]
Contrast = Literal["auto", "full", "percentile"]
PERCENTILES = (2.0, 98.0)  # the contrast stretch (scikit-image's "contrast stretching" example): beyond, saturate
EDGE_KERNELS = frozenset({"sobel_x", "sobel_y", "scharr_x", "scharr_y", "prewitt_x", "prewitt_y", "laplace_4",
                          "laplace_8", "log", "outline"})
PICTURE_KERNELS = frozenset({"identity", "gaussian", "box_blur", "sharpen", "emboss"})
PICTURE_OPS = frozenset({"max_pool2d", "avg_pool2d", "sum_pool2d", "upsample", "relu", "leaky_relu"})
STRETCHED_OPS = frozenset({"conv2d", "magnitude"})  # signed results shown by percentile: a few strong edges would
# wash out the rest ("magnitude": the Layers tab's sqrt(gx^2 + gy^2) layer, an edge map too)
CACHED_CHOICES = 256  # resolved displays kept (each a few hundred bytes)


_choices: ByteBudgetLRU[DisplayChoice] = ByteBudgetLRU(CACHED_CHOICES, lambda choice: 1)  # counted, not sized


def _kernel_names(run: Run) -> set[str | None]:
    spec = run.request.operation
    if not isinstance(spec, Conv2dSpec):
        return {None}
    names = {f.kernel.name for f in spec.filters}
    for f in spec.filters:
        names.update(channel.name for channel in f.channels or [])
    return names


def default_mode(op: str, kernel_names: set[str | None], photo: bool) -> Literal["signed", "abs", "photo"]:
    """What a teacher expects first: edge kernels as bold magnitudes, blurs and pools of a photo as a picture."""
    if op == "conv2d" and kernel_names <= EDGE_KERNELS:
        return "abs"
    if photo and ((op == "conv2d" and kernel_names <= PICTURE_KERNELS) or op in PICTURE_OPS):
        return "photo"
    return "signed"


def _rgb_photo(run: Run) -> bool:
    """Three maps from a three-channel photo (depthwise, a pool, an up-sampling...) make one colour picture."""
    return run.photo and run.maps().shape[0] == 3 and run.prepared.x.shape[0] == 3


def _ends(values: NDArray[Any], contrast: str, one_sided: bool) -> tuple[float, float]:
    """The scale's ends: the extremes, or the PERCENTILES (never a collapsed scale from them)."""
    low, high = float(values.min()), float(values.max())
    if contrast == "percentile":
        p_low, p_high = (float(v) for v in np.percentile(values, PERCENTILES))
        low = low if one_sided else p_low
        high = p_high if p_high > low else high
    return low, high


def _ordinal(value: float) -> str:
    number = int(value)
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def resolve(run: Run, mode: str = "auto", contrast: str = "auto") -> DisplayChoice:
    """The display for ``mode`` and ``contrast`` ("auto" picks the kernel's default), cached per run, and made
    once when several requests ask at the same moment (the page asks for the display and the map's picture
    together; a percentile of a megapixel map is ~17 ms of CPU)."""
    return _choices.cached(f"{run.run_id}/{mode}/{contrast}", lambda: _resolve(run, mode, contrast))


def _resolve(run: Run, mode: str, contrast: str) -> DisplayChoice:
    return choose(run.maps(), op=run.request.operation.op, kernel_names=_kernel_names(run), photo=run.photo,
                  rgb=_rgb_photo(run), mode=mode, contrast=contrast)


def choose(maps: NDArray[Any], *, op: str, kernel_names: set[str | None], photo: bool = False, rgb: bool = False,
           mode: str = "auto", contrast: str = "auto") -> DisplayChoice:
    """The display of ``maps`` (C, H, W), the output of ``op`` with kernels ``kernel_names`` (None: typed
    numbers) on a photo or not: the rule the stage and the Layers tab's cards both use. ``rgb``: three maps
    from a three-channel photo, shown "photo" as one colour picture."""
    chosen = default_mode(op, kernel_names, photo) if mode == "auto" else mode
    stretch = ("percentile" if chosen == "abs" or (chosen == "signed" and op in STRETCHED_OPS)
               else "full") if contrast == "auto" else contrast
    extremes = {"min": float(maps.min()), "max": float(maps.max())}
    rgb = chosen == "photo" and rgb
    if chosen == "abs":
        scheme = "sequential"
        low, high = _ends(np.abs(maps), stretch, one_sided=True)
        low = 0.0
        label = "|value|"
    elif chosen == "signed":
        scheme, low, high = display_range(maps)
        if stretch == "percentile":
            reach = _ends(np.abs(maps), "percentile", one_sided=True)[1]
            low, high = (-reach, reach) if scheme == "diverging" else (low, reach)
        label = "value"
    else:
        scheme = "gray"
        low, high = _ends(maps, stretch, one_sided=False)
        label = "R, G, B maps as one picture" if rgb else "value"
    if stretch == "percentile":
        label += f", {_ordinal(PERCENTILES[0])} to {_ordinal(PERCENTILES[1])} percentile"
    return DisplayChoice(mode=chosen, contrast=stretch, scheme=scheme, low=low, high=high, rgb=rgb, label=label,
                         palette=palette(scheme), **extremes)


def map_picture(plane: NDArray[Any], choice: DisplayChoice) -> bytes:
    """One map coloured by ``choice`` as PNG (its magnitude when the choice is "abs")."""
    return map_png(np.abs(plane) if choice.mode == "abs" else plane, choice.scheme, (choice.low, choice.high))


def render_png(run: Run, channel: int, choice: DisplayChoice) -> bytes:
    """One map (or, for a colour photo, the three maps together) coloured by ``choice``, as PNG (cached)."""
    maps = run.maps()
    if not 0 <= channel < maps.shape[0]:
        raise ArgumentError(f"channel must be from 0 to {maps.shape[0] - 1}, got {channel}")

    def make() -> bytes:
        if choice.rgb:
            scale = 255.0 / (choice.high - choice.low) if choice.high > choice.low else 0.0
            pixels = np.clip(np.rint((maps - choice.low) * scale), 0, 255).astype(np.uint8)
            return encode_png(np.ascontiguousarray(pixels.transpose(1, 2, 0)))
        return map_picture(maps[channel], choice)

    key = "rgb" if choice.rgb else str(channel)
    return run.png(f"view-{choice.mode}-{choice.contrast}-{key}", make)


# The step panel's colours, computed here so the page only looks them up (docs/frames-binary.md).
COLORED_FIELDS = {"patch": "input", "input": "input", "products": "products", "channel_sums": "products",
                  "value": "output", "contribution": "output", "sums_after": "output"}
"""Frame fields the step panel tints, and the run scale (``Run.scales``) each is coloured on."""


def frame_colors(batch: dict[str, Any], scales: dict[str, Any]) -> dict[str, NDArray[np.int16]]:
    """``<field>_color`` (int16) for each field of a frame batch the step panel tints (when the run has its scale)."""
    colors = {}
    for name, scale_name in COLORED_FIELDS.items():
        scale = scales.get(scale_name)
        if name in batch and scale is not None:
            colors[f"{name}_color"] = color_indices(batch[name], scale.scheme, scale.low, scale.high)
    return colors


def palettes_with_ink() -> dict[str, list[str]]:
    """Each scheme's colours, low to high, and as ``<scheme>_ink`` the text colour to write on each."""
    tables: dict[str, list[str]] = {}
    for scheme in PALETTE_LENGTHS:
        colors = palette(scheme)
        tables[scheme] = colors
        tables[f"{scheme}_ink"] = [ink(color) for color in colors]
    return tables
