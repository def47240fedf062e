"""Serving under a path prefix behind a reverse proxy (``KERNEL_LENS_ROOT_PATH``, ``kernel-lens serve --root-path``).

The page names every URL relative to its ``<base href="{root_path}/">``, so it works wherever it is mounted.
The server only has to know the prefix, to write that base. A proxy may strip the prefix before passing a
request on (``location /lens/ { proxy_pass http://app/; }``) or pass the path as it came: :class:`RootPath`
accepts both, and gives the app the ASGI form (``root_path`` the prefix, ``path`` starting with it).
"""

from __future__ import annotations

import re

from starlette._utils import get_route_path
from starlette.types import ASGIApp, Receive, Scope, Send

# the app's own top-level names: a prefix starting with one would make stripped and unstripped paths ambiguous
RESERVED = ("api", "static", "ws", "docs", "docs-assets", "openapi.json", "healthz")
RULE = ("the root path must be empty or a path prefix such as /lens or /courses/cnn (segments of letters, digits, "
        "'-', '_', '.' or '~', not starting with /" + ", /".join(RESERVED) + ")")
_PREFIX = re.compile(r"(/[A-Za-z0-9._~-]+)+")


def root_path(value: str) -> str:
    """The prefix as the app uses it ('' or '/a/b', no trailing slash), or ValueError naming what is allowed."""
    text = value.strip().rstrip("/")
    if not text:
        return ""
    first = text.split("/")[1] if text.startswith("/") else ""
    if not _PREFIX.fullmatch(text) or first in RESERVED or any(part in (".", "..") for part in text.split("/")):
        raise ValueError(f"{RULE}; got {value[:100]!r}")
    return text


class RootPath:
    """Sets ``root_path`` to the prefix on HTTP and WebSocket scopes, whether the proxy stripped it or not."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.prefix or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        route = get_route_path(scope)  # the path below whatever root the server itself was given
        if route == self.prefix or route.startswith(self.prefix + "/"):
            route = route[len(self.prefix):]  # a proxy that passes the prefix on
        route = route or "/"
        await self.app({**scope, "root_path": self.prefix, "path": self.prefix + route}, receive, send)
