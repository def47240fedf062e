"""Backpropagation, stepped, in Chromium: the numbers the page shows are the engine's; the lessons read."""

from __future__ import annotations

import numpy as np
from playwright.sync_api import Page, expect

from cnn_core.chain import pretrained
from tests.app.test_chain_weights import drawn_seven
from tests.e2e.conftest import shoot

SIZES = {"1280x800": (1280, 800), "1920x1080": (1920, 1080), "800x900": (800, 900)}


def painted(page: Page) -> None:
    """Wait until the page has laid out and painted twice."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def shoot_sizes(page: Page, name: str) -> None:
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        painted(page)
        painted(page)
        shoot(page, f"{name}-{label}")
    page.set_viewport_size({"width": 1280, "height": 800})
    painted(page)


def test_the_mnist_lesson_reads_the_drawn_seven_with_pretrained_weights(page: Page) -> None:
    page.goto("/")
    page.get_by_role("tab", name="Layers").click()
    page.get_by_role("button", name="The classic MNIST network reads a drawn 7").click()
    expect(page.locator("#chain-view .lesson")).to_contain_text("weights are trained")
    expect(page.locator("#chain-view .lesson")).not_to_contain_text("random")
    bars = page.locator("#chain-view .chain-card").last.locator(".bar-row .mono")
    expect(bars).to_have_count(10)
    shown = [float(text) for text in bars.all_inner_texts()]
    expected = pretrained("mnist").predict(np.array(drawn_seven())[None, None])[0]
    assert int(np.argmax(shown)) == 7
    assert np.allclose(shown, [float(f"{value:.3g}") for value in expected], rtol=1e-9, atol=1e-12)
    shoot_sizes(page, "backprop-lesson-mnist")
    assert page.errors == []  # type: ignore[attr-defined]
