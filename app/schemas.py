"""Request and response models; NumPy arrays travel as nested JSON lists."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, model_validator

from app.colors import color_indices

# strict: true and false are not integers (JSON has no tuple, so a [rows, cols] list still becomes one)
IntOrPair = Annotated[StrictInt | tuple[StrictInt, StrictInt], Field(description="an int, or [rows, cols]")]
PaddingValue = Annotated[StrictInt | tuple[StrictInt, StrictInt] | Literal["valid", "same", "full"],
                         Field(description="an int, [rows, cols], or 'valid' / 'same' (Keras rule) / 'full'")]
IMAGE_ID = r"^[0-9a-f]{24}$"


class Strict(BaseModel):
    """Unknown fields are errors, so a typo in a parameter name is reported, not ignored."""

    model_config = ConfigDict(extra="forbid")


class Source(Strict):
    """What to compute on: a stored image (upload or sample) or a small typed matrix."""

    image_id: str | None = Field(None, pattern=IMAGE_ID, description="id from POST /api/images or GET /api/samples")
    color: Literal["rgb", "gray"] = Field("rgb", description="3 channels, or 1 channel of luma")
    matrix: list[list[float]] | list[list[list[float]]] | None = Field(
        None, description="a (H, W) or (C, H, W) matrix typed by the user")
    matrix_text: str | None = Field(None, max_length=100_000,
                                    description="a (H, W) matrix as text: rows by newline or ';', numbers by "
                                                "space; blocks of rows separated by a blank line are the "
                                                "channels of a (C, H, W) input (at most 16)")

    @model_validator(mode="after")
    def _one_source(self) -> Source:
        if sum(value is not None for value in (self.image_id, self.matrix, self.matrix_text)) != 1:
            raise ValueError("give exactly one of image_id, matrix or matrix_text")
        return self


class KernelRef(Strict):
    """One 2-D kernel: a catalogue name (with parameters), a matrix of numbers, or typed text."""

    name: str | None = Field(None, description="catalogue name, see GET /api/kernels")
    params: dict[str, int | float] = Field(default_factory=dict, description="e.g. {'size': 5, 'sigma': 1.0}")
    values: list[list[float]] | None = None
    text: str | None = Field(None, max_length=10_000, description="e.g. '1 0 -1; 2 0 -2; 1 0 -1'")

    @model_validator(mode="after")
    def _one_kind(self) -> KernelRef:
        if sum(value is not None for value in (self.name, self.values, self.text)) != 1:
            raise ValueError("give exactly one of name, values or text")
        return self


class FilterSpec(Strict):
    """One filter: the same kernel on every input channel, or one kernel per channel, plus a bias."""

    kernel: KernelRef = Field(default_factory=lambda: KernelRef(name="sobel_x"))
    channels: list[KernelRef] | None = Field(None, description="per-channel kernels (one per input channel)")
    bias: StrictFloat = 0.0


class Conv2dSpec(Strict):
    """conv2d: ``filters`` stacked into a (F, C, kh, kw) weight, or one kernel per channel (depthwise)."""

    op: Literal["conv2d"]
    filters: list[FilterSpec] = Field(default_factory=lambda: [FilterSpec()], min_length=1)
    depthwise: StrictBool = Field(False, description="apply the single filter's kernel to each channel on its own")
    stride: IntOrPair = 1
    padding: PaddingValue = 0
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"
    dilation: IntOrPair = 1
    flip: StrictBool = Field(False, description="flip every kernel by 180 degrees: true convolution instead of "
                                          "cross-correlation")


class ActivationSpec(Strict):
    """An elementwise activation."""

    op: Literal["relu", "leaky_relu", "sigmoid", "tanh"]
    negative_slope: StrictFloat = 0.01


class PoolSpec(Strict):
    """Max, average or sum pooling (stride defaults to kernel_size; dilation is for max only)."""

    op: Literal["max_pool2d", "avg_pool2d", "sum_pool2d"]
    kernel_size: IntOrPair = 2
    stride: IntOrPair | None = None
    padding: PaddingValue = 0
    dilation: IntOrPair = 1
    ceil_mode: StrictBool = False
    count_include_pad: StrictBool = True


class UpsampleSpec(Strict):
    """Up-sampling by an integer factor."""

    op: Literal["upsample"]
    scale_factor: IntOrPair = 2
    mode: Literal["nearest", "bilinear"] = "nearest"
    align_corners: StrictBool = False


class ConvTranspose2dSpec(Strict):
    """conv_transpose2d: each filter's kernels (per input channel) form the (C, F, kh, kw) weight."""

    op: Literal["conv_transpose2d"]
    filters: list[FilterSpec] = Field(
        default_factory=lambda: [FilterSpec(kernel=KernelRef(values=[[1.0, 1.0], [1.0, 1.0]]))], min_length=1)
    depthwise: StrictBool = False
    stride: IntOrPair = 2
    padding: IntOrPair = 0
    output_padding: IntOrPair = 0
    dilation: IntOrPair = 1


Operation = Annotated[Conv2dSpec | ActivationSpec | PoolSpec | UpsampleSpec | ConvTranspose2dSpec,
                      Field(discriminator="op")]

RUN_EXAMPLE: dict[str, Any] = {
    "source": {"matrix": [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]},
    "operation": {"op": "conv2d", "filters": [{"kernel": {"values": [[1, 0, 1], [0, 1, 0], [1, 0, 1]]}}]},
}


class RunRequest(Strict):
    """One operation on one input."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [RUN_EXAMPLE]})

    source: Source
    operation: Operation


class Stats(BaseModel):
    """Summary of a result."""

    min: float
    max: float
    mean: float


class Display(BaseModel):
    """How result PNGs are coloured: the scheme, the values at its two ends and its colours (low to high)."""

    scheme: str
    low: float
    high: float
    palette: list[str] = Field(default_factory=list, description="'#rrggbb' colours, low to high")


class RunResponse(BaseModel):
    """What a run computed, and where to fetch its pictures, raw numbers and frames."""

    run_id: str
    op: str
    input_shape: list[int]
    output_shape: list[int]
    frame_count: int
    frame_fields: list[str]
    formula: dict[str, str]
    stats: Stats
    display: Display
    weight: list[Any] | None = Field(None, description="the kernel(s) as computed on, (F, C, kh, kw) or (kh, kw)")
    weight_colors: list[Any] | None = Field(
        None, description="each weight's palette index on scales.kernel (the shape of weight; GET /api/palettes)")
    bias: list[float] | None = None
    scales: dict[str, Display] = Field(default_factory=dict,
                                       description="colour scales for the input, kernel, products and output "
                                                   "numbers (palettes by scheme: GET /api/palettes)")
    comparison: dict[str, float] = Field(default_factory=dict,
                                         description="with flip: the largest difference from cross-correlation")
    geometry: dict[str, Any] = Field(default_factory=dict,
                                     description="where windows go: pads (top, bottom, left, right), kernel, "
                                                 "stride, dilation, scale; in input coordinates")
    result_png_url: str
    result_npy_url: str
    input_png_url: str
    padded_png_url: str
    frames_url: str


class ImageInfo(BaseModel):
    """A stored image."""

    id: str
    width: int
    height: int
    channels: int
    name: str
    preview_url: str
    gray_preview_url: str


class SampleInfo(ImageInfo):
    """A bundled sample image with its provenance."""

    title: str
    description: str
    license: str


class KernelEntry(BaseModel):
    """A catalogue kernel."""

    name: str
    description: str
    params: dict[str, int | float]
    kernel: list[list[float]]
    colors: list[list[int]] = Field(default_factory=list,
                                    description="each value's index in the diverging palette (GET /api/palettes) "
                                                "on the kernel's own symmetric scale, ±extent")
    extent: float = Field(0.0, description="the kernel's largest magnitude: its colours run from -extent to +extent")

    @model_validator(mode="after")
    def _color(self) -> KernelEntry:
        self.extent = max((abs(value) for row in self.kernel for value in row), default=0.0)
        if not self.colors:
            self.colors = color_indices(self.kernel, "diverging", -self.extent, self.extent).tolist()
        return self


class ParseRequest(Strict):
    """Kernel text typed by a user."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": "1 0 -1; 2 0 -2; 1 0 -1"}]})

    text: str = Field(..., max_length=10_000)


class ParsedKernel(BaseModel):
    """A parsed kernel (the first block) and every block of the text (blocks are separated by a blank line)."""

    kernel: list[list[float]]
    shape: list[int]
    blocks: list[list[list[float]]] | None = Field(
        None, description="with several blocks (separated by a blank line), every kernel typed in order: a "
                          "filter's channel slices, then the next filter's (absent for one block)")


class ErrorBody(BaseModel):
    """Every error: what was wrong and what is allowed."""

    detail: str
    row: int | None = None
    column: int | None = None


CHAIN_EXAMPLE: dict[str, Any] = {
    "source": {"matrix_text": "3 0 1 2 7 4; 1 5 8 9 3 1; 2 7 2 5 1 3; 0 1 3 1 7 8; 4 2 1 6 2 8; 2 4 5 2 3 9"},
    "layers": [{"type": "conv2d", "filters": [[[1, 0, -1], [1, 0, -1], [1, 0, -1]]], "use_bias": False},
               {"type": "max_pool2d", "pool_size": 2}, {"type": "upsample", "size": 3}],
}
# The Keras MNIST network with pretrained('mnist') weights on a digit (a blank 28x28 here; a "7" in the lesson).
PRETRAINED_CHAIN_EXAMPLE: dict[str, Any] = {
    "source": {"matrix": [[0.0] * 28] * 28},
    "layers": [{"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"},
               {"type": "max_pool2d", "pool_size": 2},
               {"type": "conv2d", "filters": 64, "kernel_size": 3, "activation": "relu"},
               {"type": "max_pool2d", "pool_size": 2},
               {"type": "conv2d", "filters": 64, "kernel_size": 3, "activation": "relu"}, {"type": "flatten"},
               {"type": "dense", "units": 64, "activation": "relu"},
               {"type": "dense", "units": 10, "activation": "softmax"}],
    "weights": "mnist-pretrained",
}


class ChainRequest(Strict):
    """A chain of layers (Keras vocabulary, see cnn_core.chain) on an image or typed matrix."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [CHAIN_EXAMPLE, PRETRAINED_CHAIN_EXAMPLE]})

    source: Source
    layers: list[dict[str, Any]] = Field(..., min_length=1, max_length=16)
    seed: StrictInt = Field(0, ge=0, le=2**31 - 1, description="seeds the random weights")
    weights: Literal["mnist-pretrained"] | None = Field(
        None, description="null: random weights from seed. 'mnist-pretrained': the trained weights of "
                          "cnn_core.chain.pretrained('mnist'); layers must then be exactly its layers (MNIST_LAYERS, "
                          "the Keras MNIST network) and the source a 28x28 one-channel digit in [0, 1], ink bright")


class DisplayChoice(BaseModel):
    """A resolved display: what the map's colours mean, the scale's two ends and the map's true extremes."""

    mode: Literal["signed", "abs", "gray", "photo"]
    contrast: Literal["full", "percentile"]
    scheme: str
    low: float
    high: float
    min: float
    max: float
    rgb: bool
    label: str
    palette: list[str]


class ChainLayerInfo(BaseModel):
    """One layer's result: shape, parameters, thumbnails of its maps, and how to step through it."""

    index: int
    name: str
    type: str
    output_shape: list[int]
    params: int
    maps: list[str] = Field(default_factory=list, description="PNG URLs of the first feature maps")
    values: list[float] | None = Field(None, description="a flat layer's outputs, up to 256 (dense: one per unit)")
    bars: list[float] | None = Field(None, description="values / max |values|, for a bar chart")
    display: DisplayChoice | None = Field(None, description="how the maps are coloured: the stage's rule for this "
                                         "layer opened (mode, contrast, scale ends), with the maps' true min and max")
    steppable: bool
    run_url: str | None = None


class ChainResponse(BaseModel):
    """A computed chain: the Keras-style summary and every layer's output."""

    chain_id: str
    input_shape: list[int]
    layers: list[ChainLayerInfo]
    total_params: int
    pytorch_url: str
    keras_url: str
    input_npy_url: str
