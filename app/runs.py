"""Runs: a request gets a content-hash id; its computation is cached (bounded) and shared by callers."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from app.config import Settings
from app.formulas import output_size_formulas
from app.operations import NotFound, Prepared, prepare
from app.schemas import Conv2dSpec, Display, RunRequest, Stats
from app.shared_state import SharedState, Space, raw
from app.store import ByteBudgetLRU, ImageStore, held_bytes
from cnn_core import ops
from cnn_core.errors import ArgumentError
from cnn_core.frames import (
    ActivationFrames,
    Conv2dFrames,
    ConvTranspose2dFrames,
    FrameSequence,
    PoolFrames,
    UpsampleFrames,
)
from cnn_core.imageio import display_indices, display_range, palette
from cnn_core.spectral import flip_kernel

SERVER_RUN = b"S"  # a remembered server-built run (its limits and request); a user's request starts with "{"


@dataclass
class Run:
    """A computed run: the prepared frames, the full result and what the page shows about it."""

    run_id: str
    request: RunRequest
    prepared: Prepared
    result: NDArray[Any]
    stats: Stats
    display: Display
    formula: dict[str, str]
    geometry: dict[str, Any]
    scales: dict[str, Display]
    comparison: dict[str, float] = field(default_factory=dict)
    pngs: ByteBudgetLRU[bytes] = field(default_factory=lambda: ByteBudgetLRU(1 << 20, len))

    @property
    def nbytes(self) -> int:
        """Memory this run keeps alive: result, input (even once its image is evicted), frame plans."""
        return held_bytes(self.result, self.prepared)

    def png(self, key: str, make: Callable[[], bytes]) -> bytes:
        """A rendered picture of this run, from the registry's byte-budgeted PNG cache."""
        return self.pngs.cached(f"{self.run_id}/{key}", make)

    def maps(self) -> NDArray[Any]:
        """The result as (C, H, W)."""
        return self.result if self.result.ndim == 3 else self.result[None]

    @property
    def photo(self) -> bool:
        """Whether the input is a picture (0-255, shown in its own colours) rather than numbers."""
        return self.request.source.image_id is not None and self.prepared.photo

    def padded_input(self) -> NDArray[Any]:
        """The input as the op reads it, padding included, as (C, Hp, Wp) (max-pool padding is -inf)."""
        frames = self.prepared.frames
        if isinstance(frames, Conv2dFrames):
            padded: NDArray[Any] = frames.plan.padded
            return padded.reshape(-1, *padded.shape[2:])  # depthwise (C, 1, ...) or (1, C, ...)
        if isinstance(frames, PoolFrames):
            pool_padded: NDArray[Any] = frames.plan.padded
            return pool_padded
        x = self.prepared.x
        return x if x.ndim == 3 else x[None]

    def padded_png(self, channel: int) -> bytes:
        """The padded input as PNG: photos in their own colours (RGB or gray), matrices on a colour scale."""
        padded = self.padded_input()
        if not (self.photo and padded.shape[0] in (1, 3)) and not 0 <= channel < padded.shape[0]:
            raise ArgumentError(f"channel must be from 0 to {padded.shape[0] - 1}, got {channel}")

        def make() -> bytes:
            finite = np.where(np.isfinite(padded), padded, np.nan)
            if self.photo and padded.shape[0] in (1, 3):
                pixels = np.nan_to_num(finite, nan=0.0).clip(0, 255).round().astype(np.uint8)
                rgb = np.repeat(pixels, 3, axis=0) if pixels.shape[0] == 1 else pixels
                return encode_png(np.ascontiguousarray(rgb.transpose(1, 2, 0)))
            scheme, low, high = display_range(self.prepared.x)
            plane = np.nan_to_num(finite[channel], nan=low)
            return map_png(plane, scheme, (low, high))

        if self.photo and padded.shape[0] in (1, 3):  # the same picture for every run that pads it alike
            return self.pngs.cached(f"padded-photo/{self.padded_photo_key()}", make)
        return self.png(f"padded{channel}", make)

    def padded_photo_key(self) -> str:
        """What a photo's padded picture depends on: the image (its id is its content's hash) in its colour mode,
        the operation and its padding (sizes, mode) and the padded shape. A new kernel, stride or dilation on the
        same photo keeps it, so the picture (~140 ms to encode at 1024x1024 RGB) is made once."""
        operation = self.request.operation
        parts = [self.request.source.model_dump(mode="json"), operation.op, getattr(operation, "padding_mode", None),
                 self.geometry["pads"], list(self.padded_input().shape)]
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]

    def region(self, which: str, channel: int, top: int, left: int, height: int, width: int) -> list[list[Any]]:
        """Values of a window of the padded input or of the result (out-of-range cells are None)."""
        maps = self.padded_input() if which == "input" else self.maps()
        if not 0 <= channel < maps.shape[0]:
            raise ArgumentError(f"channel must be from 0 to {maps.shape[0] - 1}, got {channel}")
        plane = maps[channel]
        rows = range(max(top, 0), min(top + height, plane.shape[0]))
        cols = range(max(left, 0), min(left + width, plane.shape[1]))
        block = plane[rows.start:rows.stop, cols.start:cols.stop]
        return [[float(v) if np.isfinite(v) else None for v in row] for row in block.tolist()]

    def result_png(self, channel: int) -> bytes:
        """One map of the result, coloured on the scale shared by all maps, as PNG (cached)."""
        maps = self.maps()
        if not 0 <= channel < maps.shape[0]:
            raise ArgumentError(f"channel must be from 0 to {maps.shape[0] - 1}, got {channel}")
        return self.png(f"result{channel}", lambda: map_png(
            maps[channel], self.display.scheme, (self.display.low, self.display.high)))


def encode_png(rgb: NDArray[np.uint8]) -> bytes:
    """(H, W, 3) uint8 -> PNG bytes (fast compression: these are made per request)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def map_png(plane: Any, scheme: str = "auto", value_range: tuple[float, float] | None = None) -> bytes:
    """A map coloured as :func:`cnn_core.to_display` colours it, stored as a palette PNG (one byte a pixel and
    the scheme's colour table: the same pixels, in about half the bytes and half the time of RGB)."""
    index, lut = display_indices(plane, scheme, value_range)
    picture = Image.fromarray(np.ascontiguousarray(index), "P")
    picture.putpalette(lut.tobytes())
    buffer = io.BytesIO()
    # Huffman coding alone: a map's indices are noisy where it matters (edges), so searching for repeats (any
    # zlib level) costs ~3x the time for a larger file here (1024x1024 Sobel: 14 ms and 786 KB vs 48 ms, 811 KB)
    picture.save(buffer, "PNG", compress_level=1, compress_type=zlib.Z_HUFFMAN_ONLY)
    return buffer.getvalue()


def canonical(request: RunRequest) -> bytes:
    """The request as compact JSON with every default written out: the same run always reads the same."""
    return request.model_dump_json(exclude_defaults=False).encode()


def run_id_of(request: RunRequest) -> str:
    """The same request always gets the same id, whoever sends it."""
    return hashlib.sha256(canonical(request)).hexdigest()[:24]


def compute_run(run_id: str, request: RunRequest, store: ImageStore, settings: Settings,
                pngs: ByteBudgetLRU[bytes] | None = None) -> Run:
    """Validate, build the frames and compute the full result (CPU-bound: call it off the event loop)."""
    prepared = prepare(request, store, settings)
    result = prepared.frames.result()
    scheme, low, high = display_range(result)
    weight = prepared.weight
    kernel_shape = (int(weight.shape[-2]), int(weight.shape[-1])) if weight is not None else (1, 1)
    in_shape = (int(prepared.x.shape[-2]), int(prepared.x.shape[-1]))
    return Run(
        run_id=run_id,
        request=request,
        prepared=prepared,
        result=result,
        stats=Stats(min=float(result.min()), max=float(result.max()), mean=finite_mean(result)),
        display=Display(scheme=scheme, low=low, high=high, palette=palette(scheme)),
        formula=output_size_formulas(request.operation, in_shape, result.shape, kernel_shape),
        geometry=geometry_of(prepared.frames, in_shape),
        scales=scales_of(prepared, request, Display(scheme=scheme, low=low, high=high)),
        comparison=_flip_comparison(prepared, request, result),
        **({} if pngs is None else {"pngs": pngs}),
    )


def finite_mean(values: NDArray[Any]) -> float:
    """The mean of finite values, even when their sum overflows (then it is taken on values scaled down)."""
    with np.errstate(over="ignore"):
        mean = float(values.mean())
    if np.isfinite(mean) or not values.size:
        return mean
    extent = float(np.abs(values).max())
    return float(np.mean(values / extent) * extent)


def _flip_comparison(prepared: Prepared, request: RunRequest, result: NDArray[Any]) -> dict[str, float]:
    """For a flipped (true) convolution: how far it is from the cross-correlation with the kernel as typed."""
    spec = request.operation
    if not isinstance(spec, Conv2dSpec) or not spec.flip or prepared.weight is None:
        return {}
    unflipped = ops.conv2d(prepared.x, flip_kernel(prepared.weight), prepared.bias, spec.stride, spec.padding,
                           spec.dilation, spec.padding_mode)
    return {"max_difference_from_cross_correlation": float(np.abs(result - unflipped.reshape(result.shape)).max())}


def _scale(values: NDArray[Any], scheme: str = "auto") -> Display:
    chosen, low, high = display_range(values, scheme)
    return Display(scheme=chosen, low=low, high=high)


def scales_of(prepared: Prepared, request: RunRequest, output: Display) -> dict[str, Display]:
    """Colour scales for the numbers the page shows: photos in gray 0-255, signed things diverging."""
    x = prepared.x
    photo = request.source.image_id is not None and prepared.photo
    scales = {"input": Display(scheme="gray", low=0.0, high=255.0) if photo else _scale(x), "output": output}
    if prepared.weight is not None:
        weight = np.asarray(prepared.weight)
        extent = float(np.abs(weight).max()) or 1.0
        scales["kernel"] = Display(scheme="diverging", low=-extent, high=extent)
        reach = extent * (float(np.abs(x).max()) or 1.0)
        scales["products"] = Display(scheme="diverging", low=-reach, high=reach)
    return scales


def geometry_of(frames: FrameSequence, in_shape: tuple[int, int]) -> dict[str, Any]:
    """Where the windows go, read from the engine's resolved plan (the page draws it, never derives it)."""
    out_shape = list(frames.output_shape[-2:])
    common: dict[str, Any] = {"in_shape": list(in_shape), "out_shape": out_shape, "pads": [0, 0, 0, 0]}
    if isinstance(frames, Conv2dFrames | PoolFrames):
        window = frames.plan.window
        return {**common, "pads": list(window.pads), "kernel": list(window.kernel), "stride": list(window.stride),
                "dilation": list(window.dilation), "padded_shape": list(window.padded_shape)}
    if isinstance(frames, ConvTranspose2dFrames):
        plan = frames.plan
        return {**common, "kernel": list(plan.weight.shape[2:]), "stride": list(plan.stride),
                "dilation": list(plan.dilation), "crop": list(plan.padding)}
    if isinstance(frames, UpsampleFrames):
        return {**common, "scale": [out_shape[0] // in_shape[0], out_shape[1] // in_shape[1]]}
    assert isinstance(frames, ActivationFrames)
    return common


class RunRegistry:
    """Computed runs within a byte budget (this process' own), the requests behind them (remembered in the
    shared state once they have been validated and computed, within their own budget, so any process can
    recompute a run by id) and the runs' rendered PNGs (a third budget, local)."""

    def __init__(self, settings: Settings, store: ImageStore, state: SharedState | None = None) -> None:
        self.settings = settings
        self.store = store
        self.state: SharedState = state if state is not None else store.state
        self.limiter = anyio.CapacityLimiter(settings.max_concurrent)
        self.requests: Space[bytes] = Space("runs", settings.run_request_bytes, len, raw, raw, settings.max_runs)
        self._computed: ByteBudgetLRU[Run] = ByteBudgetLRU(settings.run_cache_bytes, lambda run: run.nbytes)
        self.pngs: ByteBudgetLRU[bytes] = ByteBudgetLRU(settings.png_cache_bytes, len)
        self._pending: dict[str, asyncio.Future[Run]] = {}

    def memory(self) -> dict[str, int]:
        """Bytes held by each cache (the requests' bytes are the shared state's: blocking with Redis)."""
        return {"requests": self.state.used(self.requests), "runs": self._computed.used, "pngs": self.pngs.used}

    def __len__(self) -> int:
        return self.state.count(self.requests)

    async def submit(self, request: RunRequest) -> Run:
        """Compute a run (or share the computed one); its request is remembered only when it succeeded."""
        data = canonical(request)
        run_id = hashlib.sha256(data).hexdigest()[:24]
        run = await self._run(run_id, request, self.settings)
        await self.state.aput(self.requests, run_id, data)
        return run

    async def adopt(self, request: RunRequest, settings: Settings) -> Run:
        """Compute a run the server built itself under its own ``settings`` (a gradient used as a kernel may be
        larger than a typed one). Its id is not a user request's; it is remembered with the limits that differ
        from the registry's, so any process recomputes it under those same limits, never the registry's own."""
        data = canonical(request)
        run_id = hashlib.sha256(b"server:" + data).hexdigest()[:24]
        run = await self._run(run_id, request, settings)
        ours, theirs = self.settings.model_dump(), settings.model_dump()
        limits = {name: value for name, value in theirs.items() if value != ours[name] and name != "redis_url"}
        record = SERVER_RUN + json.dumps({"limits": limits, "request": data.decode()}).encode()
        await self.state.aput(self.requests, run_id, record)
        return run

    def _decode(self, run_id: str, data: bytes | None) -> tuple[RunRequest, Settings]:
        if data is None:
            raise NotFound(f"run {run_id} is unknown or has expired; POST /api/run again")
        if data.startswith(SERVER_RUN):
            record = json.loads(data[len(SERVER_RUN):])
            return (RunRequest.model_validate_json(record["request"]),
                    self.settings.model_copy(update=record["limits"]))
        return RunRequest.model_validate_json(data), self.settings

    def request(self, run_id: str) -> RunRequest:
        """The request behind an id; NotFound when unknown or forgotten (blocking with a shared state)."""
        return self._decode(run_id, self.state.get(self.requests, run_id))[0]

    async def recall(self, run_id: str) -> tuple[RunRequest, Settings]:
        """The request behind an id and the limits it runs under; NotFound when unknown or forgotten."""
        data = await self.state.aget(self.requests, run_id)
        return self._decode(run_id, data)

    async def in_thread(self, function: Any, *args: Any) -> Any:
        """Run CPU-bound work in the bounded thread pool, so the event loop keeps serving."""
        return await anyio.to_thread.run_sync(function, *args, limiter=self.limiter)

    async def get(self, run_id: str) -> Run:
        """The computed run of a remembered request (recomputed if it was evicted, or was made by another
        process: its request is in the shared state)."""
        cached = self._computed.get(run_id)
        if cached is not None:
            return cached
        return await self._run(run_id, *await self.recall(run_id))

    async def _run(self, run_id: str, request: RunRequest, settings: Settings) -> Run:
        """Computed once even when many callers ask at the same moment; a caller that goes away does
        not cancel the computation others are waiting for."""
        cached = self._computed.get(run_id)
        if cached is not None:
            return cached
        task = self._pending.get(run_id)
        if task is None:
            task = asyncio.ensure_future(self._compute(run_id, request, settings))
            self._pending[run_id] = task
            task.add_done_callback(lambda done: self._finished(run_id, done))
        return await asyncio.shield(task)

    async def _compute(self, run_id: str, request: RunRequest, settings: Settings) -> Run:
        run: Run = await self.in_thread(compute_run, run_id, request, self.store, settings, self.pngs)
        self._computed.put(run_id, run)
        return run

    def _finished(self, run_id: str, task: asyncio.Future[Run]) -> None:
        self._pending.pop(run_id, None)
        if not task.cancelled():
            task.exception()  # retrieved here, so an error nobody awaited anymore is not reported as lost
