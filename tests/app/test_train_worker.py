"""app.train_worker.train without a server: each epoch's report reads fit's validation probabilities."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from app.config import Settings
from app.train_schemas import TrainConfig
from app.train_worker import train
from app.training import TrainingJob, check_config
from cnn_core.chain import Chain
from cnn_core.datasets import load_digits


def test_the_epoch_report_uses_fits_validation_probabilities_not_a_second_pass(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: each epoch predicted the validation digits again for the confusion matrix (fit had just done it)
    settings = Settings()
    plan = check_config(TrainConfig(model="cnn_1", train_size=100, epochs=2, batch_size=50), settings)
    job = TrainingJob(plan, Chain(plan.layers, seed=0), lambda message: None)
    (x_train, y_train), (x_test, y_test) = load_digits()
    calls: list[int] = []
    real = Chain.predict

    def counted(self: Chain, x: Any, batch_size: int = 256) -> Any:
        calls.append(len(x))
        return real(self, x, batch_size)

    monkeypatch.setattr(Chain, "predict", counted)
    messages: list[dict[str, Any]] = []
    job.started = time.monotonic()
    final = train(job, (x_train, y_train, x_test, y_test), settings, messages.append)
    assert final["type"] == "done" and calls == []
    epochs = [m for m in messages if m["type"] == "epoch"]
    assert len(epochs) == 2
    held_x, held_y = x_train[80:100], y_train[80:100]
    predicted = job.chain.predict(held_x).argmax(axis=1)  # the weights after the last epoch
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (held_y, predicted), 1)
    assert epochs[-1]["confusion"] == confusion.tolist()
    assert sum(map(sum, epochs[-1]["confusion"])) == 20
