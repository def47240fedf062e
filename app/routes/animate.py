"""Playback over a WebSocket: the server streams frames at the client's pace, within an ack window.

Client -> server (JSON text messages):
    {"type": "open", "request": <RunRequest>} or {"type": "open", "run_id": "..."}
    {"type": "set", "request": <RunRequest>}      new parameters; the position is kept where it exists
    ... "picture": {"map": 0, "mode": "auto", "contrast": "auto"}   (optional, with open or set) the result
                                                   picture the page will ask for: rendered while "opened" travels
    {"type": "play", "fps": 120}                   stream forward from the current position
    {"type": "pause"}
    {"type": "step", "by": -1}                     move and send that one frame (pauses)
    {"type": "step", "rows": 1}                    move by whole rows of the map being filled
    {"type": "seek", "index": 1234}                jump and send that frame at once
    {"type": "seek", "position": [0, 12, 40]}      the same, naming an output element (f, oy, ox)
    {"type": "peek", "position": [0, 12, 40]}      send that frame marked "peek" without moving (hover)
    {"type": "ack", "index": 1234, "run_id": "..."} the client has painted up to this frame of that run
                                                   (an ack naming a run no longer open is ignored: it was in
                                                   flight while the page opened another)
    {"type": "status"}
    {"type": "close"}
Server -> client: {"type": "opened", "run": <RunResponse>, "position": i}, frame batches (binary KLF1
messages, or {"type": "frames", ...} with "format": "json" at open), {"type": "state", ...},
{"type": "error", "detail": "..."} (the connection stays open), {"type": "closed"}.

The server never runs more than ``KERNEL_LENS_WS_WINDOW_FRAMES`` frames (and ``KERNEL_LENS_WS_WINDOW_BYTES``)
ahead of the last ack, and awaits each send, so a slow or stalled client costs it a bounded amount of memory.
Messages in are size-checked (``KERNEL_LENS_MAX_BODY_BYTES``), depth-checked and range-checked like HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from typing import Any, get_args

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from app.codec import encode_batch, frame_bytes, run_batch
from app.config import Settings
from app.display import Contrast, Mode, render_png, resolve
from app.errors import validation_message
from app.operations import NotFound
from app.playback import PlaybackShare, TokenBucket
from app.routes.frames import batch_as_json
from app.routes.ops import describe
from app.runs import Run, RunRegistry
from app.schemas import RunRequest
from app.shared_state import StateUnavailable
from cnn_core.errors import ArgumentError, ArgumentTypeError

router = APIRouter()
TICK = 1 / 60  # the player sends at most one batch per display frame
LEAD_SECONDS = 0.25  # playback runs at most this far ahead of the last frame the client acked (it acks each paint)
INLINE_FRAMES = 256  # smaller batches are cheap enough to build on the event loop
MESSAGE_FRAMES = 16_384  # frames per binary message at most (a few MB): large enough for speed, small for latency
JSON_MESSAGE_FRAMES = 512  # JSON costs ~50 us a frame of GIL-holding work: keep each message short


MAX_DEPTH = 64
SHAPE_RULE = f"messages must be JSON objects of at most {MAX_DEPTH} levels with numbers of at most 4300 digits"


def _depth(value: Any) -> int:
    """How deeply lists and objects nest (iterative: a deep message can't exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


class ClientError(Exception):
    """A bad message: reported to the client (with the HTTP status it would have had), the connection stays open."""

    def __init__(self, detail: str, status: int = 422) -> None:
        super().__init__(detail)
        self.status = status


def picture_hint(hint: Any, run: Run) -> tuple[int, str, str] | None:
    """The picture an open's optional ``picture`` names, checked: (map, mode, contrast), a map beyond the run's
    being its last (as the page shows it); None when absent or when the run's pictures are made per step (a
    transposed convolution's partial output)."""
    if hint is None:
        return None
    modes, contrasts = get_args(Mode), get_args(Contrast)
    maps = run.maps().shape[0]
    channel = hint.get("map") if isinstance(hint, dict) else None
    if (not isinstance(hint, dict) or isinstance(channel, bool) or not isinstance(channel, int)
            or not 0 <= channel <= 1 << 20 or hint.get("mode") not in modes or hint.get("contrast") not in contrasts):
        raise ClientError(f"picture must be {{\"map\": a whole number from 0, \"mode\": one of {', '.join(modes)}, "
                          f"\"contrast\": one of {', '.join(contrasts)}}}, got {str(hint)[:200]}")
    if run.request.operation.op == "conv_transpose2d":
        return None
    return min(channel, maps - 1), hint["mode"], hint["contrast"]  # the page shows the last map if it asked beyond


def _integer(message: dict[str, Any], key: str) -> int:
    value = message.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ClientError(f"{message.get('type')} needs an integer '{key}', got {value!r}")
    return value


class AnimationSession:
    """One client's playback state and its two loops (messages in, frames out)."""

    def __init__(self, websocket: WebSocket, registry: RunRegistry, settings: Settings,
                 share: PlaybackShare) -> None:
        self.websocket = websocket
        self.registry = registry
        self.settings = settings
        self.share = share
        self.run: Run | None = None
        self.position = -1
        self.acked = -1
        self.since = -1  # the frame before the first one sent since the last open or seek: none before is in flight
        self.sent_last = -1  # the furthest frame of this run sent (acks may name it after a seek back)
        self._playing = False
        self.per_frame = 1  # bytes each frame adds to a message (for the playback rate)
        self.fps = 30.0
        self.format = "binary"
        self.precision = 32
        self.frames_sent = 0
        self.per_message = 1  # frames in one message, within KERNEL_LENS_MAX_MESSAGE_BYTES
        self.window = 1  # frames ahead of the last ack, within the window's frames and bytes
        self.wake = asyncio.Event()
        self.send_lock = asyncio.Lock()
        self.budget = TokenBucket(settings.ws_messages_per_second, 2 * settings.ws_messages_per_second)
        self.background: set[asyncio.Future[None]] = set()  # pictures rendered ahead (kept referenced while they run)

    @property
    def playing(self) -> bool:
        """Whether frames are streaming; a playing session takes its share of the server's playback rate."""
        return self._playing

    @playing.setter
    def playing(self, value: bool) -> None:
        self._playing = value
        if value:
            self.share.players.add(self)
        else:
            self.share.players.discard(self)

    def in_flight(self) -> int:
        """Frames sent and not yet acked: counted from the last ack, or from the last open or seek when that is
        later (the frames before a seek are stale, acked or not)."""
        return self.position - max(self.acked, self.since)

    def lead(self) -> int:
        """Frames playback may run ahead of the last ack: the window, but at most LEAD_SECONDS of playing. A client
        that reads slowly (a busy page, a slow network) then holds at most that much in flight, which is also
        what a seek has to wait behind: with the window alone (65,536 frames) a lagging client's seek waited for
        seconds of stale frames."""
        return max(min(self.window, math.ceil(self.effective_fps() * LEAD_SECONDS)), 1)

    def effective_fps(self) -> float:
        """The frames per second actually streamed: the asked fps within this session's share."""
        return min(self.fps, self.share.rate() / self.per_frame)

    @property
    def total(self) -> int:
        """Frames in the current run."""
        return 0 if self.run is None else len(self.run.prepared.frames)

    async def serve(self) -> None:
        """Run until the client closes or disconnects."""
        player = asyncio.create_task(self.play_loop())
        # a send that fails because the client went away ends the player; the receive loop notices too
        player.add_done_callback(lambda task: task.cancelled() or task.exception())
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                wait = self.budget.take()
                if wait > 0:  # over its message budget: this connection waits, the others don't
                    await asyncio.sleep(wait)
                try:
                    if not await self.handle(message.get("text")):
                        return
                except ClientError as error:
                    await self.send_json({"type": "error", "detail": str(error), "status": error.status})
        except WebSocketDisconnect:
            return
        finally:
            self.playing = False
            player.cancel()

    async def handle(self, text: str | None) -> bool:
        """Apply one control message; False when the client asked to close."""
        if text is None:
            raise ClientError("send control messages as JSON text, e.g. {\"type\": \"play\", \"fps\": 60}")
        size = len(text.encode())
        if size > self.settings.max_body_bytes:
            raise ClientError(f"messages must be at most {self.settings.max_body_bytes:,} bytes here, got {size:,}")
        try:
            message = json.loads(text)
        except json.JSONDecodeError as error:
            raise ClientError(f"messages must be JSON: {error.msg} at character {error.pos}") from None
        except (ValueError, RecursionError):  # an integer of too many digits, or nesting deeper than Python's stack
            raise ClientError(SHAPE_RULE) from None
        if _depth(message) > MAX_DEPTH:
            raise ClientError(SHAPE_RULE)
        if not isinstance(message, dict):
            raise ClientError("messages must be JSON objects with a 'type'")
        kind = message.get("type")
        if kind in ("open", "set"):
            await self.open(message, keep_position=kind == "set")
        elif kind == "play":
            fps = message.get("fps", self.fps)
            if isinstance(fps, bool) or not isinstance(fps, int | float) or not 1 <= fps <= self.settings.ws_max_fps:
                raise ClientError(f"fps must be a number from 1 to {self.settings.ws_max_fps:,}, got {fps!r}")
            self.require_run()
            self.fps, self.playing = float(fps), True
            self.wake.set()
            await self.send_state()
        elif kind == "pause":
            self.playing = False
            await self.send_state()
        elif kind == "step":
            run = self.require_run()
            self.playing = False
            if "rows" in message:  # a row of the map being filled: the last axis of the frame order
                by = _integer(message, "rows") * run.prepared.frames.index_shape()[-1]
            else:
                by = _integer(message, "by")
            await self.show(self.position + by)
        elif kind == "seek":
            await self.show(self.target(message))
        elif kind == "peek":
            index = max(0, min(self.target(message), self.total - 1))
            await self.send_frames(index, index + 1, peek=True)
        elif kind == "ack":
            index = _integer(message, "index")
            run_id = message.get("run_id")
            if run_id is not None and not isinstance(run_id, str):
                raise ClientError(f"ack run_id must be a run id string, got {run_id!r}")
            if run_id is not None and (self.run is None or run_id != self.run.run_id):
                return True  # painted before the page's open reached us: nothing of this run to count
            if not -1 <= index <= self.sent_last:
                raise ClientError(f"ack index must be from -1 to {self.sent_last} (the last frame sent), got {index}")
            # a frame sent before a seek back may be acked late: it counts only up to the new position
            self.acked = min(max(self.acked, index), self.position)
            self.wake.set()
        elif kind == "status":
            await self.send_state()
        elif kind == "close":
            await self.send_json({"type": "closed"})
            await self.websocket.close()
            return False
        else:
            raise ClientError(f"unknown message type {kind!r}; use open, set, play, pause, step, seek, peek, "
                              "ack, status or close")
        return True

    def target(self, message: dict[str, Any]) -> int:
        """The frame a seek or peek names: ``index``, or ``position`` ([f, oy, ox] of an output element,
        [iy, ix] of a transposed convolution's input pixel)."""
        run = self.require_run()
        if "position" in message:
            try:
                return run.prepared.frames.index_of(message["position"])
            except ArgumentError as error:
                raise ClientError(str(error)) from None
        return _integer(message, "index")

    def require_run(self) -> Run:
        if self.run is None:
            raise ClientError("open a run first: {\"type\": \"open\", \"request\": {...}}")
        return self.run

    async def open(self, message: dict[str, Any], keep_position: bool) -> None:
        """Open (or re-parameterise) the run this session plays."""
        chosen, precision = message.get("format", self.format), message.get("precision", self.precision)
        if chosen not in ("binary", "json") or precision not in (32, 64) or isinstance(precision, bool):
            raise ClientError("format must be 'binary' or 'json' and precision 32 or 64")
        try:
            if "run_id" in message:
                run = await self.registry.get(str(message["run_id"]))
            else:
                run = await self.registry.submit(RunRequest.model_validate(message.get("request")))
        except ValidationError as error:
            raise ClientError(validation_message(error)) from None  # type: ignore[arg-type]
        except NotFound as error:
            raise ClientError(str(error), 404) from None
        except (ArgumentError, ArgumentTypeError) as error:
            raise ClientError(str(error)) from None
        except StateUnavailable as error:  # Redis is down: say so, the page retries
            raise ClientError(str(error), 503) from None
        picture = picture_hint(message.get("picture"), run)  # checked before anything changes
        self.run, self.format, self.precision = run, chosen, precision
        sequence = run.prepared.frames
        per_frame = frame_bytes(run_batch(run, 0, min(1, len(sequence))), self.format, self.precision)
        self.per_frame = per_frame
        self.per_message = max(self.settings.max_message_bytes // per_frame, 1)
        self.window = max(min(self.settings.ws_window_frames, self.settings.ws_window_bytes // per_frame), 1)
        self.position = min(self.position, self.total - 1) if keep_position else -1
        self.acked = min(self.acked, self.position)
        self.since = self.position - 1 if self.position >= 0 else -1
        self.sent_last = self.position
        await self.send_json({"type": "opened", "run": describe(run).model_dump(), "position": self.position})
        if picture is not None:
            self.prerender(run, *picture)
        if self.position >= 0:
            await self.send_frames(self.position, self.position + 1)

    def prerender(self, run: Run, channel: int, mode: str, contrast: str) -> None:
        """Render the result picture the page is about to ask for, while "opened" travels and the page handles
        it; the page's request then finds it made (or being made: the picture cache makes each key once)."""
        async def render() -> None:
            with contextlib.suppress(Exception):  # the page's own request for the picture reports any error
                await self.registry.in_thread(lambda: render_png(run, channel, resolve(run, mode, contrast)))

        task = asyncio.ensure_future(render())
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def show(self, index: int) -> None:
        """Move to a frame (clamped to the run) and send it at once."""
        self.position = max(0, min(index, self.total - 1))
        self.acked = min(self.acked, self.position)
        self.since = self.position - 1
        await self.send_frames(self.position, self.position + 1)

    async def play_loop(self) -> None:
        """Stream frames while playing; a failure stops playback with an error message, not silently."""
        while True:
            try:
                await self._play()
            except (WebSocketDisconnect, RuntimeError, asyncio.CancelledError):
                raise
            except Exception as error:  # an engine or encoding failure: tell the client, keep the session
                self.playing = False
                await self.send_json({"type": "error", "detail": f"playback stopped: {error}"})

    async def _play(self) -> None:
        """Stream frames while playing: fps frames per second, in batches of one display tick."""
        credit, last = 0.0, time.perf_counter()
        while True:
            now = time.perf_counter()
            room = self.lead() - self.in_flight()  # frames that may still go out before the next ack
            ready = self.playing and self.position + 1 < self.total and room > 0
            if not ready:
                if self.playing and self.position + 1 >= self.total and self.total:
                    self.playing = False
                    await self.send_state(ended=True)
                self.wake.clear()
                await self.wake.wait()
                credit, last = 1.0, time.perf_counter()  # the first frame goes out at once
                continue
            busy = self.share.busy.due()
            if busy > 0:  # the players together have had their share of this second: the others' turn
                await asyncio.sleep(busy)
                continue
            # at most a few ticks of credit: a stalled client does not earn a burst
            fps = self.effective_fps()
            credit = min(credit + (now - last) * fps, fps * TICK * 4 + 1)
            last = now
            most = min(MESSAGE_FRAMES if self.format == "binary" else JSON_MESSAGE_FRAMES, self.per_message)
            count = int(min(credit, room, most, self.total - self.position - 1))
            if count >= 1:
                credit -= count
                start = self.position + 1
                self.position += count
                await self.send_frames(start, start + count)
            if credit >= 1:
                await asyncio.sleep(0)  # more is due now (fast playback): only let other tasks run
            else:
                # until the next frame is due, but at least a display tick: faster playback goes out as one batch
                # a tick (the page paints once a display frame), not a message per frame (1,000 steps/s had made
                # ~330 messages a second, each costing the server and the page as much as a batch)
                await asyncio.sleep(max(max(TICK, (1 - credit) / fps) - (time.perf_counter() - now), 0.001))

    async def send_frames(self, start: int, stop: int, peek: bool = False) -> None:
        """Send frames start..stop-1 as one message; a peek (hover) does not move the position."""
        run = self.require_run()
        began = time.perf_counter()
        meta = {"type": "frames", "run_id": run.run_id, "start": start, "count": stop - start, "total": self.total,
                "peek": peek}

        def build() -> bytes | str:
            if self.format == "binary":
                return encode_batch(run_batch(run, start, stop), meta, self.precision)
            return json.dumps({**meta, "frames": batch_as_json(run, start, stop)}, allow_nan=False)

        if stop - start <= INLINE_FRAMES:
            payload = build()
        else:
            payload = await anyio.to_thread.run_sync(build, limiter=self.share.limiter)  # playback's own slot
            began = time.perf_counter()  # built off the event loop: only the send below is charged to it
        async with self.send_lock:
            if self.run is not run:  # an open came while this batch was built: its frames belong to no run now
                return
            if isinstance(payload, bytes):
                await self.websocket.send_bytes(payload)
            else:
                await self.websocket.send_text(payload)
        self.share.busy.take(time.perf_counter() - began)  # the event loop's time for it (seeks and peeks too)
        self.frames_sent += stop - start
        if not peek:
            self.sent_last = max(self.sent_last, stop - 1)

    async def send_state(self, ended: bool = False) -> None:
        await self.send_json({"type": "state", "playing": self.playing, "position": self.position,
                              "acked": self.acked, "fps": self.fps, "effective_fps": round(self.effective_fps(), 3),
                              "total": self.total,
                              "frames_sent": self.frames_sent, "ended": ended})

    async def send_json(self, message: dict[str, Any]) -> None:
        if self.websocket.client_state != WebSocketState.CONNECTED:
            return
        async with self.send_lock:
            await self.websocket.send_text(json.dumps(message))


@router.websocket("/ws/animate")
async def animate(websocket: WebSocket) -> None:
    """Playback of a run's frames; see the module docstring for the protocol."""
    await websocket.accept()
    registry: RunRegistry = websocket.app.state.registry
    share: PlaybackShare = websocket.app.state.playback
    await AnimationSession(websocket, registry, registry.settings, share).serve()
