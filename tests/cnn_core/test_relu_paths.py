"""relu's fast paths against numpy's own formulas, bit for bit.

cnn_core._dense.relu_into compares contiguous arrays with a row of zeros (numpy's loop against the number
0 is slower), and a training chain's conv2d and dense layers apply relu in place to their own result and
keep its mask for the backward pass. Both must give the numbers ``np.maximum(x, 0)`` and ``g * (x > 0)``
give, -0.0 included.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from cnn_core import _layers
from cnn_core._dense import RELU_ROW, activation_values, relu_into
from cnn_core._grad_dense import activation_gradient
from cnn_core.chain import Chain


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [7, RELU_ROW, RELU_ROW + 5, 3 * RELU_ROW - 1])
def test_relu_into_gives_numpys_maximum_with_zero_bit_for_bit(size: int, dtype: type) -> None:
    x: np.ndarray = np.random.default_rng(size).standard_normal(size).astype(dtype)
    x[::5], x[1::7] = -0.0, 0.0
    expected = np.maximum(x, dtype(0))
    assert same_bits(activation_values("relu", x), expected)
    in_place = x.copy()
    assert relu_into(in_place, in_place) is in_place
    assert same_bits(in_place, expected)


def test_relu_into_reads_a_non_contiguous_array() -> None:
    x = np.random.default_rng(3).standard_normal((90, 100))[:, ::3]
    assert same_bits(activation_values("relu", x), np.maximum(x, 0.0))


def test_relu_gradient_is_g_where_the_input_was_positive() -> None:
    x = np.array([-1.0, -0.0, 0.0, 2.0])
    assert_array_equal(activation_gradient("relu", np.full(4, 3.0), x), [0.0, 0.0, 0.0, 3.0])


@pytest.mark.parametrize("index", [0, 2])  # a conv2d layer, a dense layer
def test_layers_in_place_relu_matches_relu_of_the_layer_result(index: int) -> None:
    chain = Chain([{"type": "conv2d", "filters": 4, "kernel_size": 3, "activation": "relu"}, {"type": "flatten"},
                   {"type": "dense", "units": 5, "activation": "relu"}], seed=2)
    x = np.random.default_rng(4).standard_normal((3, 2, 6, 6)).astype(np.float32)
    chain.prepare_training(x.shape[1:], x.dtype)
    layer = chain.layers[index]
    inputs = x if index == 0 else np.random.default_rng(6).standard_normal((3, 64)).astype(np.float32)
    linear = _layers.Layer(layer.name, layer.kind, {**layer.options, "activation": None}, layer.arrays)
    before, linear_cache = _layers.forward(linear, inputs, True, None)
    g = np.random.default_rng(5).standard_normal(before.shape).astype(np.float32)
    expected_gx, expected_grads = _layers.backward(linear, g * (before > 0), linear_cache)
    for training in (True, False):
        after, cache = _layers.forward(layer, inputs, training, None)
        assert same_bits(after, np.maximum(before, np.float32(0)))
        assert (cache.positive is not None) == training
        gx, grads = _layers.backward(layer, g, cache)
        assert gx is not None and expected_gx is not None and same_bits(gx, expected_gx)
        for name, value in expected_grads.items():
            assert same_bits(grads[name], value)
