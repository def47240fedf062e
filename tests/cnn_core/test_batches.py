"""Every op on an (N, C, H, W) batch equals the op on each sample; the dense-layer functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import log_softmax as scipy_log_softmax
from scipy.special import softmax as scipy_softmax

from cnn_core import ops

RNG = np.random.default_rng(7)
X = RNG.standard_normal((3, 2, 9, 8))

BATCHED: list[tuple[str, Callable[[Any], Any]]] = [
    ("conv2d", lambda x: ops.conv2d(x, RNG_W, np.arange(4.0), stride=2, padding="same")),
    ("conv2d reflect dilated", lambda x: ops.conv2d(x, RNG_W, None, padding=2, dilation=2, padding_mode="reflect")),
    ("conv2d depthwise", lambda x: ops.conv2d(x, np.arange(9.0).reshape(3, 3), 1.5, padding=1)),
    ("conv_transpose2d", lambda x: ops.conv_transpose2d(x, RNG_WT, np.arange(4.0), stride=2, padding=1,
                                                        output_padding=1)),
    ("conv_transpose2d depthwise", lambda x: ops.conv_transpose2d(x, np.ones((2, 2)), stride=2)),
    ("max_pool2d", lambda x: ops.max_pool2d(x, 3, 2, padding=1, ceil_mode=True)),
    ("avg_pool2d", lambda x: ops.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False)),
    ("sum_pool2d", lambda x: ops.sum_pool2d(x, 2, padding="same")),
    ("upsample nearest", lambda x: ops.upsample(x, (2, 3))),
    ("upsample bilinear", lambda x: ops.upsample(x, 2, "bilinear")),
    ("upsample bilinear corners", lambda x: ops.upsample(x, 3, "bilinear", align_corners=True)),
    ("relu", ops.relu), ("leaky_relu", lambda x: ops.leaky_relu(x, 0.2)), ("sigmoid", ops.sigmoid),
    ("tanh", ops.tanh),
]
RNG_W = RNG.standard_normal((4, 2, 3, 3))
RNG_WT = RNG.standard_normal((2, 4, 3, 3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "op"), BATCHED, ids=[name for name, _ in BATCHED])
def test_op_on_a_batch_equals_the_op_on_each_sample(name: str, op: Callable[[Any], Any], dtype: type) -> None:
    batch = X.astype(dtype)
    result = op(batch)
    assert result.dtype == dtype
    assert result.ndim == 4 and result.shape[0] == len(batch)
    # BLAS may block a batch's product differently: equal up to the summation order
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    for sample, out in zip(batch, result, strict=True):
        assert_allclose(out, op(sample), rtol=tolerance, atol=tolerance)


def test_activations_take_any_shape() -> None:
    vector = np.array([-2.0, 0.0, 3.0])
    assert_array_equal(ops.relu(vector), [0.0, 0.0, 3.0])
    assert_array_equal(ops.leaky_relu(vector, 0.5), [-1.0, 0.0, 3.0])
    assert ops.sigmoid(np.zeros((2, 3, 4, 5, 6))).shape == (2, 3, 4, 5, 6)
    assert ops.tanh(np.float64(0.0)) == 0.0
    assert ops.relu(np.array([-1, 2])).dtype == np.float64  # integers compute in float64


def test_linear_is_x_times_weight_transposed_plus_bias() -> None:
    x = 10 * np.arange(2)[:, None] + np.arange(3)  # rows [0 1 2] and [10 11 12]
    weight = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    assert_array_equal(ops.linear(x, weight, np.array([0.5, -1.0])), [[0.5, 3.0], [10.5, 23.0]])
    assert_array_equal(ops.linear(x[1], weight), [10.0, 24.0])


def test_softmax_and_log_softmax_match_scipy_and_do_not_overflow() -> None:
    logits = RNG.standard_normal((5, 7)) * 30
    assert_allclose(ops.softmax(logits), scipy_softmax(logits, axis=-1), rtol=1e-12)
    assert_allclose(ops.log_softmax(logits, axis=0), scipy_log_softmax(logits, axis=0), rtol=1e-12)
    huge = np.array([[1e4, 0.0, -1e4]])
    assert_allclose(ops.softmax(huge), [[1.0, 0.0, 0.0]])
    assert np.isfinite(ops.log_softmax(huge)).all()
    assert ops.softmax(huge.astype(np.float32)).dtype == np.float32


def test_cross_entropy_is_the_mean_negative_log_likelihood() -> None:
    logits = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]))
    expected = -(np.log(0.25) + np.log(0.8)) / 2
    assert ops.cross_entropy(logits, np.array([1, 2])) == pytest.approx(expected, rel=1e-12)
    assert isinstance(ops.cross_entropy(logits, np.array([0, 0])), float)


def test_dropout_keeps_the_expected_value_and_returns_its_mask() -> None:
    x = np.ones((200, 50))
    y, mask = ops.dropout(x, 0.25, np.random.default_rng(3))
    assert mask.dtype == bool and mask.shape == x.shape
    assert_array_equal(y, mask / 0.75)
    assert abs(mask.mean() - 0.75) < 0.01
    again, same = ops.dropout(x, 0.25, np.random.default_rng(3))
    assert_array_equal(again, y) and np.array_equal(same, mask)
    kept, everything = ops.dropout(x, 0.0, np.random.default_rng(0))
    assert everything.all() and np.array_equal(kept, x)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: ops.linear(np.ones(3), np.ones((2, 4))), ValueError, r"weight must be \(out, in\) with in = 3"),
    (lambda: ops.linear(np.ones((1, 1, 3)), np.ones((2, 3))), ValueError, r"x must be a \(in,\) or \(N, in\)"),
    (lambda: ops.linear(np.ones(3), np.ones((2, 3)), np.ones(3)), ValueError, r"bias must have shape \(2,\)"),
    (lambda: ops.softmax(np.ones(3), axis=1), ValueError, r"axis must be an int in \[-1, 0\], got 1"),
    (lambda: ops.cross_entropy(np.ones((2, 3)), np.array([0, 3])), ValueError,
     r"labels must be in \[0, 2\] \(one of the 3 classes\), got 3"),
    (lambda: ops.cross_entropy(np.ones((2, 3)), np.array([0.0, 1.0])), TypeError,
     r"labels must be integers \(class indices\), got dtype float64"),
    (lambda: ops.cross_entropy(np.ones((2, 3)), np.array([0, 1, 2])), ValueError,
     r"labels must have shape \(2,\) \(one per sample\), got \(3,\)"),
    (lambda: ops.cross_entropy(np.ones(3), np.array([0])), ValueError, r"logits must be a \(N, K\) array"),
    (lambda: ops.dropout(np.ones(3), 1.0, np.random.default_rng(0)), ValueError,
     r"p \(the dropout rate\) must be a number in \[0, 1\), got 1.0"),
    (lambda: ops.dropout(np.ones(3), 0.5, 0), TypeError, r"rng must be a numpy.random.Generator"),
    (lambda: ops.relu(np.array([1.0, np.nan])), ValueError, r"x must contain only finite numbers"),
    (lambda: ops.relu(np.array(["a"])), TypeError, r"x must hold real numbers"),
])
def test_dense_function_errors_name_the_argument(call: Callable[[], object], error: type[Exception],
                                                 message: str) -> None:
    with pytest.raises(error, match=message):
        call()
