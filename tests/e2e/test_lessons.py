"""Issue 9, item 10: each lesson keeps its words beside its stage, draws its input, and shows its claim.

Each claim is checked in numbers where it has numbers (the engine's, read from the page or the API, against
SciPy or hand counts); every lesson's screenshot is saved at four sizes to be looked at."""

from __future__ import annotations

import io
import re

import httpx
import numpy as np
from PIL import Image
from playwright.sync_api import Page, expect
from scipy.ndimage import correlate

from cnn_core import get_kernel
from tests.e2e.test_page import open_page
from tests.e2e.test_stage import painted, shoot_sizes

SAMPLES = __import__("pathlib").Path(__file__).parents[2] / "app" / "samples"


def open_lesson(page: Page, title: str, status: str) -> None:
    open_page(page)
    page.get_by_role("tab", name="Layers").click()
    page.get_by_role("button", name=re.compile("^" + re.escape(title))).click()
    expect(page.locator("#status")).to_contain_text(status, timeout=20_000)
    painted(page)


def lesson_text_visible(page: Page, fragment: str) -> None:
    """The lesson's sentences are on screen (in the stage's caption when a layer is open, else atop the chain)."""
    words = page.locator("#caption.with-lesson:visible, #chain-view .lesson:visible").filter(has_text=fragment)
    expect(words.first).to_be_visible()
    box = words.first.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size["height"]  # type: ignore[index]


def input_drawn(page: Page) -> None:
    """The chain's input card shows the picture (a loaded image, not only its shape)."""
    page.get_by_role("button", name="Back to the chain").click()
    picture = page.locator(".input-card img")
    expect(picture).to_be_visible()
    page.wait_for_function("() => { const i = document.querySelector('.input-card img'); "
                           "return i && i.complete && i.naturalWidth > 0; }")


def numbers(page: Page, selector: str) -> list[float]:
    texts = page.locator(selector).all_inner_texts()
    return [float(t.replace("−", "-")) for t in texts]


def test_five_by_five_keeps_its_words_and_computes_4_first(page: Page) -> None:
    open_lesson(page, "A 5×5 image and a 3×3 filter", "conv2d: 1×5×5 → 1×3×3, 9 steps")
    lesson_text_visible(page, "Each output cell is the sum of the nine products")
    # window [[1,1,1],[0,1,1],[0,0,1]] against the X filter [[1,0,1],[0,1,0],[1,0,1]]: 1 + 1 + 1 + 1 = 4
    expect(page.locator("#calc-body .result")).to_have_text("4")
    shoot_sizes(page, "item10-lesson-five")
    input_drawn(page)
    assert page.errors == []  # type: ignore[attr-defined]


def test_stride_lesson_shows_the_jump_on_a_small_map(page: Page) -> None:
    open_lesson(page, "Stride and padding", "conv2d: 1×9×9 → 1×4×4, 16 steps")
    lesson_text_visible(page, "jumps two pixels at a time")
    expect(page.locator("#calc-where")).to_contain_text("row 0, col 1")
    cell = page.evaluate("kernelLens.stage.views().input.scale")
    rect = page.evaluate("kernelLens.stage.windowRect()")
    left = page.evaluate("kernelLens.stage.views().input.originX")
    assert cell >= 20  # a 9x9 map: each pixel is big enough to see
    assert round((rect[0] - left) / cell) == 2 and round(rect[2] / cell) == 3  # the second window starts at column 2
    shoot_sizes(page, "item10-lesson-stride")
    input_drawn(page)


def test_max_pool_lesson_opens_on_unequal_values_and_the_largest_wins(page: Page) -> None:
    open_lesson(page, "Max pooling picks the strongest response", "max_pool2d: 1×240×320 → 1×120×160")
    lesson_text_visible(page, "the largest of its unequal values wins")
    expect(page.locator("#counter")).to_have_text("step 1,751 of 19,200")
    window = numbers(page, "#calc-body .num-grid span")
    result = numbers(page, "#calc-body .result")[0]
    assert len(window) == 4 and len(set(window)) >= 3  # unequal
    assert result == max(window) and result >= 1.3 * sorted(window)[-2]  # the winner stands out
    shoot_sizes(page, "item10-lesson-maxpool")
    input_drawn(page)


def test_translation_invariance_merges_close_dots_and_keeps_far_ones_apart(page: Page, base_url: str) -> None:
    open_lesson(page, "Translation invariance", "chain of 3 layers: 0 parameters")
    lesson_text_visible(page, "stay separate to the end")
    maps = page.locator("#chain-view .chain-card img")
    expect(maps).to_have_count(4)  # the input and one map per pool
    shoot_sizes(page, "item10-lesson-invariance")
    lit = []
    for k in (1, 2, 3):
        png = httpx.get(base_url + (maps.nth(k).get_attribute("src") or "")).content
        pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        colours, counts = np.unique(pixels.reshape(-1, 3), axis=0, return_counts=True)
        background = colours[np.argmax(counts)]
        lit.append(np.argwhere(np.abs(pixels - background).sum(axis=2) > 60))  # cells unlike the background
    assert len(lit[0]) == 4  # after one pool: all four dots still apart
    assert len(lit[1]) == 3  # after two: the close pair is one cell
    final = sorted(map(tuple, lit[2]))
    assert final == [(0, 0), (3, 0), (3, 3)]  # the far pair two empty cells apart at the end


def test_laplace_lesson_shows_raw_laplace_and_log(page: Page) -> None:
    open_lesson(page, "Laplace is noise-sensitive", "chain of 1 layers: 98 parameters")
    lesson_text_visible(page, "Map 1 is the raw Laplacian")
    expect(page.locator("#chain-view .chain-card:not(.input-card) img")).to_have_count(2)
    shoot_sizes(page, "item10-lesson-laplace")
    # the claim in numbers (SciPy on the same gray photo): Laplace flips sign about 2 in 5, LoG about 1 in 5
    gray = np.asarray(Image.open(SAMPLES / "astronaut.png").convert("L"), dtype=float)

    def flips(kernel: np.ndarray) -> float:
        y = correlate(gray, kernel, mode="constant")
        return float(np.mean(np.sign(y[:, 1:]) != np.sign(y[:, :-1])))

    assert 0.35 < flips(get_kernel("laplace_8")) < 0.45
    assert 0.17 < flips(get_kernel("log")) < 0.27


def test_lessons_with_a_stage_keep_their_words(page: Page) -> None:
    open_lesson(page, "Going back up", "conv_transpose2d: 1×2×2 → 1×6×6")
    lesson_text_visible(page, "A transposed convolution with stride 3")
    shoot_sizes(page, "item10-lesson-back-up")
    input_drawn(page)
    open_lesson(page, "Sobel on a photo", "chain of 2 layers: 18 parameters")
    lesson_text_visible(page, "The magnitude")
    input_drawn_now = page.locator(".input-card img")
    expect(input_drawn_now).to_be_visible()
    shoot_sizes(page, "item10-lesson-sobel")
    open_lesson(page, "Many filters make a deep output", "chain of 1 layers: 168 parameters")
    expect(page.locator("#chain-view .chain-card:not(.input-card) img")).to_have_count(6)
    shoot_sizes(page, "item10-lesson-depth")
