"""The stepped backward pass of a trained model on one example: the engine's numbers (cnn_core.backprop) and
the runs that let the stage step a conv layer's dL/dW (a conv2d) and dL/dX (a conv_transpose2d)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.backprop_schemas import (
    MAX_EXAMPLE_PARAMS,
    MAX_EXAMPLE_SIDE,
    BackpropLayer,
    BackpropRequest,
    ExampleBackpropRequest,
    KernelChoice,
    OptimizerStep,
    RunLink,
)
from app.chains import ComputedChain, check_chain_limits
from app.config import Settings
from app.runs import Run
from app.schemas import ChainRequest, Conv2dSpec, ConvTranspose2dSpec, FilterSpec, KernelRef, RunRequest, Source
from app.store import ImageStore, StoredImage, content_id, freeze
from app.train_predict import choose_digit, compute_digit
from app.train_schemas import PredictRequest
from app.training import INPUT_SHAPE, TrainedModel
from cnn_core import optim
from cnn_core._layers import option
from cnn_core.backprop import (
    BackpropSteps,
    InputGradientScatter,
    LayerStep,
    WeightGradientCorrelation,
    backprop_steps,
    input_gradient_scatter,
    max_pool_routing,
    weight_gradient_correlation,
)
from cnn_core.chain import Chain
from cnn_core.errors import ArgumentError

MAX_VALUES = 1024  # a gradient with more values is described by its norm only
MAX_ROUTING_PIXELS = 4096  # a pool input channel larger than this gets no routing arrays


@dataclass
class BackpropPlan:
    """What the engine computed for one example, and the conv layers' gradient recipes to register as runs."""

    digit: NDArray[Any]
    steps: BackpropSteps
    computed: ComputedChain
    choice: KernelChoice | None
    correlations: dict[int, WeightGradientCorrelation] = field(default_factory=dict)
    scatters: dict[int, InputGradientScatter] = field(default_factory=dict)
    routings: dict[int, tuple[NDArray[Any], NDArray[Any]]] = field(default_factory=dict)
    step: OptimizerStep | None = None


def float64_copy(chain: Chain) -> Chain:
    """The trained chain in float64 (the model itself is left as it is, in its own dtype)."""
    copy = Chain(chain.specs, seed=chain.seed, max_weights=chain.max_weights)
    copy.build(INPUT_SHAPE)
    copy.set_weights([np.asarray(array, dtype=np.float64) for array in chain.get_weights()])
    return copy


def _kernel_choice(kernel: KernelChoice | None, chain: Chain) -> KernelChoice | None:
    """The kernel to follow, checked against the chain (the first conv2d's [0, 0] by default)."""
    convs = [index for index, layer in enumerate(chain.layers) if layer.kind == "conv2d"]
    if kernel is None:
        return KernelChoice(layer=convs[0]) if convs else None
    choice = kernel
    if choice.layer not in convs:
        raise ArgumentError(f"kernel.layer must be the index of a conv2d layer ({', '.join(map(str, convs)) or 'none'})"
                            f", got {choice.layer}")
    weight = chain.layers[choice.layer].weight
    assert weight is not None  # a conv2d layer has a kernel
    if choice.filter >= weight.shape[0]:
        raise ArgumentError(f"kernel.filter must be from 0 to {weight.shape[0] - 1}, got {choice.filter}")
    if choice.channel >= weight.shape[1]:
        raise ArgumentError(f"kernel.channel must be from 0 to {weight.shape[1] - 1}, got {choice.channel}")
    return choice


def compute_backprop(body: BackpropRequest, model: TrainedModel, data: tuple[Any, ...]) -> BackpropPlan:
    """Forward and backward pass on the example, the conv gradients' recipes, the pool routing and one SGD
    step on the chosen kernel (CPU-bound: call it off the event loop)."""
    shipped = body.model_dump(include={"digit", "validation_index", "test_index"}, exclude_none=True)
    digit, own_label, _ = choose_digit(PredictRequest.model_validate(shipped), model, data)
    label = body.label if body.label is not None else own_label
    assert label is not None  # the request needs a label with a digit
    chain = float64_copy(model.chain)
    choice = _kernel_choice(body.kernel, chain)
    steps = backprop_steps(chain, np.asarray(digit, dtype=np.float64)[None], label)
    return plan_backprop(chain, steps, choice, body.learning_rate, digit, compute_digit(model, digit))


def example_chain(body: ExampleBackpropRequest, settings: Settings) -> tuple[Chain, NDArray[np.float64]]:
    """The example's chain (float64, built for its input, with its weights) and its (1, H, W) input."""
    x = np.asarray(_rows(body.input), dtype=np.float64)
    if not 1 <= min(x.shape) <= max(x.shape) <= MAX_EXAMPLE_SIDE:
        raise ArgumentError(f"input must be at most {MAX_EXAMPLE_SIDE}x{MAX_EXAMPLE_SIDE} (every number is shown), "
                            f"got {x.shape[0]}x{x.shape[1]}")
    check_chain_limits(body.layers, settings)
    chain = Chain(body.layers, seed=body.seed, max_weights=settings.max_layer_weights)
    shape = (1, *x.shape)
    total = chain.total_params(shape)
    if total > MAX_EXAMPLE_PARAMS:
        raise ArgumentError(f"the example has {total:,} parameters; an example shows every number, so at most "
                            f"{MAX_EXAMPLE_PARAMS:,} are allowed")
    if chain.layers[-1].kind != "dense":
        raise ArgumentError(f"the last layer must be dense (the class scores), got {chain.layers[-1].kind}")
    classes = chain.layers[-1].output_shape[0]
    if body.label >= classes:
        raise ArgumentError(f"label must be from 0 to {classes - 1} (the last layer has {classes} units), "
                            f"got {body.label}")
    chain.prepare_training(shape, np.dtype(np.float64))
    if body.weights is not None:
        chain.set_weights([_array(value, f"weights[{index}]") for index, value in enumerate(body.weights)])
    return chain, x[None]


def _rows(rows: list[list[float]]) -> list[list[float]]:
    if not rows or not rows[0] or any(len(row) != len(rows[0]) for row in rows):
        raise ArgumentError("input must be a non-empty rectangle of numbers (rows of equal length)")
    return rows


def _array(value: Any, name: str) -> NDArray[np.float64]:
    """A nested list of numbers as a float64 array (set_weights checks its shape and finiteness)."""
    if isinstance(value, bool) or not isinstance(value, list | int | float):
        raise ArgumentError(f"{name} must be a number or nested lists of numbers, got {type(value).__name__}")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ArgumentError(f"{name} must be a rectangular array of numbers (nested lists of equal length)") from None


def compute_example(body: ExampleBackpropRequest, settings: Settings) -> BackpropPlan:
    """The stepped backward pass of a small example given whole (CPU-bound: call it off the event loop)."""
    chain, x = example_chain(body, settings)
    choice = _kernel_choice(body.kernel, chain)
    steps = backprop_steps(chain, x, body.label)
    request = ChainRequest.model_construct(source=Source.model_construct(matrix=x.tolist()), layers=body.layers,
                                           seed=body.seed)
    key = json.dumps([body.model_dump(mode="json"), "example"], sort_keys=True).encode()
    computed = ComputedChain(hashlib.sha256(key).hexdigest()[:24], request, chain, x, chain.run(x))
    return plan_backprop(chain, steps, choice, body.learning_rate, x[0], computed)


def plan_backprop(chain: Chain, steps: BackpropSteps, choice: KernelChoice | None, learning_rate: float,
                  digit: NDArray[Any], computed: ComputedChain) -> BackpropPlan:
    """The conv layers' gradient recipes (as runs to register), the pools' routing and the SGD step."""
    plan = BackpropPlan(digit, steps, computed, choice)
    for layer, step in zip(chain.layers, steps.layers, strict=True):
        options = layer.options
        window = tuple(_pair_or_value(option(options, names, default)) for names, default in
                       ((("strides", "stride"), 1), (("padding",), 0), (("dilation", "dilation_rate"), 1)))
        if layer.kind == "conv2d":
            assert layer.weight is not None
            f, c = (choice.filter, choice.channel) if choice and choice.layer == step.index else (0, 0)
            plan.correlations[step.index] = weight_gradient_correlation(
                step.x, step.grad_preactivation, f, c, layer.weight.shape[2:], *window)
            plan.scatters[step.index] = input_gradient_scatter(step.grad_preactivation, layer.weight,
                                                               step.x.shape[1:], *window)
        elif layer.kind == "max_pool2d" and step.x.shape[1] * step.x.shape[2] <= MAX_ROUTING_PIXELS:
            size = option(options, ("pool_size", "kernel_size"), 2)
            stride = option(options, ("strides", "stride"), None)
            plan.routings[step.index] = max_pool_routing(step.x[:1], step.grad_output[:1], _pair_or_value(size),
                                                         _pair_or_value(stride), window[1])
    if choice is not None:
        plan.step = sgd_step(chain, steps, choice, learning_rate)
    return plan


def _pair_or_value(value: Any) -> Any:
    """A layer option as the engine takes it: a JSON list becomes a (rows, cols) pair."""
    return tuple(value) if isinstance(value, list) else value


def sgd_step(chain: Chain, steps: BackpropSteps, choice: KernelChoice, learning_rate: float) -> OptimizerStep:
    """w <- w - lr * g on a copy of the chosen kernel, by cnn_core.optim.SGD."""
    weight = chain.layers[choice.layer].weight
    assert weight is not None
    before = weight[choice.filter, choice.channel].copy()
    gradient = steps.layers[choice.layer].grads["kernel"][choice.filter, choice.channel]
    after = before.copy()
    optim.SGD(learning_rate=learning_rate).step([after], [gradient])
    return OptimizerStep(layer=choice.layer, filter=choice.filter, channel=choice.channel,
                         learning_rate=learning_rate, w_before=before.tolist(), g=gradient.tolist(),
                         w_after=after.tolist())


def store_array(store: ImageStore, values: NDArray[Any], name: str) -> Source:
    """Keep an array of numbers (C, H, W) as a stored 'image' for a run; returns its source."""
    array = np.ascontiguousarray(values, dtype=np.float64)
    image_id = content_id(array.tobytes() + str(array.shape).encode())
    if store.get(image_id) is None:
        store.put(image_id, StoredImage(image_id, freeze(array), freeze(array.copy()), name, photo=False))
    return Source(image_id=image_id)


def weight_gradient_request(correlation: WeightGradientCorrelation, store: ImageStore, name: str) -> RunRequest:
    """The correlation as a conv2d run: the input channel as the image, dL/dY[f] as the one kernel."""
    source = store_array(store, correlation.image[None], name)
    kernel = FilterSpec(channels=[KernelRef(values=correlation.kernel.tolist())], bias=0.0)
    return RunRequest(source=source, operation=Conv2dSpec(op="conv2d", filters=[kernel], stride=correlation.stride,
                                                          padding=correlation.padding,
                                                          dilation=correlation.dilation))


def input_gradient_request(scatter: InputGradientScatter, store: ImageStore, name: str) -> RunRequest:
    """dL/dX as a conv_transpose2d run: dL/dY as the image, output c's filter holds weight[f, c] for each f."""
    source = store_array(store, scatter.grad_output, name)
    filters = [FilterSpec(channels=[KernelRef(values=kernel.tolist()) for kernel in per_output], bias=0.0)
               for per_output in scatter.weight.transpose(1, 0, 2, 3)]
    return RunRequest(source=source, operation=ConvTranspose2dSpec(
        op="conv_transpose2d", filters=filters, stride=scatter.stride, padding=scatter.padding, output_padding=0,
        dilation=scatter.dilation))


def gradient_settings(settings: Settings, correlation: WeightGradientCorrelation) -> Settings:
    """The server's limits with room for dL/dY as a kernel: it is as large as the layer's output (e.g. 26x26),
    but its run has only kh x kw frames, so it costs no more than the layer's own run."""
    side = max(settings.max_kernel_side, *correlation.kernel.shape)
    return settings.model_copy(update={"max_kernel_side": side})


def run_link(run: Run) -> RunLink:
    """A run as the stage opens it."""
    return RunLink(run_id=run.run_id, op=run.request.operation.op, url=f"/api/runs/{run.run_id}",
                   frames_url=f"/api/frames?run_id={run.run_id}", frame_count=len(run.prepared.frames),
                   output_shape=list(run.result.shape), result_npy_url=f"/api/runs/{run.run_id}/result.npy")


def small(values: NDArray[Any]) -> list[Any] | None:
    """The array as lists when it has at most MAX_VALUES values."""
    return values.tolist() if values.size <= MAX_VALUES else None


def layer_info(step: LayerStep) -> BackpropLayer:
    """A layer's norms and small arrays (the runs are added by the route)."""
    outer = None
    if step.kind == "dense" and step.grads["kernel"].size <= MAX_VALUES:
        outer = {"x": step.x.tolist(), "g": step.grad_preactivation.tolist(),
                 "grad_kernel": step.grads["kernel"].tolist()}
    return BackpropLayer(
        index=step.index, name=step.name, type=step.kind, input_shape=list(step.x.shape),
        output_shape=list(step.output.shape), grad_output_norm=float(np.linalg.norm(step.grad_output)),
        grad_input_norm=float(np.linalg.norm(step.grad_input)),
        grad_norms={name: float(np.linalg.norm(array)) for name, array in step.grads.items()},
        grad_output=small(step.grad_output), grad_preactivation=small(step.grad_preactivation), outer_product=outer)
