"""Issue 9, item 7: one truth on screen. A change of operation or input starts at step 1 (a change that keeps
the geometry keeps the step); a catalogue kernel clears the typed text; with Depthwise the editor, its chip
and the caption show the kernel computed with; a refused setting leaves the last valid run and marks itself."""

from __future__ import annotations

import json
from urllib.parse import quote

from playwright.sync_api import Page, expect

FIVE = "1 1 1 0 0\n0 1 1 1 0\n0 0 1 1 1\n0 0 1 1 0\n0 1 1 0 0"


def open_matrix(page: Page, step: int, **state: object) -> None:
    page.goto("/#" + quote(json.dumps({"source": {"kind": "matrix", "text": FIVE}, "step": step, **state})))


def test_a_new_operation_or_input_starts_at_step_1(page: Page) -> None:
    open_matrix(page, 7)
    expect(page.locator("#counter")).to_have_text("step 8 of 25")
    page.get_by_label("Bias").fill("2")  # the same windows over the same input: the step stays
    expect(page.locator("#calc-body .total")).to_contain_text("+ bias 2 =")
    expect(page.locator("#counter")).to_have_text("step 8 of 25")
    page.get_by_role("tab", name="Transposed conv").click()
    expect(page.locator("#status")).to_contain_text("conv_transpose2d: 5×5 →")
    expect(page.locator("#counter")).to_have_text("step 1 of 25")
    page.locator("#input-canvas").focus()
    page.keyboard.press("End")
    expect(page.locator("#counter")).to_have_text("step 25 of 25")
    page.get_by_role("tab", name="Convolution").click()
    expect(page.locator("#status")).to_contain_text("conv2d: 5×5 → 1×5×5")
    expect(page.locator("#counter")).to_have_text("step 1 of 25")
    page.keyboard.press("End")
    expect(page.locator("#counter")).to_have_text("step 25 of 25")
    page.get_by_role("button", name="Matrix…").click()  # a new input, the same shape: step 1 all the same
    page.get_by_label("Matrix values").fill(FIVE.replace("1", "2"))
    page.get_by_role("button", name="Use this matrix").click()
    expect(page.locator("#status")).to_contain_text("conv2d: 5×5 → 1×5×5")
    expect(page.locator("#counter")).to_have_text("step 1 of 25")
    expect(page.locator("#calc-body .num-grid span").nth(4)).to_have_text("2")  # the new input's numbers
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_catalogue_kernel_clears_the_typed_text(page: Page) -> None:
    open_matrix(page, 0)
    expect(page.locator("#counter")).to_have_text("step 1 of 25")
    page.get_by_label("Type a kernel").fill("0 1 0; 1 -4 1; 0 1 0")
    expect(page.locator("#kernel-description")).to_have_text("Your own kernel: edit any cell.")
    expect(page.locator("#calc-body .num-grid").nth(1).locator("span").nth(4)).to_have_text("-4")
    page.get_by_role("button", name="sobel y").click()
    expect(page.get_by_label("Type a kernel")).to_have_value("")
    expect(page.get_by_role("button", name="sobel y")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#calc-body .num-grid").nth(1).locator("span").nth(0)).to_have_text("-1")  # sobel y's
    page.get_by_label("Type a kernel").fill("1 2; 3 4")
    expect(page.locator("#status")).to_contain_text("conv2d: 5×5 → 1×6×6")
    page.get_by_role("button", name="Matrix…").click()
    page.get_by_role("button", name="Textbook 5x5 (0/1)").click()  # a preset's kernel replaces it too
    expect(page.locator("#status")).to_contain_text("conv2d: 5×5 → 1×3×3")
    expect(page.get_by_label("Type a kernel")).to_have_value("")


def test_depthwise_shows_the_kernel_it_computes_with(page: Page) -> None:
    filters = [{"kernel": {"name": name, "params": {}}, "bias": 0, "perChannel": False, "channels": None}
               for name in ("sobel_x", "sobel_y", "laplace_4")]
    page.goto("/#" + quote(json.dumps({"filters": filters, "step": 0})))
    expect(page.locator("#status")).to_contain_text("conv2d: 3×240×320 → 3×240×320")
    page.locator("#filter-tabs button", has_text="3").click()
    expect(page.get_by_role("button", name="laplace 4")).to_have_attribute("aria-pressed", "true")
    page.get_by_label("Depthwise").check()
    expect(page.locator("#status")).to_contain_text("conv2d: 3×240×320 → 3×240×320, 230,400 steps")
    # depthwise computes with filter 1 alone: the chip, the description, the grid and the caption say so
    expect(page.get_by_role("button", name="sobel x")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="laplace 4")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#filter-tabs button", has_text="1")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#filter-tabs button", has_text="3")).to_be_disabled()
    expect(page.locator("#caption")).to_contain_text("sobel x")
    grid = page.locator("#kernel-grids input").evaluate_all("cells => cells.map((cell) => cell.value)")
    assert grid == ["-1", "0", "1", "-2", "0", "2", "-1", "0", "1"]
    # the step panel shows the depthwise run once its first frame comes (one channel's row); the status line
    # above reads the same for the last run (3 filters, 230,400 steps), and between the depthwise run's "opened"
    # and its first frame the panel is empty
    expect(page.locator("#calc-body .calc-row")).to_have_count(1)
    expect(page.locator("#calc-body .num-grid").nth(1).locator("span")).to_have_text(
        ["-1", "0", "1", "-2", "0", "2", "-1", "0", "1"])


def test_a_refused_setting_keeps_the_last_run_and_marks_its_field(page: Page) -> None:
    open_matrix(page, 3)
    expect(page.locator("#counter")).to_have_text("step 4 of 25")
    expect(page.locator("#input-note")).to_contain_text("padding 1/1/1/1")
    page.get_by_label("Padding pixels").fill("40")  # more than the server allows
    expect(page.get_by_label("Padding pixels")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field-error")).to_contain_text("padding")
    # the stage still shows the last valid run, with its padding, at its step
    expect(page.locator("#input-note")).to_contain_text("padding 1/1/1/1")
    expect(page.locator("#output-title")).to_have_text("Output 1×5×5")
    expect(page.locator("#counter")).to_have_text("step 4 of 25")
    page.get_by_label("Padding pixels").fill("2")
    expect(page.get_by_label("Padding pixels")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#input-note")).to_contain_text("padding 2/2/2/2")
    expect(page.locator("#counter")).to_have_text("step 1 of 49")  # new geometry: step 1
