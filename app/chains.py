"""Computed chains: every layer's output kept (bounded), thumbnails, and a stage run for any layer."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.config import Settings
from app.operations import load_source
from app.runs import encode_png
from app.schemas import (
    ActivationSpec,
    ChainRequest,
    Conv2dSpec,
    ConvTranspose2dSpec,
    FilterSpec,
    KernelRef,
    PoolSpec,
    RunRequest,
    Source,
    UpsampleSpec,
)
from app.store import ByteBudgetLRU, ImageStore, StoredImage, content_id, freeze
from cnn_core import to_display
from cnn_core.chain import Chain, Layer
from cnn_core.imageio import display_range

MAX_THUMBNAILS = 16
STEPPABLE = ("conv2d", "activation", "max_pool2d", "avg_pool2d", "sum_pool2d", "upsample", "conv_transpose2d")


@dataclass
class ComputedChain:
    """A chain with its input and every layer's output."""

    chain_id: str
    request: ChainRequest
    chain: Chain
    x: NDArray[Any]
    outputs: list[NDArray[Any]]
    pngs: dict[str, bytes] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Memory held by the outputs."""
        return int(sum(output.nbytes for output in self.outputs) + self.x.nbytes)

    def map_png(self, index: int, channel: int) -> bytes:
        """One feature map of a layer, coloured on the scale shared by all that layer's maps."""
        key = f"{index}/{channel}"
        if key not in self.pngs:
            output = self.outputs[index]
            if output.ndim != 3:
                raise ValueError(f"layer {index + 1} is flat (shape {list(output.shape)}): it has no maps")
            if not 0 <= channel < output.shape[0]:
                raise ValueError(f"channel must be from 0 to {output.shape[0] - 1}, got {channel}")
            scheme, low, high = display_range(output)
            self.pngs[key] = encode_png(to_display(output[channel], scheme, (low, high)))
        return self.pngs[key]


def chain_id_of(request: ChainRequest) -> str:
    """The same chain request always gets the same id."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()[:24]


def compute_chain(request: ChainRequest, store: ImageStore, settings: Settings) -> ComputedChain:
    """Run the chain (CPU-bound: call it off the event loop)."""
    x, _ = load_source(request.source, store, settings)
    image = x if x.ndim == 3 else x[None]
    chain = Chain(request.layers, seed=request.seed)
    for row in chain.summary(tuple(image.shape)):
        size = int(np.prod(row["output_shape"]))
        if size > settings.max_output_elements:
            raise ValueError(f"{row['layer']} would output {size:,} values; at most {settings.max_output_elements:,} "
                             "are allowed")
    return ComputedChain(chain_id_of(request), request, chain, image, chain.run(image))


def layer_input_source(computed: ComputedChain, index: int, store: ImageStore) -> Source:
    """Store a layer's input (the previous layer's output) as a stored 'image' of numbers; returns its source."""
    array = computed.x if index == 0 else computed.outputs[index - 1]
    values = np.ascontiguousarray(array.astype(np.float64))
    image_id = content_id(values.tobytes() + str(values.shape).encode())
    if store.get(image_id) is None:
        store.put(image_id, StoredImage(image_id, freeze(values), freeze(values), f"{computed.chain_id}:{index}",
                                        photo=False))
    return Source(image_id=image_id)


def _pair_or_int(value: Any) -> Any:
    return value if value is None or isinstance(value, int | str) else tuple(value)


def layer_request(computed: ComputedChain, index: int, store: ImageStore) -> RunRequest:
    """The single operation a chain layer performs, on that layer's input, as a RunRequest for the stage."""
    layer: Layer = computed.chain.layers[index]
    options = layer.options
    if layer.kind not in STEPPABLE:
        raise ValueError(f"layer {index + 1} ({layer.kind}) has no steps to show: it reshapes or mixes everything")
    source = layer_input_source(computed, index, store)

    def option(names: tuple[str, ...], default: Any) -> Any:
        return _pair_or_int(next((options[name] for name in names if name in options), default))

    operation: Any
    if layer.kind in ("conv2d", "conv_transpose2d"):
        assert layer.weight is not None
        weight = layer.weight if layer.kind == "conv2d" else layer.weight.transpose(1, 0, 2, 3)
        bias = layer.bias if layer.bias is not None else np.zeros(weight.shape[0])
        filters = [FilterSpec(channels=[KernelRef(values=w.tolist()) for w in per_filter], bias=float(b))
                   for per_filter, b in zip(weight, bias, strict=True)]
        common = {"filters": filters, "stride": option(("strides", "stride"), 1),
                  "dilation": option(("dilation", "dilation_rate"), 1)}
        if layer.kind == "conv2d":
            operation = Conv2dSpec(op="conv2d", padding=option(("padding",), 0), **common)
        else:
            operation = ConvTranspose2dSpec(op="conv_transpose2d", padding=option(("padding",), 0),
                                            output_padding=option(("output_padding",), 0), **common)
    elif layer.kind == "activation":
        operation = ActivationSpec(op=options.get("activation", "relu"))
    elif layer.kind == "upsample":
        operation = UpsampleSpec(op="upsample", scale_factor=option(("size", "scale_factor"), 2),
                                 mode=option(("interpolation", "mode"), "nearest"))
    else:
        operation = PoolSpec(op=layer.kind, kernel_size=option(("pool_size", "kernel_size"), 2),
                             stride=option(("strides", "stride"), None), padding=option(("padding",), 0))
    return RunRequest(source=source, operation=operation)


class ChainStore(ByteBudgetLRU[ComputedChain]):
    """Computed chains within a byte budget."""

    def __init__(self, budget: int) -> None:
        super().__init__(budget, lambda computed: computed.nbytes)
