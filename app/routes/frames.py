"""Frame ranges over HTTP: JSON for small ranges, the compact binary form for large ones."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import JSONResponse

from app.codec import encode_batch
from app.config import SettingsDep
from app.deps import RegistryDep
from app.schemas import ErrorBody
from cnn_core.frames import Frame, FrameSequence

router = APIRouter(prefix="/api/frames", tags=["frames"])


def batch_as_json(sequence: FrameSequence, start: int, stop: int) -> list[dict[str, Any]]:
    """Frames start..stop-1 as JSON-ready dicts (one vectorised batch, then split)."""
    batch = sequence.batch(start, stop)
    return [Frame({name: values[i] for name, values in batch.items()}).to_dict() for i in range(stop - start)]


@router.get("", responses={200: {"content": {"application/json": {}, "application/x-kernel-lens-frames": {}}},
                           404: {"model": ErrorBody}, 422: {"model": ErrorBody}})
async def frame_range(run_id: str, registry: RegistryDep, settings: SettingsDep,
                      start: int = Query(0, ge=0), count: int = Query(1, ge=0),
                      format: Literal["json", "binary"] = "json",
                      precision: int = Query(32, description="32 or 64 bits per float (binary only)")) -> Response:
    """Frames ``start .. start+count-1`` of a run (ids from POST /api/run).

    ``format=json`` (at most KERNEL_LENS_MAX_JSON_FRAMES frames) gives ``{"frames": [...]}``;
    ``format=binary`` gives the KLF1 form (docs/frames-binary.md) with float32 blocks
    (``precision=64`` for float64). A range past the end is cut at the last frame.
    """
    if precision not in (32, 64):
        raise HTTPException(422, f"precision must be 32 or 64, got {precision}")
    run = await registry.get(run_id)
    sequence = run.prepared.frames
    limit = settings.max_json_frames if format == "json" else settings.max_batch_frames
    if count > limit:
        raise HTTPException(422, f"count must be at most {limit:,} for format={format}, got {count:,}")
    if start > len(sequence):
        raise HTTPException(422, f"start must be at most {len(sequence):,} (the frame count), got {start:,}")
    stop = min(start + count, len(sequence))
    meta = {"run_id": run_id, "start": start, "count": stop - start, "total": len(sequence)}
    if format == "binary":
        body = await registry.in_thread(
            lambda: encode_batch(sequence.batch(start, stop), meta, precision))
        return Response(body, media_type="application/x-kernel-lens-frames")
    frames = await registry.in_thread(batch_as_json, sequence, start, stop)
    return JSONResponse({**meta, "frames": frames})


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
