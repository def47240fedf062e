"""The Layers view in headless Chromium: a chain, its summary and thumbnails, stepping a layer, lessons,
the Fourier view, the flip toggle and the GIF export."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, Route, expect

from tests.e2e.conftest import shoot
from tests.e2e.test_page import open_page

LESSONS = [
    ("A 5×5 image and a 3×3 filter", "conv2d: 1×5×5 → 1×3×3, 9 steps"),
    ("Sobel on a photo", "chain of 2 layers: 18 parameters"),
    ("Laplace is noise-sensitive", "chain of 1 layers: 98 parameters"),
    ("Stride and padding", "conv2d: 1×9×9 → 1×4×4"),
    ("Many filters make a deep output", "chain of 1 layers: 168 parameters"),
    ("Max pooling picks the strongest response", "max_pool2d: 1×240×320 → 1×120×160"),
    ("Translation invariance", "chain of 3 layers: 0 parameters"),
    ("Going back up", "conv_transpose2d: 1×2×2 → 1×6×6"),
    ("The classic MNIST network", "chain of 8 layers: 93,322 parameters"),
]


def test_three_layer_chain_summary_thumbnails_and_stepping_a_layer(page: Page) -> None:
    open_page(page)
    page.get_by_role("tab", name="Layers").click()
    summary = page.locator("table.summary")
    expect(summary.locator("tbody tr")).to_have_count(3)
    expect(summary.locator("tfoot")).to_contain_text("112")
    expect(summary.locator("tbody tr").nth(1)).to_contain_text("(4, 120, 160)")
    expect(page.get_by_role("button", name="Open conv2d map 2 on the stage")).to_be_visible()
    shoot(page, "layers-chain")
    page.get_by_role("button", name="Open max_pool2d map 2 on the stage").click()
    expect(page.locator("#status")).to_contain_text("max_pool2d: 4×240×320 → 4×120×160")
    expect(page.locator("#calc-where")).to_contain_text("output map 2, row 0, col 0")  # the map clicked
    expect(page.get_by_label("Output map", exact=True)).to_have_value("1")
    page.get_by_role("button", name="Step forward").click()
    expect(page.locator("#calc-title")).to_have_text(re.compile(r"^Step [\d,]+$"))
    expect(page.locator("#calc-body")).to_contain_text("max =")
    shoot(page, "layers-open-pool")
    page.get_by_role("button", name="Back to the chain").click()
    expect(summary).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]


def test_editing_the_chain_updates_the_summary(page: Page) -> None:
    open_page(page)
    page.get_by_role("tab", name="Layers").click()
    expect(page.locator("table.summary tbody tr")).to_have_count(3)
    page.get_by_label("Layer type to add").select_option("flatten")
    page.get_by_role("button", name="Add layer").click()
    page.get_by_label("Layer type to add").select_option("dense")
    page.get_by_role("button", name="Add layer").click()
    expect(page.locator("table.summary tbody tr")).to_have_count(5)
    # 4 x 240 x 320 = 307,200 inputs -> 10 units: 3,072,010 more parameters
    expect(page.locator("table.summary tfoot")).to_contain_text("3,072,122")
    expect(page.locator(".bars .bar-row")).to_have_count(10)
    page.get_by_label("Remove this layer (layer 5)").click()
    expect(page.locator("table.summary tbody tr")).to_have_count(4)


@pytest.mark.parametrize(("title", "expected"), LESSONS, ids=[lesson[0].split()[1] for lesson in LESSONS])
def test_each_lesson_opens(page: Page, title: str, expected: str) -> None:
    open_page(page)
    page.get_by_role("tab", name="Layers").click()
    page.get_by_role("button", name=re.compile("^" + re.escape(title))).click()
    expect(page.locator("#status")).to_contain_text(expected, timeout=15_000)
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40]
    shoot(page, f"lesson-{slug}")
    assert page.errors == []  # type: ignore[attr-defined]


def test_sobel_lesson_maps_have_their_size_before_loading_and_are_bold(page: Page) -> None:
    open_page(page)
    page.get_by_role("tab", name="Layers").click()
    held: list[Route] = []
    released = False

    def hold(route: Route) -> None:  # the map pictures wait, so the cards are measured before they load
        if released:
            route.continue_()
        else:
            held.append(route)

    page.route(re.compile(r"/api/chains/\w+/layers/\d+/maps/\d+\.png$"), hold)
    page.get_by_role("button", name=re.compile("^Sobel on a photo")).click()
    expect(page.locator("#status")).to_contain_text("chain of 2 layers: 18 parameters", timeout=15_000)
    maps = [page.get_by_role("img", name=name) for name in ("conv2d map 1", "conv2d map 2", "magnitude map 1")]
    for image in maps:  # not loaded yet: the box is still the map's shape (512 x 512), not a 2 px sliver
        assert image.evaluate("image => image.naturalWidth") == 0
        box = image.bounding_box()
        assert box is not None and box["width"] > 100 and abs(box["width"] - box["height"]) < 2, box
    assert held, "no map picture was asked for"
    released = True
    for route in held:
        route.continue_()
    legend = page.get_by_label("conv2d colour scale")
    expect(legend).to_contain_text("value, 2nd to 98th percentile")
    expect(legend).to_contain_text(re.compile(r"min -952 · max 1,?000"))  # the true extremes, beyond the scale
    for image in maps:
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("image => image.naturalWidth") == 512
        png = page.request.get(image.get_attribute("src") or "").body()
        shown = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)
        assert shown.std() >= 30, f"{image} is faint: luminance std {shown.std():.1f}"
    shoot(page, "lesson-sobel-bold-maps")
    assert page.errors == []  # type: ignore[attr-defined]


def test_fourier_view_and_flip(page: Page) -> None:
    open_page(page, {"color": "gray", "paddingKind": "same"})
    page.get_by_role("button", name="Fourier view").click()
    expect(page.locator("#fourier-difference")).to_have_text(re.compile(r"largest difference from the direct result: "
                                                                        r"\d\.\d\de-\d\d"))
    expect(page.locator("#spectrum-product")).to_have_attribute("src", re.compile(r"spectral/product\.png$"))
    shoot(page, "fourier-view")
    page.get_by_role("button", name="Close").click()
    page.get_by_label("True convolution (flip)").check()
    expect(page.locator("#flip-note")).to_have_text(re.compile(r"differs from cross-correlation by up to"))
    expect(page.get_by_label("kernel row 1 column 1")).to_have_value("1")  # sobel_x flipped


def test_gif_export_downloads_an_animation(page: Page) -> None:
    open_page(page, {"source": {"kind": "matrix", "text": "1 1 1 0 0\n0 1 1 1 0\n0 0 1 1 1\n0 0 1 1 0\n0 1 1 0 0"}})
    page.get_by_text("Export").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="GIF").click()
    assert download.value.suggested_filename == "kernel-lens.gif"
    expect(page.locator("#status")).to_have_text("GIF ready: downloaded as kernel-lens.gif")


def test_the_chain_has_no_transport_for_the_stage_it_covers(page: Page) -> None:
    """The Layers tab's chain covers the stage, but the bar under it still offered Play and read "step 1 of
    76,800" (the hidden stage's run), and Space played that hidden run. A layer opened on the stage has it back."""
    open_page(page)
    page.get_by_role("tab", name="Layers").click()
    expect(page.locator("table.summary tbody tr")).to_have_count(3)
    expect(page.locator(".transport")).to_be_hidden()
    expect(page.locator("#counter")).to_be_hidden()
    page.locator("body").press(" ")
    page.wait_for_timeout(300)
    assert page.evaluate("() => kernelLens.player.playing") is False
    page.get_by_role("button", name="Open max_pool2d map 2 on the stage").click()
    expect(page.locator("#status")).to_contain_text("max_pool2d: 4×240×320 → 4×120×160")
    expect(page.locator(".transport")).to_be_visible()
    expect(page.locator("#counter")).to_contain_text("of 76,800")
    page.get_by_role("button", name="Back to the chain").click()
    expect(page.locator(".transport")).to_be_hidden()


def test_the_stage_paints_the_step_the_panel_writes(page: Page) -> None:
    """The step panel was written in the frame's task and the stage canvases (window, loupe) on the next animation
    frame, so a screenshot after a step showed the loupe's numbers of the step before (2118, 2824 beside the
    panel's 2824, 2824). When the panel's title changes, the canvases already show that step."""
    open_page(page)
    page.get_by_role("tab", name="Layers").click()
    page.get_by_role("button", name="Open max_pool2d map 2 on the stage").click()
    expect(page.locator("#calc-where")).to_contain_text("output map 2, row 0, col 0")
    page.evaluate("""() => { window.seen = [];
        new MutationObserver(() => window.seen.push([document.querySelector('#calc-title').textContent,
                                                     kernelLens.stage.paintedIndex]))
            .observe(document.querySelector('#calc-title'),
                     {childList: true, characterData: true, subtree: true}); }""")
    for _ in range(3):
        page.get_by_role("button", name="Step forward").click()
    expect(page.locator("#calc-where")).to_contain_text("output map 2, row 0, col 3")
    seen = page.evaluate("() => window.seen")
    assert seen and all(title == f"Step {index + 1:,}" for title, index in seen), seen
