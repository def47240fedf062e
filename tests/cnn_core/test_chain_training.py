"""Training a chain: gradients and optimizer steps against PyTorch, finite differences, fit's semantics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from cnn_core import optim
from cnn_core.chain import Chain

GOLDEN = np.load(Path(__file__).parents[1] / "fixtures" / "chain_golden.npz")
CONFIG = json.loads(GOLDEN["config"].tobytes())
WEIGHTS = [GOLDEN[f"weight{i}"] for i in range(10)]


def _golden_chain() -> Chain:
    chain = Chain(CONFIG["layers"])
    chain.build((2, 8, 8))
    chain.set_weights(WEIGHTS)
    return chain


def test_chain_loss_and_gradients_equal_pytorch_autograd() -> None:
    chain = _golden_chain()
    loss, grads = chain.loss_and_gradients(GOLDEN["x"], GOLDEN["y"])
    assert loss == pytest.approx(float(GOLDEN["loss"]), rel=1e-12)
    assert len(grads) == 10
    for i, gradient in enumerate(grads):
        assert_allclose(gradient, GOLDEN[f"grad{i}"], rtol=1e-9, atol=1e-13, err_msg=f"gradient {i}")


@pytest.mark.parametrize(("name", "settings"), CONFIG["optimizers"], ids=[o[0] for o in CONFIG["optimizers"]])
def test_first_optimizer_steps_of_fit_equal_pytorch(name: str, settings: dict[str, Any]) -> None:
    chain = _golden_chain()
    optimizer = {"sgd": optim.SGD, "rmsprop": optim.RMSprop, "adam": optim.Adam}[name](**settings)
    for step in range(2):
        chain.fit(GOLDEN["x"], GOLDEN["y"], epochs=1, batch_size=5, optimizer=optimizer, shuffle=False)
        for i, array in enumerate(chain.get_weights()):
            assert_allclose(array, GOLDEN[f"{name}_step{step}_{i}"], rtol=1e-9, atol=1e-13,
                            err_msg=f"{name} step {step} array {i}")


REGULARISED = [
    {"type": "conv2d", "filters": 3, "kernel_size": 3, "padding": "same"},
    {"type": "batch_norm"},
    {"type": "activation", "activation": "tanh"},
    {"type": "dropout", "rate": 0.3},
    {"type": "max_pool2d", "pool_size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 5},
    {"type": "batch_norm", "momentum": 0.9},
    {"type": "activation", "activation": "sigmoid"},
    {"type": "dropout", "rate": 0.5},
    {"type": "dense", "units": 3, "activation": "softmax"},
]


def test_batch_norm_and_dropout_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((6, 2, 6, 6)), np.array([0, 1, 2, 2, 1, 0])
    chain = Chain(REGULARISED, seed=2)
    chain.build((2, 6, 6))
    weights = chain.get_weights()
    # gamma and beta away from 1 and 0, so that their gradients are tested in general position
    chain.set_weights([w + rng.uniform(-0.3, 0.3, w.shape) if w.ndim == 1 else w for w in weights])
    weights = chain.get_weights()
    _, grads = chain.loss_and_gradients(x, y, seed=9)  # the same seed, the same dropout masks
    trainable = [i for i, layer_array in enumerate(_names(chain)) if layer_array in ("kernel", "bias", "gamma", "beta")]
    assert len(trainable) == len(grads)
    step = 1e-6
    for gradient, index in zip(grads, trainable, strict=True):
        for flat in rng.choice(weights[index].size, size=min(4, weights[index].size), replace=False):
            numeric = []
            for sign in (1, -1):
                moved = [w.copy() for w in weights]
                moved[index].flat[flat] += sign * step
                chain.set_weights(moved)
                numeric.append(chain.loss_and_gradients(x, y, seed=9)[0])
            chain.set_weights(weights)
            assert gradient.flat[flat] == pytest.approx((numeric[0] - numeric[1]) / (2 * step), rel=1e-5, abs=1e-8)


def _names(chain: Chain) -> list[str]:
    return [name for layer in chain.layers for name in layer.arrays]


def test_batch_norm_keeps_keras_moving_statistics() -> None:
    x = np.random.default_rng(5).standard_normal((8, 2, 4, 4)) * 3 + 1
    chain = Chain([{"type": "batch_norm", "momentum": 0.9}, {"type": "flatten"}, {"type": "dense", "units": 2}])
    chain.fit(x, np.zeros(8, dtype=int), batch_size=8, optimizer="sgd", shuffle=False)
    gamma, beta, moving_mean, moving_variance = chain.get_weights()[:4]
    assert_allclose(moving_mean, 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-12)
    assert_allclose(moving_variance, 0.9 + 0.1 * x.var(axis=(0, 2, 3)), rtol=1e-12)  # biased batch variance
    out = chain.run(x[0])[0]  # inference uses the moving statistics
    expected = (x[0] - moving_mean[:, None, None]) / np.sqrt(moving_variance[:, None, None] + 1e-3)
    assert_allclose(out, expected * gamma[:, None, None] + beta[:, None, None], rtol=1e-12)


def _digits_like(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three easy classes: a bright row, a bright column or a bright diagonal, with noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, count)
    x = rng.random((count, 1, 8, 8)) * 0.3
    for n, label in enumerate(y):
        spot = rng.integers(1, 7)
        if label == 0:
            x[n, 0, spot] += 1
        elif label == 1:
            x[n, 0, :, spot] += 1
        else:
            x[n, 0][np.eye(8, dtype=bool)] += 1
    return x.astype(np.float32), y


SMALL = [{"type": "conv2d", "filters": 4, "kernel_size": 3, "activation": "relu"},
         {"type": "max_pool2d", "pool_size": 2}, {"type": "flatten"},
         {"type": "dense", "units": 3, "activation": "softmax"}]


def test_fit_learns_and_reports_keras_history() -> None:
    x, y = _digits_like(300)
    chain = Chain(SMALL, seed=1)
    history = chain.fit(x, y, epochs=4, batch_size=16, optimizer="adam", learning_rate=0.01, validation_split=0.2)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.epoch == [0, 1, 2, 3]
    assert all(len(values) == 4 for values in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] >= 0.9
    assert chain.get_weights()[0].dtype == np.float32  # trained in the input's dtype
    probabilities = chain.predict(x[:5])
    assert probabilities.shape == (5, 3) and probabilities.dtype == np.float32
    assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)
    scores = chain.evaluate(x[240:], y[240:])
    assert scores["accuracy"] == pytest.approx(history.history["val_accuracy"][-1])
    assert scores["loss"] == pytest.approx(history.history["val_loss"][-1], rel=1e-6)


def test_fit_is_reproducible_bit_for_bit_and_seeded() -> None:
    x, y = _digits_like(120)
    options: dict[str, Any] = {"epochs": 2, "batch_size": 10, "augment": {"shift": 1, "rotate": 10, "noise": 0.05},
                               "validation_split": 0.25}
    runs = []
    for seed in (3, 3, 4):
        chain = Chain([*SMALL[:2], {"type": "dropout", "rate": 0.2}, *SMALL[2:]], seed=0)
        history = chain.fit(x, y, seed=seed, **options)
        runs.append((chain.get_weights(), history.history))
    for first, second in zip(runs[0][0], runs[1][0], strict=True):
        assert_array_equal(first, second)
    assert runs[0][1] == runs[1][1]
    assert not np.array_equal(runs[0][0][0], runs[2][0][0])


def test_fit_continues_from_the_weights_reached() -> None:
    x, y = _digits_like(60)
    chain = Chain(SMALL, seed=1)
    chain.fit(x, y, epochs=1, batch_size=20)
    after_one = chain.get_weights()
    chain.fit(x, y, epochs=1, batch_size=20)
    fresh = Chain(SMALL, seed=1)
    fresh.fit(x, y, epochs=1, batch_size=20)
    assert_array_equal(fresh.get_weights()[0], after_one[0])
    assert not np.array_equal(chain.get_weights()[0], after_one[0])


def test_callback_sees_every_batch_and_can_stop_training() -> None:
    x, y = _digits_like(50)
    events: list[dict[str, Any]] = []
    history = Chain(SMALL).fit(x, y, epochs=3, batch_size=20, callback=events.append)
    batch_events = [e for e in events if not e.get("end_of_epoch")]
    assert [(e["epoch"], e["batch"], e["batches"]) for e in batch_events] == [
        (epoch, batch, 3) for epoch in range(3) for batch in range(3)]
    epoch_events = [e for e in events if e.get("end_of_epoch")]
    assert [e["loss"] for e in epoch_events] == history.history["loss"]
    assert batch_events[2]["loss"] == pytest.approx(history.history["loss"][0])

    seen: list[dict[str, Any]] = []
    chain = Chain(SMALL)

    def stop_at_second_batch(event: dict[str, Any]) -> bool | None:
        seen.append(event)
        return False if event.get("batch") == 1 else None

    stopped = chain.fit(x, y, epochs=3, batch_size=20, callback=stop_at_second_batch)
    assert [(e["epoch"], e["batch"]) for e in seen] == [(0, 0), (0, 1)]
    assert stopped.stopped_by_callback and stopped.epoch == [0]
    replay = Chain(SMALL)
    replay.fit(x[:40], y[:40], epochs=1, batch_size=20, shuffle=False)
    assert not np.array_equal(replay.get_weights()[0], Chain(SMALL).build((1, 8, 8))[0].weight)


def test_the_end_of_epoch_event_carries_the_validation_probabilities_predict_gives() -> None:
    # the server's epoch report (confusion matrix, wrong digits) reads them instead of a second forward pass
    x, y = _digits_like(50)
    chain = Chain(SMALL, seed=0)
    held = x[40:]  # validation_split 0.2: the last fifth, as Keras takes it
    checked: list[int] = []

    def check(event: dict[str, Any]) -> None:
        if event.get("end_of_epoch"):
            assert_array_equal(event["val_probabilities"], chain.predict(held))
            assert event["val_accuracy"] == chain.evaluate(held, y[40:])["accuracy"]
            checked.append(event["epoch"])

    chain.fit(x, y, epochs=2, batch_size=20, validation_split=0.2, callback=check)
    assert checked == [0, 1]
    events: list[dict[str, Any]] = []
    Chain(SMALL).fit(x, y, epochs=1, batch_size=20, callback=events.append)
    assert "val_probabilities" not in events[-1]  # no validation data, nothing to report


def test_early_stopping_restores_the_best_epoch() -> None:
    x, y = _digits_like(80)
    chain = Chain(SMALL, seed=0)
    weights_by_epoch: list[list[np.ndarray]] = []

    def keep(event: dict[str, Any]) -> None:
        if event.get("end_of_epoch"):
            weights_by_epoch.append(chain.get_weights())

    # a learning rate so large that the validation loss soon stops improving
    history = chain.fit(x, y, epochs=30, batch_size=8, optimizer="sgd", learning_rate=2.0, validation_split=0.25,
                        early_stopping={"monitor": "val_loss", "patience": 2}, callback=keep)
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    assert history.stopped_early and len(losses) < 30
    assert len(losses) == best + 3  # two epochs of patience after the best
    assert history.best_epoch == best
    for restored, kept in zip(chain.get_weights(), weights_by_epoch[best], strict=True):
        assert_array_equal(restored, kept)


def test_save_and_load_predict_identically_without_pickle(tmp_path: Path) -> None:
    x, y = _digits_like(40)
    chain = Chain([*SMALL[:3], {"type": "batch_norm"}, {"type": "dense", "units": 3}], seed=5)
    chain.fit(x, y, epochs=1, batch_size=8)
    path = tmp_path / "chain.npz"
    chain.save(path)
    loaded = Chain.load(path)
    assert_array_equal(loaded.predict(x), chain.predict(x))
    assert loaded.specs == chain.specs
    with np.load(path, allow_pickle=False) as stored:
        assert all(stored[name].dtype != object for name in stored.files)


def test_chain_repr_and_html_summary() -> None:
    chain = Chain(SMALL)
    assert repr(chain) == "Chain([conv2d, max_pool2d, flatten, dense], seed=0, not built)"
    chain.build((1, 8, 8))
    assert repr(chain) == ("Chain([conv2d, max_pool2d, flatten, dense], input_shape=(1, 8, 8), output_shape=(3,), "
                           "params=151)")
    table = chain._repr_html_()
    assert "<td>conv2d</td><td>(4, 6, 6)</td>" in table and ">151<" in table


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda c, x, y: c.fit(x, y[:-1]), ValueError, r"x and y must have the same length: x has 20 samples"),
    (lambda c, x, y: c.fit(x, y * 0 + 3), ValueError, r"y must be in \[0, 2\] \(one of the 3 classes\), got 3"),
    (lambda c, x, y: c.fit(x, y.astype(float)), TypeError, r"y must be integers \(class indices\)"),
    (lambda c, x, y: c.fit(x[0], y), ValueError, r"x must be a non-empty \(N, C, H, W\) batch"),
    (lambda c, x, y: c.fit(x, y, optimizer="adagrad"), ValueError,
     r"optimizer must be one of 'sgd', 'rmsprop', 'adam' or an optimizer object"),
    (lambda c, x, y: c.fit(x, y, epochs=0), ValueError, r"epochs must be a positive integer, got 0"),
    (lambda c, x, y: c.fit(x, y, batch_size=2.5), ValueError, r"batch_size must be a positive integer, got 2.5"),
    (lambda c, x, y: c.fit(x, y, validation_split=1.0), ValueError, r"validation_split must be a number in \[0, 1\)"),
    (lambda c, x, y: c.fit(x, y, augment={"zoom": 2}), ValueError, r"augment takes shift, rotate, noise"),
    (lambda c, x, y: c.fit(x, y, augment={"shift": 9}), ValueError, r"augment\['shift'\] must be a whole number"),
    (lambda c, x, y: c.fit(x, y, early_stopping={"monitor": "val_loss"}), ValueError,
     r"early_stopping monitors 'val_loss', which needs validation_split > 0"),
    (lambda c, x, y: c.fit(x, y, learning_rate=-1.0), ValueError, r"learning_rate must be"),
    (lambda c, x, y: Chain(SMALL[:2]).fit(x, y), ValueError, r"the last layer must be dense .*, got 'max_pool2d'"),
    (lambda c, x, y: Chain([{"type": "dropout", "rate": 1}]), ValueError,
     r"layer 1 \(dropout\): rate must be a number in \[0, 1\), got 1"),
    (lambda c, x, y: c.get_weights(), ValueError, r"the chain has no weights yet"),
])
def test_training_errors_name_the_argument(call: Any, error: type[Exception], message: str) -> None:
    x, y = _digits_like(20)
    with pytest.raises(error, match=message):
        call(Chain(SMALL), x, y)


def test_divergence_stops_with_the_epoch_and_batch_and_keeps_finite_weights() -> None:
    x, y = _digits_like(40)
    chain = Chain(SMALL, seed=0)
    kept: list[list[np.ndarray]] = []

    def remember(event: dict[str, Any]) -> None:
        kept.append(chain.get_weights())

    with pytest.raises(ValueError, match=r"training diverged at epoch \d+ batch \d+"):
        chain.fit(x * 1e30, y, epochs=5, batch_size=10, optimizer="sgd", learning_rate=1e30, callback=remember)
    assert all(np.isfinite(w).all() for w in chain.get_weights())


def test_a_callback_stop_keeps_the_weights_reached_even_with_early_stopping() -> None:
    x, y = _digits_like(80)
    chain = Chain(SMALL, seed=0)
    reached: list[list[np.ndarray]] = []

    def stop_in_third_epoch(event: dict[str, Any]) -> bool | None:
        if event.get("epoch") == 2 and event.get("batch") == 1:
            reached.append(chain.get_weights())
            return False
        return None

    history = chain.fit(x, y, epochs=10, batch_size=20, validation_split=0.25, callback=stop_in_third_epoch,
                        early_stopping={"monitor": "val_loss", "patience": 5, "restore_best_weights": True})
    assert history.stopped_by_callback and not history.stopped_early
    for kept, weights in zip(chain.get_weights(), reached[0], strict=True):
        assert_array_equal(kept, weights)


def test_saved_weights_keep_their_precision(tmp_path: Path) -> None:
    x, y = _digits_like(20)
    chain = Chain(SMALL, seed=0)
    chain.fit(x, y, epochs=1, batch_size=10)  # float32 digits: float32 weights
    chain.save(tmp_path / "small.npz")
    assert {w.dtype for w in Chain.load(tmp_path / "small.npz").get_weights()} == {np.dtype(np.float32)}
