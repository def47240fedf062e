"""Exporting a single run keeps every option it was computed with; with PyTorch installed, the exported
code reproduces the run's result (the oracle), otherwise each option is checked in the code's text."""

from __future__ import annotations

import importlib.util
import io
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.testing import assert_allclose

MATRIX = (np.arange(42, dtype=float).reshape(6, 7) - 20).tolist()

CASES = [
    ({"op": "leaky_relu", "negative_slope": 0.3}, "nn.LeakyReLU(0.3)"),
    ({"op": "upsample", "scale_factor": 2, "mode": "bilinear", "align_corners": True}, "align_corners=True"),
    ({"op": "max_pool2d", "kernel_size": 2, "stride": 2, "dilation": 2, "ceil_mode": True},
     "nn.MaxPool2d((2, 2), stride=(2, 2), padding=(0, 0), dilation=(2, 2), ceil_mode=True)"),
    ({"op": "avg_pool2d", "kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
     "nn.AvgPool2d((3, 3), stride=(2, 2), padding=(1, 1), count_include_pad=False)"),
]


def export(client: TestClient, operation: dict[str, Any], framework: str) -> tuple[str, np.ndarray[Any, Any]]:
    run = client.post("/api/run", json={"source": {"matrix": MATRIX}, "operation": operation}).json()
    result = np.load(io.BytesIO(client.get(run["result_npy_url"]).content))
    response = client.get(f"/api/runs/{run['run_id']}/export?framework={framework}")
    assert response.status_code == 200, response.text
    return response.text, result


@pytest.mark.parametrize(("operation", "expected"), CASES, ids=[case[0]["op"] for case in CASES])
def test_pytorch_export_of_a_run_keeps_its_options(client: TestClient, operation: dict[str, Any],
                                                   expected: str) -> None:
    code, result = export(client, operation, "pytorch")
    assert expected in code
    if importlib.util.find_spec("torch") is None:
        return  # CI has no PyTorch: the text is the check
    namespace: dict[str, Any] = {}
    exec(compile(code, "exported", "exec"), namespace)
    assert_allclose(namespace["outputs"][-1].reshape(result.shape), result, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("operation", "expected"), [
    ({"op": "leaky_relu", "negative_slope": 0.3}, "layers.LeakyReLU(negative_slope=0.3)"),
    ({"op": "max_pool2d", "kernel_size": 3, "stride": 2, "padding": 1},
     "keras.ops.pad(t, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=-np.inf)"),
    ({"op": "avg_pool2d", "kernel_size": 3, "stride": 2, "padding": 1},
     "keras.ops.pad(t, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=0.0)"),
    ({"op": "conv_transpose2d", "stride": 2, "output_padding": 1, "dilation": 2},
     "strides=(2, 2), padding='valid', output_padding=(1, 1), dilation_rate=(2, 2)"),
], ids=["leaky_relu", "max_pool2d", "avg_pool2d", "conv_transpose2d"])
def test_keras_export_of_a_run_keeps_its_options(client: TestClient, operation: dict[str, Any],
                                                 expected: str) -> None:
    code, _ = export(client, operation, "keras")
    assert expected in code


def test_options_keras_cannot_express_are_refused_by_name(client: TestClient) -> None:
    run = client.post("/api/run", json={"source": {"matrix": MATRIX},
                                        "operation": {"op": "max_pool2d", "ceil_mode": True}}).json()
    response = client.get(f"/api/runs/{run['run_id']}/export?framework=keras")
    assert response.status_code == 422
    assert response.json() == {"detail": "max_pool2d: Keras pools have no ceil_mode=True; export to PyTorch instead"}
