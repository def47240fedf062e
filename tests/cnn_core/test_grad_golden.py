"""Every gradient against torch.autograd, recorded in tests/fixtures/grad_golden.npz (no torch needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cnn_core import grad

GOLDEN = np.load(Path(__file__).parents[1] / "fixtures" / "grad_golden.npz")
DATA = GOLDEN["data"]
CASES: list[dict[str, Any]] = json.loads(GOLDEN["cases"].tobytes())
FUNCTIONS = {
    "conv2d_backward", "conv_transpose2d_backward", "max_pool2d_backward", "avg_pool2d_backward",
    "sum_pool2d_backward", "upsample_backward", "relu_backward", "leaky_relu_backward", "sigmoid_backward",
    "tanh_backward", "linear_backward", "cross_entropy_backward",
}


def _array(ref: list[Any]) -> np.ndarray:
    offset, shape = ref
    return DATA[offset:offset + int(np.prod(shape))].reshape(shape)


def _tuples(args: dict[str, Any]) -> dict[str, Any]:
    return {key: tuple(value) if isinstance(value, list) else value for key, value in args.items()}


def _run(case: dict[str, Any], dtype: type) -> tuple[np.ndarray, ...]:
    inputs = {key: _array(ref) for key, ref in case["inputs"].items()}
    inputs = {key: value.astype(np.int64 if key == "labels" else dtype) for key, value in inputs.items()}
    result = getattr(grad, case["fn"])(**inputs, **_tuples(case["args"]))
    return result if isinstance(result, tuple) else (result,)


def test_grad_fixture_covers_every_function() -> None:
    assert {case["fn"] for case in CASES} == FUNCTIONS == set(grad.__all__)
    conv = [case["args"] for case in CASES if case["fn"] == "conv2d_backward"]
    assert {args["padding_mode"] for args in conv} == {"zeros", "reflect", "replicate", "circular"}
    assert {str(args["padding"]) for args in conv} >= {"0", "1", "[1, 2]", "valid", "same", "full"}
    ranks = {len(_array(case["inputs"]["x"]).shape) for case in CASES if case["fn"].endswith("pool2d_backward")}
    assert ranks == {2, 3, 4}
    assert len(CASES) > 1000


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['name']}-{c['fn']}")
def test_grad_matches_torch_float64(case: dict[str, Any]) -> None:
    results = _run(case, np.float64)
    assert len(results) == len(case["expected"])
    for result, (name, ref) in zip(results, case["expected"].items(), strict=True):
        expected = _array(ref)
        assert result.dtype == np.float64, name
        assert result.shape == expected.shape, name
        np.testing.assert_allclose(result, expected, rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("case", CASES[::9], ids=lambda c: f"{c['name']}-{c['fn']}")
def test_grad_matches_torch_float32(case: dict[str, Any]) -> None:
    for result, ref in zip(_run(case, np.float32), case["expected"].values(), strict=True):
        assert result.dtype == np.float32
        np.testing.assert_allclose(result, _array(ref), rtol=1e-4, atol=1e-4)
