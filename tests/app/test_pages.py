"""The page, the docs, health, security headers and static files."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from fastapi.testclient import TestClient


def test_index_serves_the_page_with_initial_data_and_strict_headers(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    data = re.search(r'<script type="application/json" id="initial-data">(.*?)</script>', response.text, re.S)
    assert data is not None
    initial = json.loads(data.group(1))
    assert [sample["name"] for sample in initial["samples"]] == ["shapes", "astronaut"]
    assert any(kernel["name"] == "sobel_x" for kernel in initial["kernels"])
    assert "<script>" not in response.text  # no inline script: the CSP would block it


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": "0.1.0"}


def test_docs_are_served_offline(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert 'src="docs-assets/swagger-ui-bundle.js"' in page.text  # relative to the page's <base>
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/js/docs.js").status_code == 200
    schema = client.get("/openapi.json").json()
    for path in ("/api/images", "/api/run", "/api/frames", "/api/kernels/parse", "/api/samples"):
        assert path in schema["paths"]
    run = schema["components"]["schemas"]["RunRequest"]
    assert run["examples"][0]["operation"]["op"] == "conv2d"


def test_no_directory_listing_and_no_traversal(client: TestClient) -> None:
    assert client.get("/static/").status_code == 404
    assert client.get("/static/js/").status_code == 404
    assert client.get("/static/../app/main.py").status_code == 404
    assert client.get("/static/%2e%2e/app/main.py").status_code == 404


def test_unknown_route_is_a_json_404(client: TestClient) -> None:
    response = client.get("/api/nothing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_no_cors_by_default(client: TestClient) -> None:
    response = client.get("/healthz", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_the_page_preloads_every_module_its_first_screen_imports_and_no_more(client: TestClient) -> None:
    # Before: the browser found the modules one import level at a time (four round trips before the first run)
    page = client.get("/").text
    listed = re.findall(r'<link rel="modulepreload" href="static/js/([^"]+)">', page)
    root = Path(__file__).parents[2] / "static" / "js"
    # the static imports, followed by hand here from main.js (an independent reading of the same files)
    reached: set[str] = set()
    pending = ["main.js"]
    while pending:
        current = pending.pop()
        text = (root / current).read_text()
        for target in re.findall(r'from "(\.{1,2}/[\w/.-]+\.js)"', text):
            name = os.path.normpath(os.path.join(os.path.dirname(current), target))
            if name not in reached:
                reached.add(name)
                pending.append(name)
    scripts = re.findall(r'<script type="module"[^>]* src="static/js/([^"]+)"', page)
    assert scripts == ["boot.js", "main.js"]  # boot.js (async) asks for the first run while main.js loads
    assert set(listed) == reached - set(scripts) and len(listed) == len(set(listed))
    # boot.js' own modules are asked for first, so it can run early
    assert set(listed[:3]) == {"request.js", "source-view.js", "state.js"}
    assert "stream.js" in listed and "render/stage.js" in listed
    # the Train and Backprop tabs load after the first map (import() in main.js): not preloaded
    assert not any(name.startswith(("train/", "backprop/")) for name in listed)
    for name in listed:
        assert client.get(f"/static/js/{name}").status_code == 200
