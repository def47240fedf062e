"""Behind a reverse proxy under /lens: a real `kernel-lens serve --root-path /lens`, reached only through a tiny
proxy that strips the prefix (or passes it on), serves the page, its static files, the docs, the API, a run's
PNG, an upload over the JSON body limit and the WebSocket."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import numpy as np
import pytest
import websockets
from PIL import Image

from app.codec import decode_batch
from tests.prefix_proxy import PrefixProxy, prefix_proxy
from tests.servers import serving

SERVER = [sys.executable, "-m", "app.cli", "serve"]


def get(url: str, timeout: float = 60, **options: Any) -> httpx.Response:
    """httpx.get with room for a busy machine (its default 5 s read timeout is not enough at a load of 25)."""
    return httpx.get(url, timeout=timeout, **options)


def post(url: str, timeout: float = 60, **options: Any) -> httpx.Response:
    """httpx.post, as get."""
    return httpx.post(url, timeout=timeout, **options)


@contextmanager
def server_with(args: list[str], log_path: Path) -> Iterator[str]:
    """`kernel-lens serve <args> --port <free>`; yields its own base URL (not through a proxy) once it answers."""
    # a shared, busy machine may take a while to import and start
    with serving(SERVER[:-1], log_path, timeout=120, args=args) as base:
        yield base


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with server_with(["--root-path", "/lens"], tmp_path_factory.mktemp("lens") / "server.log") as base:
        yield base


@pytest.fixture(params=[True, False], ids=["proxy-strips-the-prefix", "proxy-passes-the-prefix-on"])
def proxied(request: pytest.FixtureRequest, upstream: str) -> Iterator[tuple[str, PrefixProxy]]:
    with prefix_proxy(upstream, "/lens", strip=request.param) as (base, proxy):
        yield base, proxy


def resolve(page_url: str, server_url: str) -> str:
    """What the page does with a URL from the server: a path from the app's root, relative to the page's base."""
    return urljoin(page_url, server_url.removeprefix("/"))


def noise_png(side: int) -> bytes:
    pixels = np.random.default_rng(5).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", compress_level=0)
    return buffer.getvalue()


def test_the_page_names_every_url_relative_to_its_base(proxied: tuple[str, PrefixProxy]) -> None:
    base, proxy = proxied
    page = get(base + "/")
    assert page.status_code == 200
    assert '<base href="/lens/">' in page.text
    urls = re.findall(r'(?:href|src)="([^"]*)"', page.text)
    assert "static/js/main.js" in urls and "static/css/app.css" in urls and "static/favicon.svg" in urls
    assert [url for url in urls if url.startswith("/") and url != "/lens/"] == []
    for url in urls:
        if url.startswith("static/"):
            assert get(urljoin(base + "/", url)).status_code == 200, url
    initial = json.loads(re.search(r'id="initial-data">(.*?)</script>', page.text, re.S).group(1))  # type: ignore[union-attr]
    preview = initial["samples"][0]["preview_url"]
    assert preview.startswith("api/images/")
    assert get(urljoin(base + "/", preview)).headers["content-type"] == "image/png"
    assert get(base).status_code == 200  # /lens without the slash: the same page (its base is /lens/)
    assert proxy.outside == []


def test_docs_and_their_assets_and_the_schema_work_under_the_prefix(proxied: tuple[str, PrefixProxy]) -> None:
    base, proxy = proxied
    docs = get(base + "/docs")
    assert docs.status_code == 200 and '<base href="/lens/">' in docs.text
    urls = re.findall(r'(?:href|src)="([^"]*)"', docs.text)
    assert "docs-assets/swagger-ui-bundle.js" in urls and "static/js/docs.js" in urls
    for url in urls:
        assert url == "/lens/" or not url.startswith("/"), url
        assert get(urljoin(base + "/docs", url)).status_code == 200, url
    schema = get(base + "/openapi.json").json()
    assert schema["servers"] == [{"url": "/lens"}]  # Swagger's "Try it out" calls /lens/api/...
    assert "/api/run" in schema["paths"]
    assert proxy.outside == []


def test_api_run_png_upload_and_websocket_under_the_prefix(proxied: tuple[str, PrefixProxy]) -> None:
    base, proxy = proxied
    page_url = base + "/"
    samples = get(page_url + "api/samples").json()
    request = {"source": {"image_id": samples[0]["id"]},
               "operation": {"op": "conv2d", "filters": [{"kernel": {"name": "sobel_x"}}]}}
    run = post(page_url + "api/run", json=request).json()
    png = get(resolve(page_url, run["result_png_url"]) + "?channel=0")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (run["output_shape"][-1], run["output_shape"][-2])
    frames = get(resolve(page_url, run["frames_url"]) + "&start=0&count=3")
    assert frames.status_code == 200

    big = noise_png(900)  # over the 2 MB JSON body limit, under the upload limit: /lens/api/images has its own
    assert len(big) > 2_000_000
    uploaded = post(page_url + "api/images", files={"file": ("noise.png", big, "image/png")}, timeout=60)
    assert uploaded.status_code == 201, uploaded.text
    assert get(resolve(page_url, uploaded.json()["preview_url"])).status_code == 200

    async def play() -> tuple[dict[str, object], dict[str, object]]:
        socket_url = page_url.replace("http://", "ws://") + "ws/animate"
        async with websockets.connect(socket_url, max_size=2**24, open_timeout=60) as ws:
            await ws.send(json.dumps({"type": "open", "request": request}))
            opened = json.loads(await ws.recv())
            await ws.send(json.dumps({"type": "seek", "index": 42}))
            while isinstance(message := await ws.recv(), str):
                pass
            return opened, decode_batch(message)[0]

    opened, batch = asyncio.run(asyncio.wait_for(play(), 120))
    assert opened["type"] == "opened" and opened["run"]["run_id"] == run["run_id"]  # type: ignore[index]
    assert batch["start"] == 42
    assert proxy.outside == []
    assert ("GET", "/lens/ws/animate") in proxy.forwarded


def test_without_the_proxy_the_same_server_answers_on_both_forms(upstream: str) -> None:
    assert '<base href="/lens/">' in get(upstream + "/").text  # as a stripping proxy sends it
    assert '<base href="/lens/">' in get(upstream + "/lens/").text  # as a passing proxy sends it
    assert get(upstream + "/lens/static/js/stream.js").status_code == 200
    assert get(upstream + "/nothing-here").status_code == 404


def test_a_bad_root_path_is_refused_naming_what_is_allowed() -> None:
    done = subprocess.run([*SERVER, "--root-path", "/api"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "argument --root-path: the root path must be empty or a path prefix such as /lens" in done.stderr
    assert "got '/api'" in done.stderr


def test_without_a_root_path_the_page_is_based_at_the_root(tmp_path: Path) -> None:
    with server_with([], tmp_path / "server.log") as base:
        page = get(base + "/")
        assert '<base href="/">' in page.text
        assert get(base + "/lens/").status_code == 404
