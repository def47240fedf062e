"""The page survives the death of its server process: with two processes sharing Redis behind a forwarding
proxy, `kill -9` the one holding the page's WebSocket; the page reconnects (back-off, to whichever process the
proxy now reaches) and resumes at the same step, without a reload, and steps on from there."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import shoot
from tests.redis_server import SERVE_COMMAND, running_redis, server_environment
from tests.servers import free_port, serving


class Forwarder:
    """A TCP proxy on a free loopback port sending each new connection to the current ``target`` port (what a
    load balancer does once a backend is gone); a connection whose backend dies is closed on the client side."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self.writers.add(upstream_writer)
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in self.writers:
            try:
                await writer.wait_closed()
            except OSError:
                pass
        await self.server.wait_closed()

    def __enter__(self) -> Forwarder:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[tuple[list[subprocess.Popen[bytes]], list[str], str]]:
    """Two `serve` processes sharing a real redis-server: their Popen objects, base URLs and the Redis URL."""
    started: list[subprocess.Popen[bytes]] = []
    with ExitStack() as stack:
        redis_server = stack.enter_context(running_redis(tmp_path))
        env = server_environment(redis_server.url)
        bases = [stack.enter_context(serving(SERVE_COMMAND, tmp_path / f"{name}.log", env=env, started=started,
                                             timeout=120)) for name in ("a", "b")]
        yield started, bases, redis_server.url


def test_the_page_resumes_at_the_same_step_on_another_process(browser: Browser, tmp_path: Path, processes: tuple[
        list[subprocess.Popen[bytes]], list[str], str]) -> None:
    started, bases, redis_url = processes
    log_folder = tmp_path
    first_port, second_port = (int(base.rsplit(":", 1)[1]) for base in bases)
    with Forwarder(first_port) as proxy:
        context = browser.new_context(viewport={"width": 1280, "height": 800},
                                      base_url=f"http://127.0.0.1:{proxy.port}")
        page: Page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto("/")
        page.wait_for_function("() => kernelLens.player.playing && kernelLens.getState().step > 0", timeout=30_000)
        page.get_by_role("button", name="Pause").click()
        page.wait_for_function("() => !kernelLens.player.playing")
        page.locator("#scrub").evaluate("(scrub, v) => { scrub.value = v; scrub.dispatchEvent(new Event('input')); }",
                                        "5000")
        page.wait_for_function("() => kernelLens.getState().step === 5000", timeout=15_000)
        page.locator("#step-forward").click()
        page.wait_for_function("() => kernelLens.getState().step === 5001", timeout=15_000)
        page.evaluate("() => { window.sameDocument = true; }")  # gone if the page reloads

        proxy.target = second_port
        started[0].send_signal(signal.SIGKILL)
        started[0].wait(timeout=10)
        expect(page.locator("#status")).to_contain_text("connection lost", timeout=15_000)
        # reconnected to the other process: the run re-opened there at the step the page was on ...
        page.wait_for_function("() => !document.querySelector('#status').textContent.includes('connection lost')",
                               timeout=30_000)
        assert page.evaluate("() => kernelLens.getState().step") == 5001
        # ... and the new session steps on from it
        page.locator("#step-forward").click()
        page.wait_for_function("() => kernelLens.getState().step === 5002", timeout=15_000)
        assert page.evaluate("() => window.sameDocument") is True
        shoot(page, "reconnect-1280x800")

        # playing when the process dies: the page comes back playing, from where it was, with no click
        env = server_environment(redis_url)
        with serving(SERVE_COMMAND, log_folder / "c.log", env=env, started=started,
                     timeout=120) as third:
            proxy.target = int(third.rsplit(":", 1)[1])
            page.get_by_role("button", name="Play").click()
            page.wait_for_function("() => kernelLens.player.playing && kernelLens.getState().step > 5100",
                                   timeout=30_000)
            started[1].send_signal(signal.SIGKILL)
            started[1].wait(timeout=10)
            at_kill = page.evaluate("() => kernelLens.getState().step")
            expect(page.locator("#status")).to_contain_text("connection lost", timeout=15_000)
            page.wait_for_function("(step) => kernelLens.getState().step > step + 200", arg=at_kill, timeout=30_000)
            assert page.evaluate("() => kernelLens.player.playing") is True
            assert page.evaluate("() => window.sameDocument") is True
        assert errors == []
        context.close()


def test_the_retry_waits_grow_exponentially_with_jitter(page: Page) -> None:
    page.goto("/")
    delays = page.evaluate("""async () => {
        const { retryDelay } = await import(new URL("static/js/stream.js", document.baseURI).href);
        return [1, 2, 3, 6, 7, 20].map((attempt) => [retryDelay(attempt, () => 0), retryDelay(attempt, () => 1)]);
    }""")
    # a random wait between half and all of 0.2 s doubling each attempt, at most 10 s
    assert delays == [[100, 200], [200, 400], [400, 800], [3200, 6400], [5000, 10000], [5000, 10000]]


def test_acks_queued_while_disconnected_are_not_sent_to_the_new_session(page: Page) -> None:
    """An ack of the lost session would be refused by the new one (its position starts at -1): an error on
    screen for nothing. They (and hover peeks) are dropped; the run is re-opened at the same step."""
    page.goto("/")
    page.wait_for_function("() => kernelLens.player.playing && kernelLens.getState().step > 0", timeout=30_000)
    page.get_by_role("button", name="Pause").click()
    page.wait_for_function("() => !kernelLens.player.playing")
    page.locator("#scrub").evaluate("(scrub, v) => { scrub.value = v; scrub.dispatchEvent(new Event('input')); }",
                                    "700")
    page.wait_for_function("() => kernelLens.getState().step === 700", timeout=15_000)
    page.evaluate("""() => {
        const stream = kernelLens.player.stream;
        window.streamErrors = [];
        window.reopened = 0;
        stream.addEventListener("error", (event) => window.streamErrors.push(event.detail.detail));
        stream.addEventListener("opened", () => { window.reopened += 1; });
        stream.socket.close();  // the connection drops ...
        stream.ack(700);        // ... while the page acknowledges a frame and hovers a pixel
        stream.peek([0, 2, 2]);
    }""")
    page.wait_for_function("() => window.reopened === 1 && kernelLens.player.stream.socket.readyState === 1",
                           timeout=15_000)
    page.evaluate("""() => new Promise((done) => {  // the server answers in order: any refusal comes first
        kernelLens.player.stream.addEventListener("state", done, { once: true });
        kernelLens.player.stream.send({ type: "status" });
    })""")
    assert page.evaluate("() => window.streamErrors") == []
    page.wait_for_function("() => kernelLens.getState().step === 700", timeout=15_000)
    assert page.errors == []  # type: ignore[attr-defined]
