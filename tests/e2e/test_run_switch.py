"""Opening another run while one plays fast: the stage shows the new run, its painter never stops, no stale ack.

Before: frames of the playing run that arrived with (or were built before) the new run's "opened" were painted
against the new run; the paint threw, the player's clock stopped for good (the stage froze on "step 22,224 of
76,800" under a gradient's title), and the page's late ack of an old frame came back as a refused setting.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.test_backprop import COMPUTE_MS, open_page

SMALL = {"source": {"matrix": [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15], [16, 17, 18, 19, 20],
                               [21, 22, 23, 24, 25]]},
         "operation": {"op": "conv2d", "filters": [{"kernel": {"name": "sobel_x"}}]}}


def test_switching_runs_while_playing_fast_never_freezes_the_stage(page: Page, base_url: str) -> None:
    open_page(page)  # the cold start plays the bundled photo, row by row
    counter = page.locator("#counter")
    expect(counter).to_contain_text("of 76,800", timeout=COMPUTE_MS)
    page.wait_for_function("() => kernelLens.tabsLoaded")  # the Backprop tab's module loads after the first map
    big = page.evaluate("() => kernelLensBackprop.runView.run.run_id")
    small = httpx.post(f"{base_url}/api/run", json=SMALL, timeout=60).json()["run_id"]
    for _ in range(6):
        page.evaluate("() => kernelLens.player.play(6400)")
        page.wait_for_function("() => kernelLens.getState().step > 2000", timeout=COMPUTE_MS)
        page.evaluate("(id) => kernelLensBackprop.openOnStage(id)", small)  # as a Backprop step opens its run
        expect(counter).to_have_text("step 1 of 9", timeout=COMPUTE_MS)
        page.locator("#step-forward").click()
        expect(counter).to_have_text("step 2 of 9")
        page.evaluate("(id) => kernelLensBackprop.openOnStage(id)", big)
        expect(counter).to_have_text("step 1 of 76,800", timeout=COMPUTE_MS)
    expect(page.locator("#status")).not_to_contain_text("ack")
    assert page.errors == []  # type: ignore[attr-defined]
