"""An animated GIF of a run: the window sliding over the input, the map filling in (rendered with Pillow)."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from app.runs import Run
from cnn_core import to_display
from cnn_core.frames import ConvTranspose2dFrames

HEIGHT = 240  # pixels of each panel's height in the GIF
ACCENT = (245, 158, 11)
HIDDEN = (236, 236, 236)  # a map's pixels not computed yet


def _panel(rgb: np.ndarray, height: int) -> Image.Image:
    image = Image.fromarray(rgb, "RGB")
    scale = max(1, height // max(image.height, 1)) if image.height < height else height / image.height
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.NEAREST)


def shared_palette(canvases: list[Image.Image]) -> Image.Image:
    """One 256-colour palette for every frame (a frame's adaptive palette costs a median cut each: 18 s of CPU
    for 48 frames of a 320x240 photo): cut from the last frame (the whole map and the photo) with the first
    (the most not-yet-computed gray), white, the window's outline and that gray always in it."""
    fixed = [(255, 255, 255), ACCENT, HIDDEN]
    last, first = canvases[-1], canvases[0]
    sample = Image.new("RGB", (last.width, last.height + first.height + 1), "white")
    sample.paste(last, (0, 0))
    sample.paste(first, (0, last.height))
    for k, colour in enumerate(fixed):
        sample.putpixel((k, sample.height - 1), colour)
    cut = sample.quantize(colors=256 - len(fixed), method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    colours = (cut.getpalette() or [])[:3 * (256 - len(fixed))]
    palette = Image.new("P", (1, 1))
    palette.putpalette([value for colour in fixed for value in colour] + colours)
    return palette


def render_gif(run: Run, frames: int = 48, progress: Callable[[float], None] = lambda fraction: None) -> bytes:
    """``frames`` GIF frames spread evenly over the run's steps; ``progress`` is told how far it got."""
    sequence = run.prepared.frames
    total = len(sequence)
    steps = sorted({max(0, round((k + 1) / frames * total) - 1) for k in range(frames)})
    padded = Image.open(io.BytesIO(run.padded_png(0))).convert("RGB")
    pads = run.geometry["pads"]
    maps = run.maps()
    scale_low, scale_high = run.display.low, run.display.high
    canvases = []
    for number, step in enumerate(steps):
        frame = sequence[step]
        left = padded.copy()
        draw = ImageDraw.Draw(left)
        if hasattr(frame, "rows") and "rows" in frame.fields:
            top, bottom = frame.rows[0] + pads[0], frame.rows[-1] + pads[0]
            first, last = frame.cols[0] + pads[2], frame.cols[-1] + pads[2]
            draw.rectangle((int(first), int(top), int(last), int(bottom)), outline=ACCENT)
        if isinstance(sequence, ConvTranspose2dFrames):
            partial = sequence.partial_output(step)
            plane = partial if partial.ndim == 2 else partial[0]
            rgb = to_display(plane, run.display.scheme, (scale_low, scale_high))
        else:
            f, oy, ox = frame.output_index
            rgb = to_display(maps[f], run.display.scheme, (scale_low, scale_high)).copy()
            hidden = np.ones(rgb.shape[:2], dtype=bool)
            hidden[:oy] = False
            hidden[oy, :ox + 1] = False
            rgb[hidden] = HIDDEN  # not computed yet: light gray
        left_panel = _panel(np.asarray(left), HEIGHT)
        right_panel = _panel(rgb, HEIGHT)
        canvas = Image.new("RGB", (left_panel.width + right_panel.width + 12, max(left_panel.height,
                                                                                 right_panel.height)), "white")
        canvas.paste(left_panel, (0, 0))
        canvas.paste(right_panel, (left_panel.width + 12, 0))
        canvases.append(canvas)
        progress((number + 1) / len(steps) * 0.5)
    palette = shared_palette(canvases)
    pictures = []
    for number, canvas in enumerate(canvases):
        pictures.append(canvas.quantize(palette=palette, dither=Image.Dither.NONE))
        progress(0.5 + (number + 1) / len(canvases) * 0.5)
    buffer = io.BytesIO()
    pictures[0].save(buffer, "GIF", save_all=True, append_images=pictures[1:], duration=80, loop=0, optimize=False)
    return buffer.getvalue()
