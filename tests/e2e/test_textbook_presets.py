"""Issue 9, item 9: the textbook in one click. Each Matrix-dialog preset sets its whole example (input,
kernel or filters with biases, padding, stride); CS231n's 5x5x3 input with two 3x3x3 filters steps to the
numbers PyTorch gives (tests/fixtures/cs231n_golden.json); typed channels and kernels separated by blank
lines work from the page."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Page, WebSocketRoute, expect

from tests.e2e.test_stage import cell_pixels, nothing_clipped, painted, shoot_sizes

GOLDEN = json.loads((Path(__file__).parents[1] / "fixtures" / "cs231n_golden.json").read_text())


def open_still(page: Page) -> None:
    page.goto('/#{"step":0}')
    expect(page.locator("#counter")).to_have_text("step 1 of 76,800")


def test_the_cs231n_preset_loads_its_whole_example_and_steps_to_its_numbers(page: Page) -> None:
    open_still(page)
    page.get_by_role("button", name="Matrix…").click()
    page.get_by_role("button", name="CS231n 5x5x3, two filters, stride 2, pad 1").click()
    expect(page.locator("#matrix-dialog")).not_to_have_attribute("open", "")
    expect(page.locator("#status")).to_contain_text("conv2d: 3×5×5 → 2×3×3, 18 steps")
    expect(page.locator("#counter")).to_have_text("step 1 of 18")
    run = page.evaluate("() => kernelLens.stage.run")
    assert run["weight"] == GOLDEN["w"] and run["bias"] == GOLDEN["b"]
    assert run["geometry"]["pads"] == [1, 1, 1, 1] and run["geometry"]["stride"] == [2, 2]
    expect(page.get_by_label("Stride")).to_have_value("2")
    expect(page.get_by_label("Padding pixels")).to_have_value("1")
    expect(page.get_by_label("Bias")).to_have_value("1")
    expect(page.locator("#filter-tabs button[aria-pressed]")).to_have_count(2)
    # step 1: map 1 at (0, 0). By hand: R 2*1 = 2, G 0, B 2*1 + 1*1 = 3, plus b0 = 1: 6 (PyTorch: 6)
    expect(page.locator("#calc-body .calc-row")).to_have_count(3)
    expect(page.locator("#calc-body .total")).to_have_text("ch 1 + ch 2 + ch 3 + bias = 2 + 0 + 3 + 1 = 6",
                                                           use_inner_text=True)
    assert GOLDEN["output"][0][0][0] == 6.0
    shoot_sizes(page, "item9-cs231n-step1")
    page.locator("#input-canvas").focus()
    for index in range(1, 18):  # every step's sums, bias and value are PyTorch's
        page.keyboard.press("ArrowRight")
        expect(page.locator("#counter")).to_have_text(f"step {index + 1} of 18")
        f, rest = divmod(index, 9)
        row, col = divmod(rest, 3)
        sums = " + ".join(f"{GOLDEN['channel_sums'][f][c][row][col]:g}" for c in range(3))
        value = GOLDEN["output"][f][row][col]
        expect(page.locator("#calc-body .total")).to_have_text(
            f"ch 1 + ch 2 + ch 3 + bias = {sums} + {GOLDEN['b'][f]:g} = {value:g}", use_inner_text=True)
        expect(page.locator("#calc-where")).to_have_text(f"output map {f + 1}, row {row}, col {col}")
        # the kernel editor shows the filter of the step's map: its tab, its slices and its bias
        expect(page.locator("#filter-tabs button[aria-pressed=true]")).to_have_text(str(f + 1))
        expect(page.get_by_label("Bias")).to_have_value(f"{GOLDEN['b'][f]:g}")
        expect(page.locator("#kernel-grids input").first).to_have_value(f"{GOLDEN['w'][f][0][0][0]:g}")
        if index == 9:  # map 2 at (0, 0): -1 + 3 + 0 + b1 = 2
            expect(page.locator("#calc-body .total")).to_have_text(
                "ch 1 + ch 2 + ch 3 + bias = -1 + 3 + 0 + 0 = 2", use_inner_text=True)
            nothing_clipped(page)
            shoot_sizes(page, "item9-cs231n-map2")
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_textbook_5x5_preset_sets_the_x_kernel_and_no_padding(page: Page) -> None:
    open_still(page)
    page.get_by_role("button", name="Matrix…").click()
    page.get_by_role("button", name="Textbook 5x5 (0/1)").click()
    expect(page.locator("#status")).to_contain_text("conv2d: 5×5 → 1×3×3, 9 steps")
    run = page.evaluate("() => kernelLens.stage.run")
    assert run["weight"] == [[[[1, 0, 1], [0, 1, 0], [1, 0, 1]]]] and run["geometry"]["pads"] == [0, 0, 0, 0]
    # the status line comes with the run's "opened", the step panel with its first frame: wait for the panel
    expect(page.locator("#calc-body .total")).to_have_text("4 + bias 0 = 4", use_inner_text=True)
    page.get_by_role("button", name="Matrix…").click()
    page.get_by_role("button", name="6x6 example").click()
    expect(page.locator("#status")).to_contain_text("conv2d: 6×6 → 1×4×4, 16 steps")
    expect(page.locator("#calc-body .total")).to_have_text("-5 + bias 0 = -5", use_inner_text=True)


def test_a_new_run_shows_no_step_of_the_last_one_until_its_own_first_frame(page: Page) -> None:
    """Between a new run's "opened" and its first frame, the step panel and counter showed the last run's step
    under the new run's status line ("4 + bias 0 = 4" under "6x6 -> 1x4x4, 16 steps"; CI, once). Here the new
    run's frames are held back until the panel has been looked at."""
    held: list[bytes] = []
    routes: list[WebSocketRoute] = []
    hold = {"on": False}

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        routes.append(ws)

        def from_server(message: str | bytes) -> None:
            if hold["on"] and isinstance(message, bytes):
                held.append(message)
            else:
                ws.send(message)

        server.on_message(from_server)

    page.route_web_socket(re.compile(r"/ws/animate$"), route)
    open_still(page)
    page.get_by_role("button", name="Matrix…").click()
    page.get_by_role("button", name="Textbook 5x5 (0/1)").click()
    expect(page.locator("#calc-body .total")).to_have_text("4 + bias 0 = 4", use_inner_text=True)
    hold["on"] = True
    page.get_by_role("button", name="Matrix…").click()
    page.get_by_role("button", name="6x6 example").click()
    expect(page.locator("#status")).to_contain_text("conv2d: 6×6 → 1×4×4, 16 steps")
    expect(page.locator("#calc-body")).to_have_text("")
    expect(page.locator("#counter")).to_have_text("step … of 16")
    hold["on"] = False
    for message in held:
        routes[-1].send(message)
    expect(page.locator("#calc-body .total")).to_have_text("-5 + bias 0 = -5", use_inner_text=True)
    expect(page.locator("#counter")).to_have_text("step 1 of 16")


def test_typed_channels_and_per_channel_kernels(page: Page) -> None:
    open_still(page)
    page.get_by_role("button", name="Matrix…").click()
    x = "\n\n".join("\n".join(" ".join(str(v) for v in row) for row in plane) for plane in GOLDEN["x"])
    page.get_by_label("Matrix values").fill(x)
    page.get_by_role("button", name="Use this matrix").click()
    expect(page.locator("#status")).to_contain_text("conv2d: 3×5×5 → 1×5×5")
    w0 = "\n\n".join("\n".join(" ".join(str(v) for v in row) for row in plane) for plane in GOLDEN["w"][0])
    page.get_by_label("Type a kernel").fill(w0)
    expect(page.get_by_label("Per channel")).to_be_checked()
    expect(page.locator("#kernel-grids .kernel-grid")).to_have_count(3)
    page.get_by_label("Stride").fill("2")
    page.get_by_label("Bias").fill("1")
    expect(page.locator("#status")).to_contain_text("conv2d: 3×5×5 → 1×3×3, 9 steps")
    expect(page.locator("#calc-body .total")).to_have_text("ch 1 + ch 2 + ch 3 + bias = 2 + 0 + 3 + 1 = 6",
                                                           use_inner_text=True)
    # both filters typed at once: six blocks, three per filter
    both = w0 + "\n\n" + "\n\n".join("\n".join(" ".join(str(v) for v in row) for row in plane)
                                     for plane in GOLDEN["w"][1])
    page.get_by_label("Type a kernel").fill(both)
    expect(page.locator("#status")).to_contain_text("conv2d: 3×5×5 → 2×3×3, 18 steps")
    assert page.evaluate("() => kernelLens.stage.run.weight") == GOLDEN["w"]
    page.get_by_label("Type a kernel").fill("1 0\n0 1\n\n1 1\n1 1")
    expect(page.locator("#kernel-error")).to_have_text(
        "2 kernels typed: give one per input channel (3) for this filter, or 3 per filter for several filters "
        "(a blank line between kernels)")
    page.get_by_label("Type a kernel").fill("1 0\n0 1\n\n1 1 1")
    expect(page.locator("#kernel-error")).to_have_text(
        "kernel 2 is 1x3 but kernel 1 is 2x2: every kernel needs the same rows and columns")
    painted(page)


def test_a_ragged_channel_keeps_the_dialog_open_on_its_bad_number(page: Page) -> None:
    open_still(page)
    page.get_by_role("button", name="Matrix…").click()
    page.get_by_label("Matrix values").fill("1 2\n3 4\n\n5 6\n7 x")
    page.get_by_role("button", name="Use this matrix").click()
    expect(page.locator("#matrix-error")).to_have_text(
        "channel 2: row 2, column 2: 'x' is not a number (write decimals like -0.5, or fractions like 1/9)")
    selected = page.get_by_label("Matrix values").evaluate(
        "area => area.value.slice(area.selectionStart, area.selectionEnd)")
    assert selected == "x"


def test_cell_numbers_are_white_on_a_dark_plate(page: Page) -> None:
    """Numbers over a picture's cells were white digits with a thin dark outline: on a light cell (the textbook's
    yellow 1s) they looked hollow, a "0" read as a ring. Each is now on a dark plate its size: around the
    centre of a yellow cell most pixels are dark, and the digit itself is white."""
    open_still(page)
    page.get_by_role("button", name="Matrix…").click()
    page.get_by_role("button", name="Textbook 5x5 (0/1)").click()
    expect(page.locator("#status")).to_contain_text("conv2d: 5×5 → 1×3×3, 9 steps")
    page.wait_for_function("() => kernelLens.stage.values.input !== null")  # the cells' numbers, from the server
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    # cell (0, 3) holds a 0 on purple, (1, 3) a 1 on yellow: outside the window's outline
    pixels = [0.2126 * r + 0.7152 * g + 0.0722 * b for r, g, b in cell_pixels(page, "input", 1, 3, 0.15)]
    dark = sum(value < 110 for value in pixels) / len(pixels)
    white = sum(value > 230 for value in pixels) / len(pixels)
    assert dark >= 0.4 and white >= 0.05, (dark, white)
