"""Layer chains: run a chain, its summary and thumbnails, step through any layer, export it as code."""

from __future__ import annotations

import io
import re
from typing import Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Request, Response

from app.chains import MAX_THUMBNAILS, STEPPABLE, ChainStore, ComputedChain, compute_chain, layer_request
from app.config import SettingsDep
from app.deps import RegistryDep, StoreDep
from app.export import keras_code, pytorch_code
from app.routes.ops import describe
from app.runs import RunRegistry
from app.schemas import ChainLayerInfo, ChainRequest, ChainResponse, ErrorBody, RunResponse

router = APIRouter(prefix="/api/chains", tags=["chains"])
CHAIN_ID = re.compile(r"^[0-9a-f]{24}$")
MAX_VALUES = 256  # a flat output longer than this (a flatten of a big map) is described by its shape only


def _chains(request: Request) -> ChainStore:
    chains: ChainStore = request.app.state.chains
    return chains


async def _get(request: Request, chain_id: str) -> ComputedChain:
    """This process' chain, or one another process ran, recomputed from its request in the shared state."""
    registry: RunRegistry = request.app.state.registry

    async def compute(body: ChainRequest) -> ComputedChain:
        computed: ComputedChain = await registry.in_thread(compute_chain, body, registry.store, registry.settings,
                                                           registry.pngs)
        return computed

    computed = await _chains(request).find(chain_id, compute) if CHAIN_ID.match(chain_id) else None
    if computed is None:
        raise HTTPException(404, f"chain {chain_id} is unknown or has expired; POST /api/chains again")
    return computed


def describe_chain(computed: ComputedChain) -> ChainResponse:
    """The JSON answer for a computed chain."""
    base = f"/api/chains/{computed.chain_id}"
    layers = []
    for index, (layer, output) in enumerate(zip(computed.chain.layers, computed.outputs, strict=True)):
        maps = [f"{base}/layers/{index}/maps/{k}.png" for k in range(min(output.shape[0], MAX_THUMBNAILS))] \
            if output.ndim == 3 else []
        flat = output.ndim == 1 and output.size <= MAX_VALUES
        layers.append(ChainLayerInfo(
            index=index, name=layer.name, type=layer.kind, output_shape=list(output.shape), params=layer.params,
            maps=maps, display=computed.display(index), values=output.tolist() if flat else None,
            bars=(output / (np.abs(output).max() or 1)).tolist() if flat else None,
            steppable=layer.kind in STEPPABLE,
            run_url=f"{base}/layers/{index}/run" if layer.kind in STEPPABLE else None))
    return ChainResponse(chain_id=computed.chain_id, input_shape=list(computed.x.shape), layers=layers,
                         total_params=sum(layer.params for layer in computed.chain.layers),
                         pytorch_url=f"{base}/export?framework=pytorch", keras_url=f"{base}/export?framework=keras",
                         input_npy_url=f"{base}/input.npy")


@router.post("", response_model=ChainResponse, responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}})
async def run_chain(body: ChainRequest, request: Request, store: StoreDep, registry: RegistryDep,
                    settings: SettingsDep) -> ChainResponse:
    """Run a chain of layers; returns the Keras-style summary, thumbnails of every layer's maps, dense outputs."""
    computed = await registry.in_thread(compute_chain, body, store, settings, registry.pngs)
    await _chains(request).remember(computed)
    return describe_chain(computed)


@router.get("/{chain_id}", response_model=ChainResponse, responses={404: {"model": ErrorBody}})
async def get_chain(chain_id: str, request: Request) -> ChainResponse:
    """A computed chain's description."""
    return describe_chain(await _get(request, chain_id))


@router.get("/{chain_id}/layers/{index}/maps/{channel}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, 404: {"model": ErrorBody}})
async def map_png(chain_id: str, index: int, channel: int, request: Request, registry: RegistryDep) -> Response:
    """One feature map of a layer, on the colour scale shared by all that layer's maps."""
    computed = await _get(request, chain_id)
    if not 0 <= index < len(computed.outputs):
        raise HTTPException(404, f"layer index must be from 0 to {len(computed.outputs) - 1}, got {index}")
    png = await registry.in_thread(computed.map_png, index, channel)
    return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=31536000, immutable"})


@router.post("/{chain_id}/layers/{index}/run", response_model=RunResponse,
             responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}})
async def layer_run(chain_id: str, index: int, request: Request, store: StoreDep,
                    registry: RegistryDep) -> RunResponse:
    """Open one layer on the stage: its operation on the previous layer's output, as a run to step through."""
    computed = await _get(request, chain_id)
    if not 0 <= index < len(computed.outputs):
        raise HTTPException(404, f"layer index must be from 0 to {len(computed.outputs) - 1}, got {index}")
    run_request = await registry.in_thread(layer_request, computed, index, store)  # stores the layer's input
    return describe(await registry.submit(run_request))


@router.get("/{chain_id}/export", response_class=Response,
            responses={200: {"content": {"text/x-python": {}}}, 404: {"model": ErrorBody}})
async def export(chain_id: str, request: Request, framework: Literal["pytorch", "keras"] = "pytorch") -> Response:
    """The chain as PyTorch or Keras code with its exact weights (paste it in a notebook)."""
    computed = await _get(request, chain_id)
    maker = pytorch_code if framework == "pytorch" else keras_code
    code = maker(computed.chain, computed.x, f"/api/chains/{chain_id}/input.npy")
    return Response(code, media_type="text/x-python", headers={
        "Content-Disposition": f'attachment; filename="kernel_lens_{framework}.py"'})


@router.get("/{chain_id}/input.npy", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}, 404: {"model": ErrorBody}})
async def input_npy(chain_id: str, request: Request) -> Response:
    """The chain's input as the layers saw it, (C, H, W) float, for the exported code."""
    buffer = io.BytesIO()
    np.save(buffer, (await _get(request, chain_id)).x, allow_pickle=False)
    return Response(buffer.getvalue(), media_type="application/octet-stream",
                    headers={"Content-Disposition": 'attachment; filename="kernel-lens-input.npy"'})
