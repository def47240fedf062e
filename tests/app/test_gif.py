"""The GIF renderer (app/gif.py): one palette cut once for every frame, faithful to the frames' colours."""

from __future__ import annotations

import asyncio
import io

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from app.gif import ACCENT, HEIGHT, HIDDEN, _panel, render_gif


def gif_tables(data: bytes) -> tuple[bytes | None, list[bytes | None]]:
    """A GIF's global colour table and each frame's local one (None where absent), read from its blocks."""
    position, flags = 13, data[10]
    global_table = None
    if flags & 0x80:
        size = 3 * 2 ** ((flags & 7) + 1)
        global_table, position = data[position:position + size], position + size
    local_tables: list[bytes | None] = []
    while data[position] != 0x3B:  # the trailer
        if data[position] == 0x21:  # an extension: label, then sub-blocks
            position += 2
        else:  # 0x2C, an image: its descriptor, its local table if any, the LZW code size, then sub-blocks
            packed = data[position + 9]
            position += 10
            local = None
            if packed & 0x80:
                size = 3 * 2 ** ((packed & 7) + 1)
                local, position = data[position:position + size], position + size
            local_tables.append(local)
            position += 1
        while data[position]:
            position += data[position] + 1
        position += 1
    return global_table, local_tables


def test_every_frame_shares_one_palette_with_the_outline_and_the_gray_and_stays_faithful(
        client: TestClient) -> None:
    # Before: each frame cut its own 128-colour palette (a median cut per frame: 18 s of CPU for 48 frames of a
    # 320x240 photo, on a thread of the server that the event loop then competed with)
    sample = client.get("/api/samples").json()[1]["id"]
    described = client.post("/api/run", json={"source": {"image_id": sample}, "operation": {
        "op": "conv2d", "padding": 1, "filters": [{"kernel": {"name": "sobel_x"}}]}}).json()
    run = asyncio.run(client.app.state.registry.get(described["run_id"]))  # type: ignore[attr-defined]
    fractions: list[float] = []
    data = render_gif(run, 6, fractions.append)
    gif = Image.open(io.BytesIO(data))
    assert gif.n_frames == 6 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    global_table, local_tables = gif_tables(data)
    tables = {global_table, *local_tables} - {None}
    assert len(tables) == 1  # every frame draws from the same 256 colours
    table = tables.pop()
    assert table is not None
    colours = {tuple(table[i:i + 3]) for i in range(0, len(table), 3)}
    assert ACCENT in colours and HIDDEN in colours and (255, 255, 255) in colours
    gif.seek(0)
    first = np.asarray(gif.convert("RGB"), dtype=np.int16)
    # frame 1's map side is nearly all "not computed yet": exactly the gray, not a near colour
    right = first[:, first.shape[1] // 2 + 20:]
    assert (np.abs(right - np.array(HIDDEN)).max(axis=2) == 0).mean() > 0.5
    # the photo side keeps its colours: 253 colours cut once, off by a few levels on average
    padded = np.asarray(Image.open(io.BytesIO(run.padded_png(0))).convert("RGB"))
    panel = np.asarray(_panel(padded, HEIGHT), dtype=np.int16)  # the photo as the GIF scales it
    left = first[:panel.shape[0], :panel.shape[1]]
    assert np.abs(left - panel).mean() < 4
