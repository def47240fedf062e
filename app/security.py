"""Security headers on every response (a strict Content-Security-Policy, no MIME sniffing), and no
cross-site use: WebSockets and state-changing requests from another origin are refused."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Pure ASGI middleware (does not buffer bodies, so streaming and WebSockets are untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
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
