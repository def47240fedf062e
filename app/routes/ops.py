"""Running an operation: its result, formula and statistics, and the result as PNG and .npy."""

from __future__ import annotations

import io
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Query, Response

from app.colors import color_indices
from app.deps import RegistryDep
from app.display import Contrast, Mode, palettes_with_ink, render_png, resolve
from app.runs import Run, map_png
from app.schemas import DisplayChoice, ErrorBody, RunRequest, RunResponse
from cnn_core.errors import ArgumentError
from cnn_core.frames import ConvTranspose2dFrames

router = APIRouter(prefix="/api", tags=["operations"])
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}


def describe(run: Run) -> RunResponse:
    """The JSON answer for a computed run."""
    prepared, run_id = run.prepared, run.run_id
    source = run.request.source
    input_url = (f"/api/images/{source.image_id}.png?color={source.color}" if source.image_id
                 else f"/api/runs/{run_id}/input.png")
    bias = prepared.bias
    kernel_scale = run.scales.get("kernel")
    weight_colors = None if prepared.weight is None or kernel_scale is None else color_indices(
        prepared.weight, kernel_scale.scheme, kernel_scale.low, kernel_scale.high).tolist()
    return RunResponse(
        run_id=run_id, op=run.request.operation.op, input_shape=list(prepared.x.shape),
        output_shape=list(run.result.shape), frame_count=len(prepared.frames),
        frame_fields=list(prepared.frames.batch(0, 0)), formula=run.formula, stats=run.stats,
        display=run.display, geometry=run.geometry, scales=run.scales, comparison=run.comparison,
        weight=None if prepared.weight is None else prepared.weight.tolist(), weight_colors=weight_colors,
        bias=None if bias is None else np.atleast_1d(np.asarray(bias, dtype=float)).tolist(),
        result_png_url=f"/api/runs/{run_id}/result.png", result_npy_url=f"/api/runs/{run_id}/result.npy",
        input_png_url=input_url, padded_png_url=f"/api/runs/{run_id}/padded.png",
        frames_url=f"/api/frames?run_id={run_id}",
    )


@router.post("/run", response_model=RunResponse, responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}})
async def run_operation(body: RunRequest, registry: RegistryDep) -> RunResponse:
    """Compute one operation on an image or a typed matrix.

    Returns the output shape, the output-size formula with your numbers, the number of animation
    frames, min/max/mean, and URLs of the result as PNG and .npy and of its frames.
    """
    return describe(await registry.submit(body))


@router.get("/palettes", response_model=dict[str, list[str]])
async def palettes() -> dict[str, list[str]]:
    """The colours of each scheme, low to high ('#rrggbb'; viridis and gray 256, diverging 255), and as
    ``<scheme>_ink`` the text colour ("#111" or "#fff") that reads on each of them."""
    return palettes_with_ink()


@router.get("/runs/{run_id}", response_model=RunResponse, responses={404: {"model": ErrorBody}})
async def get_run(run_id: str, registry: RegistryDep) -> RunResponse:
    """A run's description (recomputed if it was evicted)."""
    return describe(await registry.get(run_id))


@router.get("/runs/{run_id}/result.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, 404: {"model": ErrorBody}})
async def result_png(run_id: str, registry: RegistryDep, channel: int = 0, mode: Mode | None = None,
                     contrast: Contrast | None = None) -> Response:
    """One map of the result (``channel``), coloured on the scale shared by all its maps; with ``mode`` or
    ``contrast``, as GET /api/runs/{run_id}/display describes (a colour photo's three maps come together)."""
    run = await registry.get(run_id)
    if mode is None and contrast is None:
        png = await registry.in_thread(run.result_png, channel)
    else:
        png = await registry.in_thread(lambda: render_png(run, channel, resolve(run, mode or "auto",
                                                                                  contrast or "auto")))
    return Response(png, media_type="image/png", headers=IMMUTABLE)


@router.get("/runs/{run_id}/display", response_model=DisplayChoice, responses={404: {"model": ErrorBody}})
async def display(run_id: str, registry: RegistryDep, mode: Mode = "auto",
                  contrast: Contrast = "auto") -> DisplayChoice:
    """How the result is shown: signed, |value|, gray or as a photo; full range or 2nd-98th percentile ("auto":
    the kernel's default, e.g. Sobel as bold magnitudes, a blur as a picture); the scale's ends and the true
    minimum and maximum."""
    run = await registry.get(run_id)
    choice: DisplayChoice = await registry.in_thread(resolve, run, mode, contrast)
    return choice


@router.get("/runs/{run_id}/result.npy", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}, 404: {"model": ErrorBody}})
async def result_npy(run_id: str, registry: RegistryDep) -> Response:
    """The raw result, for ``numpy.load``."""
    run = await registry.get(run_id)
    buffer = io.BytesIO()
    np.save(buffer, run.result, allow_pickle=False)
    name = f"kernel-lens-{run.request.operation.op}-{run_id[:8]}.npy"
    return Response(buffer.getvalue(), media_type="application/octet-stream",
                    headers={**IMMUTABLE, "Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/runs/{run_id}/input.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, 404: {"model": ErrorBody}})
async def input_png(run_id: str, registry: RegistryDep, channel: int = 0) -> Response:
    """The input of a run, coloured for display (typed matrices; images have their own preview)."""
    run = await registry.get(run_id)
    x = run.prepared.x if run.prepared.x.ndim == 3 else run.prepared.x[None]
    if not 0 <= channel < x.shape[0]:
        raise HTTPException(422, f"channel must be from 0 to {x.shape[0] - 1}, got {channel}")
    png = await registry.in_thread(lambda: map_png(x[channel]))
    return Response(png, media_type="image/png", headers=IMMUTABLE)


@router.get("/runs/{run_id}/padded.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, 404: {"model": ErrorBody}})
async def padded_png(run_id: str, registry: RegistryDep, channel: int = 0) -> Response:
    """The input as the operation reads it, padding included (reflect, replicate... values shown)."""
    run = await registry.get(run_id)
    png = await registry.in_thread(run.padded_png, channel)
    return Response(png, media_type="image/png", headers=IMMUTABLE)


@router.get("/runs/{run_id}/region", responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}})
async def region(run_id: str, registry: RegistryDep, which: Literal["input", "output"] = "input",
                 channel: int = 0, top: int = 0, left: int = 0,
                 height: int = Query(16, ge=1, le=64), width: int = Query(16, ge=1, le=64)) -> dict[str, Any]:
    """Numbers of a window (at most 64x64) of the padded input (padded coordinates) or of the result,
    for showing values in the cells when zoomed in."""
    run = await registry.get(run_id)
    values = await registry.in_thread(run.region, which, channel, top, left, height, width)
    return {"which": which, "channel": channel, "top": max(top, 0), "left": max(left, 0), "values": values}


@router.get("/runs/{run_id}/partial.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, 404: {"model": ErrorBody}})
async def partial_png(run_id: str, index: int, registry: RegistryDep, channel: int = 0) -> Response:
    """A transposed convolution's output after frames 0..index, on the final result's colour scale."""
    run = await registry.get(run_id)
    frames = run.prepared.frames
    if not isinstance(frames, ConvTranspose2dFrames):
        raise HTTPException(422, "partial outputs exist for conv_transpose2d runs only")

    def render() -> bytes:
        partial = frames.partial_output(index)
        maps = partial if partial.ndim == 3 else partial[None]
        if not 0 <= channel < maps.shape[0]:
            raise ArgumentError(f"channel must be from 0 to {maps.shape[0] - 1}, got {channel}")
        return map_png(maps[channel], run.display.scheme, (run.display.low, run.display.high))

    try:
        png = await registry.in_thread(render)
    except IndexError as error:
        raise HTTPException(422, str(error)) from None
    return Response(png, media_type="image/png", headers=IMMUTABLE)
