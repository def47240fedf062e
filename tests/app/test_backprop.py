"""POST /api/train/{model_id}/backprop: the numbers equal the engine's gradients, and its runs step them."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.testing import assert_allclose, assert_array_equal

from app.config import Settings
from app.main import create_app
from app.training import TrainedModel
from cnn_core.backprop import backprop_steps
from cnn_core.chain import Chain, pretrained
from cnn_core.datasets import load_digits

TINY: list[dict[str, Any]] = [
    {"type": "conv2d", "filters": 3, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"},
    {"type": "batch_norm"},
    {"type": "max_pool2d", "pool_size": 2, "padding": "same"},
    {"type": "conv2d", "filters": 2, "kernel_size": 4, "padding": "same", "activation": "tanh"},
    {"type": "flatten"},
    {"type": "dropout", "rate": 0.5},
    {"type": "dense", "units": 10, "activation": "softmax"},
]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings())) as test_client:
        chain = Chain(TINY, seed=4)
        chain.build((1, 28, 28))
        test_client.app.state.trainer.models.put(TrainedModel(  # type: ignore[attr-defined]
            "tiny", chain, TINY, chain.total_params((1, 28, 28)), {}, None))
        yield test_client


def _float64(chain: Chain) -> Chain:
    copy = Chain(chain.specs, seed=chain.seed)
    copy.build((1, 28, 28))
    copy.set_weights([w.astype(np.float64) for w in chain.get_weights()])
    return copy


def _test_digit(index: int) -> tuple[Any, int]:
    _, (x_test, y_test) = load_digits()
    return x_test[index].astype(np.float64), int(y_test[index])


def _npy(client: TestClient, url: str) -> Any:
    answer = client.get(url)
    assert answer.status_code == 200
    return np.load(io.BytesIO(answer.content), allow_pickle=False)


def test_backprop_of_the_pretrained_network_equals_the_engine(client: TestClient) -> None:
    x, label = _test_digit(3)
    wrong = (label + 1) % 10  # a wrong label: a large loss, large gradients
    body = {"test_index": 3, "label": wrong, "kernel": {"layer": 2, "filter": 5, "channel": 7}, "learning_rate": 0.5}
    answer = client.post("/api/train/mnist-pretrained/backprop", json=body)
    assert answer.status_code == 200
    data = answer.json()
    chain = _float64(pretrained("mnist"))
    loss, grads = chain.loss_and_gradients(x[None], np.array([wrong]), training=False)
    steps = backprop_steps(chain, x, wrong)
    probabilities = np.array(data["probabilities"])
    assert (data["label"], data["predicted"], data["mode"]) == (wrong, label, "inference")
    assert np.isfinite(data["loss"]) and data["loss"] == pytest.approx(loss, rel=1e-12)
    assert data["loss"] == pytest.approx(-np.log(probabilities[wrong]), rel=1e-12)
    assert abs(sum(data["grad_logits"])) < 1e-12
    assert_allclose(data["grad_logits"], probabilities - np.eye(10)[wrong], rtol=1e-12, atol=1e-15)
    assert_array_equal(data["digit"], np.round(x[0], 5))
    assert [layer["type"] for layer in data["layers"]] == [spec["type"] for spec in chain.specs]
    kernels = {0: grads[0], 2: grads[2], 4: grads[4]}
    for index, kernel_grad in kernels.items():
        layer = data["layers"][index]
        chosen = (5, 7) if index == 2 else (0, 0)
        gradient = layer["weight_gradient"]
        assert (gradient["filter"], gradient["channel"], gradient["padded"]) == (*chosen, False)
        assert_allclose(gradient["values"], kernel_grad[chosen], rtol=1e-12, atol=1e-18)
        assert layer["grad_norms"]["kernel"] == pytest.approx(np.linalg.norm(kernel_grad), rel=1e-12)
        assert_allclose(_npy(client, gradient["run"]["result_npy_url"])[0], kernel_grad[chosen], rtol=1e-9,
                        atol=1e-18)
        scatter = layer["input_gradient"]
        assert scatter["crop"] is None
        assert_allclose(_npy(client, scatter["run"]["result_npy_url"]), steps.layers[index].grad_input, rtol=1e-9,
                        atol=1e-18)
    outer = data["layers"][7]["outer_product"]
    assert_allclose(outer["grad_kernel"], grads[-2], rtol=1e-12, atol=1e-18)
    assert_allclose(outer["grad_kernel"], np.outer(outer["x"], outer["g"]), rtol=1e-12, atol=1e-18)
    step = data["step"]
    before = pretrained("mnist").get_weights()[2][5, 7].astype(np.float64)  # the second conv2d kernel
    assert (step["layer"], step["filter"], step["channel"], step["learning_rate"]) == (2, 5, 7, 0.5)
    assert_array_equal(step["w_before"], before)
    assert_allclose(step["g"], grads[2][5, 7], rtol=1e-12, atol=1e-18)
    assert_allclose(step["w_after"], before - 0.5 * grads[2][5, 7], rtol=1e-12, atol=1e-15)


def test_backprop_runs_step_with_the_frames_endpoints(client: TestClient) -> None:
    data = client.post("/api/train/mnist-pretrained/backprop", json={"test_index": 0, "label": 4}).json()
    layer = data["layers"][2]
    run = layer["weight_gradient"]["run"]
    described = client.get(run["url"]).json()
    assert (described["run_id"], described["op"], described["frame_count"]) == (run["run_id"], "conv2d", 9)
    assert described["input_shape"] == [1, 13, 13] and np.shape(described["weight"]) == (1, 1, 11, 11)
    frames = client.get(run["frames_url"] + "&count=9").json()["frames"]
    assert len(frames) == 9
    for frame, value in zip(frames, np.ravel(layer["weight_gradient"]["values"]), strict=True):
        assert frame["value"] == pytest.approx(value, rel=1e-9, abs=1e-18)
        assert frame["value"] == pytest.approx(np.sum(frame["products"]), rel=1e-9, abs=1e-18)
    scatter = layer["input_gradient"]["run"]
    first = client.get(scatter["frames_url"] + "&count=1").json()["frames"][0]
    assert scatter["op"] == "conv_transpose2d" and scatter["frame_count"] == 11 * 11
    assert np.shape(first["contribution"]) == (32, 3, 3)
    pool = data["layers"][1]["routing"]
    winners = np.array(pool["winners"])
    routed = np.zeros((26, 26))
    np.add.at(routed, (winners[..., 0], winners[..., 1]), pool["grad_output"])
    assert_allclose(pool["grad_input"], routed, rtol=1e-12, atol=1e-18)
    assert client.get(pool["run"]["url"]).json()["op"] == "max_pool2d"
    with client.websocket_connect("/ws/animate") as socket:
        socket.send_json({"type": "open", "run_id": run["run_id"]})
        opened = socket.receive_json()
        assert (opened["type"], opened["run"]["run_id"], opened["run"]["frame_count"]) == ("opened", run["run_id"], 9)


def test_backprop_on_a_strided_same_conv_uses_padded_images_and_crops(client: TestClient) -> None:
    digit = np.linspace(0, 1, 28 * 28).reshape(28, 28).astype(np.float32).astype(np.float64)  # as the server reads
    answer = client.post("/api/train/tiny/backprop", json={"digit": digit.tolist(), "label": 3,
                                                          "kernel": {"layer": 3, "filter": 1, "channel": 2}})
    assert answer.status_code == 200
    data = answer.json()
    chain = _float64(client.app.state.trainer.models.get("tiny").chain)  # type: ignore[attr-defined]
    loss, grads = chain.loss_and_gradients(digit[None, None], np.array([3]), training=False)
    steps = backprop_steps(chain, digit[None], 3)
    assert data["loss"] == pytest.approx(loss, rel=1e-12)
    first, second = data["layers"][0], data["layers"][3]
    assert first["weight_gradient"]["padded"] is True and first["input_gradient"]["crop"] == [0, 0]
    assert second["weight_gradient"]["padded"] is True and second["input_gradient"]["crop"] == [1, 1]
    for layer, kernel_grad, chosen in ((first, grads[0], (0, 0)), (second, grads[4], (1, 2))):
        result = _npy(client, layer["weight_gradient"]["run"]["result_npy_url"])[0]
        assert_allclose(result, kernel_grad[chosen], rtol=1e-9, atol=1e-15)
        full = _npy(client, layer["input_gradient"]["run"]["result_npy_url"])
        top, left = layer["input_gradient"]["crop"]
        height, width = layer["input_shape"][1:]
        expected = steps.layers[layer["index"]].grad_input
        assert_allclose(full[:, top:top + height, left:left + width], expected, rtol=1e-9, atol=1e-15)
    assert data["step"]["layer"] == 3


@pytest.mark.parametrize(("body", "detail"), [
    ({"test_index": 0, "validation_index": 0}, "request: give exactly one of digit, validation_index or test_index"),
    ({"digit": [[0.0] * 28] * 28}, "request: a drawn digit needs its label (the class the loss is taken against)"),
    ({"test_index": 0, "label": 10}, "label: Input should be less than or equal to 9 (got 10)"),
    ({"test_index": 0, "learning_rate": 0}, "learning_rate: Input should be greater than 0 (got 0)"),
    ({"digit": [[0.5] * 27] * 28, "label": 1}, "digit must be 28x28 values in [0, 1], got shape [28, 27] with values "
                                               "[0.5, 0.5]"),
    ({"validation_index": 0}, "model mnist-pretrained has no validation digits (none were held out); use "
                              "test_index"),
    ({"test_index": 0, "kernel": {"layer": 1}}, "kernel.layer must be the index of a conv2d layer (0, 2, 4), got 1"),
    ({"test_index": 0, "kernel": {"layer": 0, "filter": 32}}, "kernel.filter must be from 0 to 31, got 32"),
    ({"test_index": 0, "kernel": {"layer": 2, "channel": 32}}, "kernel.channel must be from 0 to 31, got 32"),
    ({"test_index": 0, "pad": [[0]]}, "pad: Extra inputs are not permitted"),
])
def test_backprop_refuses_bad_requests_with_a_clear_detail(client: TestClient, body: dict[str, Any],
                                                           detail: str) -> None:
    answer = client.post("/api/train/mnist-pretrained/backprop", json=body)
    assert (answer.status_code, answer.json()) == (422, {"detail": detail})


def test_backprop_of_an_unknown_model_is_404(client: TestClient) -> None:
    answer = client.post("/api/train/nope/backprop", json={"test_index": 0})
    assert (answer.status_code, answer.json()) == (
        404, {"detail": "model nope is unknown or has expired; train it again (or use mnist-pretrained)"})
