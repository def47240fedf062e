"""POST /api/backprop/example: "one gradient by hand" checked by hand, and its frames equal cnn_core.grad's arrays."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.testing import assert_allclose, assert_array_equal

from app.config import Settings
from app.main import create_app
from cnn_core.grad import conv2d_backward, max_pool2d_backward
from cnn_core.ops import conv2d

FIVE = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]], float)
CROSS = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], float)
PLUS = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0], float)
HALF_X = np.array([0.5, 0, 0.5, 0, 0.5, 0, 0.5, 0, 0.5])
POOLED: dict[str, Any] = {
    "input": [[0, 1, 0, 1, 2], [1, 0, 1, 0, 2], [0, 1, 3, 1, 0], [1, 0, 1, 0, 1], [2, 2, 0, 1, 0]], "label": 2,
    "layers": [{"type": "conv2d", "filters": 2, "kernel_size": 2, "padding": 1, "activation": "tanh"},
               {"type": "max_pool2d", "pool_size": 2},
               {"type": "conv2d", "filters": 2, "kernel_size": 2, "strides": 1, "activation": "relu"},
               {"type": "flatten"}, {"type": "dense", "units": 3}],
    "weights": None, "seed": 3, "kernel": {"layer": 2, "filter": 1, "channel": 1}, "learning_rate": 0.5}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings())) as test_client:
        yield test_client


def _npy(client: TestClient, url: str) -> Any:
    answer = client.get(url)
    assert answer.status_code == 200
    return np.load(io.BytesIO(answer.content), allow_pickle=False)


def _frames(client: TestClient, run: dict[str, Any]) -> list[dict[str, Any]]:
    answer = client.get(f"{run['frames_url']}&count={run['frame_count']}")
    assert answer.status_code == 200
    frames: list[dict[str, Any]] = answer.json()["frames"]
    assert len(frames) == run["frame_count"]
    return frames


def test_one_gradient_by_hand_equals_the_hand_computation(client: TestClient) -> None:
    answer = client.post("/api/backprop/example", json={})
    assert answer.status_code == 200
    data = answer.json()
    # forward, by hand: the textbook feature map, bias -2.5, ReLU, flatten, dense
    sums = np.array([[sum(FIVE[r + i, c + j] * CROSS[i, j] for i in range(3) for j in range(3)) for c in range(3)]
                     for r in range(3)])
    assert_array_equal(sums, [[4, 3, 4], [2, 4, 3], [2, 3, 4]])
    a = np.maximum(sums - 2.5, 0).ravel()
    logits = [float(a @ PLUS), float(a @ HALF_X)]
    assert logits == [1.5, 3.0]
    p1 = 1 / (1 + math.exp(-1.5))
    assert data["model_id"] is None and data["label"] == 1 and data["predicted"] == 1
    assert_allclose(data["logits"], logits, rtol=1e-15)
    assert_allclose(data["probabilities"], [1 - p1, p1], rtol=1e-14)
    assert data["loss"] == pytest.approx(-math.log(p1), rel=1e-14)
    assert_allclose(data["grad_logits"], [1 - p1, p1 - 1], rtol=1e-14)
    assert_array_equal(data["digit"], FIVE)
    # backward, by hand: dL/da = W g, through ReLU (zero where the sum was below 2.5), then the correlation
    g = np.array([1 - p1, p1 - 1])
    grad_a = np.stack([PLUS, HALF_X], 1) @ g
    grad_pre = (grad_a * (a > 0)).reshape(3, 3)
    grad_w = np.array([[np.sum(FIVE[i:i + 3, j:j + 3] * grad_pre) for j in range(3)] for i in range(3)])
    conv, flatten, dense = data["layers"]
    assert [conv["type"], flatten["type"], dense["type"]] == ["conv2d", "flatten", "dense"]
    assert_allclose(dense["outer_product"]["grad_kernel"], np.outer(a, g), rtol=1e-14, atol=1e-17)
    assert_allclose(dense["grad_preactivation"], g, rtol=1e-14)
    assert_allclose(flatten["grad_output"], grad_a, rtol=1e-14, atol=1e-17)
    assert_allclose(conv["grad_preactivation"], [grad_pre], rtol=1e-14, atol=1e-17)
    assert_allclose(conv["weight_gradient"]["values"], grad_w, rtol=1e-12, atol=1e-15)
    step = data["step"]
    assert (step["layer"], step["filter"], step["channel"], step["learning_rate"]) == (0, 0, 0, 0.1)
    assert_array_equal(step["w_before"], CROSS)
    assert_allclose(step["w_after"], CROSS - 0.1 * grad_w, rtol=1e-12, atol=1e-15)


def test_the_examples_frames_equal_cnn_core_grad(client: TestClient) -> None:
    data = client.post("/api/backprop/example", json={}).json()
    conv = data["layers"][0]
    grad_pre = np.array(conv["grad_preactivation"])
    grad_x, grad_weight, grad_bias = conv2d_backward(grad_pre, FIVE[None], CROSS[None, None])
    assert conv["grad_norms"]["bias"] == pytest.approx(abs(grad_bias[0]), rel=1e-14)
    run = conv["weight_gradient"]["run"]
    assert (run["op"], run["frame_count"], run["output_shape"]) == ("conv2d", 9, [1, 3, 3])
    described = client.get(run["url"]).json()
    assert_array_equal(described["weight"], grad_pre[None])  # dL/dY is the kernel
    frames = _frames(client, run)
    for k, frame in enumerate(frames):
        i, j = divmod(k, 3)
        assert frame["output_index"] == [0, i, j]
        assert_array_equal(frame["patch"], [FIVE[i:i + 3, j:j + 3]])  # the input under dL/dY
        assert_allclose(frame["products"], [FIVE[i:i + 3, j:j + 3] * grad_pre[0]], rtol=1e-15)
        assert frame["value"] == pytest.approx(grad_weight[0, 0, i, j], rel=1e-12, abs=1e-15)
    assert_allclose(_npy(client, run["result_npy_url"])[0], grad_weight[0, 0], rtol=1e-12, atol=1e-15)
    scatter = conv["input_gradient"]["run"]
    assert (scatter["op"], scatter["frame_count"], scatter["output_shape"]) == ("conv_transpose2d", 9, [1, 5, 5])
    stamps = np.zeros((5, 5))
    for frame in _frames(client, scatter):
        r, c = frame["input_index"]
        assert_allclose(frame["contribution"], [grad_pre[0, r, c] * CROSS], rtol=1e-15)
        stamps[r:r + 3, c:c + 3] += frame["contribution"][0]
    assert_allclose(stamps, grad_x[0], rtol=1e-12, atol=1e-15)
    assert_allclose(_npy(client, scatter["result_npy_url"]), grad_x, rtol=1e-12, atol=1e-15)


def test_a_pooled_example_routes_to_the_winners_and_steps_a_chosen_kernel(client: TestClient) -> None:
    answer = client.post("/api/backprop/example", json=POOLED)
    assert answer.status_code == 200
    data = answer.json()
    first, pool, second = data["layers"][:3]
    x = np.array(POOLED["input"], float)[None]
    after_conv = np.array(data["chain"]["layers"][0]["output_shape"])
    assert list(after_conv) == [2, 6, 6] and pool["input_shape"] == [2, 6, 6]
    routing = pool["routing"]
    pool_input = client.get(routing["run"]["url"]).json()
    assert pool_input["op"] == "max_pool2d"
    grad_output = np.array(routing["grad_output"])
    winners = np.array(routing["winners"])
    routed = np.zeros((6, 6))
    np.add.at(routed, (winners[..., 0], winners[..., 1]), grad_output)
    assert_allclose(routing["grad_input"], routed, rtol=1e-14, atol=1e-18)
    # the pool run's frames name the same winners
    for frame in _frames(client, routing["run"]):
        if frame["output_index"][0] == 0:
            assert frame["argmax"] == winners[frame["output_index"][1], frame["output_index"][2]].tolist()
    # dL/dW of the chosen kernel (layer 2, filter 1, channel 1): its run's result equals conv2d_backward's
    gradient = second["weight_gradient"]
    assert (gradient["filter"], gradient["channel"]) == (1, 1)
    result = _npy(client, gradient["run"]["result_npy_url"])[0]
    assert_allclose(result, gradient["values"], rtol=1e-12, atol=1e-15)
    assert_allclose(data["step"]["g"], gradient["values"], rtol=1e-14, atol=1e-18)
    assert_allclose(data["step"]["w_after"], np.array(data["step"]["w_before"]) - 0.5 * np.array(gradient["values"]),
                    rtol=1e-12, atol=1e-15)
    # the first conv (padding 1): dL/dX equals conv2d_backward of its dL/dY with the seeded weights
    weight = np.array(client.get(first["weight_gradient"]["run"]["url"]).json()["weight"])
    assert weight.shape[-2:] == (6, 6)  # dL/dY of the first conv is the correlation's kernel
    grad_y = np.array(first["grad_preactivation"])
    assert_array_equal(weight[0, 0], grad_y[0])
    scatter = client.get(first["input_gradient"]["run"]["url"]).json()
    kernels = np.array(scatter["weight"])  # (in, out, kh, kw) of the transposed run: the layer's (F, C, kh, kw)
    assert kernels.shape == (2, 1, 2, 2)
    grad_x, grad_w, _ = conv2d_backward(grad_y, x, kernels, 1, 1)
    assert first["input_gradient"]["crop"] is None  # padding 1 of a 2x2 kernel reads every padded pixel
    assert_allclose(_npy(client, first["input_gradient"]["run"]["result_npy_url"]), grad_x, rtol=1e-12, atol=1e-15)
    assert_allclose(first["weight_gradient"]["values"], grad_w[0, 0], rtol=1e-12, atol=1e-15)
    # the pool's dL/dX equals cnn_core.grad's, on the pool's input (the first conv's output, channel 0)
    region = client.get(f"/api/runs/{routing['run']['run_id']}/region?which=input&channel=0&top=0&left=0"
                        "&height=6&width=6")
    assert region.status_code == 200
    pool_input = np.array(region.json()["values"])
    assert_allclose(max_pool2d_backward(grad_output[None], pool_input[None], 2)[0], routing["grad_input"],
                    rtol=1e-14, atol=1e-18)


def test_a_forward_conv_of_the_example_is_the_textbook_map() -> None:
    assert_array_equal(conv2d(FIVE, CROSS[None, None]), [[[4, 3, 4], [2, 4, 3], [2, 3, 4]]])


@pytest.mark.parametrize(("body", "detail"), [
    ({"label": 2}, "label must be from 0 to 1 (the last layer has 2 units), got 2"),
    ({"label": -1}, "label: Input should be greater than or equal to 0 (got -1)"),
    ({"input": [[1.0] * 17] * 17}, "input must be at most 16x16 (every number is shown), got 17x17"),
    ({"input": [[1.0, 2.0], [3.0]]}, "input must be a non-empty rectangle of numbers (rows of equal length)"),
    ({"weights": [1, 2]}, "weights must be a list of 4 arrays (get_weights() order), got 2"),
    ({"weights": [[[1, 2], [3]], [1], [1], [1]]},
     "weights[0] must be a rectangular array of numbers (nested lists of equal length)"),
    ({"weights": [{"a": 1}, [1], [1], [1]]}, "weights[0] must be a number or nested lists of numbers, got dict"),
    ({"weights": [[[[[1, 0, 1], [0, 1, 0]]]], [0], [[0, 0]] * 9, [0, 0]]},
     "conv2d kernel must be a (1, 1, 3, 3) array of numbers, got (1, 1, 2, 3) (float64)"),
    ({"layers": [{"type": "flatten"}]}, "the last layer must be dense (the class scores), got flatten"),
    ({"layers": [{"type": "flatten"}, {"type": "dense", "units": 200}], "weights": None},
     "the example has 5,200 parameters; an example shows every number, so at most 1,024 are allowed"),
    ({"kernel": {"layer": 2}}, "kernel.layer must be the index of a conv2d layer (0), got 2"),
    ({"learning_rate": 0}, "learning_rate: Input should be greater than 0 (got 0)"),
    ({"digit": [[0]]}, "digit: Extra inputs are not permitted"),
])
def test_the_example_refuses_bad_requests_with_a_clear_detail(client: TestClient, body: dict[str, Any],
                                                             detail: str) -> None:
    answer = client.post("/api/backprop/example", json=body)
    assert (answer.status_code, answer.json()) == (422, {"detail": detail})


def test_the_example_is_in_openapi_with_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/api/backprop/example"]["post"]
    assert set(operation["responses"]) >= {"200", "422"}
    request = schema["components"]["schemas"]["ExampleBackpropRequest"]
    assert request["examples"][0] == {}
    for example in request["examples"]:
        assert client.post("/api/backprop/example", json=example).status_code == 200
