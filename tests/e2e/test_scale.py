"""Issue 9, items 5 and 6: shapes at one pixel scale, every output map at once, zoom that keeps the window."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from playwright.sync_api import Page, expect

from tests.e2e.test_stage import painted, shoot_sizes

SIX = "3 0 1 2 7 4\n1 5 8 9 3 1\n2 7 2 5 1 3\n0 1 3 1 7 8\n4 2 1 6 2 8\n2 4 5 2 3 9"

# The drawn grid of each canvas, read from its pixels: the bounding box of every painted (opaque) pixel.
PAINTED_BOX = """canvas => {
  const { width, height } = canvas;
  const data = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  let [top, left, bottom, right] = [height, width, -1, -1];
  for (let y = 0; y < height; y += 1) for (let x = 0; x < width; x += 1) {
    if (data[(y * width + x) * 4 + 3] < 200) continue;
    top = Math.min(top, y); bottom = Math.max(bottom, y); left = Math.min(left, x); right = Math.max(right, x);
  }
  return [right - left + 1, bottom - top + 1].map((v) => v / devicePixelRatio);
}"""


def open_state(page: Page, state: dict[str, object], counter: str) -> None:
    page.goto("/#" + quote(json.dumps(state)))
    expect(page.locator("#counter")).to_have_text(counter, timeout=15_000)
    painted(page)
    painted(page)


def pool_state(**extra: object) -> dict[str, object]:
    return {"source": {"kind": "matrix", "text": SIX}, "op": "pool", "poolSize": 2, "stride": 2, "padding": 0,
            "step": 8, **extra}


def test_a_6x6_to_3x3_pool_draws_the_output_half_as_large(page: Page) -> None:
    open_state(page, pool_state(), "step 9 of 9")
    page.wait_for_function("() => kernelLens.stage.images.output && kernelLens.stage.images.input")
    painted(page)
    input_size = page.locator("#input-canvas").evaluate(PAINTED_BOX)
    output_size = page.locator("#output-canvas").evaluate(PAINTED_BOX)
    # same px per cell: 6 cells against 3 (the output's 1-px frame aside)
    assert abs(output_size[0] - input_size[0] / 2) <= 3 and abs(output_size[1] - input_size[1] / 2) <= 3
    assert input_size[0] > 150
    shoot_sizes(page, "item5-pool-same-scale")
    page.get_by_label("Fit each").check()
    painted(page)
    painted(page)
    fitted = page.locator("#output-canvas").evaluate(PAINTED_BOX)
    assert fitted[0] > 1.6 * output_size[0]  # each fills its own panel: the 3x3 grid as large as the 6x6
    assert "fitEach" in page.evaluate("decodeURIComponent(location.hash)") or page.wait_for_function(
        "() => decodeURIComponent(location.hash).includes('fitEach')")


def test_a_6x6_up_sampled_by_2_draws_the_output_twice_as_large(page: Page) -> None:
    open_state(page, {"source": {"kind": "matrix", "text": SIX}, "op": "upsample", "scale": 2, "step": 143},
               "step 144 of 144")
    page.wait_for_function("() => kernelLens.stage.images.output && kernelLens.stage.images.input")
    painted(page)
    input_size = page.locator("#input-canvas").evaluate(PAINTED_BOX)
    output_size = page.locator("#output-canvas").evaluate(PAINTED_BOX)
    shoot_sizes(page, "item5-upsample-same-scale")
    assert abs(output_size[0] - 2 * input_size[0]) <= 3 and abs(output_size[1] - 2 * input_size[1]) <= 3
    shoot_sizes(page, "item5-upsample-same-scale")


THREE_FILTERS = {"filters": [{"kernel": {"name": name, "params": {}}, "bias": 0, "perChannel": False, "channels": None}
                             for name in ("sobel_x", "sobel_y", "laplace_4")], "step": 40}


def test_several_filters_show_every_map_and_a_click_selects_one(page: Page) -> None:
    open_state(page, THREE_FILTERS, "step 41 of 230,400")
    thumbs = page.locator("#map-strip .map-thumb")
    expect(thumbs).to_have_count(3)
    expect(thumbs.nth(0)).to_have_attribute("aria-pressed", "true")
    thumbs.nth(2).click()
    # the window moves to the same place in map 3: the selector, the strip and the step panel agree
    expect(page.locator("#calc-where")).to_have_text(re.compile(r"output map 3, row 0, col 40\b"))
    expect(page.get_by_label("Output map")).to_have_value("2")
    expect(thumbs.nth(2)).to_have_attribute("aria-pressed", "true")
    expect(thumbs.nth(0)).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#counter")).to_have_text("step 153,641 of 230,400")
    expect(page.locator("#caption")).to_contain_text("A 3×3 laplace 4 window")  # the kernel computed
    expect(page.locator("#kernel-catalogue [aria-pressed=true]")).to_have_text("laplace 4")
    shoot_sizes(page, "item5-three-maps")
    page.get_by_label("Output map").select_option("1")
    expect(page.locator("#calc-where")).to_have_text(re.compile(r"output map 2, row 0, col 40\b"))
    expect(thumbs.nth(1)).to_have_attribute("aria-pressed", "true")
    # stepping back across the start of map 2 into map 1: the selector follows the step
    page.get_by_role("button", name="First step").click()
    expect(page.locator("#calc-where")).to_have_text(re.compile(r"output map 1, row 0, col 0\b"))
    expect(page.get_by_label("Output map")).to_have_value("0")
    expect(thumbs.nth(0)).to_have_attribute("aria-pressed", "true")
    assert page.errors == []  # type: ignore[attr-defined]


def test_one_map_shows_no_strip(page: Page) -> None:
    open_state(page, {"step": 0}, "step 1 of 76,800")
    expect(page.locator("#map-strip")).to_be_hidden()


def window_inside(page: Page) -> bool:
    inside: bool = page.evaluate("""() => {
      const rect = kernelLens.stage.windowRect();
      const box = document.getElementById("input-canvas").getBoundingClientRect();
      return rect !== null && rect[0] >= 0 && rect[1] >= 0 && rect[0] + rect[2] <= box.width
        && rect[1] + rect[3] <= box.height;
    }""")
    return inside


ACCENT_BOX = """canvas => {
  const { width, height } = canvas;
  const data = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  let count = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - 245) < 12 && Math.abs(data[i + 1] - 158) < 14 && data[i + 2] < 40) count += 1;
  }
  return count;
}"""


def test_zoom_anchors_on_the_window_and_follow_keeps_it_in_view_while_playing(page: Page) -> None:
    open_state(page, {"step": 120 * 320 + 300}, "step 38,701 of 76,800")  # near the right edge, mid-height
    before = page.evaluate("kernelLens.stage.windowRect()")
    for _ in range(4):
        page.get_by_role("button", name="Zoom in").click()
    painted(page)
    expect(page.locator("#zoom-level")).to_have_text("1600%")
    assert window_inside(page)
    after = page.evaluate("kernelLens.stage.windowRect()")
    assert after[2] > 10 * before[2]  # 16 times larger, and still on screen
    assert page.locator("#input-canvas").evaluate(ACCENT_BOX) > 50  # the window's outline is drawn
    shoot_sizes(page, "item6-zoomed-on-the-window")
    page.locator("#speed").fill("2")  # 100 steps a second: past the row's end into the next row
    page.get_by_role("button", name="Play").click()
    seen = 0
    for _ in range(30):
        page.wait_for_timeout(100)  # sampling while it plays
        painted(page)
        assert window_inside(page), page.evaluate("[kernelLens.getState().step, kernelLens.stage.windowRect()]")
        seen += 1
    page.get_by_role("button", name="Pause").click()
    assert page.evaluate("kernelLens.getState().step") > 38_700 + 30  # it moved, across the row's end
    assert seen == 30


def test_wheel_zoom_keeps_the_point_under_the_cursor(page: Page) -> None:
    open_state(page, {"step": 38_560}, "step 38,561 of 76,800")
    page.get_by_label("Follow").uncheck()
    for _ in range(2):
        page.get_by_role("button", name="Zoom in").click()  # larger than the panel both ways: no centring
    painted(page)
    box = page.locator("#input-canvas").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.4
    cell = page.evaluate(f"""() => {{
      const v = kernelLens.stage.views().input;
      return [({x} - {box['x']} - v.originX) / v.scale, ({y} - {box['y']} - v.originY) / v.scale];
    }}""")
    page.mouse.move(x, y)
    for _ in range(3):
        page.mouse.wheel(0, -100)
    painted(page)
    assert page.evaluate("kernelLens.stage.zoom") > 7.5
    again = page.evaluate(f"""() => {{
      const v = kernelLens.stage.views().input;
      return [({x} - {box['x']} - v.originX) / v.scale, ({y} - {box['y']} - v.originY) / v.scale];
    }}""")
    assert abs(again[0] - cell[0]) < 0.5 and abs(again[1] - cell[1]) < 0.5
