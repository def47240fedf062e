"""Output-size formulas: PyTorch's documented formulas, the textbook networks, and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_core import conv2d, conv_output_size, conv_transpose_output_size, max_pool2d, pool_output_size


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
    (lambda: conv_output_size(2, 5), r"kernel_size 5 \(spanning 5 with dilation 1\) must not be larger"),
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
