"""A trained model on one digit: the digit chosen or prepared (as MNIST's were), its probabilities and every
layer's outputs, kept as a computed chain so the chain endpoints serve its maps and step its layers."""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from app.chains import ComputedChain
from app.schemas import ChainRequest, Source
from app.train_schemas import PredictRequest, PreparedSteps
from app.training import TrainedModel
from cnn_core.digits import prepare_digit
from cnn_core.errors import ArgumentError

MAX_PAD_SIDE = 560


def png_data_url(values: NDArray[Any]) -> str:
    """A [0, 1] grey image as a PNG data URL (ink bright)."""
    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(values, 0, 1) * 255).astype(np.uint8), "L").save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _rectangle(rows: list[list[float]], name: str) -> NDArray[np.float64]:
    if not rows or any(len(row) != len(rows[0]) for row in rows) or not rows[0]:
        raise ArgumentError(f"{name} must be a non-empty rectangle of numbers (rows of equal length)")
    array = np.asarray(rows, dtype=np.float64)
    if not np.isfinite(array).all():
        raise ArgumentError(f"{name} must contain only finite numbers")
    return array


def choose_digit(body: PredictRequest, model: TrainedModel,
                 data: tuple[Any, ...]) -> tuple[NDArray[np.float32], int | None, PreparedSteps | None]:
    """The 28x28 digit to predict, its true label (for a shipped digit) and the preparation steps (for a pad)."""
    if body.digit is not None:
        digit = _rectangle(body.digit, "digit")
        if digit.shape != (28, 28) or digit.min() < 0 or digit.max() > 1:
            raise ArgumentError(f"digit must be 28x28 values in [0, 1], got shape {list(digit.shape)} with values "
                                f"[{digit.min():g}, {digit.max():g}]")
        return digit.astype(np.float32), None, None
    if body.pad is not None:
        pad = _rectangle(body.pad, "pad")
        if max(pad.shape) > MAX_PAD_SIDE:
            raise ArgumentError(f"pad must be at most {MAX_PAD_SIDE}x{MAX_PAD_SIDE}, got {pad.shape[0]}x{pad.shape[1]}")
        prepared = prepare_digit(pad)
        steps = PreparedSteps(normalised=png_data_url(prepared.normalised), cropped=png_data_url(prepared.cropped),
                              fitted=png_data_url(prepared.fitted), centred=png_data_url(prepared.centred),
                              inverted=prepared.inverted, box=list(prepared.box), offset=list(prepared.offset))
        return prepared.digit, None, steps
    x_train, y_train, x_test, y_test = data
    if body.test_index is not None:
        return x_test[body.test_index, 0], int(y_test[body.test_index]), None
    index = int(body.validation_index or 0)
    if model.validation_stop is None:
        raise ArgumentError(f"model {model.model_id} has no validation digits (none were held out); use test_index")
    count = model.validation_stop - model.validation_start
    if not 0 <= index < count:
        raise ArgumentError(f"validation_index must be from 0 to {count - 1}, got {index}")
    return x_train[model.validation_start + index, 0], int(y_train[model.validation_start + index]), None


def compute_digit(model: TrainedModel, digit: NDArray[np.float32]) -> ComputedChain:
    """Every layer's output for one digit (CPU-bound: call it off the event loop)."""
    x = np.ascontiguousarray(digit, dtype=np.float32)[None]
    chain_id = hashlib.sha256(model.model_id.encode() + x.tobytes()).hexdigest()[:24]
    request = ChainRequest.model_construct(source=Source.model_construct(matrix=x.tolist()), layers=model.layers,
                                           seed=0)
    return ComputedChain(chain_id, request, model.chain, x, model.chain.run(x))
