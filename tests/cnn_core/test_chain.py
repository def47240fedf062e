"""cnn_core.chain: Keras-style shapes and parameter counts, and every layer equal to the single op."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from cnn_core import conv2d, conv_transpose2d, get_kernel, max_pool2d, relu, upsample
from cnn_core.chain import Chain

MNIST = [
    {"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"},
    {"type": "max_pool2d", "pool_size": 2},
    {"type": "conv2d", "filters": 64, "kernel_size": 3, "activation": "relu"},
    {"type": "max_pool2d", "pool_size": 2},
    {"type": "conv2d", "filters": 64, "kernel_size": 3, "activation": "relu"},
    {"type": "flatten"},
    {"type": "dense", "units": 64, "activation": "relu"},
    {"type": "dense", "units": 10, "activation": "softmax"},
]


def test_mnist_summary_matches_keras() -> None:
    rows = Chain(MNIST).summary((1, 28, 28))
    assert [(row["output_shape"], row["params"]) for row in rows] == [
        ((32, 26, 26), 320), ((32, 13, 13), 0), ((64, 11, 11), 18_496), ((64, 5, 5), 0), ((64, 3, 3), 36_928),
        ((576,), 0), ((64,), 36_928), ((10,), 650)]
    assert [row["layer"] for row in rows][:3] == ["conv2d", "max_pool2d", "conv2d_1"]
    assert Chain(MNIST).total_params((1, 28, 28)) == 93_322


def test_mnist_run_shapes_and_softmax() -> None:
    outputs = Chain(MNIST, seed=3).run(np.random.default_rng(0).random((28, 28)))
    assert [o.shape for o in outputs] == [(32, 26, 26), (32, 13, 13), (64, 11, 11), (64, 5, 5), (64, 3, 3), (576,),
                                          (64,), (10,)]
    assert outputs[-1].sum() == pytest.approx(1.0)
    assert (outputs[0] >= 0).all()


def test_each_layer_equals_the_single_op_on_the_previous_output() -> None:
    chain = Chain([
        {"type": "conv2d", "filters": ["sobel_x", "sobel_y"], "padding": 1, "use_bias": False},
        {"type": "activation", "activation": "relu"},
        {"type": "max_pool2d", "pool_size": 2},
        {"type": "upsample", "size": 2, "interpolation": "bilinear"},
        {"type": "conv_transpose2d", "filters": 1, "kernel_size": 2, "strides": 2},
    ])
    x = np.random.default_rng(1).random((3, 8, 10))
    outputs = chain.run(x)
    weight = np.stack([np.repeat(get_kernel(name)[None], 3, axis=0) for name in ("sobel_x", "sobel_y")])
    assert_allclose(outputs[0], conv2d(x, weight, padding=1), rtol=1e-12)
    assert_array_equal(outputs[1], relu(outputs[0]))
    assert_array_equal(outputs[2], max_pool2d(outputs[1], 2))
    assert_allclose(outputs[3], upsample(outputs[2], 2, "bilinear"), rtol=1e-12)
    layer = chain.layers[4]
    assert_allclose(outputs[4], conv_transpose2d(outputs[3], layer.weight, layer.bias, stride=2), rtol=1e-12)
    assert [row["output_shape"] for row in chain.summary((3, 8, 10))] == [o.shape for o in outputs]


def test_six_by_six_round_trip_shapes() -> None:
    chain = Chain([
        {"type": "conv2d", "filters": [[[1, 0, -1], [1, 0, -1], [1, 0, -1]]], "use_bias": False},
        {"type": "max_pool2d", "pool_size": 2},
        {"type": "upsample", "size": 3},
    ])
    six = np.array([[3, 0, 1, 2, 7, 4], [1, 5, 8, 9, 3, 1], [2, 7, 2, 5, 1, 3], [0, 1, 3, 1, 7, 8],
                    [4, 2, 1, 6, 2, 8], [2, 4, 5, 2, 3, 9]], dtype=float)
    outputs = chain.run(six)
    assert [o.shape for o in outputs] == [(1, 4, 4), (1, 2, 2), (1, 6, 6)]
    assert_array_equal(outputs[1][0], [[-2, 8], [0, -3]])
    back = Chain([{"type": "conv_transpose2d", "filters": 1, "kernel_size": 3, "strides": 3}]).summary((1, 2, 2))
    assert back == [{"layer": "conv_transpose2d", "output_shape": (1, 6, 6), "params": 10}]


def test_same_seed_same_numbers() -> None:
    x = np.random.default_rng(2).random((1, 9, 9))
    first = Chain(MNIST[:2], seed=7).run(x)[0]
    assert_array_equal(first, Chain(MNIST[:2], seed=7).run(x)[0])
    assert not np.array_equal(first, Chain(MNIST[:2], seed=8).run(x)[0])


@pytest.mark.parametrize(("layers", "shape", "message"), [
    ([], (1, 4, 4), "layers must be a non-empty list of dicts"),
    ([{"type": "fft"}], (1, 4, 4), "layer 1: type must be one of conv2d, activation"),
    ([{"type": "conv2d", "activation": "gelu"}], (1, 4, 4), "layer 1: activation must be one of linear, relu"),
    ([{"type": "dense", "units": 3}], (1, 4, 4), r"layer 1 \(dense\): dense needs a flat input"),
    ([{"type": "flatten"}, {"type": "max_pool2d"}], (1, 4, 4),
     r"layer 2 \(max_pool2d\): max_pool2d needs a \(C, H, W\)"),
    ([{"type": "conv2d", "kernel_size": 7}], (1, 4, 4),
     r"layer 1 \(conv2d\): kernel must not be larger than the padded input"),
    ([{"type": "conv2d", "filters": 0}], (1, 4, 4), "filters must be a positive integer or a list of kernels"),
    ([{"type": "max_pool2d", "pool_size": [2]}], (1, 4, 4),
     r"layer 1 \(max_pool2d\): pool_size must be an int or a \(rows, cols\) pair of ints, got \(2,\)"),
    ([{"type": "conv2d", "filters": 10**6, "kernel_size": 5}], (3, 9, 9),
     "would be 75,000,000 weights; at most 20,000,000"),
    ([{"type": "conv2d", "filters": 2, "bias": [1, 2, 3]}], (1, 4, 4),
     "bias must have 2 values .one per filter., got 3"),
    ([{"type": "flatten"}, {"type": "dense", "units": 100}], (3, 1024, 1024),
     r"layer 2 \(dense\): dense would need 314,572,800 weights \(3,145,728 inputs x 100 units\); at most 20,000,000"),
])
def test_chain_errors_name_the_layer(layers: list[dict[str, object]], shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Chain(layers).summary(shape)


def test_magnitude_combines_sobel_maps_into_edge_strength() -> None:
    x = np.random.default_rng(6).random((1, 9, 9))
    outputs = Chain([{"type": "conv2d", "filters": ["sobel_x", "sobel_y"], "padding": 1, "use_bias": False},
                     {"type": "magnitude"}]).run(x)
    gx, gy = conv2d(x, get_kernel("sobel_x"), padding=1)[0], conv2d(x, get_kernel("sobel_y"), padding=1)[0]
    assert outputs[1].shape == (1, 9, 9)
    assert_allclose(outputs[1][0], np.hypot(gx, gy), rtol=1e-12)
