"""The stage as a teacher projects it: a cold start that plays, readable numbers, maps that look like something."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import shoot

SIZES = {"1280x800": (1280, 800), "1920x1080": (1920, 1080), "1366x768": (1366, 768), "800x900": (800, 900)}


def painted(page: Page) -> None:
    """Wait until the page has laid out and painted twice (after a resize, a new frame...)."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def shoot_sizes(page: Page, name: str) -> None:
    """Screenshots at the viewports a class meets: laptop, projector, small laptop, narrow window."""
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        painted(page)
        painted(page)
        shoot(page, f"{name}-{label}")
    page.set_viewport_size({"width": 1280, "height": 800})
    painted(page)


def cell_pixels(page: Page, which: str, row: int, col: int, reach: float) -> list[tuple[int, int, int]]:
    """The (r, g, b) pixels of the stage's ``which`` canvas ("input", "output") in a square around the centre of
    cell (``row``, ``col``), ``reach`` cells from it on each side."""
    data: list[int] = page.evaluate("""([which, row, col, reach]) => {
        const canvas = document.querySelector(`#${which}-canvas`);
        const view = kernelLens.stage.views()[which];
        const ratio = canvas.width / canvas.getBoundingClientRect().width;
        const x = (view.originX + (col + 0.5) * view.scale) * ratio;
        const y = (view.originY + (row + 0.5) * view.scale) * ratio;
        const half = Math.round(view.scale * reach * ratio);
        return Array.from(canvas.getContext('2d').getImageData(x - half, y - half, 2 * half, 2 * half).data); }""",
                                    [which, row, col, reach])
    return [(data[i], data[i + 1], data[i + 2]) for i in range(0, len(data), 4)]


ONE_LINE = "p => p.getBoundingClientRect().height < 1.6 * parseFloat(getComputedStyle(p).lineHeight)"


def warm_server(base_url: str) -> None:
    """A teacher's server is already running: its first-ever requests (imports, file handles) are not the page's."""
    for path in ("/", "/static/css/app.css", "/static/js/main.js"):
        assert httpx.get(base_url + path).status_code == 200


def test_cold_start_plays_with_a_caption_and_a_loupe(page: Page, base_url: str) -> None:
    warm_server(base_url)
    page.goto("/")
    started = page.wait_for_function(
        "() => kernelLens.getState().step > 0 && kernelLens.player.playing && performance.now()", timeout=10_000)
    assert started.json_value() < 2000  # ms since the page was opened, with no click
    expect(page.locator("#caption")).to_have_text(re.compile(r"^A 3×3 sobel x window slides over the picture: .*"
                                                             r"Playing, row by row"))
    assert page.locator("#caption").evaluate(ONE_LINE)
    first = page.locator("#output-canvas").evaluate("canvas => canvas.toDataURL()")
    page.wait_for_function("() => kernelLens.getState().step > 20 * 320")  # a few rows later
    assert page.locator("#output-canvas").evaluate("canvas => canvas.toDataURL()") != first
    loupe = page.evaluate("() => kernelLens.stage.loupe")
    assert loupe is not None and loupe["width"] >= 120
    shoot_sizes(page, "item1-cold-start")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#caption")).to_contain_text("Paused: Space plays; click a pixel to explain it.")
    assert page.locator("#caption").evaluate(ONE_LINE)
    shoot_sizes(page, "item1-paused")
    assert page.errors == []  # type: ignore[attr-defined]


def test_cold_start_fills_the_map_in_seconds(page: Page) -> None:
    page.goto("/")
    speed = page.wait_for_function("() => kernelLens.player.playing && kernelLens.getState().speed")
    steps_per_second = speed.json_value()
    assert 76_800 / steps_per_second < 20  # the whole 320x240 map in under 20 s
    expect(page.locator("#speed-value")).to_have_text(f"{steps_per_second:,}/s")


def test_a_link_opens_still_at_its_step(page: Page) -> None:
    page.goto('/#{"step":4}')
    expect(page.locator("#counter")).to_have_text("step 5 of 76,800")
    expect(page.locator("#caption")).to_contain_text("Paused")
    assert page.evaluate("kernelLens.player.playing") is False


NUMBERS = "#calc-body .num-grid span, #calc-body .sum, #calc-body .result"
FIVE_BY_FIVE = "1 2 3 2 1; 2 4 6 4 2; 3 6 -9 6 3; 2 4 6 4 2; 1 2 3 2 1"


def number_sizes(page: Page) -> list[float]:
    """The computed font size (css px) of every number in the step panel."""
    sizes: list[float] = page.locator(NUMBERS).evaluate_all(
        "nodes => nodes.map((node) => parseFloat(getComputedStyle(node).fontSize))")
    return sizes


def nothing_clipped(page: Page) -> None:
    """The step panel shows all of its content: no scrolling, and the final value and last channel inside it."""
    fits = page.locator("#calc-body").evaluate(
        "body => [body.scrollHeight <= body.clientHeight, body.scrollWidth <= body.clientWidth]")
    assert fits == [True, True]
    panel = page.locator("#calc-body").bounding_box()
    assert panel is not None
    for last in (page.locator("#calc-body .result"), page.locator("#calc-body .calc-row").last):
        box = last.bounding_box()
        assert box is not None
        assert panel["y"] <= box["y"] and box["y"] + box["height"] <= panel["y"] + panel["height"]
        assert panel["x"] <= box["x"] and box["x"] + box["width"] <= panel["x"] + panel["width"]


def test_step_numbers_are_projector_sized_at_1920(page: Page) -> None:
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto('/#{"step":40000}')
    expect(page.locator("#counter")).to_have_text("step 40,001 of 76,800")
    sizes = number_sizes(page)
    assert len(sizes) == 3 * 27 + 3 + 1 and min(sizes) >= 24
    nothing_clipped(page)
    shoot_sizes(page, "item2-step-numbers")


def test_a_5x5_rgb_kernel_fits_at_1280(page: Page) -> None:
    page.goto('/#{"step":40000}')
    page.get_by_label("Type a kernel").fill(FIVE_BY_FIVE)
    expect(page.locator("#status")).to_contain_text("conv2d: 3×240×320 → 1×238×318")
    expect(page.locator("#calc-body .calc-row")).to_have_count(3)
    expect(page.locator("#calc-body .calc-row").last.locator(".label")).to_have_text("B")
    nothing_clipped(page)
    assert min(number_sizes(page)) >= 10
    shoot_sizes(page, "item2-5x5-rgb")


def fitted_sizes(page: Page) -> dict[str, float]:
    """The smallest step number's font size (css px) at each of SIZES, after the panel refits."""
    smallest = {}
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        painted(page)
        painted(page)
        nothing_clipped(page)
        smallest[label] = min(number_sizes(page))
    page.set_viewport_size({"width": 1280, "height": 800})
    painted(page)
    return smallest


def test_a_5x5_rgb_kernel_stands_side_by_side_in_a_wide_panel(page: Page) -> None:
    # stacked, the 15 rows of numbers were 16 px at 1920x1080 and 19 px when presented (also clipped at 800x900);
    # side by side they are 19 px and, presented on a 1920x1080 projector, 24 px (the panel's width is the limit
    # now: three channels of patch (.) kernel over = products take 77 em)
    page.goto('/#{"step":40000}')
    page.get_by_label("Type a kernel").fill(FIVE_BY_FIVE)
    expect(page.locator("#status")).to_contain_text("conv2d: 3×240×320 → 1×238×318")
    expect(page.locator("#calc-body .calc-row")).to_have_count(3)
    sizes = fitted_sizes(page)
    assert sizes["1920x1080"] >= 19 and sizes["1280x800"] >= 10
    page.set_viewport_size({"width": 1920, "height": 1080})
    painted(page)
    expect(page.locator("#calc-body")).to_have_class(re.compile(r"\bcalc-columns\b"))
    labels = [box["x"] for box in (page.locator("#calc-body .label").nth(c).bounding_box() for c in range(3)) if box]
    assert len(labels) == 3 and labels[0] < labels[1] < labels[2]  # R | G | B in a row
    page.get_by_role("button", name="Present").click()
    expect(page.get_by_role("button", name="Exit presentation")).to_have_attribute("aria-pressed", "true")
    presented = fitted_sizes(page)
    page.set_viewport_size({"width": 1920, "height": 1080})
    painted(page)
    painted(page)
    assert min(number_sizes(page)) >= 24 and presented["1920x1080"] >= 24
    shoot(page, "item2-5x5-rgb-presented-1920x1080")
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_3x3_step_is_no_smaller_than_stacked(page: Page) -> None:
    page.goto('/#{"step":40000}')
    expect(page.locator("#counter")).to_have_text("step 40,001 of 76,800")
    stacked = {"1280x800": 17, "1920x1080": 25, "1366x768": 16, "800x900": 18}  # measured before side by side
    sizes = fitted_sizes(page)
    assert all(sizes[label] >= px for label, px in stacked.items()), sizes


def test_presentation_mode_enlarges_the_stage_and_numbers(page: Page) -> None:
    page.goto('/#{"step":40000}')
    expect(page.locator("#counter")).to_have_text("step 40,001 of 76,800")
    before = min(number_sizes(page))
    stage_width = page.locator(".stage").evaluate("stage => stage.clientWidth")
    pictures = [page.locator(canvas).bounding_box() for canvas in ("#input-canvas", "#output-canvas")]
    page.locator("#input-canvas").focus()
    page.keyboard.press("p")
    expect(page.get_by_role("button", name="Exit presentation")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".sidebar")).to_be_hidden()
    assert page.locator(".stage").evaluate("stage => stage.clientWidth") > stage_width + 300
    painted(page)
    assert min(number_sizes(page)) > before
    # the pictures are no smaller either (they were a quarter smaller: the step panel took 44% and the caption
    # two large lines): 264 -> 278 and 261 -> 297 px tall at 1280x800
    presented = [page.locator(canvas).bounding_box() for canvas in ("#input-canvas", "#output-canvas")]
    assert all(a and b and b["height"] >= a["height"] for a, b in zip(pictures, presented, strict=True)), presented
    nothing_clipped(page)
    shoot_sizes(page, "item2-presentation")
    page.get_by_role("button", name="Exit presentation").click()
    expect(page.locator(".sidebar")).to_be_visible()


LUMINANCE_STD = """canvas => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0, sum = 0, squares = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] !== 255) continue; // only the painted map, not the empty margin
    const y = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
    count += 1; sum += y; squares += y * y;
  }
  return Math.sqrt(squares / count - (sum / count) ** 2) / 255;
}"""
GRAY_SHARE = """canvas => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0, gray = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] !== 255) continue;
    painted += 1;
    if (data[i] === data[i + 1] && data[i + 1] === data[i + 2]) gray += 1;
  }
  return gray / painted;
}"""


def show_whole_map(page: Page, mode: str) -> None:
    """Jump to the last step and wait until the output canvas paints the map shown as `mode` (as chosen), and
    the legend says what it shows."""
    page.locator("#input-canvas").focus()
    page.keyboard.press("End")
    expect(page.locator("#counter")).to_have_text(re.compile(r"^step ([\d,]+) of \1$"))
    page.wait_for_function("(mode) => { const src = kernelLens.stage.images.output?.src ?? '';"
                           " return src.includes(kernelLens.stage.run.run_id) && src.includes(`mode=${mode}&`); }",
                           arg=mode)
    expect(page.locator("#legend .what")).not_to_be_empty()
    painted(page)
    painted(page)


def open_astronaut(page: Page) -> None:
    page.goto('/#{"step":0}')
    expect(page.locator("#counter")).to_have_text("step 1 of 76,800")
    page.get_by_label("Sample image").select_option(label="Astronaut Eileen Collins")
    expect(page.locator("#status")).to_contain_text("conv2d: 3×512×512 → 1×512×512")


def test_sobel_on_the_photo_shows_bold_edges_with_the_true_range_on_the_legend(page: Page) -> None:
    open_astronaut(page)
    show_whole_map(page, "auto")
    assert page.locator("#output-canvas").evaluate(LUMINANCE_STD) >= 30 / 255
    expect(page.get_by_label("Show the output as")).to_have_value("auto")
    expect(page.get_by_label("Show the output as").locator("option").first).to_have_text("auto: |value|")
    stats = page.evaluate("kernelLens.getState() && fetch(kernelLens.stage.run.result_npy_url).then(() => 0)")
    assert stats == 0
    low, high = page.evaluate("[kernelLens.stage.run.stats.min, kernelLens.stage.run.stats.max]")
    expect(page.locator("#legend")).to_contain_text("|value|, 2nd to 98th percentile")
    expect(page.locator("#legend")).to_contain_text(f"min {low:g} · max {high:g}")
    shoot_sizes(page, "item3-sobel-photo-auto")
    page.get_by_label("Show the output as").select_option("signed")
    show_whole_map(page, "signed")
    expect(page.locator("#legend")).to_contain_text("value, 2nd to 98th percentile")
    page.get_by_label("Contrast").select_option("full")
    show_whole_map(page, "signed")
    expect(page.locator("#legend")).to_contain_text(f"{low:g}")
    shoot(page, "item3-sobel-photo-signed-full")


def test_a_blur_shows_as_a_photo_gray_or_in_colour(page: Page) -> None:
    open_astronaut(page)
    page.get_by_role("button", name="gaussian").click()
    # the 5x5 run first (a new geometry starts at step 1, so an End pressed before it arrives would be undone)
    expect(page.locator("#status")).to_contain_text("conv2d: 3×512×512 → 1×510×510")
    show_whole_map(page, "auto")
    expect(page.get_by_label("Show the output as").locator("option").first).to_have_text("auto: as a photo")
    assert page.locator("#output-canvas").evaluate(GRAY_SHARE) > 0.97  # R + G + B summed: gray (the ring: amber)
    shoot(page, "item3-gaussian-photo-gray")
    page.get_by_label("Depthwise").check()
    expect(page.locator("#status")).to_contain_text("conv2d: 3×512×512 → 3×510×510")  # gaussian is 5x5
    show_whole_map(page, "auto")
    assert page.locator("#output-canvas").evaluate(GRAY_SHARE) < 0.5  # each channel on its own: a colour picture
    expect(page.locator("#legend")).to_contain_text("R, G, B maps as one picture")
    shoot_sizes(page, "item3-gaussian-depthwise-photo")
    page.get_by_label("Show the output as").select_option("gray")
    show_whole_map(page, "gray")
    assert "mode=gray" in (page.locator("#download-png").get_attribute("href") or "")


FIVE = "1 1 1 0 0\n0 1 1 1 0\n0 0 1 1 1\n0 0 1 1 0\n0 1 1 0 0"


def shown_whole(page: Page, selector: str) -> None:
    """The element's text is not cut: no ellipsis, no overflow."""
    assert page.locator(selector).evaluate("node => node.scrollWidth <= node.clientWidth && "
                                           "getComputedStyle(node).textOverflow !== 'ellipsis'")


def test_a_refused_setting_is_explained_in_full_next_to_it(page: Page) -> None:
    page.goto("/#" + quote(json.dumps({"source": {"kind": "matrix", "text": FIVE}, "step": 0})))
    expect(page.locator("#output-title")).to_have_text("Output 1×5×5")
    page.get_by_label("Dilation").fill("6")
    message = ("kernel must not be larger than the padded input: the kernel spans 13 rows (3 taps, dilation 6) "
               "but the padded input has 5 + 2 = 7")
    note = page.locator(".field-error")
    expect(note).to_have_text(message)
    expect(page.get_by_label("Dilation")).to_have_attribute("aria-invalid", "true")
    shown_whole(page, ".field-error")
    field = page.get_by_label("Dilation").bounding_box()
    box = note.bounding_box()
    assert field is not None and box is not None and 0 <= box["y"] - field["y"] < 120  # right under the field
    viewport = page.viewport_size
    assert viewport is not None and box["y"] + box["height"] <= viewport["height"]  # scrolled into view
    expect(page.locator("#output-title")).to_have_text("Output 1×5×5")  # the last valid run stays on stage
    shoot_sizes(page, "item8-refused-dilation")
    page.get_by_label("Dilation").fill("1")
    expect(note).to_have_count(0)
    expect(page.get_by_label("Dilation")).not_to_have_attribute("aria-invalid", "true")


def test_a_ragged_matrix_keeps_its_dialog_open_with_the_bad_cell_marked(page: Page) -> None:
    page.goto('/#{"step":0}')
    expect(page.locator("#counter")).to_have_text("step 1 of 76,800")
    page.get_by_role("button", name="Matrix…").click()
    page.get_by_label("Matrix values").fill("1 2 3\n4 5\n6 7 8")
    page.get_by_role("button", name="Use this matrix").click()
    expect(page.locator("#matrix-error")).to_have_text(
        "row 2 has 2 numbers but row 1 has 3: every row needs the same count")
    expect(page.locator("#matrix-dialog")).to_have_attribute("open", "")
    expect(page.get_by_label("Matrix values")).to_have_attribute("aria-invalid", "true")
    selected = page.get_by_label("Matrix values").evaluate(
        "area => area.value.slice(area.selectionStart, area.selectionEnd)")
    assert selected == "5"  # row 2's last number: the third is missing
    shoot(page, "item8-ragged-matrix")
    page.get_by_label("Matrix values").fill("1 2; 3")
    page.get_by_role("button", name="Use this matrix").click()
    expect(page.locator("#matrix-error")).to_have_text(
        "row 2 has 1 number but row 1 has 2: every row needs the same count")
    page.get_by_label("Matrix values").fill("1 2; 3 4")
    page.get_by_role("button", name="Use this matrix").click()
    expect(page.locator("#matrix-dialog")).not_to_have_attribute("open", "")
    expect(page.locator("#status")).to_contain_text("conv2d: 2×2 →")


def test_the_fourier_view_is_disabled_with_its_reason_where_it_cannot_work(page: Page) -> None:
    page.goto('/#{"step":0}')
    expect(page.locator("#counter")).to_have_text("step 1 of 76,800")
    expect(page.get_by_role("button", name="Fourier view")).to_be_disabled()
    expect(page.locator("#fourier-reason")).to_have_text(
        "The Fourier view needs one input channel and one filter: choose Gray or a typed matrix.")
    shoot(page, "item8-fourier-disabled")
    page.get_by_text("Gray", exact=True).click()
    expect(page.get_by_role("button", name="Fourier view")).to_be_enabled()
    expect(page.locator("#fourier-reason")).to_be_empty()


def test_usable_800_px_wide(page: Page) -> None:
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto('/#{"step":40000}')
    expect(page.locator("#counter")).to_have_text("step 40,001 of 76,800")
    shoot(page, "item11-800x900")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 800  # nothing sticks out sideways
    shown_whole(page, "#status")
    for canvas in ("#input-canvas", "#output-canvas"):
        box = page.locator(canvas).bounding_box()
        assert box is not None and box["y"] < 200 and box["height"] >= 250 and box["width"] >= 340
    calc = page.locator("#calc-body").bounding_box()
    transport = page.locator(".transport").bounding_box()
    assert calc is not None and transport is not None
    assert calc["y"] + calc["height"] <= transport["y"]  # the whole step on the first screen, above the controls
    nothing_clipped(page)
    page.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")
    painted(page)
    shoot(page, "item11-800x900-controls")


def test_usable_on_a_1366x768_laptop(page: Page) -> None:
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto('/#{"step":40000}')
    expect(page.locator("#counter")).to_have_text("step 40,001 of 76,800")
    assert page.evaluate("document.scrollingElement.scrollHeight") <= 768  # one screen, no page scroll
    for canvas in ("#input-canvas", "#output-canvas"):
        box = page.locator(canvas).bounding_box()
        assert box is not None and box["height"] >= 200
    nothing_clipped(page)
    assert min(number_sizes(page)) >= 14
    shown_whole(page, "#status")
    shoot(page, "item11-1366x768")


@pytest.mark.parametrize("tab", ["Convolution", "Activation", "Pooling", "Up-sampling", "Transposed conv"])
def test_every_operation_keeps_both_pictures_in_the_window_at_1280(page: Page, tab: str) -> None:
    """The Activation tab at 1280x800 squeezed the input card to 110 px (its picture gone, its formula one word
    a line) and pushed the output card past the window's right edge: the stage's two columns were 1fr each,
    whose minimum is their content's (the output's one-line legend), not zero."""
    page.goto('/#{"step":0}')
    expect(page.locator("#counter")).to_have_text("step 1 of 76,800")
    page.get_by_role("tab", name=tab).click()
    page.get_by_role("button", name="Step forward").click()
    expect(page.locator("#calc-title")).to_have_text("Step 2")
    painted(page)
    left = page.locator("section.canvas-card[aria-label=Input]").bounding_box()
    right = page.locator("section.canvas-card[aria-label=Output]").bounding_box()
    assert left is not None and right is not None
    cards = (left, right)
    assert right["x"] + right["width"] <= 1280 and left["width"] >= 380 and right["width"] >= 380, cards
    assert abs(left["width"] - right["width"]) < 2  # the two halves of the stage
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 1280


def test_presentation_on_an_800_px_screen_keeps_the_pictures(page: Page) -> None:
    """Presentation mode's rules came after the narrow layout's: at 800x900 the stage's rows shared out a height
    the scrolling page does not have, so the input collapsed to a line and the output to 140x25 px, with the
    step's numbers smaller than outside presentation and a third of the screen empty."""
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto('/#{"step":9700}')
    expect(page.locator("#counter")).to_have_text("step 9,701 of 76,800")
    before = min(number_sizes(page))
    page.get_by_role("button", name="Present").click()
    expect(page.locator("body")).to_have_class(re.compile("present"))
    painted(page)
    for canvas in ("#input-canvas", "#output-canvas"):
        box = page.locator(canvas).bounding_box()
        assert box is not None and box["height"] >= 250 and box["width"] >= 340, (canvas, box)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 800
    nothing_clipped(page)
    assert min(number_sizes(page)) >= before
    shoot(page, "item2-presentation-800x900-fixed")
