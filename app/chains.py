"""Computed chains: every layer's output kept (bounded), thumbnails, and a stage run for any layer."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.config import Settings
from app.display import choose, map_picture
from app.operations import check_limits, check_rows, load_source
from app.schemas import (
    ActivationSpec,
    ChainRequest,
    Conv2dSpec,
    ConvTranspose2dSpec,
    DisplayChoice,
    FilterSpec,
    KernelRef,
    PoolSpec,
    RunRequest,
    Source,
    UpsampleSpec,
)
from app.shared_state import MemoryState, SharedState, Space, raw
from app.store import ByteBudgetLRU, ImageStore, StoredImage, content_id, freeze, held_bytes
from cnn_core.chain import Chain, Layer, pretrained
from cnn_core.errors import ArgumentError

MAX_THUMBNAILS = 16
INPUT_SHAPE = (1, 28, 28)  # a digit, as pretrained('mnist') was trained on
STEPPABLE = ("conv2d", "activation", "max_pool2d", "avg_pool2d", "sum_pool2d", "upsample", "conv_transpose2d")


OPTION_NAMES = {"kernel_size": ("kernel_size", "pool_size"), "stride": ("strides", "stride"), "padding": ("padding",),
                "dilation": ("dilation", "dilation_rate"), "scale_factor": ("size", "scale_factor")}


@dataclass
class ComputedChain:
    """A chain with its input and every layer's output; its map PNGs live in a byte-budgeted cache."""

    chain_id: str
    request: ChainRequest
    chain: Chain
    x: NDArray[Any]
    outputs: list[NDArray[Any]]
    pngs: ByteBudgetLRU[bytes] = field(default_factory=lambda: ByteBudgetLRU(1 << 20, len))
    displays: dict[int, DisplayChoice] = field(default_factory=dict)  # at most one a layer (16)

    @property
    def nbytes(self) -> int:
        """Memory held by the input, every layer's output and the layers' weights."""
        return held_bytes(self.x, self.outputs, self.chain.layers)

    def display(self, index: int) -> DisplayChoice | None:
        """How a layer's maps are coloured (None for a flat layer): the stage's rule (display.choose) for that
        layer opened on the stage, where its kernels arrive as numbers and its input is no photo, so a card
        and the stage show a map alike; edge maps by percentile, the true min and max kept."""
        output = self.outputs[index]
        if output.ndim != 3:
            return None
        if index not in self.displays:  # a race makes the same choice twice, harmlessly
            self.displays[index] = choose(output, op=self.chain.layers[index].kind, kernel_names={None})
        return self.displays[index]

    def map_png(self, index: int, channel: int) -> bytes:
        """One feature map of a layer, coloured as ``display`` says (one scale for all that layer's maps)."""
        output = self.outputs[index]
        choice = self.display(index)
        if choice is None:
            raise ArgumentError(f"layer {index + 1} is flat (shape {list(output.shape)}): it has no maps")
        if not 0 <= channel < output.shape[0]:
            raise ArgumentError(f"channel must be from 0 to {output.shape[0] - 1}, got {channel}")
        return self.pngs.cached(f"{self.chain_id}/{index}/{channel}", lambda: map_picture(output[channel], choice))


def chain_id_of(request: ChainRequest) -> str:
    """The same chain request always gets the same id."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()[:24]


def check_chain_limits(layers: list[dict[str, Any]], settings: Settings) -> None:
    """Every layer within the limits of a single run (the same check), before any weight is made."""
    side = settings.max_kernel_side
    for index, layer in enumerate(layers, start=1):
        where = f"layer {index} ({layer.get('type')})"
        options = {rule: (name, layer[name]) for rule, names in OPTION_NAMES.items()
                   for name in reversed(names) if name in layer}
        kernels: list[Any] = []
        filters = layer.get("filters")
        if isinstance(filters, list):
            options["filters"] = ("filters", len(filters))
            kernels = filters
        elif filters is not None:
            options["filters"] = ("filters", filters)
        weight = layer.get("weight")
        if isinstance(weight, list):  # explicit (F, C, kh, kw) numbers, (C, F, kh, kw) when transposed
            options["filters"] = ("filters", len(weight) if layer.get("type") != "conv_transpose2d"
                                  else max((len(row) for row in weight if isinstance(row, list)), default=0))
            kernels = [kernel for row in weight if isinstance(row, list) for kernel in row]
        for kernel in kernels:
            check_rows([kernel], side, f"{where}: kernels may be at most {side}x{side}")
        check_limits(settings, options, where)


def compute_chain(request: ChainRequest, store: ImageStore, settings: Settings,
                  pngs: ByteBudgetLRU[bytes] | None = None) -> ComputedChain:
    """Check the chain against the server's limits, then run it (CPU-bound: call it off the event loop)."""
    check_chain_limits(request.layers, settings)
    x, _ = load_source(request.source, store, settings)
    image = x if x.ndim == 3 else x[None]
    chain = Chain(request.layers, seed=request.seed, max_weights=settings.max_layer_weights)
    for row in chain.summary(tuple(image.shape)):
        size = int(np.prod(row["output_shape"]))
        if size > settings.max_output_elements:
            raise ArgumentError(f"{row['layer']} would output {size:,} values; at most "
                                f"{settings.max_output_elements:,} are allowed")
    if request.weights is not None:
        use_pretrained(chain, request.layers, image)
    computed = ComputedChain(chain_id_of(request), request, chain, image, chain.run(image))
    for index in range(len(computed.outputs)):
        computed.display(index)  # here, off the event loop: a percentile of a megapixel map is ~17 ms
    if pngs is not None:
        computed.pngs = pngs
    return computed


def use_pretrained(chain: Chain, layers: list[dict[str, Any]], image: NDArray[Any]) -> None:
    """Give the chain pretrained('mnist')'s weights: its layers must be exactly that network's, its input a digit."""
    trained = pretrained("mnist")
    if json.dumps(layers, sort_keys=True) != json.dumps(trained.specs, sort_keys=True):
        raise ArgumentError("weights 'mnist-pretrained' need exactly the layers of pretrained('mnist') (the Keras "
                            f"MNIST network: {json.dumps(trained.specs)}); edit the layers with weights null (random)")
    if image.shape != (1, 28, 28) or not 0 <= image.min() <= image.max() <= 1:
        raise ArgumentError("weights 'mnist-pretrained' need a 28x28 one-channel digit with values in [0, 1] (ink "
                            f"bright, as MNIST's), got shape {list(image.shape)} with values [{image.min():g}, "
                            f"{image.max():g}]")
    chain.build(INPUT_SHAPE)
    chain.set_weights(trained.get_weights())


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
        raise ArgumentError(f"layer {index + 1} ({layer.kind}) has no steps to show: it reshapes or mixes everything")
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


class ChainStore:
    """Computed chains within a byte budget (this process' own), and the requests behind the chains users ran,
    in the shared state (their own budget), so any process recomputes a chain by id. Chains the server built
    from a trained model (``put``) stay in this process: their weights are not in a request."""

    def __init__(self, budget: int, state: SharedState | None = None, request_budget: int = 32 << 20) -> None:
        self._computed: ByteBudgetLRU[ComputedChain] = ByteBudgetLRU(budget, lambda computed: computed.nbytes)
        self.state: SharedState = state if state is not None else MemoryState()
        self.requests: Space[bytes] = Space("chains", request_budget, len, raw, raw)
        self._pending: dict[str, asyncio.Future[ComputedChain]] = {}

    @property
    def used(self) -> int:
        """Bytes held by this process' computed chains."""
        return self._computed.used

    def __len__(self) -> int:
        return len(self._computed)

    def get(self, chain_id: str) -> ComputedChain | None:
        """A chain computed in this process, or None."""
        return self._computed.get(chain_id)

    def put(self, chain_id: str, computed: ComputedChain) -> None:
        """Keep a chain in this process only (a trained model's: it can't be recomputed from its request)."""
        self._computed.put(chain_id, computed)

    async def remember(self, computed: ComputedChain) -> None:
        """Keep a chain a user ran, and its request in the shared state."""
        self._computed.put(computed.chain_id, computed)
        await self.state.aput(self.requests, computed.chain_id, computed.request.model_dump_json().encode())

    async def find(self, chain_id: str, compute: Callable[[ChainRequest], Awaitable[ComputedChain]]
                   ) -> ComputedChain | None:
        """The chain by id: this process' copy, else recomputed by ``compute`` from the remembered request (one
        computation however many ask at once); None when unknown or forgotten."""
        computed = self._computed.get(chain_id)
        if computed is not None:
            return computed
        task = self._pending.get(chain_id)
        if task is None:
            data = await self.state.aget(self.requests, chain_id)
            if data is None:
                return None
            task = self._pending.get(chain_id)  # another caller may have started while we read
            if task is None:
                task = asyncio.ensure_future(compute(ChainRequest.model_validate_json(data)))
                self._pending[chain_id] = task
                task.add_done_callback(lambda done: self._finished(chain_id, done))
        return await asyncio.shield(task)

    def _finished(self, chain_id: str, task: asyncio.Future[ComputedChain]) -> None:
        self._pending.pop(chain_id, None)
        if not task.cancelled() and task.exception() is None:
            self._computed.put(chain_id, task.result())
