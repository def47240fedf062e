"""Frame ranges over HTTP: JSON for small ranges, the compact binary form for large ones."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import StreamingResponse

from app.codec import encode_batch, frame_bytes, run_batch
from app.config import SettingsDep
from app.deps import RegistryDep
from app.runs import Run
from app.schemas import ErrorBody
from cnn_core.frames import Frame

router = APIRouter(prefix="/api/frames", tags=["frames"])


def batch_as_json(run: Run, start: int, stop: int) -> list[dict[str, Any]]:
    """Frames start..stop-1 (with their colour indices) as JSON-ready dicts (one vectorised batch, then split)."""
    batch = run_batch(run, start, stop)
    return [Frame({name: values[i] for name, values in batch.items()}).to_dict() for i in range(stop - start)]


@router.get("", responses={200: {"content": {"application/json": {}, "application/x-kernel-lens-frames": {}}},
                           404: {"model": ErrorBody}, 422: {"model": ErrorBody}})
async def frame_range(run_id: str, registry: RegistryDep, settings: SettingsDep,
                      start: int = Query(0, ge=0), count: int = Query(1, ge=0),
                      format: Literal["json", "binary"] = "json",
                      precision: int = Query(32, description="32 or 64 bits per float (binary only)",
                                             json_schema_extra={"enum": [32, 64]})) -> Response:
    """Frames ``start .. start+count-1`` of a run (ids from POST /api/run).

    ``format=json`` (at most KERNEL_LENS_MAX_JSON_FRAMES frames) gives ``{"frames": [...]}``;
    ``format=binary`` gives the KLF1 form (docs/frames-binary.md) with float32 blocks
    (``precision=64`` for float64), as several messages back to back when the range is large.
    A response holds at most KERNEL_LENS_MAX_RESPONSE_BYTES and is streamed in chunks of at most
    KERNEL_LENS_MAX_MESSAGE_BYTES. A range past the end is cut at the last frame.
    """
    run = await registry.get(run_id)
    sequence = run.prepared.frames
    limit = settings.max_json_frames if format == "json" else settings.max_batch_frames
    if count > limit:
        raise HTTPException(422, f"count must be at most {limit:,} for format={format}, got {count:,}")
    if start > len(sequence):
        raise HTTPException(422, f"start must be at most {len(sequence):,} (the frame count), got {start:,}")
    if precision not in (32, 64):
        raise HTTPException(422, f"precision must be 32 or 64, got {precision}")
    per_frame = frame_bytes(run_batch(run, 0, min(1, len(sequence))), format, precision)
    fit = max(settings.max_response_bytes // per_frame, 1)
    if count > fit:
        raise HTTPException(422, f"count must be at most {fit:,} for this run (each frame takes up to {per_frame:,} "
                                 f"bytes, a response at most {settings.max_response_bytes:,}), got {count:,}")
    stop = min(start + count, len(sequence))
    step = max(settings.max_message_bytes // per_frame, 1)
    chunks = [(first, min(first + step, stop)) for first in range(start, stop, step)] or [(start, start)]
    meta = {"run_id": run_id, "total": len(sequence)}
    if format == "binary":
        async def binary() -> AsyncIterator[bytes]:
            for first, last in chunks:
                yield await registry.in_thread(lambda first=first, last=last: encode_batch(
                    run_batch(run, first, last), {**meta, "start": first, "count": last - first}, precision))

        return StreamingResponse(binary(), media_type="application/x-kernel-lens-frames")

    async def text() -> AsyncIterator[bytes]:
        head = _dumps({"run_id": run_id, "start": start, "count": stop - start, "total": len(sequence)})
        yield head[:-1] + b',"frames":['
        for number, (first, last) in enumerate(chunks):
            frames = await registry.in_thread(batch_as_json, run, first, last)
            yield (b"," if number and frames else b"") + _dumps(frames)[1:-1]
        yield b"]}"

    return StreamingResponse(text(), media_type="application/json")


def _dumps(content: Any) -> bytes:
    """JSON as JSONResponse writes it (compact, no NaN)."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


@router.get("/{index}", responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}})
async def single_frame(index: int, run_id: str, registry: RegistryDep) -> dict[str, Any]:
    """One frame as JSON (negative indices count from the end); transposed convolutions include
    ``partial_output``."""
    run = await registry.get(run_id)
    sequence = run.prepared.frames
    try:
        frame = await registry.in_thread(sequence.__getitem__, index)
    except IndexError as error:
        raise HTTPException(422, str(error)) from None
    return {"run_id": run_id, "index": index % len(sequence), "total": len(sequence), "frame": frame.to_dict()}
