"""Backpropagation, stepped: one example's forward pass, loss and backward pass layer by layer, with runs the
stage steps for a conv layer's weight and input gradients and one SGD step on a chosen kernel."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from app.backprop import (
    BackpropPlan,
    compute_backprop,
    compute_example,
    gradient_settings,
    input_gradient_request,
    layer_info,
    run_link,
    weight_gradient_request,
)
from app.backprop_schemas import (
    BackpropRequest,
    BackpropResponse,
    ExampleBackpropRequest,
    InputGradient,
    PoolRouting,
    WeightGradient,
)
from app.chains import layer_request
from app.config import Settings, SettingsDep
from app.deps import RegistryDep, StoreDep
from app.routes.chains import describe_chain
from app.runs import RunRegistry
from app.schemas import ErrorBody
from app.store import ImageStore
from app.training import Trainer

router = APIRouter(tags=["train"])


@router.post("/api/train/{model_id}/backprop", response_model=BackpropResponse,
             responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}})
async def backprop(model_id: str, body: BackpropRequest, request: Request, store: StoreDep, registry: RegistryDep,
                   settings: SettingsDep) -> BackpropResponse:
    """One example through a trained model and back, in inference mode (dropout off, batch_norm's averages).

    Gives the loss, dL/dlogits = softmax - one-hot, and per layer the gradient norms and small arrays; for each
    conv2d layer a conv2d run whose result is dL/dW[f, c] (the layer's input channel c correlated with
    dL/dY[f], dilated by the stride) and a conv_transpose2d run whose result is dL/dX, both steppable with
    /api/frames and /ws/animate; for a max pool where each window's gradient went; and w <- w - lr * g on the
    chosen kernel (SGD). The numbers are float64, on a copy of the model.
    """
    trainer: Trainer = request.app.state.trainer
    model = trainer.models.get(model_id)
    if model is None:
        raise HTTPException(404, f"model {model_id} is unknown or has expired; train it again (or use "
                                 "mnist-pretrained)")
    plan = await registry.in_thread(compute_backprop, body, model, trainer.data())
    return await describe_plan(plan, model_id, request, store, registry, settings)


@router.post("/api/backprop/example", response_model=BackpropResponse,
             responses={422: {"model": ErrorBody}})
async def backprop_example(body: ExampleBackpropRequest, request: Request, store: StoreDep, registry: RegistryDep,
                           settings: SettingsDep) -> BackpropResponse:
    """The same stepped backward pass on a small example given whole: input (H, W), label, layers and weights.

    ``{}`` is "one gradient by hand": the textbook 5x5 binary image, a 3x3 X-shaped kernel with bias -2.5 and
    ReLU, flatten, and a dense layer of 2 classes, with label 1; every number is small enough to check on paper.
    At most a 16x16 input and 1,024 parameters (every number is shown); float64.
    """
    plan = await registry.in_thread(compute_example, body, settings)
    return await describe_plan(plan, None, request, store, registry, settings)


async def describe_plan(plan: BackpropPlan, model_id: str | None, request: Request, store: ImageStore,
                        registry: RunRegistry, settings: Settings) -> BackpropResponse:
    """Register the plan's runs (dL/dW, dL/dX, the pools) and describe every layer's backward step."""
    request.app.state.chains.put(plan.computed.chain_id, plan.computed)
    steps = plan.steps
    layers = []
    for step in steps.layers:
        info = layer_info(step)
        where = f"backprop:{model_id or 'example'}:{step.index}"
        correlation = plan.correlations.get(step.index)
        if correlation is not None:
            # the requests store their input arrays (in Redis when shared): built off the event loop
            gradient = await registry.in_thread(weight_gradient_request, correlation, store, where + ":dW")
            run = await registry.adopt(gradient, gradient_settings(settings, correlation))
            weight = plan.steps.layers[step.index].grads["kernel"]
            f, c = (plan.choice.filter, plan.choice.channel) \
                if plan.choice is not None and plan.choice.layer == step.index else (0, 0)
            info.weight_gradient = WeightGradient(
                filter=f, channel=c, values=weight[f, c].tolist(), stride=list(correlation.stride),
                dilation=list(correlation.dilation), padding=list(correlation.padding), padded=correlation.padded,
                run=run_link(run))
            scatter = plan.scatters[step.index]
            run = await registry.submit(await registry.in_thread(input_gradient_request, scatter, store, where + ":dX"))
            info.input_gradient = InputGradient(crop=None if scatter.crop is None else list(scatter.crop),
                                                run=run_link(run))
        routing = plan.routings.get(step.index)
        if routing is not None:
            winners, grad_input = routing
            run = await registry.submit(await registry.in_thread(layer_request, plan.computed, step.index, store))
            info.routing = PoolRouting(channel=0, winners=winners[0].tolist(),
                                       grad_output=step.grad_output[0].tolist(), grad_input=grad_input[0].tolist(),
                                       run=run_link(run))
        layers.append(info)
    return BackpropResponse(
        model_id=model_id, label=steps.label, predicted=int(steps.probabilities.argmax()),
        digit=[[round(float(v), 5) for v in row] for row in plan.digit], probabilities=steps.probabilities.tolist(),
        logits=steps.logits.tolist(), loss=steps.loss, grad_logits=steps.grad_logits.tolist(), mode="inference",
        chain=describe_chain(plan.computed), layers=layers, step=plan.step)
