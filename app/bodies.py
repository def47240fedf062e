"""Every request body is bounded while it arrives: a byte limit (413) and an idle timeout (408).

A pure ASGI middleware reads the body before the route runs, so no route, parser or form reader
ever sees more than its limit, and a body that stops arriving or a client that leaves costs nothing.
"""

from __future__ import annotations

import asyncio

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """Reads each HTTP body up to ``limit`` bytes (``limits`` per path), then replays it to the app."""

    def __init__(self, app: ASGIApp, limit: int, limits: dict[str, int], idle_timeout: float) -> None:
        self.app = app
        self.limit = limit
        self.limits = limits
        self.idle_timeout = idle_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.limit)
        declared = dict(scope["headers"]).get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(scope, send, 413, f"the request body is {int(declared):,} bytes; at most {limit:,} "
                                            "are allowed here")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), self.idle_timeout)
            except TimeoutError:
                await _refuse(scope, send, 408, f"the request body stopped arriving (nothing for "
                                                f"{self.idle_timeout:g} s); send it again")
                return
            if message["type"] == "http.disconnect":
                return  # the client left before sending its request: nothing to answer
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                await _refuse(scope, send, 413, f"the request body is over {limit:,} bytes, the most allowed here")
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: disconnect notices for streaming responses
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


async def _refuse(scope: Scope, send: Send, status: int, detail: str) -> None:
    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    # the body was not read to its end: the connection can't be reused
    await JSONResponse({"detail": detail}, status_code=status, headers={"connection": "close"})(scope, nothing, send)
