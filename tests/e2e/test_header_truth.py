"""One truth on screen, in Chromium: on a tab that does not show the stage's run (Train, Backprop) the header's
status line says what that tab shows, and the header's Image and Colour controls are off, with the reason."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import shoot
from tests.e2e.test_backprop import go_to_step

COMPUTE_MS = 60_000  # a shared test machine may take a while to compute a network's backward pass
STAGE_RUN = "conv2d: 3×240×320 → 1×240×320, 76,800 steps"  # the first sample's run, as the Convolution tab says
HEADER_INPUTS = ["#sample", "#upload-button", "#matrix-button", "input[name=color][value=rgb]",
                 "input[name=color][value=gray]"]


def painted(page: Page) -> None:
    """Wait until the page has laid out and painted twice."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def open_page(page: Page) -> None:
    """Open the page as a user does: the first run is playing and the status line describes it."""
    page.goto("/")
    page.wait_for_function("() => kernelLens.player.playing", timeout=COMPUTE_MS)
    expect(page.locator("#status")).to_have_text(STAGE_RUN)


def expect_header_inputs_off(page: Page, reason: str) -> None:
    for selector in HEADER_INPUTS:
        expect(page.locator(selector)).to_be_disabled()
        expect(page.locator(selector)).to_have_attribute("title", re.compile(reason))


def expect_header_inputs_on(page: Page) -> None:
    for selector in HEADER_INPUTS:
        expect(page.locator(selector)).to_be_enabled()
    expect(page.locator("#sample")).not_to_have_attribute("title", re.compile("tab"))
    expect(page.locator("#upload-button")).to_have_attribute("title", re.compile("^Pick an image file"))
    expect(page.locator(".topbar > .segmented")).to_have_attribute("title", re.compile("^Colour keeps the 3 channels"))


def test_train_tab_status_says_training_and_header_inputs_are_off(page: Page) -> None:
    open_page(page)
    page.get_by_role("tab", name="Train").click()
    expect(page.locator("#status")).to_have_text("Train: Choose a network and press Train.")
    expect(page.locator("#status")).not_to_contain_text("76,800 steps")
    expect_header_inputs_off(page, "^The Train tab trains on its own MNIST digits")
    expect(page.locator("#counter")).to_be_hidden()  # the transport does not drive training
    page.keyboard.press(" ")  # nor does its shortcut play the stage hidden behind the tab
    painted(page)
    assert page.evaluate("() => kernelLens.player.playing") is False
    shoot(page, "header-truth-train-1280x800")
    page.get_by_role("tab", name="Convolution").click()
    expect(page.locator("#status")).to_have_text(STAGE_RUN)
    expect_header_inputs_on(page)
    assert page.errors == []  # type: ignore[attr-defined]


def test_backprop_on_an_mnist_digit_status_names_the_step_shown(page: Page) -> None:
    open_page(page)
    page.get_by_role("tab", name="Backprop").click()
    expect(page.locator("#bp-example")).to_have_value("model")  # a digit through the trained network
    expect(page.locator("#bp-count")).to_have_text("step 1 of 18", timeout=COMPUTE_MS)
    expect(page.locator("#status")).to_have_text(
        re.compile(r"^Backprop step 1 of 18: Forward pass · mnist-pretrained, label 7, loss \d"))
    expect_header_inputs_off(page, "^The Backprop tab computes its own example")
    expect(page.locator("#counter")).to_be_hidden()
    # a conv layer's dL/dX on the stage (a transposed convolution): the status line and the counter are that run's
    go_to_step(page, "conv2d_2 (layer 5): dL/dX")
    expect(page.locator("#status")).to_have_text(
        re.compile(r"^Backprop step 9 of 18 \(stage\): conv_transpose2d 64×3×3 → 64×5×5, [\d,]+ steps$"),
        timeout=COMPUTE_MS)
    steps = page.locator("#status").inner_text().split(", ")[-1].removesuffix(" steps")
    expect(page.locator("#counter")).to_have_text(f"step 1 of {steps}", timeout=COMPUTE_MS)
    # the next layer back is a panel: the stage's transposed convolution is no longer what the line describes
    go_to_step(page, "max_pool2d_1 (layer 4)")
    expect(page.locator("#status")).to_have_text("Backprop step 10 of 18: max_pool2d_1, max_pool2d 64×11×11 → 64×5×5")
    expect(page.locator("#counter")).to_be_hidden()
    for width, height in [(1280, 800), (1920, 1080)]:
        page.set_viewport_size({"width": width, "height": height})
        painted(page)
        shoot(page, f"header-truth-backprop-pool-{width}x{height}")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("tab", name="Convolution").click()
    expect(page.locator("#status")).to_have_text(STAGE_RUN, timeout=COMPUTE_MS)
    expect_header_inputs_on(page)
    expect(page.locator("#counter")).to_contain_text("of 76,800")
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_try_it_layer_on_the_stage_names_itself_then_the_training_again(page: Page) -> None:
    open_page(page)
    page.get_by_role("tab", name="Train").click()
    page.get_by_role("button", name="Try it").click()
    page.get_by_role("button", name="Use this digit").click()  # held-out test digit 0, pretrained network
    expect(page.locator("#try-answer")).to_contain_text("It says", timeout=COMPUTE_MS)
    page.locator("#try-maps .try-layer").first.get_by_role("button", name="Step it on the stage").click()
    expect(page.locator("#counter")).to_have_text("step 1 of 21,632", timeout=COMPUTE_MS)
    expect(page.locator("#status")).to_have_text(
        re.compile(r"^Try it: conv2d of the pretrained network on .+ · conv2d 1×28×28 → 32×26×26, 21,632 steps$"))
    expect_header_inputs_off(page, "^The Train tab")
    page.locator("#train-stage-back").click()
    expect(page.locator("#status")).to_have_text(re.compile("^Train: "))
    page.get_by_role("tab", name="Pooling").click()
    expect(page.locator("#status")).to_contain_text("max_pool2d: 3×240×320 → 3×120×160", timeout=COMPUTE_MS)
    expect_header_inputs_on(page)
    assert page.errors == []  # type: ignore[attr-defined]
