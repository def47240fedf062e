"""The stage as a teacher projects it: a cold start that plays, readable numbers, maps that look like something."""

from __future__ import annotations

import re

import httpx
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
    one_line = page.locator("#caption").evaluate("p => p.getBoundingClientRect().height < 1.6 * parseFloat("
                                                 "getComputedStyle(p).lineHeight)")
    assert one_line
    first = page.locator("#output-canvas").evaluate("canvas => canvas.toDataURL()")
    page.wait_for_function("() => kernelLens.getState().step > 20 * 320")  # a few rows later
    assert page.locator("#output-canvas").evaluate("canvas => canvas.toDataURL()") != first
    loupe = page.evaluate("() => kernelLens.stage.loupe")
    assert loupe is not None and loupe["width"] >= 120
    shoot_sizes(page, "item1-cold-start")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#caption")).to_contain_text("Paused")
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
