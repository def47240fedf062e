"""Request and response models of training (the /ws/train config, /api/train endpoints)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from app.schemas import ChainResponse, Strict

MODEL_NAMES = ("mnist", "cnn_1", "cnn_1_with_pooling", "convnetjs", "custom")
TRAIN_EXAMPLE: dict[str, Any] = {"model": "cnn_1", "train_size": 500, "epochs": 1, "batch_size": 50,
                                 "optimizer": "rmsprop", "learning_rate": 0.001}
OVERFIT_EXAMPLE: dict[str, Any] = {"model": "cnn_1_with_pooling", "train_size": 200, "epochs": 30, "batch_size": 32,
                                   "dropout": 0.3, "augment": {"shift": 2, "rotate": 10},
                                   "early_stopping": {"monitor": "val_loss", "patience": 3}}
CUSTOM_EXAMPLE: dict[str, Any] = {"model": "custom", "train_size": 1000, "epochs": 2, "layers": [
    {"type": "conv2d", "filters": 4, "kernel_size": 3, "activation": "relu"}, {"type": "max_pool2d", "pool_size": 2},
    {"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}]}


class TrainConfig(Strict):
    """What to train and how: a named model (or ``layers`` for "custom"), data size, Keras' fit settings."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [TRAIN_EXAMPLE, OVERFIT_EXAMPLE,
                                                                                     CUSTOM_EXAMPLE]})

    model: Literal["mnist", "cnn_1", "cnn_1_with_pooling", "convnetjs", "custom"] = Field(
        "cnn_1", description="a named network, or 'custom' with `layers` (the Layers tab's chain)")
    layers: list[dict[str, Any]] | None = Field(None, min_length=1, max_length=24,
                                                description="the chain's layers, only with model 'custom'")
    train_size: int = Field(1000, ge=100, le=8000, description="digits used (the last validation_split held out)")
    epochs: int = Field(5, ge=1, description="passes over the training digits (at most KERNEL_LENS_TRAIN_MAX_EPOCHS)")
    batch_size: int = Field(128, ge=1, le=8000)
    optimizer: Literal["sgd", "rmsprop", "adam"] = "rmsprop"
    learning_rate: float = Field(0.001, gt=0, le=10)
    dropout: float = Field(0.0, ge=0, lt=1, description="a dropout layer of this rate before every dense layer")
    batch_norm: StrictBool = Field(False, description="a batch_norm layer after every conv2d layer")
    augment: dict[str, float] | None = Field(None, description="any of shift (px), rotate (degrees), noise (std)")
    early_stopping: dict[str, Any] | None = Field(
        None, description="{} for Keras' defaults, or monitor, patience, min_delta, restore_best_weights")
    validation_split: float = Field(0.2, ge=0, lt=1, description="the last fraction held out, as Keras")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seeds the weights, shuffling, dropout and augmentation")

    @model_validator(mode="after")
    def _layers_only_for_custom(self) -> TrainConfig:
        if (self.model == "custom") != (self.layers is not None):
            raise ValueError("give layers exactly when model is 'custom'")
        return self


class SummaryRow(BaseModel):
    """One layer of the summary, as Keras' model.summary()."""

    layer: str
    output_shape: list[int]
    params: int


class TrainSummary(BaseModel):
    """The chain a config trains: its layers (with the dropout and batch_norm added), shapes and parameters."""

    layers: list[dict[str, Any]]
    summary: list[SummaryRow]
    total_params: int
    train_size: int = Field(description="digits trained on (train_size minus the validation digits)")
    validation_size: int
    batches: int = Field(description="batches per epoch")


class PredictRequest(Strict):
    """One digit: a 28x28 MNIST-style digit, a drawn pad or photo (prepared as MNIST's were), or a shipped one."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"test_index": 0}, {"validation_index": 3}, {"pad": [[0, 0, 0, 0], [0, 255, 255, 0], [0, 0, 255, 0],
                                                             [0, 0, 255, 0]]}]})

    digit: list[list[float]] | None = Field(None, description="28x28 values in [0, 1], ink bright, used as is")
    pad: list[list[float]] | None = Field(
        None, description="a drawn pad or photo, H x W (up to 560x560) brightness in [0, 1] or [0, 255], either "
                          "polarity: cropped, scaled to 20 px and centred by mass as MNIST's digits were")
    validation_index: int | None = Field(None, ge=0, description="a validation digit of the training job")
    test_index: int | None = Field(None, ge=0, lt=2000, description="one of the 2,000 held-out test digits")

    @model_validator(mode="after")
    def _one_digit(self) -> PredictRequest:
        if sum(value is not None for value in (self.digit, self.pad, self.validation_index, self.test_index)) != 1:
            raise ValueError("give exactly one of digit, pad, validation_index or test_index")
        return self


class PreparedSteps(BaseModel):
    """How a pad became the 28x28 digit: each step as a grey PNG data URL, and the numbers that place it."""

    normalised: str = Field(description="the pad with ink bright on [0, 1] (PNG data URL)")
    cropped: str = Field(description="the ink's bounding box (PNG data URL)")
    fitted: str = Field(description="scaled so that its longer side is 20 px (PNG data URL)")
    centred: str = Field(description="placed in 28x28 with its centre of mass at (14, 14) (PNG data URL)")
    inverted: bool = Field(description="the ink was dark on bright and was inverted")
    box: list[int] = Field(description="[top, left, height, width] of the crop in the pad")
    offset: list[int] = Field(description="[top, left] of the fitted digit in the 28x28 canvas")


class PredictResponse(BaseModel):
    """The ten class probabilities, the digit the network saw, and every layer's outputs for it."""

    model_id: str
    probabilities: list[float] = Field(description="softmax of the last layer, one per class 0-9")
    predicted: int
    label: int | None = Field(None, description="the true class, for a shipped digit")
    digit: list[list[float]] = Field(description="the 28x28 input the network saw")
    steps: PreparedSteps | None = Field(None, description="the preparation steps, for a pad")
    chain: ChainResponse = Field(description="every layer's output on this digit (as POST /api/chains)")


class TrainedModelInfo(BaseModel):
    """A trained model kept by the server."""

    model_id: str
    layers: list[dict[str, Any]]
    total_params: int
    history: dict[str, list[float]]
    weights_url: str
    predict_url: str


class TrainLimits(BaseModel):
    """The server's training limits and load, so the page can say what is allowed before asking."""

    concurrent: int
    max_queue: int
    max_per_client: int = Field(description="training jobs running or waiting per client address")
    max_params: int
    max_epochs: int
    time_limit: float
    running: int
    queued: int
    models: list[str] = Field(description="the named models")
