"""The training loop behind ``Chain.fit``: batches, cross-entropy, optimizer steps, history, early stopping."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from cnn_core import grad, optim
from cnn_core._augment import augment_batch, check_augment
from cnn_core._checks import FloatArray, ResultOverflowError, as_array, check_finite, compute_dtype, is_int
from cnn_core._dense import check_labels, cross_entropy, softmax
from cnn_core.errors import ArgumentError, ArgumentTypeError

if TYPE_CHECKING:
    from cnn_core.chain import Chain

Callback = Callable[[dict[str, Any]], object]
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")


@dataclass
class History:
    """What ``fit`` returns, as Keras' History: ``history`` maps each metric to its per-epoch values."""

    history: dict[str, list[float]] = field(default_factory=dict)
    epoch: list[int] = field(default_factory=list)
    stopped_early: bool = False  # early stopping ended training
    stopped_by_callback: bool = False  # the callback returned False
    best_epoch: int | None = None  # the epoch whose weights early stopping restored

    def __repr__(self) -> str:
        last = {key: round(values[-1], 4) for key, values in self.history.items() if values}
        return f"History(epochs={len(self.epoch)}, last={last})"


def check_data(x: object, y: object, name: str = "x", labels: str = "y") -> tuple[FloatArray, np.ndarray[Any, Any]]:
    """A (N, C, H, W) batch of real numbers and its (N,) integer labels (ranges are checked against the chain)."""
    array = as_array(x, name)
    if array.ndim != 4 or 0 in array.shape:
        raise ArgumentError(f"{name} must be a non-empty (N, C, H, W) batch, got shape {array.shape}")
    check_finite(array, name)
    values = array.astype(compute_dtype(array, name), copy=False)
    targets = as_array(y, labels)
    if targets.ndim != 1 or len(targets) != len(values):
        raise ArgumentError(f"{name} and {labels} must have the same length: {name} has {len(values)} samples, "
                            f"{labels} has shape {targets.shape}")
    return values, targets


def _positive(value: object, name: str) -> int:
    if not is_int(value) or int(value) < 1:
        raise ArgumentError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_early_stopping(early_stopping: object, has_validation: bool) -> dict[str, Any] | None:
    """Validate ``early_stopping``: None or a dict of monitor, patience, min_delta, restore_best_weights."""
    if early_stopping is None:
        return None
    if not isinstance(early_stopping, dict):
        raise ArgumentTypeError(f"early_stopping must be None or a dict, got {early_stopping!r}")
    allowed = ("monitor", "patience", "min_delta", "restore_best_weights")
    unknown = sorted(set(early_stopping) - set(allowed))
    if unknown:
        raise ArgumentError(f"early_stopping takes {', '.join(allowed)}, got unknown key(s) "
                            f"{', '.join(map(repr, unknown))}")
    settings = {"monitor": "val_loss", "patience": 2, "min_delta": 0.0, "restore_best_weights": True,
                **early_stopping}
    if settings["monitor"] not in MONITORS:
        raise ArgumentError(f"early_stopping['monitor'] must be one of {', '.join(MONITORS)}, "
                            f"got {settings['monitor']!r}")
    if str(settings["monitor"]).startswith("val_") and not has_validation:
        raise ArgumentError(f"early_stopping monitors {settings['monitor']!r}, which needs validation_split > 0 or "
                            f"validation_data")
    if not is_int(settings["patience"]) or int(settings["patience"]) < 0:
        raise ArgumentError(f"early_stopping['patience'] must be an integer >= 0, got {settings['patience']!r}")
    delta = settings["min_delta"]
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not math.isfinite(delta) or delta < 0:
        raise ArgumentError(f"early_stopping['min_delta'] must be a finite number >= 0, got {delta!r}")
    if not isinstance(settings["restore_best_weights"], bool):
        raise ArgumentTypeError(f"early_stopping['restore_best_weights'] must be True or False, "
                                f"got {settings['restore_best_weights']!r}")
    return settings


class _EarlyStopping:
    """Keras 3's EarlyStopping: stop after ``patience`` epochs without improvement; restore the best weights."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.monitor = str(settings["monitor"])
        self.patience = int(settings["patience"])
        self.restore = bool(settings["restore_best_weights"])
        self.sign = -1.0 if "accuracy" in self.monitor else 1.0  # lower loss is better; higher accuracy is
        self.delta = float(settings["min_delta"])
        self.best = math.inf
        self.best_epoch: int | None = None
        self.best_weights: list[FloatArray] | None = None
        self.wait = 0

    def update(self, epoch: int, logs: dict[str, float], chain: Chain) -> bool:
        """Record an epoch's logs; True when training should stop."""
        current = self.sign * logs[self.monitor]
        if self.restore and self.best_weights is None:
            self.best_weights = chain.get_weights()
        self.wait += 1
        if current < self.best - self.delta:
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore:
                self.best_weights = chain.get_weights()
            return False
        return self.wait >= self.patience and epoch > 0


@dataclass(frozen=True)
class FitOptions:
    """``fit``'s options, checked before any work: the split, augmentation, early stopping and the optimizer."""

    train_samples: int  # the first train_samples of x train; the rest (validation_split) validate
    validation_samples: int  # held out of x, or given as validation_data; 0 without validation
    augment: dict[str, float]
    early_stopping: dict[str, Any] | None
    optimizer: optim.Optimizer


def check_fit_options(samples: int, input_shape: tuple[int, ...], validation_split: object = 0.0,
                      validation_samples: int | None = None, augment: object = None, early_stopping: object = None,
                      optimizer: object = "rmsprop", learning_rate: object = 0.001) -> FitOptions:
    """Check ``fit``'s options for ``samples`` inputs of ``input_shape`` (C, H, W), with the messages ``fit``
    gives; ``validation_samples`` is the length of ``validation_data`` when it is given.

    The split is Keras': the last ``validation_split`` of x, before shuffling, is held out.

    >>> check_fit_options(8000, (1, 28, 28), validation_split=0.2).train_samples
    6400
    """
    if isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real) \
            or not 0 <= float(validation_split) < 1:
        raise ArgumentError(f"validation_split must be a number in [0, 1), got {validation_split!r}")
    if validation_samples is not None:
        if validation_split:
            raise ArgumentError("give validation_split or validation_data, not both")
        train, held = samples, validation_samples
    elif validation_split:
        train = math.floor(samples * (1 - float(validation_split)))
        held = samples - train
        if train < 1 or held < 1:
            raise ArgumentError(f"validation_split {validation_split} leaves no training or no validation samples "
                                f"out of {samples}")
    else:
        train, held = samples, 0
    options = check_augment(augment, input_shape[1], input_shape[2])
    stopping = check_early_stopping(early_stopping, held > 0)
    return FitOptions(train, held, options, stopping, _optimizer(optimizer, learning_rate))


def _validation_data(validation_data: object) -> tuple[FloatArray, np.ndarray[Any, Any]] | None:
    if validation_data is None:
        return None
    if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
        raise ArgumentTypeError("validation_data must be a pair (x_val, y_val)")
    return check_data(validation_data[0], validation_data[1], "validation_data x", "validation_data y")


def _optimizer(optimizer: object, learning_rate: object) -> optim.Optimizer:
    """An optimizer object, or one made from a name with ``learning_rate``."""
    if isinstance(optimizer, optim.Optimizer):
        return optimizer
    if not isinstance(optimizer, str):
        raise ArgumentError(f"optimizer must be one of {', '.join(map(repr, optim.OPTIMIZER_NAMES))} or an optimizer "
                            f"object (SGD, RMSprop, Adam), got {optimizer!r}")
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
        raise ArgumentTypeError(f"learning_rate must be a number, got {learning_rate!r}")
    return optim.get_optimizer(optimizer, float(learning_rate))


def _step(chain: Chain, solver: optim.Optimizer, params: list[FloatArray], x: FloatArray, y: np.ndarray[Any, Any],
          rng: np.random.Generator) -> tuple[float, int]:
    """One batch: forward, loss, backward, update; returns the loss and the right answers before the update.

    Raises ResultOverflowError (the weights as they were) when a number stops being finite.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # reported below as divergence, never warned
        logits, caches = chain.forward(x, training=True, rng=rng)
        if not np.isfinite(logits).all():
            raise ResultOverflowError("the class scores are not finite")
        loss = cross_entropy(logits, y)
        grads = chain.backward(grad.cross_entropy_backward(logits, y), caches)
        if not math.isfinite(loss) or not all(np.isfinite(g).all() for g in grads):
            raise ResultOverflowError("the loss or a gradient is not finite")
        before = [p.copy() for p in params]
        solver.step(params, grads)
        if not all(np.isfinite(p).all() for p in params):
            for p, kept in zip(params, before, strict=True):
                p[...] = kept
            raise ResultOverflowError("an update made a weight infinite")
    return loss, int((logits.argmax(axis=1) == y).sum())


def fit(chain: Chain, x: object, y: object, epochs: object = 1, batch_size: object = 32, optimizer: object = "rmsprop",
        learning_rate: object = 0.001, validation_split: object = 0.0, validation_data: object = None,
        shuffle: object = True, seed: object = 0, augment: object = None, early_stopping: object = None,
        callback: Callback | None = None) -> History:
    """Train ``chain`` in place (see :meth:`cnn_core.chain.Chain.fit`)."""
    values, targets = check_data(x, y)
    count_epochs, size = _positive(epochs, "epochs"), _positive(batch_size, "batch_size")
    if not isinstance(shuffle, bool):
        raise ArgumentTypeError(f"shuffle must be True or False, got {shuffle!r}")
    if not is_int(seed):
        raise ArgumentTypeError(f"seed must be an int, got {seed!r}")
    if callback is not None and not callable(callback):
        raise ArgumentTypeError(f"callback must be a function taking a dict, got {callback!r}")
    chain.prepare_training(values.shape[1:], values.dtype)
    classes = chain.layers[-1].output_shape[0]
    targets = check_labels(targets, len(values), classes, "y")
    given = _validation_data(validation_data)
    plan = check_fit_options(len(values), values.shape[1:], validation_split, None if given is None else len(given[0]),
                             augment, early_stopping, optimizer, learning_rate)
    split = plan.train_samples
    train_x, train_y = values[:split], targets[:split]
    held = given if given is not None else (values[split:], targets[split:]) if plan.validation_samples else None
    validation = None if held is None else (
        held[0].astype(values.dtype, copy=False), check_labels(held[1], len(held[0]), classes, "validation_data y"))
    options, solver = plan.augment, plan.optimizer
    stopper = _EarlyStopping(plan.early_stopping) if plan.early_stopping else None

    shuffle_rng, dropout_rng, augment_rng = (np.random.default_rng(s)
                                             for s in np.random.SeedSequence(int(seed)).spawn(3))
    history = History()
    batches = -(-len(train_x) // size)
    params = chain.trainable_arrays()
    for epoch in range(count_epochs):
        order = shuffle_rng.permutation(len(train_x)) if shuffle else np.arange(len(train_x))
        seen, loss_sum, correct = 0, 0.0, 0
        stop = False
        for batch in range(batches):
            index = order[batch * size:(batch + 1) * size]
            batch_x = augment_batch(train_x[index], options, augment_rng)
            try:
                loss, right = _step(chain, solver, params, batch_x, train_y[index], dropout_rng)
            except ResultOverflowError as error:
                raise ArgumentError(f"training diverged at epoch {epoch} batch {batch}: {error}; the weights are the "
                                    f"last finite ones. Lower learning_rate (now {solver.learning_rate}) or scale the "
                                    f"inputs") from None
            seen += len(index)
            loss_sum += loss * len(index)
            correct += right
            if callback is not None and callback({"epoch": epoch, "batch": batch, "batches": batches,
                                                  "loss": loss_sum / seen, "accuracy": correct / seen,
                                                  "batch_loss": loss, "samples": seen}) is False:
                stop = True
                history.stopped_by_callback = True
                break
        logs = {"loss": loss_sum / seen, "accuracy": correct / seen}
        reported: dict[str, Any] = {}
        if validation is not None:
            scores, logits = chain._evaluated(*validation)
            logs.update(val_loss=scores["loss"], val_accuracy=scores["accuracy"])
            reported["val_probabilities"] = softmax(logits, axis=1)  # what predict would give: no second pass
        history.epoch.append(epoch)
        for key, value in logs.items():
            history.history.setdefault(key, []).append(value)
        if stop:
            break
        if stopper is not None and stopper.update(epoch, logs, chain):
            history.stopped_early = True
        if callback is not None and callback({"end_of_epoch": True, "epoch": epoch, "epochs": count_epochs,
                                              **logs, **reported}) is False:
            history.stopped_by_callback = True
            break
        if history.stopped_early:
            break
    if stopper is not None:
        history.best_epoch = stopper.best_epoch
        # a callback that stopped training keeps the weights reached; otherwise the best epoch's come back
        if stopper.restore and stopper.best_weights is not None and not history.stopped_by_callback:
            chain.set_weights(stopper.best_weights)
    return history
