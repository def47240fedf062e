"""POST /api/chains with "weights": "mnist-pretrained": the Layers tab's MNIST lesson runs the trained network."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.testing import assert_allclose

from app.config import Settings
from app.main import create_app
from cnn_core.chain import MNIST_LAYERS, pretrained


def drawn_seven() -> list[list[float]]:
    """The "7" the lesson draws (static/js/lessons.js digitSeven): a bar and a slanted stroke, ink 1 on 0."""
    rows = np.zeros((28, 28))
    rows[6:8, 6:22] = 1
    for r in range(8, 23):
        c = int(np.floor(21 - (r - 8) * 0.55 + 0.5))  # JavaScript's Math.round
        rows[r, c - 1:c + 1] = 1
    return rows.tolist()


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings())) as test_client:
        yield test_client


def _body(**changes: Any) -> dict[str, Any]:
    return {"source": {"matrix": drawn_seven()}, "layers": MNIST_LAYERS, "weights": "mnist-pretrained", **changes}


def test_the_pretrained_chain_predicts_as_the_trained_network(client: TestClient) -> None:
    answer = client.post("/api/chains", json=_body())
    assert answer.status_code == 200
    data = answer.json()
    digit = np.array(drawn_seven())[None, None]
    expected = pretrained("mnist").predict(digit)[0]
    dense = data["layers"][-1]
    assert dense["type"] == "dense" and dense["output_shape"] == [10]
    assert_allclose(dense["values"], expected, rtol=1e-6, atol=1e-7)
    assert int(np.argmax(dense["values"])) == 7 and dense["values"][7] > 0.9
    assert data["total_params"] == 93_322
    # a layer opened on the stage computes with the trained kernels
    run = client.post(data["layers"][0]["run_url"]).json()
    assert_allclose(run["weight"], pretrained("mnist").get_weights()[0], rtol=1e-6)
    # random weights (the default) give another answer on the same digit
    random = client.post("/api/chains", json=_body(weights=None)).json()
    assert random["chain_id"] != data["chain_id"]
    assert not np.allclose(random["layers"][-1]["values"], expected, atol=1e-3)


@pytest.mark.parametrize(("changes", "detail"), [
    ({"layers": [*MNIST_LAYERS[:-1], {"type": "dense", "units": 10}]},
     "weights 'mnist-pretrained' need exactly the layers of pretrained('mnist') (the Keras MNIST network: "),
    ({"source": {"matrix": (np.array(drawn_seven()) * 255).tolist()}},
     "weights 'mnist-pretrained' need a 28x28 one-channel digit with values in [0, 1] (ink bright, as MNIST's), got "
     "shape [1, 28, 28] with values [0, 255]"),
    ({"source": {"matrix": [[0.5] * 27] * 27}},
     "weights 'mnist-pretrained' need a 28x28 one-channel digit with values in [0, 1] (ink bright, as MNIST's), got "
     "shape [1, 27, 27] with values [0.5, 0.5]"),
    ({"weights": "imagenet"}, "weights: Input should be 'mnist-pretrained' (got 'imagenet')"),
])
def test_pretrained_weights_refuse_what_they_do_not_fit(client: TestClient, changes: dict[str, Any],
                                                        detail: str) -> None:
    answer = client.post("/api/chains", json=_body(**changes))
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(detail)


def test_the_weights_option_is_in_openapi(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ChainRequest"]
    assert "mnist-pretrained" in str(schema["properties"]["weights"])
    pretrained_example = schema["examples"][1]
    assert pretrained_example["weights"] == "mnist-pretrained"
    assert client.post("/api/chains", json=pretrained_example).status_code == 200
