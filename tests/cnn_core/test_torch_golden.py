"""Every op against PyTorch outputs recorded in tests/fixtures/torch_golden.npz (no torch needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cnn_core import ops

GOLDEN = np.load(Path(__file__).parents[1] / "fixtures" / "torch_golden.npz")
CASES: list[dict[str, Any]] = json.loads(GOLDEN["cases"].tobytes())


def _tuples(args: dict[str, Any]) -> dict[str, Any]:
    return {key: tuple(value) if isinstance(value, list) else value for key, value in args.items()}


def _run(case: dict[str, Any], dtype: type) -> np.ndarray:
    inputs = {key: GOLDEN[ref].astype(dtype) for key, ref in case["inputs"].items()}
    return getattr(ops, case["op"])(**inputs, **_tuples(case["args"]))


def test_golden_fixture_covers_every_op() -> None:
    assert {case["op"] for case in CASES} == {
        "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "sum_pool2d", "upsample",
        "relu", "leaky_relu", "sigmoid", "tanh"}
    assert len(CASES) > 1000


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['name']}-{c['op']}")
def test_op_matches_pytorch_float64(case: dict[str, Any]) -> None:
    expected = GOLDEN[f"{case['name']}_out"]
    result = _run(case, np.float64)
    assert result.dtype == np.float64
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES[::7], ids=lambda c: f"{c['name']}-{c['op']}")
def test_op_matches_pytorch_float32(case: dict[str, Any]) -> None:
    expected = GOLDEN[f"{case['name']}_out"]
    result = _run(case, np.float32)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-4)
