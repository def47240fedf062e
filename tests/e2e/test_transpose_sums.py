"""Issue 9, item 4: a transposed convolution shows its point: on a small input the output cells carry their
running sums, the stamped cells are marked, and the step panel writes each as previous + x·k = new."""

from __future__ import annotations

import json
from urllib.parse import quote

from playwright.sync_api import Page, expect

from tests.e2e.test_stage import cell_pixels, painted, shoot_sizes

KERNEL = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]


def link(step: int) -> str:
    state = {"source": {"kind": "matrix", "text": "1 2\n3 4"}, "op": "conv_transpose2d", "stride": 2, "padding": 0,
             "filters": [{"kernel": {"values": KERNEL}, "bias": 0, "perChannel": False, "channels": None}],
             "step": step}
    return "/#" + quote(json.dumps(state))


def sums(page: Page) -> list[str]:
    cells: list[str] = page.locator("#calc-body .sum-cell").all_inner_texts()
    return [" ".join(text.split()) for text in cells]


def test_the_overlapping_stamps_add_up_on_screen(page: Page) -> None:
    page.goto(link(3))
    expect(page.locator("#counter")).to_have_text("step 4 of 4")
    expect(page.locator("#output-title")).to_have_text("Output 1×5×5")
    # the fourth stamp (x = 4) on the 5x5 output: the centre had 32 after three stamps
    expect(page.locator("#calc-body .sum-cell").first).to_have_text("32 + 4×1 = 36")
    assert sums(page) == ["32 + 4×1 = 36", "16 + 4×2 = 24", "18 + 4×3 = 30",
                          "18 + 4×4 = 34", "0 + 4×5 = 20", "0 + 4×6 = 24",
                          "27 + 4×7 = 55", "0 + 4×8 = 32", "0 + 4×9 = 36"]
    overlaps = page.locator("#calc-body .sum-cell.overlap")
    expect(overlaps).to_have_count(5)  # the cells earlier stamps reached: its top row and left column
    # the output cells carry the running sums (from the frame), numbers large enough to read
    written = page.evaluate("() => kernelLens.stage.values.output")
    assert written is None  # not the final result's numbers: the frame's running sums are drawn instead
    shoot_sizes(page, "item4-transposed-sums-step4")
    page.locator("#input-canvas").focus()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#counter")).to_have_text("step 3 of 4")
    assert sums(page)[:3] == ["7 + 3×1 = 10", "8 + 3×2 = 14", "23 + 3×3 = 32"]
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#counter")).to_have_text("step 2 of 4")
    assert sums(page)[:3] == ["3 + 2×1 = 5", "0 + 2×2 = 4", "0 + 2×3 = 6"]
    expect(page.locator("#calc-body .sum-cell.overlap")).to_have_count(3)  # column 2
    shoot_sizes(page, "item4-transposed-sums-step2")
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_output_cells_show_the_running_sums(page: Page) -> None:
    page.goto(link(1))
    expect(page.locator("#counter")).to_have_text("step 2 of 4")
    painted(page)
    drawn = page.evaluate("""() => {
      const frame = kernelLens.stage.frame;
      return frame.running_output ? Array.from(frame.running_output.data.subarray(0, 5)) : null;
    }""")
    assert drawn == [1, 2, 5, 4, 6]  # row 0 after two stamps: 1K and 2K overlap in column 2
    assert page.locator("#calc-body").evaluate("b => b.scrollHeight <= b.clientHeight")


def test_a_stamped_cells_number_is_written_over_its_marks(page: Page) -> None:
    """The stamp's marks (the tint of cells earlier stamps reached, the thick outline) were drawn after the
    numbers: the tint dulled the digits and the outline cut long ones at both sides (backprop's dL/dX). The
    numbers now come last: the centre cell (36, reached by earlier stamps) has pure white digit pixels."""
    page.goto(link(3))
    expect(page.locator("#counter")).to_have_text("step 4 of 4")
    painted(page)
    brightest = max(min(pixel) for pixel in cell_pixels(page, "output", 2, 2, 0.3))
    assert brightest >= 245, brightest
