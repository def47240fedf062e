"""Screenshots of each Train-tab lesson once its training has ended, when its claim shows (the curves apart for
"overfitting", closer for its remedies, the filters changed for "filters are learned").

    python3 scripts/train_lesson_screenshots.py [--out tests/artifacts]

Starts `kernel-lens serve` on a free loopback port, opens the page in Debian's headless Chromium, presses each
lesson, waits until its training is done (a lesson trains for 10 to 60 s on a laptop), and saves
`train-lesson-<name>-done-<width>x<height>.png` at 1280x800 and 1920x1080. Not a test (the CI suite presses each
lesson and checks its text and form, without waiting for the end): a record of what a teacher sees, to look at.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_server import free_port, start_server

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
SIZES = [(1280, 800), (1920, 1080)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests" / "artifacts")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with tempfile.TemporaryFile() as log:
        server = start_server(port, log)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(f"http://127.0.0.1:{port}/")
                page.get_by_role("tab", name="Train").click()
                page.locator("#train-summary table").wait_for(timeout=30_000)
                titles = page.locator("#train-lessons button").all_inner_texts()
                for title in titles:
                    page.get_by_role("button", name=title, exact=True).click()
                    page.wait_for_function(  # this lesson's training has begun (not the last one's "Done")
                        "() => !/^(Done|Stopped)/.test(document.querySelector('#train-status').textContent)",
                        timeout=60_000)
                    page.wait_for_function(
                        "() => /^(Done|Stopped)/.test(document.querySelector('#train-status').textContent)",
                        timeout=300_000)
                    name = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40]
                    for width, height in SIZES:
                        page.set_viewport_size({"width": width, "height": height})
                        page.wait_for_timeout(300)  # the curves redraw at the new size
                        path = args.out / f"train-lesson-{name}-done-{width}x{height}.png"
                        page.screenshot(path=str(path))
                        print(path, page.locator("#train-status").inner_text())
                    page.set_viewport_size({"width": 1280, "height": 800})
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
