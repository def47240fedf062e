"""Output-size formulas: PyTorch's documented formulas, the textbook networks, and their errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cnn_core import (
    avg_pool2d,
    avg_pool2d_frames,
    conv2d,
    conv_output_size,
    conv_transpose_output_size,
    max_pool2d,
    max_pool2d_frames,
    pool_output_size,
)
from cnn_core.geometry import AxisGeometry, conv_axis, pool_axis

POOL_SIZES = json.loads((Path(__file__).parents[1] / "fixtures" / "pool_sizes_golden.json").read_text())
POOL_CASES: list[dict[str, Any]] = [dict(zip(POOL_SIZES["columns"], row, strict=True)) for row in POOL_SIZES["rows"]]
REFUSALS = {"padding": "padding must be at most half the kernel size",
            "size": "kernel must not be larger than the padded input"}


def test_conv_output_size_matches_formula_and_op() -> None:
    for n in range(3, 12):
        for k in (1, 2, 3, 5):
            for s in (1, 2, 3):
                for p in (0, 1, 2):
                    for d in (1, 2):
                        span = d * (k - 1) + 1
                        if span > n + 2 * p:
                            continue
                        size = conv_output_size(n, k, s, p, d)
                        assert size == (n + 2 * p - d * (k - 1) - 1) // s + 1
                        assert conv2d(np.zeros((n, 1)), np.zeros((k, 1)), stride=(s, 1), padding=(p, 0),
                                      dilation=(d, 1)).shape[0] == size


def test_conv_output_size_with_padding_strings() -> None:
    assert conv_output_size(224, 3, stride=2, padding="same") == 112
    assert conv_output_size(7, 3, stride=2, padding="same") == 4
    assert conv_output_size(5, 3, padding="full") == 7
    assert conv_output_size(5, 3, padding="valid") == 3
    assert conv_output_size(224, 3, stride=2, padding=1) == 112


def test_conv_transpose_output_size_formula() -> None:
    assert conv_transpose_output_size(3, 3, stride=2) == 7
    assert conv_transpose_output_size(4, 3, stride=2, padding=1, output_padding=1) == 8
    assert conv_transpose_output_size(2, 3, stride=3) == 6
    assert conv_transpose_output_size(5, 3, dilation=2, stride=1) == 9


def test_pool_output_size_ceil_mode_rules() -> None:
    assert pool_output_size(5, 2) == 2
    assert pool_output_size(5, 2, ceil_mode=True) == 3
    # the last window would start in the right padding: PyTorch drops it
    assert pool_output_size(5, 2, stride=2, padding=1, ceil_mode=True) == 3
    assert pool_output_size(4, 2, stride=2, padding=1, ceil_mode=True) == 3
    assert pool_output_size(6, 3, stride=2, padding=1, ceil_mode=True) == 4
    assert pool_output_size(10, 3, stride=2, padding="same") == 5


def test_mnist_network_shapes_and_parameter_counts() -> None:
    """The classic Keras MNIST convnet: 28x28x1 -> ... -> 93,322 parameters."""
    size, channels, total, rows = 28, 1, 0, []
    for layer, filters in (("conv", 32), ("pool", None), ("conv", 64), ("pool", None), ("conv", 64)):
        if layer == "conv":
            params = filters * (channels * 3 * 3 + 1)
            size, channels = conv_output_size(size, 3), filters
        else:
            params, size = 0, pool_output_size(size, 2)
        total += params
        rows.append((size, size, channels, params))
    assert rows == [(26, 26, 32, 320), (13, 13, 32, 0), (11, 11, 64, 18_496), (5, 5, 64, 0),
                    (3, 3, 64, 36_928)]
    flat = size * size * channels
    total += flat * 64 + 64 + 64 * 10 + 10  # Flatten -> Dense 64 -> Dense 10
    assert flat == 576
    assert total == 93_322
    feature = conv2d(np.zeros((1, 28, 28)), np.zeros((32, 1, 3, 3)))
    assert max_pool2d(feature, 2).shape == (32, 13, 13)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: conv_output_size(0, 3), "n must be a positive integer, got 0"),
    (lambda: conv_output_size(5, 3, stride=0), "stride must be a positive integer, got 0"),
    (lambda: conv_output_size(5, 3, padding=-1), "padding must be >= 0, got -1"),
    (lambda: conv_output_size(5, 3, dilation=0), "dilation must be a positive integer, got 0"),
    (lambda: conv_output_size(2, 5), r"kernel must not be larger than the padded input: the kernel spans 5 "
     r"pixels \(5 taps, dilation 1\) but the padded input has 2 \+ 0 = 2"),
    (lambda: pool_output_size(1, 3, stride=2, ceil_mode=True),
     r"kernel must not be larger than the padded input plus stride - 1 = 1 \(ceil_mode\): the kernel spans 3 "
     r"pixels \(3 taps, dilation 1\) but the padded input has 1 \+ 0 = 1"),
    (lambda: pool_output_size(4, 3, dilation=3), "kernel must not be larger than the padded input: the kernel spans 7"),
    (lambda: conv_output_size(5, 3, padding="half"), "padding must be an int, a pair or one of"),
    (lambda: conv_transpose_output_size(3, 3, stride=2, output_padding=2),
     r"output_padding must be smaller than stride or dilation \(< 2\), got 2"),
    (lambda: conv_transpose_output_size(1, 1, padding=1), "padding 1 crops the whole output"),
    (lambda: pool_output_size(5, 2, padding=2), r"padding must be at most half the kernel size \(1"),
])
def test_geometry_errors_name_the_argument(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_geometry_rejects_non_integers() -> None:
    with pytest.raises(TypeError, match=r"stride must be an int, got 1\.5"):
        conv_output_size(5, 3, stride=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="n must be an int, got True"):
        pool_output_size(True, 2)


def test_axis_functions_return_pads_and_size() -> None:
    assert conv_axis(240, 3, stride=2, padding="same") == AxisGeometry(0, 1, 120)
    assert conv_axis(5, 3, padding="full") == AxisGeometry(2, 2, 7)
    assert pool_axis(5, 2, stride=2, padding=1, ceil_mode=True) == AxisGeometry(1, 1, 3, dropped_last=True)
    assert pool_axis(6, 3, stride=2, padding=1, ceil_mode=True) == AxisGeometry(1, 1, 4)


def test_pool_output_size_accepts_an_overhanging_ceil_mode_window() -> None:
    """PyTorch lets the last ceil_mode window overhang by up to stride - 1, even past a short input."""
    assert pool_output_size(2, 3, stride=2, ceil_mode=True) == 1
    assert pool_output_size(1, 2, stride=2, padding=1, dilation=3, ceil_mode=True) == 1
    assert max_pool2d(np.array([[1.0], [5.0]]), (3, 1), stride=(2, 1), ceil_mode=True).tolist() == [[5.0]]
    assert avg_pool2d(np.array([[1.0], [5.0]]), (3, 1), stride=(2, 1), ceil_mode=True).tolist() == [[3.0]]


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_pool_sizes_accept_and_refuse_exactly_as_pytorch(op: str) -> None:
    """Every case of pool_sizes_golden.json (PyTorch 2.13's answers on a grid, along one axis)."""
    cases = [case for case in POOL_CASES if case["op"] == op]
    assert len(cases) > 600
    for case in cases:
        args = (case["n"], case["kernel_size"], case["stride"], case["padding"], case["dilation"], case["ceil_mode"])
        if case["refused"]:
            with pytest.raises(ValueError, match=REFUSALS[case["refused"]]):
                pool_output_size(*args)
        else:
            assert pool_output_size(*args) == case["out"], case


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_pool_ops_and_frames_accept_and_refuse_exactly_as_pytorch(op: str) -> None:
    """The ops and frames agree with the sizes; a max window on padding only is refused (PyTorch: -inf)."""
    for case in (case for case in POOL_CASES if case["op"] == op):
        n, k, s, p, d = (case[key] for key in ("n", "kernel_size", "stride", "padding", "dilation"))
        x = np.arange(float(n)).reshape(n, 1) + 1
        if op == "max_pool2d":
            def run(x: Any = x, k: int = k, s: int = s, p: int = p, d: int = d, c: bool = case["ceil_mode"]) -> Any:
                return max_pool2d(x, (k, 1), (s, 1), (p, 0), (d, 1), c), max_pool2d_frames(x, (k, 1), (s, 1),
                                                                                          (p, 0), (d, 1), c)
        else:
            def run(x: Any = x, k: int = k, s: int = s, p: int = p, d: int = d, c: bool = case["ceil_mode"]) -> Any:
                return avg_pool2d(x, (k, 1), (s, 1), (p, 0), c), avg_pool2d_frames(x, (k, 1), (s, 1), (p, 0), c)
        if case["refused"]:
            with pytest.raises(ValueError, match=REFUSALS[case["refused"]]):
                run()
        elif case["minus_inf"]:
            with pytest.raises(ValueError, match="dilation must leave at least one input pixel in every pooling"):
                run()
        else:
            result, frames = run()
            assert result.shape == frames.output_shape == (case["out"], 1), case
            assert np.isfinite(result).all()


def test_max_pool2d_refuses_a_window_on_padding_only() -> None:
    with pytest.raises(ValueError, match=(
            r"dilation must leave at least one input pixel in every pooling window, got dilation 3 with padding "
            r"1: output row 0 reads rows \[-1, 2\] of an input 2 rows long, all padding \(PyTorch returns -inf")):
        max_pool2d(np.ones((2, 4)), 2, padding=1, dilation=3)
    with pytest.raises(ValueError, match="output column 0 reads columns"):
        max_pool2d_frames(np.ones((4, 2)), (1, 2), padding=(0, 1), dilation=3)
