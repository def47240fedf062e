"""The visualizer in headless Chromium: what a learner does, checked against the engine's own numbers."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from cnn_core import conv2d_frames, get_kernel, load_image
from tests.e2e.conftest import shoot

STEP_TITLE = re.compile(r"^Step [\d,]+$")


def photo_bytes() -> bytes:
    rng = np.random.default_rng(11)
    pixels = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def open_page(page: Page, hash_state: dict[str, object] | None = None) -> None:
    """Open the page still, at step 1 (a link never autoplays; the cold start is tested in test_stage.py)."""
    hash_state = hash_state or {"step": 0}
    page.goto("/#" + quote(json.dumps(hash_state)))
    expect(page.locator("#counter")).to_have_text(re.compile(r"^step [1-9][\d,]* of [\d,]+$"), timeout=15_000)


def upload(page: Page, tmp_path: Path, data: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    page.locator("#file-input").set_input_files(str(path))


def test_page_loads_on_a_sample_without_errors(page: Page) -> None:
    open_page(page)
    expect(page.get_by_role("tab", name="Convolution")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#status")).to_contain_text("conv2d: 3×240×320 → 1×240×320, 76,800 steps")
    expect(page.locator("#formula-rows")).to_have_text("floor((240 + 2*1 - 1*(3-1) - 1) / 1) + 1 = 240")
    expect(page.locator("#calc-body .result")).to_be_visible()
    shoot(page, "conv-sample")
    assert page.errors == []  # type: ignore[attr-defined]


def test_upload_then_step_shows_the_engines_numbers(page: Page, tmp_path: Path) -> None:
    open_page(page)
    data = photo_bytes()
    upload(page, tmp_path, data, "noise.png")
    expect(page.locator("#status")).to_contain_text("conv2d: 3×40×56 → 1×40×56")
    page.get_by_role("button", name="sobel x").click()
    expect(page.locator("#counter")).to_have_text("step 1 of 2,240")
    for _ in range(5):
        page.get_by_role("button", name="Step forward").click()
    expect(page.locator("#calc-title")).to_have_text("Step 6")
    weight = np.repeat(get_kernel("sobel_x")[None, None], 3, axis=1)
    frame = conv2d_frames(load_image(data), weight, np.zeros(1), padding=1)[5]
    sums = page.locator("#calc-body .sum").all_inner_texts()
    assert sums == [str(int(v)) for v in frame.channel_sums]
    expect(page.locator("#calc-body .result")).to_have_text(str(int(frame.value)))
    patch_cells = page.locator("#calc-body .calc-row").first.locator(".num-grid").first.locator("span")
    assert patch_cells.all_inner_texts() == [str(int(v)) for v in frame.patch[0].ravel()]
    shoot(page, "conv-upload-step6")


def test_stride_and_padding_change_formula_and_size(page: Page) -> None:
    open_page(page)
    page.get_by_label("Stride", exact=True).fill("2")
    page.get_by_label("Padding", exact=True).select_option("valid")
    expect(page.locator("#formula-rows")).to_have_text("floor((240 + 2*0 - 1*(3-1) - 1) / 2) + 1 = 119")
    expect(page.locator("#formula-cols")).to_have_text("floor((320 + 2*0 - 1*(3-1) - 1) / 2) + 1 = 159")
    expect(page.locator("#output-title")).to_have_text("Output 1×119×159")
    page.get_by_label("Padding", exact=True).select_option("same")
    page.get_by_label("Padding mode").select_option("reflect")
    expect(page.locator("#formula-rows")).to_have_text(
        "same: ceil(240 / 2) = 120; floor((240 + 0+1 - 1*(3-1) - 1) / 2) + 1 = 120")
    expect(page.locator("#input-note")).to_have_text(" (+ padding 0/1/0/1, reflect)")
    shoot(page, "conv-stride2-same-reflect")


def test_scrub_play_and_output_canvas_changes(page: Page) -> None:
    open_page(page)
    page.get_by_role("slider", name="Step", exact=True).fill("320")
    expect(page.locator("#counter")).to_have_text("step 321 of 76,800")
    expect(page.locator("#calc-where")).to_have_text("output map 1, row 1, col 0")
    before = page.locator("#output-canvas").evaluate("canvas => canvas.toDataURL()")
    page.locator("#speed").fill("3")  # 1,000 steps a second
    page.get_by_role("button", name="Play").click()
    expect(page.locator("#counter")).not_to_have_text("step 321 of 76,800")
    page.wait_for_function("() => window.kernelLens.getState().step > 1400")
    page.get_by_role("button", name="Pause").click()
    after = page.locator("#output-canvas").evaluate("canvas => canvas.toDataURL()")
    assert after != before
    shoot(page, "conv-after-playing")


def test_keyboard_steps_and_rows(page: Page) -> None:
    open_page(page)
    page.locator("#input-canvas").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#counter")).to_have_text("step 2 of 76,800")
    page.keyboard.press("Shift+ArrowRight")
    expect(page.locator("#counter")).to_have_text("step 322 of 76,800")
    page.keyboard.press("End")
    expect(page.locator("#counter")).to_have_text("step 76,800 of 76,800")
    page.keyboard.press("Home")
    expect(page.locator("#counter")).to_have_text("step 1 of 76,800")


def test_click_an_output_pixel_jumps_to_its_step(page: Page) -> None:
    open_page(page, {"source": {"kind": "matrix", "text": "1 1 1 0 0\n0 1 1 1 0\n0 0 1 1 1\n0 0 1 1 0\n0 1 1 0 0"}})
    canvas = page.locator("#output-canvas")
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # the middle pixel: (2, 2)
    expect(page.locator("#calc-where")).to_have_text("output map 1, row 2, col 2")
    expect(page.locator("#counter")).to_have_text("step 13 of 25")
    shoot(page, "matrix-5x5-clicked")


@pytest.mark.parametrize(("tab", "expected"), [
    ("Activation", "relu: 3×240×320 → 3×240×320"),
    ("Pooling", "max_pool2d: 3×240×320 → 3×120×160"),
    ("Up-sampling", "upsample: 3×240×320 → 3×480×640"),
    ("Transposed conv", "conv_transpose2d: 3×240×320 → 1×481×641"),
])
def test_each_operation_tab_renders_its_stage(page: Page, tab: str, expected: str) -> None:
    open_page(page)
    page.get_by_role("tab", name=tab).click()
    expect(page.locator("#status")).to_contain_text(expected)
    page.get_by_role("button", name="Step forward").click()
    expect(page.locator("#calc-title")).to_have_text(STEP_TITLE)
    expect(page.locator("#calc-body")).not_to_be_empty()
    shoot(page, f"tab-{tab.split()[0].lower()}")
    assert page.errors == []  # type: ignore[attr-defined]


def test_bad_kernel_text_marks_the_wrong_cell(page: Page) -> None:
    open_page(page)
    page.get_by_label("Type a kernel").fill("1 0 -1; 2 x -2; 1 0 -1")
    expect(page.locator("#kernel-error")).to_have_text(
        "row 2, column 2: 'x' is not a number (write decimals like -0.5, or fractions like 1/9)")
    expect(page.get_by_label("typed row 2 column 2")).to_have_class(re.compile("bad"))
    shoot(page, "kernel-text-error")
    page.get_by_label("Type a kernel").fill("1/9 1/9 1/9; 1/9 1/9 1/9; 1/9 1/9 1/9")
    expect(page.locator("#kernel-error")).to_be_hidden()
    expect(page.get_by_label("same on all 3 channels row 1 column 1")).to_have_value("0.1111")


def test_bad_file_shows_a_message_and_the_page_keeps_working(page: Page, tmp_path: Path) -> None:
    open_page(page)
    upload(page, tmp_path, b"this is not a picture", "holiday.png")
    expect(page.locator("#status")).to_have_text(
        "That file could not be used: data is not an image file Pillow can read (PNG, JPEG, GIF, BMP, TIFF, WebP): "
        "UnidentifiedImageError")
    page.get_by_role("button", name="Step forward").click()
    expect(page.locator("#counter")).to_have_text("step 2 of 76,800")


def test_a_link_reproduces_its_settings(page: Page) -> None:
    open_page(page, {"op": "pool", "poolKind": "avg_pool2d", "poolSize": 3, "stride": 3, "padding": 1,
                     "color": "gray", "step": 41})
    expect(page.get_by_role("tab", name="Pooling")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_label("Stride", exact=True)).to_have_value("3")
    expect(page.get_by_label("Kind")).to_have_value("avg_pool2d")
    expect(page.locator("#status")).to_contain_text("avg_pool2d: 1×240×320 → 1×80×107")
    expect(page.locator("#counter")).to_have_text("step 42 of 8,560")
    shoot(page, "link-avg-pool")


def test_each_operation_shows_only_its_own_panels_and_train_opens_right_after_load(page: Page) -> None:
    html = page.request.get("/").text()  # hidden before any script runs: the first layout skips them
    assert html.count("hidden aria-label=") >= 10 and 'data-for="pool" hidden' in html
    assert 'data-for="conv2d conv_transpose2d" aria-label="Kernel"' in html
    open_page(page)
    expect(page.get_by_role("region", name="Kernel")).to_be_visible()
    for name in ("Pooling", "Activation", "Up-sampling", "Chain", "Model", "Example"):
        expect(page.get_by_role("region", name=name, exact=True)).to_be_hidden()
    page.goto("about:blank")  # a new document: a hash alone would not reload the page
    open_page(page, {"op": "pool", "step": 0})
    expect(page.get_by_role("region", name="Pooling")).to_be_visible()
    expect(page.get_by_role("region", name="Kernel")).to_be_hidden()
    page.get_by_role("tab", name="Train").click()  # its modules load after the first map: at once when asked
    expect(page.get_by_role("region", name="Model", exact=True)).to_be_visible()
    expect(page.get_by_label("Network")).to_be_enabled()
    expect(page.get_by_role("region", name="Pooling")).to_be_hidden()


def test_the_url_follows_the_settings(page: Page) -> None:
    open_page(page)
    page.get_by_role("tab", name="Up-sampling").click()
    page.get_by_label("Scale", exact=True).fill("3")
    page.wait_for_function("() => decodeURIComponent(location.hash).includes('\"scale\":3')")
    state = json.loads(page.evaluate("() => decodeURIComponent(location.hash.slice(1))"))
    assert state["op"] == "upsample" and state["scale"] == 3


def test_dark_theme_and_narrow_screen(page: Page) -> None:
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": 800, "height": 1000})
    open_page(page)
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(16, 19, 26)"
    shoot(page, "dark-narrow")


def test_several_filters_give_a_stack_of_maps_and_downloads(page: Page) -> None:
    open_page(page)
    page.get_by_role("button", name="Add a filter").click()
    page.get_by_role("button", name="sobel y").click()
    expect(page.locator("#status")).to_contain_text("conv2d: 3×240×320 → 2×240×320")
    expect(page.locator("#map-select option")).to_have_count(3)
    page.get_by_label("Output map").select_option("1")
    expect(page.locator("#download-png")).to_have_attribute("href", re.compile(r"result\.png\?channel=1(&|$)"))
    png = page.request.get(page.locator("#download-png").get_attribute("href") or "")
    assert png.status == 200 and png.headers["content-type"] == "image/png"
    npy = page.request.get(page.locator("#download-npy").get_attribute("href") or "")
    array = np.load(io.BytesIO(npy.body()))
    assert array.shape == (2, 240, 320)
    shoot(page, "conv-two-filters")


def test_per_channel_kernel_slices(page: Page) -> None:
    open_page(page)
    page.get_by_label("Per channel").check()
    for name in ("R slice", "G slice", "B slice"):
        expect(page.get_by_label(f"{name} row 1 column 1")).to_be_visible()
    cell = page.get_by_label("G slice row 2 column 2")
    cell.fill("5")
    cell.press("Enter")
    kernels = page.locator("#calc-body .calc-row").nth(1).locator(".num-grid").nth(1).locator("span")
    expect(kernels.nth(4)).to_have_text("5")
    shoot(page, "conv-per-channel")


def test_a_link_to_an_evicted_image_says_so_and_falls_back_to_a_sample(page: Page) -> None:
    open_page(page, {"source": {"kind": "image", "imageId": "0" * 24, "name": "gone.png"}})
    expect(page.locator("#status")).to_contain_text(f"image {'0' * 24} is not stored (it may have been evicted): "
                                                    "upload it again or choose a sample")
    assert page.evaluate("kernelLens.getState().source.name") == "shapes"
    expect(page.get_by_label("Sample image")).to_have_value(page.evaluate("kernelLens.getState().source.imageId"))
