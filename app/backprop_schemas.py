"""Request and response models of the stepped backward pass (POST /api/train/{model_id}/backprop)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from app.schemas import ChainResponse, Strict

TEST_EXAMPLE: dict[str, Any] = {"test_index": 0}
KERNEL_EXAMPLE: dict[str, Any] = {"validation_index": 3, "kernel": {"layer": 2, "filter": 5, "channel": 7},
                                  "learning_rate": 0.1}
DIGIT_EXAMPLE: dict[str, Any] = {"digit": [[0.0] * 28] * 28, "label": 7}

# "One gradient by hand": the textbook 5x5 binary image and X-shaped 3x3 kernel (the Layers tab's first lesson),
# a bias of -2.5 so that ReLU zeroes two of the nine sums, then a dense layer of 2 classes whose weights are
# a "plus" (class 0) and half an "X" (class 1). Small enough to check every number on paper.
BY_HAND_INPUT: list[list[float]] = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
BY_HAND_LAYERS: list[dict[str, Any]] = [
    {"type": "conv2d", "filters": 1, "kernel_size": 3, "activation": "relu"},
    {"type": "flatten"},
    {"type": "dense", "units": 2, "activation": "softmax"},
]
BY_HAND_WEIGHTS: list[Any] = [
    [[[[1, 0, 1], [0, 1, 0], [1, 0, 1]]]],  # conv2d kernel (F, C, kh, kw)
    [-2.5],  # conv2d bias (F,)
    [[0, 0.5], [1, 0], [0, 0.5], [1, 0], [0, 0.5], [1, 0], [0, 0.5], [1, 0], [0, 0.5]],  # dense kernel (in, units)
    [0, 0],  # dense bias (units,)
]
BY_HAND_EXAMPLE: dict[str, Any] = {"input": BY_HAND_INPUT, "label": 1, "layers": BY_HAND_LAYERS,
                                   "weights": BY_HAND_WEIGHTS, "learning_rate": 0.1}
RANDOM_EXAMPLE: dict[str, Any] = {"input": [[0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]], "label": 2,
                                  "layers": [{"type": "conv2d", "filters": 2, "kernel_size": 2, "activation": "tanh"},
                                             {"type": "max_pool2d", "pool_size": 3},
                                             {"type": "flatten"}, {"type": "dense", "units": 3}],
                                  "seed": 7}
MAX_EXAMPLE_SIDE = 16
MAX_EXAMPLE_PARAMS = 1024


class KernelChoice(Strict):
    """One 2-D kernel of a conv2d layer: ``weight[filter, channel]``."""

    layer: int = Field(ge=0, description="the conv2d layer's index in the chain (0-based)")
    filter: int = Field(0, ge=0)
    channel: int = Field(0, ge=0, description="the layer's input channel")


class BackpropRequest(Strict):
    """One example (a 28x28 digit with its label, or a shipped digit), the kernel to follow, the step size."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [TEST_EXAMPLE, KERNEL_EXAMPLE,
                                                                                     DIGIT_EXAMPLE]})

    digit: list[list[float]] | None = Field(None, description="28x28 values in [0, 1], ink bright (give label)")
    validation_index: int | None = Field(None, ge=0, description="a validation digit of the training job")
    test_index: int | None = Field(None, ge=0, lt=2000, description="one of the 2,000 held-out test digits")
    label: int | None = Field(None, ge=0, le=9, description="the class the loss is taken against (a shipped "
                                                            "digit's own label when left out)")
    kernel: KernelChoice | None = Field(None, description="the kernel whose dL/dW is stepped and updated; by default "
                                                          "filter 0, channel 0 of the first conv2d layer")
    learning_rate: float = Field(0.01, gt=0, le=10, description="lr of the SGD step w <- w - lr * g")

    @model_validator(mode="after")
    def _one_example(self) -> BackpropRequest:
        if sum(value is not None for value in (self.digit, self.validation_index, self.test_index)) != 1:
            raise ValueError("give exactly one of digit, validation_index or test_index")
        if self.digit is not None and self.label is None:
            raise ValueError("a drawn digit needs its label (the class the loss is taken against)")
        return self


class ExampleBackpropRequest(Strict):
    """A small example given whole: its input, label, layers and (optionally) weights. Every field has the
    "one gradient by hand" example as its default, so ``{}`` is that example."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}, BY_HAND_EXAMPLE, RANDOM_EXAMPLE]})

    input: list[list[float]] = Field(default_factory=lambda: [list(row) for row in BY_HAND_INPUT],
                                     description=f"the (H, W) input, one channel, sides 1..{MAX_EXAMPLE_SIDE}")
    label: StrictInt = Field(1, ge=0, description="the class the loss is taken against (below the last layer's units)")
    layers: list[dict[str, Any]] = Field(default_factory=lambda: [dict(layer) for layer in BY_HAND_LAYERS],
                                         min_length=1, max_length=8,
                                         description="the chain (Keras vocabulary, as POST /api/chains); the last "
                                                     "layer is dense (the class scores)")
    weights: list[Any] | None = Field(None, description="every array in Chain.get_weights() order (conv kernels (F, "
                                                        "C, kh, kw), dense kernels (in, units), then biases); left "
                                                        "out with layers left out too: the by-hand example's; else "
                                                        "null means random weights from seed")
    seed: StrictInt = Field(0, ge=0, le=2**31 - 1, description="seeds the weights when weights is null")
    kernel: KernelChoice | None = Field(None, description="the kernel whose dL/dW is stepped and updated; by default "
                                                          "filter 0, channel 0 of the first conv2d layer")
    learning_rate: float = Field(0.1, gt=0, le=10, description="lr of the SGD step w <- w - lr * g")

    @model_validator(mode="after")
    def _by_hand_weights(self) -> ExampleBackpropRequest:
        if not {"layers", "weights"} & self.model_fields_set:
            self.weights = [list(array) if isinstance(array, list) else array for array in BY_HAND_WEIGHTS]
        return self


class RunLink(BaseModel):
    """A run the stage can open: GET ``url`` describes it as POST /api/run does; ``frames_url`` steps it."""

    run_id: str
    op: str
    url: str
    frames_url: str
    frame_count: int
    output_shape: list[int]
    result_npy_url: str


class WeightGradient(BaseModel):
    """dL/dW[filter, channel] as a conv2d: the layer's input channel correlated with dL/dY[filter]."""

    filter: int
    channel: int
    values: list[list[float]] = Field(description="dL/dW[filter, channel], (kh, kw)")
    stride: list[int] = Field(description="the correlation's stride: the layer's dilation")
    dilation: list[int] = Field(description="the correlation's dilation: the layer's stride")
    padding: list[int]
    padded: bool = Field(description="the run's image is the input already padded (pads not a symmetric pair)")
    run: RunLink


class InputGradient(BaseModel):
    """dL/dX as a conv_transpose2d of dL/dY with the layer's weight read as (in, out)."""

    crop: list[int] | None = Field(description="null when the run's result is dL/dX; else [top, left] of dL/dX "
                                               "in the result (the rest is the padding's gradient, dropped)")
    run: RunLink


class PoolRouting(BaseModel):
    """Where a max pool sent each window's gradient (channel 0 shown): to the window's maximum."""

    channel: int
    winners: list[list[list[int]]] = Field(description="(oh, ow, 2): input [row, col] of each window's maximum")
    grad_output: list[list[float]]
    grad_input: list[list[float]]
    run: RunLink | None = Field(None, description="the pool's forward run (its frames show each window's argmax)")


class BackpropLayer(BaseModel):
    """One layer's backward step: gradient norms, small arrays, and the runs that step its gradients."""

    index: int
    name: str
    type: str
    input_shape: list[int]
    output_shape: list[int]
    grad_output_norm: float = Field(description="||dL/dY|| at the layer's output")
    grad_input_norm: float = Field(description="||dL/dX||")
    grad_norms: dict[str, float] = Field(description="||dL/d array|| of each trainable array")
    grad_output: list[Any] | None = Field(None, description="dL/dY, when it has at most 1,024 values")
    grad_preactivation: list[Any] | None = Field(None, description="dL/d(result before the activation), small")
    weight_gradient: WeightGradient | None = None
    input_gradient: InputGradient | None = None
    routing: PoolRouting | None = None
    outer_product: dict[str, list[Any]] | None = Field(
        None, description="dense: x (in,), g (units,) and dL/dW = outer(x, g) when it has at most 1,024 values")


class OptimizerStep(BaseModel):
    """One SGD step on the chosen kernel, w <- w - lr * g, made by cnn_core.optim.SGD on a copy."""

    layer: int
    filter: int
    channel: int
    learning_rate: float
    w_before: list[list[float]]
    g: list[list[float]]
    w_after: list[list[float]]


class BackpropResponse(BaseModel):
    """The forward pass, the loss, dL/dlogits and every layer's backward step for one example."""

    model_id: str | None = Field(description="the trained model; null for a small example (POST /api/backprop/example)")
    label: int
    predicted: int
    digit: list[list[float]] = Field(description="the example's input (28x28 for a digit; (H, W) for an example)")
    probabilities: list[float]
    logits: list[float]
    loss: float = Field(description="cross-entropy -log p[label]")
    grad_logits: list[float] = Field(description="dL/dlogits = softmax - one-hot (sums to 0)")
    mode: str = Field(description="'inference': dropout passes everything, batch_norm uses its moving averages")
    chain: ChainResponse = Field(description="every layer's output on this digit (as POST /api/chains)")
    layers: list[BackpropLayer] = Field(description="first to last; the backward pass runs last to first")
    step: OptimizerStep | None = Field(description="null when the chain has no conv2d layer")
