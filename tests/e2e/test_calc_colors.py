"""The step panel paints the server's colours: each cell's background is the palette entry at the index the
frame (or the run, for the kernel) carries and its text the ink GET /api/palettes gives for that entry;
max-pool padding has no colour. The indices below are worked out by hand (tests/app/test_frame_colors.py)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from playwright.sync_api import Page, expect

from tests.e2e.test_stage import shoot_sizes

CELLS = """() => [...document.querySelectorAll('#calc-body .num-grid > span, #calc-body .sum, #calc-body .result')]
  .map((node) => [node.textContent, getComputedStyle(node).backgroundColor, getComputedStyle(node).color])"""


def rgb(hex_color: str) -> str:
    """'#rrggbb' (or '#rgb') as getComputedStyle writes it."""
    digits = hex_color[1:] if len(hex_color) == 7 else "".join(2 * d for d in hex_color[1:])
    return "rgb({}, {}, {})".format(*(int(digits[i:i + 2], 16) for i in (0, 2, 4)))


def painted(palettes: dict[str, Any], scheme: str, index: int) -> tuple[str, str]:
    return rgb(palettes[scheme][index]), rgb(palettes[f"{scheme}_ink"][index])


def test_the_step_panel_paints_the_server_indices(page: Page) -> None:
    state = {"source": {"kind": "matrix", "text": "1 2\n3 4"}, "op": "conv2d", "stride": 1, "padding": 0,
             "filters": [{"kernel": {"values": [[1, -1], [0, 2]]}, "bias": 0, "perChannel": False, "channels": None}],
             "step": 0}
    page.goto("/#" + quote(json.dumps(state)))
    expect(page.locator("#counter")).to_have_text("step 1 of 1")
    expect(page.locator("#calc-body .result")).to_have_text("7")
    palettes = page.request.get("api/palettes").json()
    cells = page.evaluate(CELLS)
    seq, div = "sequential", "diverging"
    # patch 1 2 3 4 on (0, 4); kernel 1 -1 0 2 on (-2, 2); products 1 -2 0 8 and their sum 7 on (-8, 8);
    # the value 7 on (0, 7)
    expected = [("1", seq, 64), ("2", seq, 128), ("3", seq, 191), ("4", seq, 255),
                ("1", div, 191), ("-1", div, 64), ("0", div, 127), ("2", div, 254),
                ("1", div, 143), ("-2", div, 95), ("0", div, 127), ("8", div, 254),
                ("7", div, 238), ("7", seq, 255)]
    assert [text.replace("−", "-") for text, _, _ in cells] == [text for text, _, _ in expected]
    assert [(background, ink) for _, background, ink in cells] == [painted(palettes, scheme, index)
                                                                   for _, scheme, index in expected]
    assert rgb("#fff") in {ink for _, _, ink in cells} and rgb("#111") in {ink for _, _, ink in cells}
    shoot_sizes(page, "calc-colors-conv")
    assert page.errors == []  # type: ignore[attr-defined]


def test_max_pool_padding_has_no_colour(page: Page) -> None:
    state = {"source": {"kind": "matrix", "text": "1 -2\n3 4"}, "op": "pool", "poolKind": "max_pool2d",
             "poolSize": 2, "stride": 1, "padding": 1, "step": 1}
    page.goto("/#" + quote(json.dumps(state)))
    expect(page.locator("#counter")).to_have_text("step 2 of 9")
    palettes = page.request.get("api/palettes").json()
    expect(page.locator("#calc-body .result")).to_have_text("1")
    cells = page.evaluate(CELLS)
    # the window over padding, padding, 1, -2 on (-4, 4): no colour twice, then 159 and 64; the max 1: 159
    assert [(background, ink) for _, background, ink in cells[2:]] == [
        painted(palettes, "diverging", 159), painted(palettes, "diverging", 64), painted(palettes, "diverging", 159)]
    assert [background for _, background, _ in cells[:2]] == ["rgba(0, 0, 0, 0)"] * 2
    assert page.errors == []  # type: ignore[attr-defined]
