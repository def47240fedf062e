"""The page in Chromium under /lens behind a proxy (stripping the prefix, or passing it on): it loads its scripts,
styles and icon, runs the first sample over the API and the WebSocket and paints the input and the map, with no
request outside the prefix and no failed request or console error."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Response, expect

from app.config import Settings
from app.main import create_app
from tests.e2e.conftest import shoot
from tests.prefix_proxy import prefix_proxy
from tests.servers import free_port

SPREAD = """canvas => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0, squares = 0;
  for (let i = 0; i < data.length; i += 4) {
    const y = (data[i] + data[i + 1] + data[i + 2]) / 765;
    sum += y;
    squares += y * y;
  }
  const n = data.length / 4;
  return Math.sqrt(Math.max(squares / n - (sum / n) ** 2, 0));
}"""


def get(url: str, timeout: float = 60, **options: Any) -> httpx.Response:
    """httpx.get with room for a busy machine (its default 5 s read timeout is not enough at a load of 25)."""
    return httpx.get(url, timeout=timeout, **options)


@pytest.fixture(scope="module")
def lens_server() -> Iterator[str]:
    """The app with KERNEL_LENS_ROOT_PATH=/lens, in uvicorn in a thread."""
    config = uvicorn.Config(create_app(Settings(root_path="/lens")), host="127.0.0.1", port=free_port(),
                            log_level="warning", ws_per_message_deflate=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)  # waiting for a thread to bind: there is no event to await
    base = f"http://127.0.0.1:{config.port}"
    assert get(base + "/healthz").status_code == 200
    yield base
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize("strip", [True, False], ids=["proxy-strips-the-prefix", "proxy-passes-the-prefix-on"])
def test_the_page_under_a_prefix_paints_the_first_map(browser: Browser, lens_server: str, strip: bool) -> None:
    with prefix_proxy(lens_server, "/lens", strip=strip) as (base, proxy):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        errors: list[str] = []
        failed: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("requestfailed", lambda request: failed.append(f"{request.url} {request.failure}"))

        def check(response: Response) -> None:
            if response.status >= 400:
                failed.append(f"{response.url} {response.status}")

        page.on("response", check)
        try:
            last = 240 * 320 - 1  # the first sample (shapes, 240x320) under the default 3x3 kernel, padding 1
            page.goto(f"{base}/#" + quote(json.dumps({"step": last})))
            expect(page.locator("#counter")).to_have_text("step 76,800 of 76,800", timeout=60_000)
            expect(page.locator("#status")).to_contain_text("conv2d: 3×240×320 → 1×240×320", timeout=30_000)
            page.wait_for_function(f"""() => {{
              const spread = {SPREAD};
              return spread(document.querySelector("#input-canvas")) > 0.05
                && spread(document.querySelector("#output-canvas")) > 0.05;
            }}""", timeout=60_000)
            expect(page.locator("#calc-body .result")).to_be_visible()
            shoot(page, f"root-path-{'strip' if strip else 'pass'}-1280x800")
            for width, height in ((1920, 1080), (800, 900)):
                page.set_viewport_size({"width": width, "height": height})
                shoot(page, f"root-path-{'strip' if strip else 'pass'}-{width}x{height}")
            icon = page.locator("link[rel=icon]").evaluate("link => link.href")
            assert icon == f"{base}/static/favicon.svg"
            assert get(icon).status_code == 200
            page.goto(f"{base}/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("Kernel Lens", timeout=60_000)
            expect(page.locator(".swagger-ui .servers select")).to_contain_text("/lens", timeout=30_000)
        finally:
            context.close()
        assert proxy.outside == []
        assert failed == []
        assert errors == []
        seen = [target for _, target in proxy.forwarded]
        assert any(re.fullmatch(r"/lens/api/runs/\w+/padded\.png.*", target) for target in seen), seen
        assert "/lens/ws/animate" in seen
