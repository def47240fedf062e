"""cnn_core.grad by hand: position-encoded arrays, the max-pool tie rule, finite differences, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from cnn_core import grad, ops


def _positions(rows: int, cols: int) -> np.ndarray:
    """Each value is 10*row + col."""
    return 10.0 * np.arange(rows)[:, None] + np.arange(cols)


def _one_hot(shape: tuple[int, ...], index: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape)
    out[index] = 1.0
    return out


@pytest.mark.parametrize(("stride", "padding", "index", "patch"), [
    (1, 0, (1, 2), (slice(1, 4), slice(2, 5))),
    (2, 0, (1, 0), (slice(2, 5), slice(0, 3))),
    (1, 1, (1, 1), (slice(0, 3), slice(0, 3))),
])
def test_conv2d_backward_one_hot_grad_output_picks_the_window(stride: int, padding: int, index: tuple[int, int],
                                                               patch: tuple[slice, slice]) -> None:
    x = _positions(5, 6)
    weight = _positions(3, 3)[None, None] + 100
    out_shape = ops.conv2d(x, weight, stride=stride, padding=padding).shape
    grad_x, grad_weight, grad_bias = grad.conv2d_backward(_one_hot(out_shape, (0, *index)), x, weight,
                                                          stride=stride, padding=padding)
    # grad_weight is the input window that made the output; grad_x is the weight laid on that window
    assert_array_equal(grad_weight[0, 0], x[patch])
    expected = np.zeros((5, 6))
    expected[patch] = weight[0, 0]
    assert_array_equal(grad_x, expected)
    assert_array_equal(grad_bias, [1.0])


def test_conv2d_backward_zero_padding_is_in_the_patch() -> None:
    x = _positions(4, 4)
    _, grad_weight, _ = grad.conv2d_backward(_one_hot((1, 4, 4), (0, 0, 0)), x, np.ones((1, 1, 3, 3)), padding=1)
    assert_array_equal(grad_weight[0, 0], [[0, 0, 0], [0, 0, 1], [0, 10, 11]])


@pytest.mark.parametrize(("mode", "counts"), [
    ("zeros", [1, 1, 1]),
    ("reflect", [1, 3, 1]),  # padded rows: x1 x0 x1 x2 x1
    ("replicate", [2, 1, 2]),  # x0 x0 x1 x2 x2
    ("circular", [2, 1, 2]),  # x2 x0 x1 x2 x0
])
def test_conv2d_backward_padding_mode_folds_the_border_back(mode: str, counts: list[int]) -> None:
    # a 1x1 kernel of 1 outputs the padded input itself: grad_x counts how often each pixel was copied
    grad_x, _, _ = grad.conv2d_backward(np.ones((1, 5, 5)), np.zeros((3, 3)), np.ones((1, 1, 1, 1)), padding=1,
                                        padding_mode=mode)
    assert_array_equal(grad_x, np.outer(counts, counts))


def test_conv_transpose2d_backward_one_hot_input_reads_its_footprint() -> None:
    x = _one_hot((1, 3, 3), (0, 1, 2))
    weight = _positions(2, 3)[None, None] + 1
    out_shape = ops.conv_transpose2d(x, weight, stride=2, padding=1, output_padding=1).shape
    g = _positions(*out_shape[1:])[None]
    grad_x, grad_weight, grad_bias = grad.conv_transpose2d_backward(g, x, weight, stride=2, padding=1,
                                                                    output_padding=1)
    # x[1, 2] scatters onto output rows 1*2 + ky - 1, columns 2*2 + kx - 1
    assert_array_equal(grad_weight[0, 0], g[0, 1:3, 3:6])
    assert grad_x[0, 1, 2] == pytest.approx(float((g[0, 1:3, 3:6] * weight[0, 0]).sum()))
    assert grad_bias[0] == g.sum()


def test_max_pool2d_backward_ties_go_to_the_first_maximum() -> None:
    x = np.array([[1.0, 3.0, 2.0, 2.0],
                  [3.0, 0.0, 2.0, 2.0]])
    assert_array_equal(grad.max_pool2d_backward(np.array([[10.0, 20.0]]), x, 2),
                       [[0, 10, 20, 0], [0, 0, 0, 0]])


def test_max_pool2d_backward_overlapping_windows_on_a_constant_input() -> None:
    # every 2x2 window of a constant map routes to its own top-left tap
    grad_x = grad.max_pool2d_backward(_positions(2, 2) + 1, np.zeros((3, 3)), 2, stride=1)
    assert_array_equal(grad_x, [[1, 2, 0], [11, 12, 0], [0, 0, 0]])


def test_max_pool2d_backward_padding_never_wins() -> None:
    x = -np.ones((2, 2))
    # nine windows over four equal pixels: each routes to its first real pixel, padding (-inf) never
    grad_x = grad.max_pool2d_backward(np.ones((3, 3)), x, 2, stride=1, padding=1)
    assert_array_equal(grad_x, [[4, 2], [2, 1]])


@pytest.mark.parametrize(("include", "share"), [(True, 0.25), (False, 0.5)])
def test_avg_pool2d_backward_count_include_pad(include: bool, share: float) -> None:
    # the top-middle window of a 2x2 map padded by 1 holds two pixels and two padding cells
    grad_x = grad.avg_pool2d_backward(_one_hot((3, 3), (0, 1)), np.zeros((2, 2)), 2, stride=1, padding=1,
                                      count_include_pad=include)
    assert_array_equal(grad_x, [[share, share], [0, 0]])


def test_sum_pool2d_backward_adds_every_window() -> None:
    grad_x = grad.sum_pool2d_backward(_positions(2, 2), np.zeros((3, 3)), 2, stride=1)
    assert_array_equal(grad_x, [[0, 1, 1], [10, 22, 12], [10, 21, 11]])


def test_upsample_backward_nearest_sums_blocks() -> None:
    g = _positions(2, 6)
    assert_array_equal(grad.upsample_backward(g, np.zeros((1, 2)), (2, 3)), [[0 + 1 + 2 + 10 + 11 + 12,
                                                                            3 + 4 + 5 + 13 + 14 + 15]])


def test_upsample_backward_bilinear_align_corners_by_hand() -> None:
    # output positions 0, 1/3, 2/3, 1 along the row of two sources
    g = np.array([[1.0, 10.0, 100.0, 1000.0]]).repeat(2, axis=0)
    grad_x = grad.upsample_backward(g, np.zeros((1, 2)), (2, 2), mode="bilinear", align_corners=True)
    assert_allclose(grad_x, 2 * np.array([[1 + 10 * 2 / 3 + 100 / 3, 10 / 3 + 100 * 2 / 3 + 1000]]), rtol=1e-12)


def test_relu_and_leaky_relu_backward_at_zero() -> None:
    x = np.array([-2.0, 0.0, 3.0])
    assert_array_equal(grad.relu_backward(np.ones(3), x), [0, 0, 1])
    assert_array_equal(grad.leaky_relu_backward(np.ones(3), x, 0.25), [0.25, 0.25, 1])


def test_cross_entropy_backward_rows_sum_to_zero() -> None:
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]])
    grad_logits = grad.cross_entropy_backward(logits, np.array([2, 1]))
    assert_allclose(grad_logits, [[0.5, 0, -0.5], [1 / 6, -1 / 3, 1 / 6]], atol=1e-15)


def _numeric_gradient(loss: Callable[[np.ndarray], float], value: np.ndarray, step: float = 1e-6) -> np.ndarray:
    out = np.zeros_like(value)
    for index in np.ndindex(value.shape):
        saved = value[index]
        value[index] = saved + step
        up = loss(value)
        value[index] = saved - step
        down = loss(value)
        value[index] = saved
        out[index] = (up - down) / (2 * step)
    return out


def test_conv2d_backward_matches_finite_differences() -> None:
    rng = np.random.default_rng(1)
    x, weight = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 3, 2))
    args: dict[str, Any] = {"stride": (2, 1), "padding": "same", "dilation": (1, 2), "padding_mode": "reflect"}
    g = rng.standard_normal(ops.conv2d(x, weight, **args).shape)
    grad_x, grad_weight, _ = grad.conv2d_backward(g, x, weight, **args)
    assert_allclose(grad_x, _numeric_gradient(lambda v: float((g * ops.conv2d(v, weight, **args)).sum()), x),
                    rtol=1e-6, atol=1e-8)
    assert_allclose(grad_weight, _numeric_gradient(lambda v: float((g * ops.conv2d(x, v, **args)).sum()),
                                                   weight), rtol=1e-6, atol=1e-8)


def test_conv_transpose2d_backward_matches_finite_differences() -> None:
    rng = np.random.default_rng(2)
    x, weight = rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 2, 3, 3))
    args: dict[str, Any] = {"stride": 2, "padding": 1, "output_padding": 1, "dilation": 1}
    g = rng.standard_normal(ops.conv_transpose2d(x, weight, **args).shape)
    grad_x, grad_weight, _ = grad.conv_transpose2d_backward(g, x, weight, **args)
    assert_allclose(grad_x, _numeric_gradient(
        lambda v: float((g * ops.conv_transpose2d(v, weight, **args)).sum()), x), rtol=1e-6, atol=1e-8)
    assert_allclose(grad_weight, _numeric_gradient(
        lambda v: float((g * ops.conv_transpose2d(x, v, **args)).sum()), weight), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("backward", "forward"), [
    (lambda g, x: grad.avg_pool2d_backward(g, x, 3, 2, 1, True, False),
     lambda x: ops.avg_pool2d(x, 3, 2, 1, True, False)),
    (lambda g, x: grad.upsample_backward(g, x, (2, 3), "bilinear"), lambda x: ops.upsample(x, (2, 3), "bilinear")),
    (grad.sigmoid_backward, ops.sigmoid),
    (grad.tanh_backward, ops.tanh),
])
def test_backward_matches_finite_differences(backward: Callable[..., np.ndarray],
                                             forward: Callable[[np.ndarray], np.ndarray]) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 4))
    g = rng.standard_normal(forward(x).shape)
    assert_allclose(backward(g, x), _numeric_gradient(lambda v: float((g * forward(v)).sum()), x),
                    rtol=1e-6, atol=1e-8)


def test_cross_entropy_and_linear_backward_match_finite_differences() -> None:
    rng = np.random.default_rng(4)
    logits, labels = rng.standard_normal((3, 4)), np.array([0, 3, 1])
    assert_allclose(grad.cross_entropy_backward(logits, labels),
                    _numeric_gradient(lambda v: ops.cross_entropy(v, labels), logits), rtol=1e-6, atol=1e-9)
    x, weight, g = rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal((3, 2))
    grad_x, grad_weight, grad_bias = grad.linear_backward(g, x, weight)
    assert_allclose(grad_x, _numeric_gradient(lambda v: float((g * ops.linear(v, weight)).sum()), x), rtol=1e-6)
    assert_allclose(grad_weight, _numeric_gradient(lambda v: float((g * ops.linear(x, v)).sum()), weight),
                    rtol=1e-6)
    assert_allclose(grad_bias, g.sum(axis=0))


def test_conv2d_backward_batch_equals_each_sample() -> None:
    rng = np.random.default_rng(5)
    x, weight = rng.standard_normal((3, 2, 6, 6)), rng.standard_normal((4, 2, 3, 3))
    g = rng.standard_normal((3, 4, 3, 3))
    grad_x, grad_weight, grad_bias = grad.conv2d_backward(g, x, weight, stride=2, padding=1)
    singles = [grad.conv2d_backward(g[n], x[n], weight, stride=2, padding=1) for n in range(3)]
    assert_allclose(grad_x, np.stack([s[0] for s in singles]), rtol=1e-12)
    assert_allclose(grad_weight, sum(s[1] for s in singles), rtol=1e-12)
    assert_allclose(grad_bias, sum(s[2] for s in singles), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_backward_keeps_the_dtype(dtype: type) -> None:
    x = np.ones((2, 1, 4, 4), dtype=dtype)
    weight = np.ones((2, 1, 3, 3), dtype=dtype)
    results = [
        *grad.conv2d_backward(np.ones((2, 2, 2, 2), dtype), x, weight),
        *grad.conv_transpose2d_backward(np.ones((2, 2, 6, 6), dtype), x, weight.transpose(1, 0, 2, 3)[:1]),
        grad.max_pool2d_backward(np.ones((2, 1, 2, 2), dtype), x, 2),
        grad.avg_pool2d_backward(np.ones((2, 1, 2, 2), dtype), x, 2),
        grad.sum_pool2d_backward(np.ones((2, 1, 2, 2), dtype), x, 2),
        grad.upsample_backward(np.ones((2, 1, 8, 8), dtype), x, 2, "bilinear"),
        grad.relu_backward(x, x), grad.leaky_relu_backward(x, x), grad.sigmoid_backward(x, x),
        grad.tanh_backward(x, x), *grad.linear_backward(np.ones((2, 3), dtype), x[:, 0, 0], np.ones((3, 4), dtype)),
        grad.cross_entropy_backward(x[:, 0, 0], np.array([0, 1])),
    ]
    assert [r.dtype for r in results] == [np.dtype(dtype)] * len(results)


def test_integer_inputs_give_float64_gradients() -> None:
    grad_x = grad.max_pool2d_backward(np.ones((2, 2)), np.arange(16).reshape(4, 4), 2)
    assert grad_x.dtype == np.float64
    assert grad_x.shape == (4, 4)


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: grad.conv2d_backward(np.ones((1, 3, 3)), np.ones((2, 1, 4, 4)), np.ones((1, 1, 2, 2))), ValueError,
     r"grad_output must have the forward output's shape \(2, 1, 3, 3\), got \(1, 3, 3\)"),
    (lambda: grad.conv2d_backward(np.ones((2, 2)), np.ones((4, 4)), np.ones((1, 1, 3, 3))), ValueError,
     r"grad_output must have the forward output's shape \(1, 2, 2\), got \(2, 2\)"),
    (lambda: grad.conv2d_backward(np.ones((2, 2)), np.ones((4, 4)), np.ones((3, 3))), ValueError,
     r"weight must be a 4-D \(F, C, kh, kw\) array, got shape \(3, 3\)"),
    (lambda: grad.conv2d_backward(np.ones((1, 2, 2)), np.ones((4, 4)), np.ones((1, 1, 3, 3)), padding="half"),
     ValueError, r"padding must be .* got 'half'"),
    (lambda: grad.conv2d_backward("g", np.ones((4, 4)), np.ones((1, 1, 3, 3))), TypeError,
     r"grad_output must be an array of numbers, got str"),
    (lambda: grad.conv_transpose2d_backward(np.ones((2, 2)), np.ones((2, 2)), np.ones((1, 1))), ValueError,
     r"weight must be a 4-D \(C, F, kh, kw\) array, got shape \(1, 1\)"),
    (lambda: grad.conv_transpose2d_backward(np.ones((1, 3, 3)), np.ones((2, 2)), np.ones((1, 1, 2, 2)),
                                            stride=2), ValueError,
     r"grad_output must have the forward output's shape \(1, 4, 4\), got \(1, 3, 3\)"),
    (lambda: grad.max_pool2d_backward(np.ones((3, 3)), np.ones((4, 4)), 2), ValueError,
     r"grad_output must have the forward output's shape \(2, 2\), got \(3, 3\)"),
    (lambda: grad.avg_pool2d_backward(np.ones((2, 2, 2)), np.ones((2, 4, 4)), 2, count_include_pad=1),
     TypeError, r"count_include_pad must be True or False, got 1"),
    (lambda: grad.sum_pool2d_backward(np.ones((1, 2, 2)), np.ones((2, 4, 4)), 2), ValueError,
     r"grad_output must have the forward output's shape \(2, 2, 2\), got \(1, 2, 2\)"),
    (lambda: grad.upsample_backward(np.ones((4, 4)), np.ones((2, 2)), 3), ValueError,
     r"grad_output must have the forward output's shape \(6, 6\), got \(4, 4\)"),
    (lambda: grad.upsample_backward(np.ones((4, 4)), np.ones((2, 2)), 2, align_corners=True), ValueError,
     r"align_corners=True only applies to mode='bilinear'"),
    (lambda: grad.relu_backward(np.ones(3), np.ones(4)), ValueError,
     r"grad_output must have the forward output's shape \(4,\), got \(3,\)"),
    (lambda: grad.leaky_relu_backward(np.ones(3), np.ones(3), "0.1"), TypeError,
     r"negative_slope must be a finite number, got '0.1'"),
    (lambda: grad.linear_backward(np.ones(2), np.ones((1, 1, 3)), np.ones((2, 3))), ValueError,
     r"x must be a \(in,\) or \(N, in\) array, got shape \(1, 1, 3\)"),
    (lambda: grad.linear_backward(np.ones(2), np.ones(3), np.ones((2, 4))), ValueError,
     r"weight must be \(out, in\) with in = 3 \(the last axis of x\), got shape \(2, 4\)"),
    (lambda: grad.linear_backward(np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 3))), ValueError,
     r"grad_output must have the forward output's shape \(2, 2\), got \(2, 3\)"),
    (lambda: grad.cross_entropy_backward(np.ones(3), np.array([0])), ValueError,
     r"logits must be a \(N, K\) array with N >= 1, got shape \(3,\)"),
    (lambda: grad.cross_entropy_backward(np.ones((2, 3)), np.array([0, 3])), ValueError,
     r"labels must be in \[0, 2\] \(one of the 3 classes\), got 3"),
    (lambda: grad.cross_entropy_backward(np.ones((2, 3)), np.array([0.0, 1.0])), TypeError,
     r"labels must be integers \(class indices\), got dtype float64"),
])
def test_backward_errors_name_the_argument(call: Callable[[], object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()
