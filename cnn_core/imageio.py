"""Decoding uploaded images into float maps (Pillow), and colouring float maps for display."""

from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

from cnn_core._checks import FloatArray, as_array, check_choice, check_finite, is_int
from cnn_core._colormaps import VIRIDIS
from cnn_core.errors import ArgumentError, ArgumentTypeError

MAX_PIXELS = 50_000_000
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601-2, as Pillow's "L" conversion

ImageSource: TypeAlias = "bytes | bytearray | memoryview | str | os.PathLike[str] | Image.Image | np.ndarray[Any, Any]"


def _open(data: object, max_pixels: int) -> Image.Image:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ArgumentTypeError(f"data must be bytes, a path (str or os.PathLike), a PIL image or a NumPy array, "
                                f"got {type(data).__name__}")
    if len(data) == 0:
        raise ArgumentError("data is empty: expected the bytes of an image file (PNG, JPEG, GIF, BMP, TIFF, WebP)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(bytes(data)))
        except Image.DecompressionBombError as error:
            # Pillow stops at twice its own limit, before we see the size: report the size it read
            claimed = re.search(r"\((\d+) pixels\)", str(error))
            count = f"{int(claimed.group(1)):,}" if claimed else "too many"
            raise ArgumentError(f"the image has {count} pixels; at most {max_pixels:,} are allowed") from None
        except (OSError, SyntaxError, ValueError) as error:
            raise ArgumentError("data is not an image file Pillow can read (PNG, JPEG, GIF, BMP, TIFF, WebP): "
                                f"{type(error).__name__}") from None
    return _sized(image, max_pixels)


def _sized(image: Image.Image, max_pixels: int) -> Image.Image:
    """Refuse an image with no pixels or more than ``max_pixels``, from its size alone (nothing decoded)."""
    _check_pixel_count(*image.size, max_pixels)
    return image


def _check_pixel_count(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ArgumentError(f"the image has {width}x{height} = {width * height:,} pixels; at most {max_pixels:,} "
                            "are allowed")
    if width < 1 or height < 1:
        raise ArgumentError(f"the image has no pixels ({width}x{height})")


def _to_float_rgb_or_gray(image: Image.Image, mode: str) -> FloatArray:
    """Flatten transparency over white, scale 16-bit to [0, 255], convert to the requested channels."""
    if image.mode in _SIXTEEN_BIT_MODES:
        values = np.asarray(image.convert("I"), dtype=np.float64)
        gray = (values * (255.0 / 65535.0)).astype(np.float32)
        return gray[None] if mode == "gray" else np.repeat(gray[None], 3, axis=0)
    if image.mode == "F":
        gray = np.asarray(image, dtype=np.float32)
        return gray[None] if mode == "gray" else np.repeat(gray[None], 3, axis=0)
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat.alpha_composite(rgba)
        image = flat.convert("RGB")
    elif image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    converted = image.convert("L" if mode == "gray" else "RGB")
    array = np.asarray(converted, dtype=np.float32)
    return array[None] if array.ndim == 2 else np.ascontiguousarray(array.transpose(2, 0, 1))


def load_image(data: ImageSource, max_side: int = 1024, mode: str = "rgb",
               max_pixels: int = MAX_PIXELS) -> FloatArray:
    """Read an image into a float32 (C, H, W) array in [0, 255].

    ``data`` is the bytes of an image file, a path to one (str or os.PathLike), a PIL image, or a
    NumPy array laid out as Pillow and NumPy image libraries do, channel-last: (H, W) gray,
    (H, W, 3) RGB or (H, W, 4) RGBA. Array values are uint8 (0-255), uint16 (0-65535, scaled as a
    16-bit image is) or float in [0, 255] (the scale this function returns, so its output transposed
    to (H, W, C) reads back unchanged; multiply a [0, 1] image by 255 first). A channel-first array
    such as this function's own (C, H, W) output is refused with a hint, never guessed at.

    Files and PIL images get EXIF orientation; transparency is composited over white; palette,
    16-bit (scaled), CMYK and animated images (first frame) are handled; the result is downsized
    so the longer side is ``max_side`` (JPEG bytes are decoded at reduced size with Pillow's draft
    mode). ``mode="gray"`` gives one channel by ITU-R 601-2 luma (Pillow's "L").

    Raises
    ------
    ValueError
        Empty data, not an image, a truncated file, more than ``max_pixels`` pixels (checked from
        the header, before decoding), an array of another shape, or float values outside [0, 255].
    TypeError
        For another type of ``data``, or an array of another dtype.
    FileNotFoundError
        For a path that names no file.

    >>> from PIL import Image; import io; buffer = io.BytesIO()
    >>> Image.new("RGB", (4, 2), (255, 0, 0)).save(buffer, "PNG")
    >>> load_image(buffer.getvalue()).shape
    (3, 2, 4)
    >>> load_image(np.full((2, 4, 3), 255, dtype=np.uint8), mode="gray").shape
    (1, 2, 4)
    """
    check_choice(mode, "mode", ("rgb", "gray"))
    _check_limits(max_side, max_pixels)
    if isinstance(data, np.ndarray):
        return _from_array(data, max_side, max_pixels, mode)
    if isinstance(data, Image.Image):
        image = _prepared(_sized(data, max_pixels), max_side, mode, draft=False)
    else:
        image = _decoded(_read(data), max_side, max_pixels, mode)
    return _to_float_rgb_or_gray(image, mode)


def _read(data: object) -> object:
    """The bytes of a file named by a path; anything else unchanged (``_open`` checks it)."""
    return Path(data).read_bytes() if isinstance(data, str | os.PathLike) else data


def _check_limits(max_side: object, max_pixels: object) -> None:
    if not is_int(max_side) or int(max_side) < 1:
        raise ArgumentError(f"max_side must be a positive integer, got {max_side!r}")
    if not is_int(max_pixels) or int(max_pixels) < 1:
        raise ArgumentError(f"max_pixels must be a positive integer, got {max_pixels!r}")


def _from_array(array: np.ndarray[Any, Any], max_side: int, max_pixels: int, mode: str) -> FloatArray:
    """A channel-last image array as load_image's (C, H, W) float32: uint8 through Pillow like a decoded
    file; uint16 and float values in float64, downsized channel by channel with the same filter."""
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        hint = ("; it looks channel-first: pass x.transpose(1, 2, 0)"
                if array.ndim == 3 and array.shape[0] in (1, 3, 4) else "")
        raise ArgumentError(f"data must be an image array laid out (H, W), (H, W, 3) or (H, W, 4) (channel-last, "
                            f"as Pillow and NumPy image libraries use), got shape {array.shape}{hint}")
    _check_pixel_count(array.shape[1], array.shape[0], max_pixels)
    if array.dtype == np.uint8:
        return _to_float_rgb_or_gray(_prepared(Image.fromarray(array), max_side, mode, draft=False), mode)
    if array.dtype == np.uint16:
        values = array * (255.0 / 65535.0)
    elif array.dtype.kind == "f":
        values = array.astype(np.float64)
        if not np.isfinite(values).all() or values.min() < 0 or values.max() > 255:
            raise ArgumentError(f"data must hold values in [0, 255] in a float array (scale a [0, 1] image by 255), "
                                f"got values from {values.min()} to {values.max()}")
    else:
        raise ArgumentTypeError(f"data must be a uint8, uint16 or float image array, got dtype {array.dtype}")
    channels = values[..., None] if values.ndim == 2 else values
    if channels.shape[2] == 4:  # composite over white, as for an image with transparency
        alpha = channels[..., 3:] / 255.0
        channels = channels[..., :3] * alpha + 255.0 * (1 - alpha)
    if mode == "gray" and channels.shape[2] == 3:
        channels = (channels @ _LUMA)[..., None]
    planes = [_resized_plane(channels[..., c], max_side) for c in range(channels.shape[2])]
    out = np.stack(planes).astype(np.float32)
    return np.repeat(out, 3, axis=0) if mode == "rgb" and out.shape[0] == 1 else out


def _resized_plane(plane: np.ndarray[Any, Any], max_side: int) -> np.ndarray[Any, Any]:
    """One float channel downsized as images are (Lanczos, longer side ``max_side``), clipped to [0, 255]."""
    height, width = plane.shape
    if max(height, width) <= max_side:
        return plane
    ratio = max_side / max(height, width)
    size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
    image = Image.fromarray(plane.astype(np.float32), "F").resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.clip(np.asarray(image, dtype=np.float64), 0, 255)


def load_image_modes(data: bytes, max_side: int = 1024,
                     max_pixels: int = MAX_PIXELS) -> tuple[FloatArray, FloatArray]:
    """Decode once, return both ``load_image(mode="rgb")`` and ``load_image(mode="gray")`` results.

    >>> from PIL import Image; import io; buffer = io.BytesIO()
    >>> Image.new("RGB", (4, 2), (255, 0, 0)).save(buffer, "PNG")
    >>> [a.shape for a in load_image_modes(buffer.getvalue())]
    [(3, 2, 4), (1, 2, 4)]
    """
    image = _decoded(data, max_side, max_pixels, "rgb")
    try:
        return _to_float_rgb_or_gray(image, "rgb"), _to_float_rgb_or_gray(image, "gray")
    except (OSError, ValueError) as error:
        raise ArgumentError(f"the image file is damaged or truncated and cannot be decoded ({error})") from None


def _decoded(data: object, max_side: int, max_pixels: int, mode: str) -> Image.Image:
    """Open, orient and downsize (drafting JPEGs); pixels are loaded, conversion is left to the caller."""
    _check_limits(max_side, max_pixels)
    return _prepared(_open(data, max_pixels), max_side, mode, draft=True)


def _prepared(image: Image.Image, max_side: int, mode: str, draft: bool) -> Image.Image:
    """Orient and downsize an opened image (a new image; the caller's is left alone unless ``draft``,
    which lets Pillow decode a JPEG we opened at reduced size)."""
    try:
        width, height = image.size
        scale = max_side / max(width, height)
        if draft and scale < 1 and image.format == "JPEG":
            draft_mode = "L" if mode == "gray" and image.mode == "L" else image.mode
            image.draft(draft_mode, (max(1, int(width * scale)), max(1, int(height * scale))))
        image = ImageOps.exif_transpose(image)
        if max(image.size) > max_side:
            ratio = max_side / max(image.size)
            size = (max(1, round(image.size[0] * ratio)), max(1, round(image.size[1] * ratio)))
            if image.mode == "P" or image.mode in _SIXTEEN_BIT_MODES:
                image = image.convert("RGBA" if image.mode == "P" else "F")
            image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        image.load()
        return image
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ArgumentError(f"the image file is damaged or truncated and cannot be decoded ({error})") from None


# The colour scales: matplotlib's published viridis table (256 entries, cnn_core/_colormaps.py), ColorBrewer's
# RdBu reversed (blue negative, near-white zero, red positive) sampled at an odd count so that zero lands
# exactly on its middle entry, and 256 grays (level i is (i, i, i)).
_DIVERGING = ("#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d",
             "#b2182b")
_SCHEMES = ("auto", "diverging", "sequential", "gray")
_DIVERGING_LEVELS = 255


def _table(colours: tuple[str, ...]) -> NDArray[np.uint8]:
    return np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in colours], dtype=np.uint8)


def _lut(anchors: tuple[str, ...], levels: int) -> NDArray[np.uint8]:
    colours = _table(anchors).astype(np.float64)
    positions = np.linspace(0, 1, len(anchors))
    steps = np.linspace(0, 1, levels)
    table = np.stack([np.interp(steps, positions, colours[:, c]) for c in range(3)], axis=1)
    return np.round(table).astype(np.uint8)


_LUTS = {"sequential": _table(VIRIDIS), "diverging": _lut(_DIVERGING, _DIVERGING_LEVELS),
         "gray": np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)}


_PALETTES = {scheme: tuple(f"#{r:02x}{g:02x}{b:02x}" for r, g, b in lut.tolist()) for scheme, lut in _LUTS.items()}


def palette(scheme: str) -> list[str]:
    """The colours ``to_display`` uses for a scheme, low to high, as "#rrggbb" strings.

    "sequential" is matplotlib's viridis (256), "diverging" blue-white-red (255, zero in the middle),
    "gray" black to white (256). A value v on the scale (low, high) has colour
    ``palette[round((v - low) / (high - low) * (len(palette) - 1))]``.

    >>> palette("diverging")[127], len(palette("sequential"))
    ('#f7f7f7', 256)
    """
    check_choice(scheme, "scheme", _SCHEMES[1:])
    return list(_PALETTES[scheme])


def display_range(feature_map: Any, scheme: str = "auto") -> tuple[str, float, float]:
    """The scheme ``to_display`` uses for a map and the values at its two ends.

    "auto" picks "diverging" (symmetric around zero) when the map has negative values, else
    "sequential" from 0 (or the minimum, when "gray") to the maximum.

    >>> display_range(np.array([[-1.0, 2.0]]))
    ('diverging', -2.0, 2.0)
    """
    array = as_array(feature_map, "feature_map")
    if array.size == 0:
        raise ArgumentError("feature_map must not be empty")
    check_choice(scheme, "scheme", _SCHEMES)
    check_finite(array, "feature_map")
    low, high = float(array.min()), float(array.max())
    chosen = ("diverging" if low < 0 else "sequential") if scheme == "auto" else scheme
    if chosen == "diverging":
        extent = max(abs(low), abs(high))
        return chosen, -extent, extent
    if chosen == "sequential":
        return chosen, min(low, 0.0), high
    return chosen, low, high


def to_display(feature_map: Any, scheme: str = "auto",
               value_range: tuple[float, float] | None = None) -> NDArray[np.uint8]:
    """Colour a float map as uint8 RGB: (H, W) or (1, H, W) -> (H, W, 3); (C, H, W) -> (C, H, W, 3).

    Signed maps go on a diverging blue-white-red scale centred on zero, non-negative ones on
    viridis; all channels share one scale. A constant map does not divide by zero.
    ``value_range`` (low, high), e.g. from :func:`display_range` of a finished result, fixes the
    ends of the scale (values beyond them saturate), so partial maps match the final one.
    The colours are ``lut[index]`` of :func:`display_indices`.

    >>> to_display(np.zeros((1, 2))).shape
    (1, 2, 3)
    """
    index, lut = display_indices(feature_map, scheme, value_range)
    return lut[index]


def display_indices(feature_map: Any, scheme: str = "auto", value_range: tuple[float, float] | None = None
                    ) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """:func:`to_display`'s colouring as (index, lut): each value's entry in the scheme's colour table
    (uint8, the map's shape, a leading axis of 1 dropped) and the table (L, 3) uint8, L <= 256, so a
    picture can be stored as a palette image.

    >>> index, lut = display_indices(np.array([[-1.0, 0.0, 1.0]]))
    >>> index.tolist(), lut.shape
    ([[0, 127, 254]], (255, 3))
    """
    array = as_array(feature_map, "feature_map")
    if array.ndim not in (2, 3):
        raise ArgumentError(f"feature_map must be (H, W) or (C, H, W), got shape {array.shape}")
    chosen, low, high = display_range(array, scheme)
    if value_range is not None:
        low, high = (float(v) for v in value_range)
        if not (np.isfinite(low) and np.isfinite(high) and low <= high):
            raise ArgumentError(f"value_range must be two finite numbers (low <= high), got {value_range!r}")
    span = high - low
    top = len(_LUTS[chosen]) - 1
    if span > 0:
        levels = np.rint((array.astype(np.float64) - low) * (top / span))
    else:
        levels = np.full(array.shape, top / 2 if chosen == "diverging" else 0.0)
    index = np.clip(levels, 0, top).astype(np.uint8)
    return (index[0] if index.ndim == 3 and index.shape[0] == 1 else index), _LUTS[chosen]
