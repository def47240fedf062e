"""The page's files served from memory: each read once (and gzipped once), then answered without a thread.

Starlette's ``StaticFiles`` stats, opens, reads and closes the file in worker threads on every request: about
4 ms of one event loop for each of the page's ~40 small files, while the first page load asks for all of them at
once. Here a file's bytes, its gzip copy, ETag and Last-Modified are kept after the first request and checked
against the file's ``stat`` (size and mtime) on each later one, so an edited file is served fresh without a
restart. Large files (over ``max_file_bytes``) and anything unusual fall back to ``StaticFiles`` itself, which
also keeps its path checks (no ``..`` out of the folder) for every request.

Responses say ``Cache-Control: no-cache``: the browser keeps the file but asks again each time (a 304 from
memory), so a new version of the app is never mixed with cached modules of the old one.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import stat as stat_module
from dataclasses import dataclass
from email.utils import formatdate
from mimetypes import guess_type

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

GZIP_AT_LEAST = 1024  # smaller files are sent as they are: gzip would save less than its own cost


@dataclass(frozen=True)
class CachedFile:
    """A file's bytes as served, and what identifies that version of it."""

    signature: tuple[int, int]  # (size, mtime_ns) of the file these bytes were read from
    body: bytes
    gzipped: bytes | None  # None when gzip does not make it smaller
    media_type: str
    etag: str
    last_modified: str


def read_cached(path: str, signature: tuple[int, int]) -> CachedFile:
    """Read ``path`` and prepare what every response of it needs."""
    with open(path, "rb") as handle:
        body = handle.read()
    packed = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_AT_LEAST else None
    media_type = guess_type(path)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type == "application/json":
        media_type += "; charset=utf-8"
    return CachedFile(signature=signature, body=body,
                      gzipped=packed if packed is not None and len(packed) < len(body) else None,
                      media_type=media_type, etag=f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"',
                      last_modified=formatdate(signature[1] / 1e9, usegmt=True))


def accepts_gzip(headers: Headers) -> bool:
    return any(part.split(";")[0].strip() == "gzip" for part in headers.get("accept-encoding", "").split(","))


class MemoryStaticFiles(StaticFiles):
    """``StaticFiles`` whose small files are answered from memory (see the module's docstring)."""

    def __init__(self, *, directory: str | os.PathLike[str], max_file_bytes: int = 1 << 20,
                 max_total_bytes: int = 32 << 20) -> None:
        super().__init__(directory=directory)
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        self._files: dict[str, CachedFile] = {}
        self._total = 0

    async def get_response(self, path: str, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            return await super().get_response(path, scope)
        full_path, found = self.lookup_path(path)  # the parent's checks; a stat of a small local file
        if found is None or not stat_module.S_ISREG(found.st_mode) or found.st_size > self.max_file_bytes:
            return await super().get_response(path, scope)  # 404, a folder, or large: as Starlette does it
        cached = self._cached(full_path, (found.st_size, found.st_mtime_ns))
        if cached is None:
            return await super().get_response(path, scope)
        return respond(cached, Headers(scope=scope))

    def _cached(self, full_path: str, signature: tuple[int, int]) -> CachedFile | None:
        cached = self._files.get(full_path)
        if cached is not None and cached.signature == signature:
            return cached
        if cached is None and self._total + signature[0] > self.max_total_bytes:
            return None  # the budget is full: the rest are served from disk
        fresh = read_cached(full_path, signature)
        self._total += len(fresh.body) - (len(cached.body) if cached is not None else 0)
        self._files[full_path] = fresh
        return fresh


def respond(cached: CachedFile, request_headers: Headers) -> Response:
    """A 200 with the file (gzipped when the client takes it), or a 304 when the client's copy is current."""
    headers = {"etag": cached.etag, "last-modified": cached.last_modified, "cache-control": "no-cache",
               "vary": "Accept-Encoding"}
    tags = request_headers.get("if-none-match")
    if tags is not None and cached.etag in [tag.strip().removeprefix("W/") for tag in tags.split(",")]:
        return Response(status_code=304, headers=headers)
    body = cached.body
    if cached.gzipped is not None and accepts_gzip(request_headers):
        body = cached.gzipped
        headers["content-encoding"] = "gzip"
    return Response(body, media_type=cached.media_type, headers=headers)


class QuietStaticAccess(logging.Filter):
    """Leaves out of uvicorn's access log the page's files served fine (a page load asks for ~40 of them; their
    lines cost a quarter of the time of serving them, and say nothing an operator needs). Failures stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or len(args) != 5:
            return True
        path, status = str(args[2]), args[4]
        return not ("/static/" in path.split("?", 1)[0] and isinstance(status, int) and status < 400)


def quiet_static_access_log() -> None:
    """Install :class:`QuietStaticAccess` on uvicorn's access logger, once per process."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(known, QuietStaticAccess) for known in logger.filters):
        logger.addFilter(QuietStaticAccess())
