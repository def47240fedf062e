"""The thread side of a training job: Chain.fit with a callback that streams progress, honours pause and stop,
and enforces the time limit; each epoch's filters, confusion matrix and wrong digits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from app.colors import color_indices
from app.config import Settings

if TYPE_CHECKING:
    from app.training import TrainingJob

Send = Callable[[dict[str, Any]], None]
PROGRESS_SECONDS = 0.1  # progress messages at most this often
FILTER_SECONDS = 0.5  # the first layer's filters ride on a progress message at most this often
MISCLASSIFIED = 8  # wrong validation digits reported per epoch
MAX_FILTERS = 32  # first-layer filters reported per epoch


def first_filters(job: TrainingJob) -> dict[str, Any] | None:
    """The first conv layer's kernels on its first input channel, (F, kh, kw), with a symmetric colour scale and
    each value's index in the diverging palette on it (``colors``, the page paints them)."""
    for layer in job.chain.layers:
        if layer.kind == "conv2d" and layer.weight is not None:
            kernels = np.asarray(layer.weight[:MAX_FILTERS, 0], dtype=np.float64)
            scale = float(np.abs(kernels).max())
            return {"layer": layer.name, "shape": list(kernels.shape), "values": np.round(kernels, 5).tolist(),
                    "scale": scale, "colors": color_indices(kernels, "diverging", -scale, scale).tolist()}
    return None


def epoch_report(x_val: Any, y_val: Any, probabilities: Any) -> dict[str, Any]:
    """The confusion matrix (rows: true class, columns: predicted) and a few wrong digits with probabilities
    (``probabilities``: fit's own on the validation digits, its end-of-epoch ``val_probabilities``)."""
    if x_val is None or len(x_val) == 0:
        return {"confusion": None, "misclassified": []}
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (y_val, predicted), 1)
    wrong = np.flatnonzero(predicted != y_val)[:MISCLASSIFIED]
    return {"confusion": confusion.tolist(), "misclassified": [
        {"index": int(i), "label": int(y_val[i]), "predicted": int(predicted[i]),
         "probabilities": np.round(probabilities[i].astype(np.float64), 4).tolist(),
         "digit": np.round(x_val[i, 0].astype(np.float64), 3).tolist()} for i in wrong]}


def train(job: TrainingJob, data: tuple[Any, ...], settings: Settings, send: Send) -> dict[str, Any]:
    """Run the job's fit (CPU-bound: in a worker thread); returns the final message ("done" or "stopped")."""
    x_train, y_train = data[0], data[1]
    config = job.plan.config
    x, y = x_train[:config.train_size], y_train[:config.train_size]
    x_val, y_val = (x[job.plan.train_size:], y[job.plan.train_size:]) if job.plan.validation_size else (None, None)
    deadline = job.started + settings.train_time_limit
    last_sent = [0.0]
    last_filters = [-FILTER_SECONDS]

    def callback(event: dict[str, Any]) -> bool:
        now = time.monotonic()
        if job.stopping.is_set():
            return False
        if now > deadline:
            job.stop("time limit")
            return False
        elapsed = now - job.started
        if event.get("end_of_epoch"):
            logs = {key: float(event[key]) for key in ("loss", "accuracy", "val_loss", "val_accuracy") if key in event}
            send({"type": "epoch", "job_id": job.job_id, "epoch": event["epoch"], "epochs": config.epochs,
                  "logs": logs, "seconds": round(elapsed, 3), "filters": first_filters(job),
                  **epoch_report(x_val, y_val, event.get("val_probabilities"))})
        else:
            batches = int(event["batches"])
            done = event["epoch"] * batches + event["batch"] + 1
            active = max(elapsed - job.paused_for, 1e-9)
            job.remaining = active / done * (config.epochs * batches - done)
            if now - last_sent[0] >= PROGRESS_SECONDS or event["batch"] == batches - 1:
                last_sent[0] = now
                message = {"type": "progress", "job_id": job.job_id, "epoch": event["epoch"], "epochs": config.epochs,
                           "batch": event["batch"], "batches": batches, "loss": float(event["loss"]),
                           "accuracy": float(event["accuracy"]), "seconds": round(elapsed, 3),
                           "seconds_left": round(job.remaining, 3)}
                if now - last_filters[0] >= FILTER_SECONDS:  # the filters as they learn, a few times a second
                    last_filters[0] = now
                    message["filters"] = first_filters(job)
                message["sent_at"] = time.time()  # wall clock, for measuring the delay to the page's curve
                send(message)
        if not job.running.is_set():
            where = {"job_id": job.job_id, "epoch": event["epoch"], "batch": event.get("batch")}
            send({"type": "paused", **where})
            paused_at = time.monotonic()
            job.parked.set()
            woke = job.running.wait(timeout=max(deadline - paused_at, 0))
            job.parked.clear()
            job.paused_for += time.monotonic() - paused_at
            if not woke:
                job.stop("time limit")
            if job.stopping.is_set():
                return False
            send({"type": "resumed", **where})
        return True

    history = job.chain.fit(x, y, epochs=config.epochs, batch_size=config.batch_size, optimizer=config.optimizer,
                            learning_rate=config.learning_rate, validation_split=config.validation_split,
                            seed=config.seed, augment=config.augment, early_stopping=config.early_stopping,
                            callback=callback)
    stopped = history.stopped_by_callback
    return {"type": "stopped" if stopped else "done", "job_id": job.job_id,
            "reason": job.stop_reason if stopped else ("early stopping" if history.stopped_early else "finished"),
            "history": {key: [float(v) for v in values] for key, values in history.history.items()},
            "epochs_run": len(history.epoch), "best_epoch": history.best_epoch,
            "seconds": round(time.monotonic() - job.started, 3)}
