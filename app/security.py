"""Security headers on every response (a strict Content-Security-Policy, no MIME sniffing), and no
cross-site use: WebSockets and state-changing requests from another origin are refused.

Framing: by default no page may embed Kernel Lens (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``).
``KERNEL_LENS_FRAME_ANCESTORS`` names the pages (an LMS, a course site) allowed to embed it in an iframe.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
ANCESTOR_RULE = ("each frame ancestor must be 'self' or an origin such as https://lms.example.edu "
                 "(http or https, a host, an optional port, and nothing after it; *.example.edu for its subdomains)")
_HOST = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\]")


def frame_ancestor(value: str) -> str:
    """One allowed frame ancestor in the form CSP wants (``'self'`` or ``scheme://host[:port]``), or ValueError
    naming the value and what is allowed."""
    text = value.strip()
    if text.lower() in ("'self'", "self"):
        return "'self'"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError(f"{ANCESTOR_RULE}; got {value[:100]!r}") from None
    host = parts.netloc.rsplit(":", 1)[0].lower() if port is not None else parts.netloc.lower()
    if (parts.scheme.lower() not in ("http", "https") or not _HOST.fullmatch(host) or parts.username is not None
            or parts.path not in ("", "/") or parts.query or parts.fragment or "?" in text or "#" in text):
        raise ValueError(f"{ANCESTOR_RULE}; got {value[:100]!r}")
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")


def frame_ancestors(values: Iterable[str]) -> list[str]:
    """Every allowed frame ancestor checked and normalised (``'none'`` alone means none, as the default)."""
    listed = [value for value in values if value.strip()]
    if [value.strip().lower() for value in listed] == ["'none'"]:
        return []
    return list(dict.fromkeys(frame_ancestor(value) for value in listed))


def listed(value: object) -> object:
    """A list setting given as text: JSON (``["a", "b"]``) or words separated by spaces or commas."""
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            return json.loads(value)
        return [word for word in re.split(r"[\s,]+", value) if word]
    return value


def security_headers(ancestors: list[str] | None = None) -> list[tuple[bytes, bytes]]:
    """The headers sent with every response: framing refused, or allowed to ``ancestors`` only."""
    if not ancestors:
        return list(HEADERS)
    csp = CSP.replace("frame-ancestors 'none'", "frame-ancestors " + " ".join(ancestors))
    # X-Frame-Options can't name several origins (ALLOW-FROM is obsolete): CSP alone decides, as browsers do
    return [(b"content-security-policy", csp.encode()), *(h for h in HEADERS[1:] if h[0] != b"x-frame-options")]


class SecurityHeaders:
    """Pure ASGI middleware (does not buffer bodies, so streaming and WebSockets are untouched)."""

    def __init__(self, app: ASGIApp, frame_ancestors: list[str] | None = None) -> None:
        self.app = app
        self.headers = security_headers(frame_ancestors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = self.headers
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, with_headers)


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class SameOrigin:
    """Refuse a WebSocket (close 1008) or a POST whose Origin is neither this server nor allowed.

    Requests without an Origin header (scripts, curl) are not browsers acting for another site.
    """

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.allowed = {origin.rstrip("/") for origin in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or (scope["type"] == "http" and scope["method"] in SAFE_METHODS):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin = headers.get(b"origin", b"").decode("latin-1")
        host = headers.get(b"host", b"").decode("latin-1")
        if not origin or origin in self.allowed or urlsplit(origin).netloc == host:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "cross-site WebSocket refused"})
            return
        detail = (f"cross-site requests are refused: origin {origin[:100]} is not this server "
                  "(allow it with KERNEL_LENS_CORS_ORIGINS)")
        await JSONResponse({"detail": detail}, status_code=403)(scope, receive, send)
