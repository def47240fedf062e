"""The page's files from memory (app/static_files.py): the same bytes and types as on disk, gzip, 304s, an edited
file served fresh, the folder's bounds kept, and static 200s left out of the access log."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from app.paths import STATIC
from app.static_files import MemoryStaticFiles, QuietStaticAccess


def files_app(folder: Path, **limits: int) -> TestClient:
    return TestClient(Starlette(routes=[Mount("/static", MemoryStaticFiles(directory=folder, **limits))]))


def test_every_page_file_is_served_as_starlette_serves_it(client: TestClient) -> None:
    plain = TestClient(Starlette(routes=[Mount("/static", StaticFiles(directory=STATIC))]))
    paths = sorted(path.relative_to(STATIC).as_posix() for path in STATIC.rglob("*") if path.is_file())
    assert len(paths) > 30
    for relative in paths:
        ours = client.get(f"/static/{relative}", headers={"accept-encoding": "identity"})
        theirs = plain.get(f"/static/{relative}", headers={"accept-encoding": "identity"})
        assert ours.status_code == 200, relative
        assert ours.content == (STATIC / relative).read_bytes() == theirs.content, relative
        assert ours.headers["content-type"] == theirs.headers["content-type"], relative
        assert ours.headers["cache-control"] == "no-cache"


def test_gzip_when_accepted_and_smaller(client: TestClient) -> None:
    source = (STATIC / "js" / "main.js").read_bytes()
    packed = client.get("/static/js/main.js", headers={"accept-encoding": "gzip, deflate"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == source  # httpx undoes the gzip
    assert int(packed.headers["content-length"]) < len(source) / 2
    assert "content-encoding" not in client.get("/static/js/main.js",
                                                headers={"accept-encoding": "identity"}).headers


def test_a_current_copy_gets_304_and_an_edited_file_is_served_fresh(tmp_path: Path) -> None:
    page = tmp_path / "page.js"
    page.write_text("export const answer = 41;\n" * 100)
    files = files_app(tmp_path)
    first = files.get("/static/page.js")
    etag = first.headers["etag"]
    again = files.get("/static/page.js", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert files.get("/static/page.js", headers={"if-none-match": f'"other", W/{etag}'}).status_code == 304
    page.write_text("export const answer = 42;\n" * 100)
    os.utime(page, ns=(page.stat().st_atime_ns, page.stat().st_mtime_ns + 10**9))  # a later mtime, surely
    fresh = files.get("/static/page.js", headers={"if-none-match": etag})
    assert fresh.status_code == 200 and b"42" in fresh.content and fresh.headers["etag"] != etag


def test_large_files_and_a_full_budget_come_from_disk(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"x" * 5000)
    (tmp_path / "small.txt").write_bytes(b"y" * 100)
    files = files_app(tmp_path, max_file_bytes=4000, max_total_bytes=50)
    big, small = files.get("/static/big.bin"), files.get("/static/small.txt")
    assert big.content == b"x" * 5000 and small.content == b"y" * 100
    assert "no-cache" not in big.headers.get("cache-control", "")  # Starlette's own FileResponse
    assert "no-cache" not in small.headers.get("cache-control", "")  # over the (tiny) budget


@pytest.mark.parametrize("path", ["/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/nope.js",
                                  "/static/", "/static/sub"])
def test_nothing_outside_the_folder_and_no_folders(tmp_path: Path, path: str) -> None:
    (tmp_path / "secret.txt").write_text("secret")
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "sub").mkdir()
    response = files_app(tmp_path / "public").get(path)
    assert response.status_code == 404 and b"secret" not in response.content


def test_post_is_refused(client: TestClient) -> None:
    assert client.post("/static/js/main.js").status_code == 405


def record(path: str, status: int) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                             ("127.0.0.1:5", "GET", path, "1.1", status), None)


def test_the_access_log_leaves_out_static_files_served_fine() -> None:
    quiet = QuietStaticAccess()
    assert not quiet.filter(record("/static/js/main.js", 200))
    assert not quiet.filter(record("/course/static/css/app.css?v=1", 304))
    assert quiet.filter(record("/static/js/nope.js", 404))
    assert quiet.filter(record("/api/run", 200))
    assert quiet.filter(logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "other %s", ("x",), None))
