"""For a run: the Fourier-transform route, an animated GIF (as a job with progress), code export."""

from __future__ import annotations

import io
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Query, Request, Response

from app.deps import RegistryDep
from app.export import keras_code, pytorch_code
from app.gif import render_gif
from app.jobqueue import QueuedJobs
from app.jobs import Jobs, client_of
from app.runs import Run, map_png
from app.schemas import ActivationSpec, Conv2dSpec, ErrorBody, PoolSpec, UpsampleSpec
from cnn_core.chain import Chain
from cnn_core.errors import ArgumentError
from cnn_core.spectral import fft_conv2d

router = APIRouter(prefix="/api", tags=["extras"])


def spectral_refusal(run: Run) -> str | None:
    """Why the Fourier view cannot show this run, or None when it can."""
    spec = run.request.operation
    weight = run.prepared.weight
    if not isinstance(spec, Conv2dSpec) or weight is None:
        return "the Fourier view is for convolutions"
    x = run.prepared.x
    kernel = weight if weight.ndim == 2 else weight.reshape(-1, *weight.shape[-2:])
    if (x.ndim == 3 and x.shape[0] != 1) or (kernel.ndim == 3 and kernel.shape[0] != 1):
        return "the Fourier view needs one input channel and one filter: choose Gray or a typed matrix"
    if spec.stride not in (1, (1, 1)) or spec.dilation not in (1, (1, 1)) or spec.padding_mode != "zeros":
        return "the Fourier view needs stride 1, dilation 1 and zeros padding"
    if not isinstance(spec.padding, int | str):
        return "the Fourier view needs the same padding on every side"
    return None


def _spectral(run: Run, made: dict[str, bytes] | None = None) -> dict[str, Any]:
    refusal = spectral_refusal(run)
    spec, x, weight = run.request.operation, run.prepared.x, run.prepared.weight
    if refusal or not isinstance(spec, Conv2dSpec) or weight is None or not isinstance(spec.padding, int | str):
        raise ArgumentError(refusal)
    kernel = weight if weight.ndim == 2 else weight.reshape(-1, *weight.shape[-2:])
    route = fft_conv2d(x if x.ndim == 2 else x[0], kernel if kernel.ndim == 2 else kernel[0], spec.padding)
    pictures = {"image": np.log1p(route.image_spectrum), "kernel": np.log1p(route.kernel_spectrum),
                "product": np.log1p(route.product_spectrum), "result": route.result}
    for name, values in pictures.items():
        png = map_png(values)
        run.pngs.put(f"{run.run_id}/spectral-{name}", png)
        if made is not None:
            made[name] = png
    return {"max_difference": route.max_difference, "largest_value": float(np.abs(route.direct).max()),
            "grid": list(route.image_spectrum.shape),
            **{f"{name}_url": f"/api/runs/{run.run_id}/spectral/{name}.png" for name in pictures}}


@router.get("/runs/{run_id}/spectral/available", responses={404: {"model": ErrorBody}})
async def spectral_available(run_id: str, registry: RegistryDep) -> dict[str, Any]:
    """Whether the Fourier view can show this run, and if not, why (nothing is computed)."""
    refusal = spectral_refusal(await registry.get(run_id))
    return {"available": refusal is None, "reason": refusal}


@router.get("/runs/{run_id}/spectral", responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}})
async def spectral(run_id: str, registry: RegistryDep) -> dict[str, Any]:
    """The same convolution through numpy.fft: spectra of image, kernel, their product, and the inverse,
    with the largest difference from the direct result (log-magnitude pictures)."""
    run = await registry.get(run_id)
    return await registry.in_thread(_spectral, run)  # type: ignore[no-any-return]


@router.get("/runs/{run_id}/spectral/{name}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, 404: {"model": ErrorBody}})
async def spectral_png(run_id: str, name: Literal["image", "kernel", "product", "result"],
                       registry: RegistryDep) -> Response:
    """One picture of the Fourier route (GET /api/runs/{id}/spectral first)."""
    run = await registry.get(run_id)
    key = f"{run_id}/spectral-{name}"
    png = run.pngs.get(key)
    if png is None:  # not made yet, or evicted since: make the pictures (again)
        made: dict[str, bytes] = {}
        await registry.in_thread(_spectral, run, made)
        png = made[name]
    return Response(png, media_type="image/png")


def _jobs(request: Request) -> Jobs | QueuedJobs:
    jobs: Jobs | QueuedJobs = request.app.state.jobs
    return jobs


@router.post("/runs/{run_id}/gif", status_code=202,
             responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}, 429: {"model": ErrorBody},
                        503: {"model": ErrorBody}})
async def start_gif(run_id: str, request: Request, registry: RegistryDep,
                    frames: int = Query(48, ge=2, le=200, description="frames in the GIF")) -> dict[str, Any]:
    """Start rendering the run as an animated GIF; poll ``status_url`` for progress, then fetch ``gif_url``.
    With Redis configured, a ``kernel-lens worker`` renders it and any server process answers for it."""
    run = await registry.get(run_id)
    jobs = _jobs(request)
    if isinstance(jobs, QueuedJobs):
        job_id = await jobs.start_gif(run, frames, registry.store, client_of(request))
    else:
        job_id = jobs.start(lambda progress: render_gif(run, frames, progress), client_of(request)).job_id
    return {"job_id": job_id, "status_url": f"/api/jobs/{job_id}", "gif_url": f"/api/jobs/{job_id}/result.gif"}


@router.get("/jobs/{job_id}", responses={404: {"model": ErrorBody}, 503: {"model": ErrorBody}})
async def job_status(job_id: str, request: Request) -> dict[str, Any]:
    """A job's progress (0..1), whether it is done, and its error if it failed."""
    job = await _jobs(request).state(job_id)
    if job is None:
        raise HTTPException(404, f"job {job_id} is unknown or too old")
    return {"job_id": job.job_id, "progress": job.progress, "done": job.done, "detail": job.detail,
            "gif_url": f"/api/jobs/{job.job_id}/result.gif" if job.has_result else None}


@router.get("/jobs/{job_id}/result.gif", response_class=Response,
            responses={200: {"content": {"image/gif": {}}}, 404: {"model": ErrorBody}, 503: {"model": ErrorBody}})
async def job_result(job_id: str, request: Request) -> Response:
    """The finished GIF."""
    result = await _jobs(request).result(job_id)
    if result is None:
        raise HTTPException(404, f"job {job_id} has no result (yet)")
    return Response(result, media_type="image/gif",
                    headers={"Content-Disposition": 'attachment; filename="kernel-lens.gif"'})


def _one_layer_chain(run: Run) -> Chain:
    """The run's operation as a one-layer chain, with its exact weights."""
    spec = run.request.operation
    op = spec.op
    weight, bias = run.prepared.weight, run.prepared.bias
    layer: dict[str, Any]
    if op == "conv2d":
        assert isinstance(spec, Conv2dSpec) and weight is not None
        if spec.padding_mode != "zeros":
            raise ArgumentError("code export supports zeros padding (PyTorch's padding_mode needs nn.Conv2d options)")
        if weight.ndim == 2:  # depthwise: one diagonal filter per channel is the same computation
            channels = run.prepared.x.shape[0] if run.prepared.x.ndim == 3 else 1
            full = np.zeros((channels, channels, *weight.shape))
            full[np.arange(channels), np.arange(channels)] = weight
            weight, bias = full, np.full(channels, float(np.asarray(bias)))
        layer = {"type": "conv2d", "weight": weight, "bias": bias, "strides": spec.stride, "padding": spec.padding,
                 "dilation": spec.dilation}
    elif op == "conv_transpose2d":
        assert weight is not None
        if weight.ndim == 2:
            raise ArgumentError("code export of a depthwise transposed convolution is not supported")
        layer = {"type": "conv_transpose2d", "weight": weight, "bias": bias, **{
            key: getattr(spec, key) for key in ("stride", "padding", "output_padding", "dilation")}}
    elif isinstance(spec, PoolSpec):
        layer = {"type": op, "pool_size": spec.kernel_size, "stride": spec.stride, "padding": spec.padding,
                 "dilation": spec.dilation, "ceil_mode": spec.ceil_mode, "count_include_pad": spec.count_include_pad}
    elif isinstance(spec, UpsampleSpec):
        layer = {"type": "upsample", "size": spec.scale_factor, "interpolation": spec.mode,
                 "align_corners": spec.align_corners}
    else:
        assert isinstance(spec, ActivationSpec)
        layer = {"type": "activation", "activation": op, "negative_slope": spec.negative_slope}
    return Chain([layer])


@router.get("/runs/{run_id}/export", response_class=Response,
            responses={200: {"content": {"text/x-python": {}}}, 404: {"model": ErrorBody}, 422: {"model": ErrorBody}})
async def export_run(run_id: str, registry: RegistryDep,
                     framework: Literal["pytorch", "keras"] = "pytorch") -> Response:
    """The run's operation as PyTorch or Keras code with its exact kernel values."""
    run = await registry.get(run_id)
    chain = _one_layer_chain(run)
    maker = pytorch_code if framework == "pytorch" else keras_code
    code = maker(chain, run.prepared.x, f"/api/runs/{run_id}/input.npy")
    return Response(code, media_type="text/x-python",
                    headers={"Content-Disposition": f'attachment; filename="kernel_lens_{framework}.py"'})


@router.get("/runs/{run_id}/input.npy", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}, 404: {"model": ErrorBody}})
async def input_npy(run_id: str, registry: RegistryDep) -> Response:
    """The run's input as it computed on it, for exported code."""
    run = await registry.get(run_id)
    buffer = io.BytesIO()
    np.save(buffer, run.prepared.x if run.prepared.x.ndim == 3 else run.prepared.x[None], allow_pickle=False)
    return Response(buffer.getvalue(), media_type="application/octet-stream",
                    headers={"Content-Disposition": 'attachment; filename="kernel-lens-input.npy"'})
