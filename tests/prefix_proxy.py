"""A tiny reverse proxy for the path-prefix tests: it serves the app under ``/lens`` like
``location /lens/ { proxy_pass http://app/; }`` (strip=True) or ``proxy_pass http://app;`` (strip=False).

Anything outside the prefix is a 404 from the proxy itself, so a page that asks for ``/static/...`` or
``/api/...`` (an absolute URL that ignores the prefix) fails visibly. One request per connection
(``Connection: close``, as the server is told), except WebSocket upgrades, which are piped both ways.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.servers import free_port


class PrefixProxy:
    """Counts what it refused (``outside``) and what it forwarded (``forwarded``), as (method, target) pairs."""

    def __init__(self, upstream_port: int, prefix: str, strip: bool) -> None:
        self.upstream_port = upstream_port
        self.prefix = prefix.encode()
        self.strip = strip
        self.outside: list[tuple[str, str]] = []
        self.forwarded: list[tuple[str, str]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        lines = head[:-4].split(b"\r\n")
        method, target, version = lines[0].split(b" ", 2)
        inside = target == self.prefix or target.startswith((self.prefix + b"/", self.prefix + b"?"))
        if not inside:
            self.outside.append((method.decode(), target.decode()))
            writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 23\r\nconnection: close\r\n\r\n"
                         b"outside the /lens/ app\n")
            await writer.drain()
            writer.close()
            return
        self.forwarded.append((method.decode(), target.decode()))
        if self.strip:
            target = target[len(self.prefix):]
            target = target if target.startswith(b"/") else b"/" + target
        headers = lines[1:]
        upgrade = any(line.lower().startswith(b"upgrade:") for line in headers)
        if not upgrade:
            headers = [line for line in headers if not line.lower().startswith((b"connection:", b"keep-alive:"))]
            headers.append(b"Connection: close")
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        upstream_writer.write(b" ".join((method, target, version)) + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n")
        await upstream_writer.drain()
        to_server = asyncio.ensure_future(self.pipe(reader, upstream_writer))
        await self.pipe(upstream_reader, writer)  # the answer, until the server closes
        to_server.cancel()
        upstream_writer.close()

    @staticmethod
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@contextmanager
def prefix_proxy(upstream: str, prefix: str = "/lens", strip: bool = True) -> Iterator[tuple[str, PrefixProxy]]:
    """Yields the proxy's base URL (``http://127.0.0.1:port/lens``) and the proxy, in front of ``upstream``."""
    proxy = PrefixProxy(int(upstream.rsplit(":", 1)[1]), prefix, strip)
    port = free_port()
    loop = asyncio.new_event_loop()

    async def serve() -> asyncio.Server:
        return await asyncio.start_server(proxy.handle, "127.0.0.1", port, limit=1 << 20)

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
    try:
        yield f"http://127.0.0.1:{port}{prefix}", proxy
    finally:
        asyncio.run_coroutine_threadsafe(shutdown(server), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


async def shutdown(server: asyncio.Server) -> None:
    """Stop listening and end the connections still piped (in the proxy's own loop)."""
    server.close()
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
