"""Backprop of one example: the chain's own gradients, and the conv gradients as steppable frames."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from cnn_core import grad, ops
from cnn_core.backprop import (
    backprop_steps,
    input_gradient_scatter,
    max_pool_routing,
    weight_gradient_correlation,
)
from cnn_core.chain import Chain, pretrained
from cnn_core.datasets import load_digits
from cnn_core.errors import ArgumentError, ArgumentTypeError

SMALL: list[dict[str, Any]] = [
         {"type": "conv2d", "filters": 3, "kernel_size": 3, "padding": "same", "activation": "relu"},
         {"type": "max_pool2d", "pool_size": 2, "padding": "same"},
         {"type": "conv2d", "filters": 4, "kernel_size": 2, "strides": 2, "activation": "tanh"},
         {"type": "batch_norm"},
         {"type": "dropout", "rate": 0.5},
         {"type": "flatten"},
         {"type": "dense", "units": 5, "activation": "softmax"}]


def _example(shape: tuple[int, ...] = (2, 9, 9), seed: int = 3) -> Any:
    return np.random.default_rng(seed).normal(size=shape)


def test_backprop_steps_equal_loss_and_gradients_in_inference_mode() -> None:
    chain = Chain(SMALL, seed=1)
    x = _example()
    steps = backprop_steps(chain, x, 2)
    loss, grads = chain.loss_and_gradients(x[None], np.array([2]), training=False)
    assert steps.loss == loss
    assert len(steps.gradients()) == len(grads) == 8
    for mine, theirs in zip(steps.gradients(), grads, strict=True):
        assert_array_equal(mine, theirs)


def test_backprop_steps_logits_gradient_is_softmax_minus_one_hot() -> None:
    steps = backprop_steps(Chain(SMALL, seed=1), _example(), 4)
    one_hot = np.eye(5)[4]
    assert_allclose(steps.grad_logits, steps.probabilities - one_hot, rtol=1e-12, atol=1e-15)
    assert abs(steps.grad_logits.sum()) < 1e-12
    assert steps.loss == pytest.approx(-np.log(steps.probabilities[4]), rel=1e-12)
    assert steps.layers[-1].output.shape == (5,)
    assert_array_equal(steps.layers[-1].grad_output, steps.grad_logits)


def test_backprop_steps_chain_each_layer_input_gradient_into_the_previous_output_gradient() -> None:
    steps = backprop_steps(Chain(SMALL, seed=1), _example(), 0)
    assert [step.kind for step in steps.layers] == [spec["type"] for spec in SMALL]
    for before, after in zip(steps.layers, steps.layers[1:], strict=False):
        assert_array_equal(after.x, before.output)
        assert_array_equal(after.grad_input.shape, before.grad_output.shape)
        assert_array_equal(after.grad_input, before.grad_output)
    assert steps.layers[0].grad_input.shape == (2, 9, 9)


def test_backprop_steps_preactivation_gradient_goes_through_the_activation() -> None:
    chain = Chain(SMALL, seed=1)
    steps = backprop_steps(chain, _example(), 1)
    conv = steps.layers[2]  # tanh: dL/dpre = dL/dY * (1 - tanh^2)
    pre = ops.conv2d(conv.x, chain.layers[2].weight, chain.layers[2].bias, stride=2)
    assert_allclose(conv.grad_preactivation, grad.tanh_backward(conv.grad_output, pre), rtol=1e-12, atol=1e-15)
    assert_allclose(conv.grads["bias"], conv.grad_preactivation.sum(axis=(1, 2)), rtol=1e-12, atol=1e-15)


def test_backprop_steps_dense_kernel_gradient_is_the_outer_product() -> None:
    steps = backprop_steps(Chain(SMALL, seed=1), _example(), 3)
    dense = steps.layers[-1]
    assert_allclose(dense.grads["kernel"], np.outer(dense.x, dense.grad_preactivation), rtol=1e-12, atol=1e-15)


def test_backprop_steps_on_the_pretrained_network_and_a_real_digit() -> None:
    chain = pretrained("mnist")
    copy = Chain(chain.specs)
    copy.build((1, 28, 28))
    copy.set_weights([w.astype(np.float64) for w in chain.get_weights()])
    _, (x_test, y_test) = load_digits()
    x, label = x_test[0].astype(np.float64), int(y_test[0])
    steps = backprop_steps(copy, x, label)
    loss, grads = copy.loss_and_gradients(x[None], np.array([label]), training=False)
    assert steps.loss == loss and np.isfinite(loss)
    for mine, theirs in zip(steps.gradients(), grads, strict=True):
        assert_array_equal(mine, theirs)
    assert int(steps.probabilities.argmax()) == label


CASES = [(stride, padding, dilation, kernel, size)
         for stride in (1, 2) for padding in (0, 1, "same") for dilation in (1, 2) for kernel in (3, 4)
         for size in (8, 9)]


@pytest.mark.parametrize(("stride", "padding", "dilation", "kernel", "size"), CASES)
def test_weight_and_input_gradient_frames_equal_conv2d_backward(stride: int, padding: Any, dilation: int,
                                                                kernel: int, size: int) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, size, size + 1))
    weight = rng.normal(size=(3, 2, kernel, kernel))
    out = ops.conv2d(x, weight, stride=stride, padding=padding, dilation=dilation)
    g = rng.normal(size=out.shape)
    grad_x, grad_weight, _ = grad.conv2d_backward(g, x, weight, stride, padding, dilation)
    for f in range(3):
        for c in range(2):
            corr = weight_gradient_correlation(x, g, f, c, kernel, stride, padding, dilation)
            frames = corr.frames()
            assert frames.output_shape == (kernel, kernel)
            assert_allclose(frames.result(), grad_weight[f, c], rtol=1e-9, atol=1e-12)
            assert_array_equal(corr.kernel, g[f])
    scatter = input_gradient_scatter(g, weight, (size, size + 1), stride, padding, dilation)
    assert_allclose(scatter.grad_input(scatter.frames().result()), grad_x, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("stride", "padding", "size"), [(1, 0, 8), (1, 1, 8), (1, "same", 9), (2, 1, 9)])
def test_gradient_frames_take_the_layer_input_and_padding_when_symmetric(stride: int, padding: Any,
                                                                          size: int) -> None:
    x = 10.0 * np.arange(size)[:, None] + np.arange(size)  # each value is 10*row + col
    g = np.ones((1, *ops.conv2d(x, np.ones((3, 3)), stride=stride, padding=padding).shape))
    corr = weight_gradient_correlation(x[None], g, 0, 0, 3, stride, padding)
    pad = 1 if padding in (1, "same") else 0
    assert (corr.padded, corr.padding, corr.dilation, corr.stride) == (False, (pad, pad), (stride, stride), (1, 1))
    assert_array_equal(corr.image, x)
    scatter = input_gradient_scatter(g, np.ones((1, 1, 3, 3)), (size, size), stride, padding)
    assert (scatter.crop, scatter.padding) == (None, (pad, pad))


def test_weight_gradient_correlation_pads_by_hand_when_same_is_asymmetric() -> None:
    x = 10.0 * np.arange(4)[:, None] + np.arange(4)
    g = np.ones((1, 2, 2))  # "same" with stride 2 on 4 pixels, kernel 3: pads 0 before and 1 after
    corr = weight_gradient_correlation(x[None], g, 0, 0, 3, 2, "same")
    assert (corr.padded, corr.padding) == (True, (0, 0))
    assert_array_equal(corr.image, np.pad(x, ((0, 1), (0, 1))))
    scatter = input_gradient_scatter(g, np.ones((1, 1, 3, 3)), (4, 4), 2, "same")
    assert (scatter.crop, scatter.padding) == ((0, 0), (0, 0))


def test_max_pool_routing_sends_each_window_gradient_to_its_winner() -> None:
    x = 10.0 * np.arange(4)[:, None] + np.arange(5)  # the maximum of a window is its bottom-right tap
    g = np.arange(1.0, 7.0).reshape(1, 2, 3)
    winners, grad_x = max_pool_routing(x[None], g, 2, padding="same")
    assert_array_equal(winners[0, :, :, 0], [[1, 1, 1], [3, 3, 3]])
    assert_array_equal(winners[0, :, :, 1], [[1, 3, 4], [1, 3, 4]])
    scattered = np.zeros_like(x)
    np.add.at(scattered, (winners[0, ..., 0], winners[0, ..., 1]), g[0])
    assert_array_equal(grad_x[0], scattered)


def test_backprop_steps_refuse_bad_input() -> None:
    chain = Chain(SMALL, seed=1)
    with pytest.raises(ArgumentError, match=r"x must be one \(C, H, W\) example of numbers, got shape \(9, 9\)"):
        backprop_steps(chain, np.zeros((9, 9)), 0)
    with pytest.raises(ArgumentError, match="x must contain only finite numbers"):
        backprop_steps(chain, np.full((2, 9, 9), np.nan), 0)
    with pytest.raises(ArgumentTypeError, match=r"label must be an integer class, got 1\.5"):
        backprop_steps(chain, np.zeros((2, 9, 9)), 1.5)
    with pytest.raises(ArgumentError, match=r"label must be in \[0, 4\] \(one of the 5 classes\), got 5"):
        backprop_steps(chain, np.zeros((2, 9, 9)), 5)
    with pytest.raises(ArgumentError, match="the last layer must be dense"):
        backprop_steps(Chain([{"type": "conv2d", "filters": 1}]), np.zeros((1, 5, 5)), 0)


def test_gradient_recipes_refuse_mismatched_shapes() -> None:
    x, g = np.zeros((2, 5, 5)), np.zeros((3, 3, 3))
    with pytest.raises(ArgumentError, match=r"grad_output must be \(F, 3, 3\) for this layer, got \(3, 4, 4\)"):
        weight_gradient_correlation(x, np.zeros((3, 4, 4)), 0, 0, 3)
    with pytest.raises(ArgumentError, match="f must be an integer from 0 to 2, got 3"):
        weight_gradient_correlation(x, g, 3, 0, 3)
    with pytest.raises(ArgumentError, match="c must be an integer from 0 to 1, got -1"):
        weight_gradient_correlation(x, g, 0, -1, 3)
    with pytest.raises(ArgumentError, match=r"x must be a \(C, H, W\) array of numbers, got shape \(5, 5\)"):
        weight_gradient_correlation(np.zeros((5, 5)), g, 0, 0, 3)
    with pytest.raises(ArgumentError, match=r"weight must be \(F, C, kh, kw\) with F = 3, got shape \(2, 2, 3, 3\)"):
        input_gradient_scatter(g, np.zeros((2, 2, 3, 3)), (5, 5))
    with pytest.raises(ArgumentError, match=r"grad_output must be \(F, 5, 5\) for this layer, got \(3, 3, 3\)"):
        input_gradient_scatter(g, np.zeros((3, 2, 3, 3)), (5, 5), padding=1)
