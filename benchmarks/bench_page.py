"""The page in headless Chromium: frame intervals while playing at full speed, time to the first map, and time
from a parameter change (stride, then kernel) to the updated map on screen.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/bench_page.py [--seconds 5]

Starts `kernel-lens serve` on a loopback port, uploads a 1024x1024 photo-like image, opens the page on
it (a fresh page each time), measures, stops. Chromium is Debian's /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np
from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import free_port, photo_jpeg, start_server

# Chromium 156's headless mode gives each new window (here: each load's fresh context) its omnibox popup, built
# as two WebUI pages (chrome://omnibox-popup.top-chrome/ and its AI-mode page) in a renderer of their own: ~0.8 s
# of CPU, plus the browser process' share, while the page under test loads on the same two cores. A user's
# browser has built it before they open the page, so it is turned off here; the page itself is unchanged.
BROWSER_UI = "--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", BROWSER_UI]


CHANGED = """([t0, size]) => {
  const painted = window.kernelLens.mapPainted;
  const stage = window.kernelLens.stage;
  return painted && painted.at > t0 && painted.url === stage.urls.output && stage.run
    && (size === null || String(stage.run.output_shape[2]) === size) && stage.run.run_id !== window.benchRun;
}"""


INPUT_AT = """() => {
  window.benchInputAt = null;
  for (const type of ["click", "input"]) {
    document.addEventListener(type, (event) => { window.benchInputAt = event.timeStamp; }, { capture: true });
  }
}"""


def change_to_map(page: Page, act: Callable[[], None], size: str | None) -> tuple[float, float]:
    """ms from a control's change to the new run's map painted on screen (the next animation frame after it
    loaded): from the input event reaching the page (its ``timeStamp``: the moment the user's click or key
    arrives), and from the automation's call (which adds Playwright's own checks before it clicks: the element
    stable over two animation frames, scrolled into view, hit-tested)."""
    page.wait_for_timeout(300)  # settle: no request of the previous change still in flight
    t0 = page.evaluate("() => { window.benchRun = window.kernelLens.stage.run.run_id; window.benchInputAt = null; "
                       "return performance.now(); }")
    act()
    page.wait_for_function(CHANGED, arg=[t0, size], timeout=30_000)
    painted, input_at = page.evaluate("() => [window.kernelLens.mapPainted.at, window.benchInputAt]")
    return painted - input_at, painted - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--loads", type=int, default=5, help="page loads to time")
    parser.add_argument("--changes", type=int, default=8, help="parameter changes to time (each kind)")
    parser.add_argument("--omnibox-popup", action="store_true",
                        help="leave Chromium's omnibox popup on (each fresh window builds it while the page loads)")
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        process = start_server(port, log)
        try:
            image = httpx.post(f"{base}/api/images", content=photo_jpeg(1024, 1024),
                               headers={"content-type": "image/jpeg"}, timeout=30).json()
            link = "/#" + quote(json.dumps({"source": {"kind": "image", "imageId": image["id"], "name": "photo"}}))
            with sync_playwright() as playwright:
                flags = [flag for flag in ARGS if not (args.omnibox_popup and flag == BROWSER_UI)]
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=flags)
                loads = []
                for _ in range(args.loads):
                    page = browser.new_page(viewport={"width": 1280, "height": 800})
                    page.goto(base + link)
                    page.wait_for_function("() => window.kernelLens && window.kernelLens.firstMapAt !== null",
                                           timeout=30_000)
                    loads.append(page.evaluate("() => window.kernelLens.firstMapAt"))
                    page.close()
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(base + link)
                page.wait_for_function("() => window.kernelLens.firstMapAt !== null", timeout=30_000)
                page.evaluate(INPUT_AT)
                changes: dict[str, list[tuple[float, float]]] = {"stride": [], "kernel": []}
                for repeat in range(args.changes):
                    changes["stride"].append(change_to_map(page, lambda r=repeat: page.locator("#stride").fill(
                        "2" if r % 2 == 0 else "1"), f"{512 if repeat % 2 == 0 else 1024}"))
                for repeat in range(args.changes):
                    name = "sobel_y" if repeat % 2 == 0 else "sobel_x"
                    changes["kernel"].append(change_to_map(page, lambda n=name: page.locator(
                        f'button[data-name="{n}"]').click(), None))
                page.locator("#speed").fill("5")  # 100,000 steps a second: the server streams as fast as asked
                page.evaluate("() => { window.kernelLens.player.intervals.length = 0; }")
                start_step = page.evaluate("() => window.kernelLens.getState().step")
                page.get_by_role("button", name="Play").click()
                page.wait_for_timeout(args.seconds * 1000)  # the measurement itself: play for a fixed time
                intervals = page.evaluate("() => window.kernelLens.player.intervals.slice()")
                end_step = page.evaluate("() => window.kernelLens.getState().step")
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=10)
    values = np.array(intervals[1:])
    print("| measure | result |\n|---|---|")
    print(f"| open page -> first feature map painted (1024x1024 RGB conv, {args.loads} loads) | median "
          f"{statistics.median(loads):.0f} ms, max {max(loads):.0f} ms |")
    print(f"| frame interval while playing {args.seconds:.0f} s at 100,000 steps/s ({len(values)} frames) | "
          f"median {np.median(values):.1f} ms, p90 {np.percentile(values, 90):.1f} ms, "
          f"p99 {np.percentile(values, 99):.1f} ms, max {values.max():.1f} ms |")
    print(f"| steps shown per second while playing | {(end_step - start_step) / args.seconds:,.0f} |")
    for kind, what in (("stride", "stride 1 <-> 2"), ("kernel", "kernel sobel x <-> sobel y")):
        from_input, from_call = ([pair[n] for pair in changes[kind]] for n in (0, 1))
        print(f"| parameter change (the input event) -> updated map on screen ({what}, 1024x1024 RGB, "
              f"{len(from_input)} changes) | median {statistics.median(from_input):.0f} ms, max "
              f"{max(from_input):.0f} ms (target < 150 ms); from Playwright's call: median "
              f"{statistics.median(from_call):.0f} ms, max {max(from_call):.0f} ms |")


if __name__ == "__main__":
    main()
