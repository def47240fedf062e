"""Optimizers against torch.optim steps recorded in tests/fixtures/optim_golden.npz (no torch needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cnn_core.optim import SGD, Adam, Optimizer, RMSprop, get_optimizer

GOLDEN = np.load(Path(__file__).parents[1] / "fixtures" / "optim_golden.npz")
CASES: list[dict[str, Any]] = json.loads(GOLDEN["cases"].tobytes())
PARAMS = 3
STEPS = 5


def _grads(step: int, dtype: type = np.float64) -> list[np.ndarray]:
    return [GOLDEN[f"grad{step}_{j}"].astype(dtype) for j in range(PARAMS)]


def _make(case: dict[str, Any]) -> Optimizer:
    return {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}[case["optimizer"]](**case["args"])


def test_golden_fixture_covers_every_optimizer_and_option() -> None:
    assert {case["optimizer"] for case in CASES} == {"sgd", "rmsprop", "adam"}
    used = {key for case in CASES for key in case["args"]}
    assert used == {"learning_rate", "momentum", "nesterov", "weight_decay", "rho", "epsilon", "beta_1", "beta_2"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['name']}-{c['optimizer']}-{c['args']}")
def test_step_matches_pytorch_float64(case: dict[str, Any]) -> None:
    optimizer = _make(case)
    params = [GOLDEN[f"param{j}"].copy() for j in range(PARAMS)]
    for step in range(STEPS):
        optimizer.step(params, _grads(step))
        assert optimizer.iterations == step + 1
        for j, param in enumerate(params):
            expected = GOLDEN[f"{case['name']}_param{j}"][step]
            assert param.dtype == np.float64
            np.testing.assert_allclose(param, expected, rtol=1e-9, atol=0)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['name']}-{c['optimizer']}")
def test_step_keeps_float32_and_tracks_float64(case: dict[str, Any]) -> None:
    optimizer = _make(case)
    params = [GOLDEN[f"param{j}"].astype(np.float32) for j in range(PARAMS)]
    for step in range(STEPS):
        optimizer.step(params, _grads(step))  # float64 gradients are cast to the parameters' float32
    for j, param in enumerate(params):
        assert param.dtype == np.float32
        assert all(buffer.dtype == np.float32 for buffer in optimizer.state[j].values())
        np.testing.assert_allclose(param, GOLDEN[f"{case['name']}_param{j}"][-1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("optimizer", [SGD(momentum=0.9), RMSprop(), Adam()], ids=repr)
def test_step_updates_the_same_arrays_in_place(optimizer: Optimizer) -> None:
    params = [np.ones((2, 3)), np.zeros(4)]
    views = [params[0][0], params[1][::2]]  # views see in-place updates, copies would not
    grads = [np.full((2, 3), 0.5), -np.ones(4)]
    grads_before = [grad.copy() for grad in grads]
    optimizer.step(params, grads)
    assert np.all(views[0] < 1) and np.all(views[1] > 0)
    for grad, before in zip(grads, grads_before, strict=True):
        np.testing.assert_array_equal(grad, before)  # gradients are never modified


def test_step_keeps_state_per_parameter_position() -> None:
    optimizer = SGD(learning_rate=0.1, momentum=0.5)
    params = [np.zeros(2), np.zeros(3)]
    optimizer.step(params, [np.ones(2), np.full(3, 2.0)])
    optimizer.step(params, [np.ones(2), np.zeros(3)])
    np.testing.assert_allclose(optimizer.state[0]["momentum_buffer"], [1.5, 1.5], rtol=1e-15)
    np.testing.assert_allclose(optimizer.state[1]["momentum_buffer"], [1.0, 1.0, 1.0], rtol=1e-15)
    np.testing.assert_allclose(params[0], [-0.25, -0.25], rtol=1e-15)
    np.testing.assert_allclose(params[1], [-0.3, -0.3, -0.3], rtol=1e-15)
    assert optimizer.iterations == 2
    adam = Adam()
    adam.step(params, [np.ones(2), np.ones(3)])
    assert set(adam.state) == {0, 1} and set(adam.state[1]) == {"exp_avg", "exp_avg_sq"}
    rmsprop = RMSprop(momentum=0.5)
    rmsprop.step(params, [np.ones(2), np.ones(3)])
    assert set(rmsprop.state[0]) == {"square_avg", "momentum_buffer"}


def test_sgd_without_momentum_keeps_no_state() -> None:
    optimizer = SGD()
    optimizer.step([np.zeros(2)], [np.ones(2)])
    assert optimizer.state == {0: {}}


def test_repr_and_get_config_show_the_hyper_parameters() -> None:
    assert repr(SGD()) == "SGD(learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0)"
    assert repr(RMSprop(momentum=0.5)) == "RMSprop(learning_rate=0.001, rho=0.9, momentum=0.5, epsilon=1e-07)"
    assert repr(Adam(learning_rate=1)) == "Adam(learning_rate=1.0, beta_1=0.9, beta_2=0.999, epsilon=1e-07)"
    assert SGD(0.1, momentum=0.9, nesterov=True).get_config() == {
        "name": "sgd", "learning_rate": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.0}
    assert RMSprop().get_config() == {"name": "rmsprop", "learning_rate": 0.001, "rho": 0.9, "momentum": 0.0,
                                      "epsilon": 1e-7}
    assert Adam().get_config() == {"name": "adam", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
                                   "epsilon": 1e-7}


def test_get_config_round_trips_through_the_constructors() -> None:
    for optimizer in [SGD(0.2, 0.3, True, 0.4), RMSprop(0.2, 0.3, 0.4, 0.5), Adam(0.2, 0.3, 0.4, 0.5)]:
        config = optimizer.get_config()
        name = config.pop("name")
        again = type(get_optimizer(name))(**config)
        assert again.get_config() == optimizer.get_config()


@pytest.mark.parametrize(("name", "expected"), [("sgd", SGD), ("RMSprop", RMSprop), ("ADAM", Adam)])
def test_get_optimizer_names_any_case(name: str, expected: type) -> None:
    default = get_optimizer(name)
    assert type(default) is expected and default.learning_rate == expected().learning_rate
    assert get_optimizer(name, learning_rate=0.25).learning_rate == 0.25


def test_get_optimizer_returns_an_object_as_it_is() -> None:
    optimizer = Adam(learning_rate=0.5)
    assert get_optimizer(optimizer) is optimizer
    assert get_optimizer(optimizer, learning_rate=0.1).learning_rate == 0.5


@pytest.mark.parametrize("value", ["adagrad", "", None, 3, SGD])
def test_get_optimizer_refuses_unknown(value: Any) -> None:
    with pytest.raises(ValueError, match=r"optimizer must be one of 'sgd', 'rmsprop', 'adam' or an optimizer "
                                         r"object \(SGD, RMSprop, Adam\), got"):
        get_optimizer(value)


def test_get_optimizer_checks_the_learning_rate() -> None:
    with pytest.raises(ValueError, match=r"learning_rate must be a positive finite number, got -1"):
        get_optimizer("sgd", learning_rate=-1)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: SGD(learning_rate=0), r"learning_rate must be a positive finite number, got 0"),
    (lambda: Adam(learning_rate=float("inf")), r"learning_rate must be a positive finite number, got inf"),
    (lambda: RMSprop(learning_rate=float("nan")), r"learning_rate must be a positive finite number, got nan"),
    (lambda: SGD(momentum=-0.1), r"momentum must be a finite number >= 0, got -0.1"),
    (lambda: RMSprop(momentum=float("inf")), r"momentum must be a finite number >= 0, got inf"),
    (lambda: SGD(weight_decay=-1e-4), r"weight_decay must be a finite number >= 0, got -0.0001"),
    (lambda: SGD(nesterov=True), r"nesterov=True requires momentum > 0, got momentum=0.0"),
    (lambda: RMSprop(rho=1), r"rho must be in \[0, 1\), got 1"),
    (lambda: RMSprop(rho=-0.5), r"rho must be in \[0, 1\), got -0.5"),
    (lambda: Adam(beta_1=1.0), r"beta_1 must be in \[0, 1\), got 1.0"),
    (lambda: Adam(beta_2=float("nan")), r"beta_2 must be in \[0, 1\), got nan"),
    (lambda: Adam(epsilon=0), r"epsilon must be a positive finite number, got 0"),
    (lambda: RMSprop(epsilon=-1e-7), r"epsilon must be a positive finite number, got -1e-07"),
])
def test_hyper_parameters_out_of_range_raise(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(("make", "message"), [
    (lambda: SGD(learning_rate="0.1"), r"learning_rate must be a real number, got '0.1'"),
    (lambda: Adam(beta_1=None), r"beta_1 must be a real number, got None"),
    (lambda: RMSprop(momentum=True), r"momentum must be a real number, got True"),
    (lambda: SGD(momentum=0.9, nesterov=1), r"nesterov must be True or False, got 1"),
])
def test_hyper_parameters_of_wrong_type_raise(make: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        make()


@pytest.mark.parametrize(("params", "grads", "message"), [
    ([], [], r"params must be a non-empty list of arrays, got an empty list"),
    ([np.zeros(2)], [np.zeros(2), np.zeros(2)], r"grads must hold one gradient per parameter \(1\), got 2"),
    ([np.zeros(2), np.zeros((2, 3))], [np.zeros(2), np.zeros((3, 2))],
     r"grads\[1\] must have the shape of params\[1\] \(2, 3\), got \(3, 2\)"),
    ([np.zeros(2), np.zeros(3)], [np.zeros(2), np.array([0.0, np.nan, 0.0])],
     r"grads\[1\] must contain only finite numbers \(the gradient of parameter 1 holds NaN or infinity in "
     r"float64\)"),
    ([np.zeros(2)], [np.array([np.inf, 0.0])],
     r"grads\[0\] must contain only finite numbers \(the gradient of parameter 0 holds NaN or infinity in "
     r"float64\)"),
    ([np.zeros(2, np.float32)], [np.array([1e300, 0.0])],  # finite, but too large for float32
     r"grads\[0\] must contain only finite numbers \(the gradient of parameter 0 holds NaN or infinity in "
     r"float32\)"),
    ([np.zeros(2), np.broadcast_to(np.zeros(1), (2,))], [np.zeros(2), np.zeros(2)],
     r"params\[1\] must be a writeable array \(it is updated in place\)"),
])
def test_step_refuses_bad_lists_with_value_error(params: Any, grads: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SGD().step(params, grads)


@pytest.mark.parametrize(("params", "grads", "message"), [
    (np.zeros(2), [np.zeros(2)], r"params must be a list of arrays, got ndarray"),
    ([np.zeros(2)], np.zeros((1, 2)), r"grads must be a list of arrays, got ndarray"),
    ([[0.0, 1.0]], [np.zeros(2)], r"params\[0\] must be a float ndarray \(updated in place\), got list"),
    ([np.zeros(2, dtype=int)], [np.zeros(2)], r"params\[0\] must be a float ndarray \(updated in place\), got "
                                              r"dtype int64"),
    ([np.zeros(2)], [np.array(["a", "b"])], r"grads\[0\] must hold real numbers, got dtype <U1"),
    ([np.zeros(2)], [None], r"grads\[0\] must be an array of numbers, got NoneType"),
])
def test_step_refuses_bad_lists_with_type_error(params: Any, grads: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        SGD().step(params, grads)


def test_step_checks_every_gradient_before_changing_any_parameter() -> None:
    params = [np.zeros(2), np.zeros(2)]
    optimizer = Adam()
    with pytest.raises(ValueError, match=r"grads\[1\]"):
        optimizer.step(params, [np.ones(2), np.array([np.nan, 0.0])])
    np.testing.assert_array_equal(params[0], [0.0, 0.0])
    assert optimizer.iterations == 0 and optimizer.state == {}


def test_step_refuses_other_parameters_than_before() -> None:
    optimizer = RMSprop()
    optimizer.step([np.zeros(2), np.zeros(3)], [np.ones(2), np.ones(3)])
    with pytest.raises(ValueError, match=r"params must be the same arrays on every step \(state is kept per "
                                         r"position\): shapes \[\(2,\), \(3,\)\] before, got \[\(3,\), \(2,\)\]"):
        optimizer.step([np.zeros(3), np.zeros(2)], [np.ones(3), np.ones(2)])
    with pytest.raises(ValueError, match=r"shapes \[\(2,\), \(3,\)\] before, got \[\(2,\)\]"):
        optimizer.step([np.zeros(2)], [np.ones(2)])
