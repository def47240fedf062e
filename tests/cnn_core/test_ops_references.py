"""Ops against SciPy, OpenCV, loop implementations of the definitions, and position-encoded arrays."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from cnn_core import (
    avg_pool2d,
    conv2d,
    conv_transpose2d,
    get_kernel,
    leaky_relu,
    max_pool2d,
    relu,
    sigmoid,
    sum_pool2d,
    tanh,
    upsample,
)
from tests.cnn_core import naive

signal = pytest.importorskip("scipy.signal")
cv2 = pytest.importorskip("cv2")

RNG = np.random.default_rng(7)


def positions(rows: int, cols: int) -> np.ndarray:
    """Each value is 10*row + col, so a wrong index shows up as a wrong number."""
    return (10 * np.arange(rows)[:, None] + np.arange(cols)).astype(np.float64)


def test_conv2d_identity_kernel_keeps_strided_input() -> None:
    x = positions(5, 7)
    assert_array_equal(conv2d(x, get_kernel("identity"), padding=1, stride=2), x[::2, ::2])


def test_conv2d_picks_the_tap_named_by_a_one_hot_kernel() -> None:
    x = positions(6, 6)
    kernel = np.zeros((3, 3))
    kernel[2, 0] = 1  # bottom-left tap: out[oy, ox] = x[oy + 2, ox]
    assert_array_equal(conv2d(x, kernel), x[2:, :4])
    assert_array_equal(conv2d(x, kernel, dilation=2), x[4:, :2])


@pytest.mark.parametrize("shape", [(5, 5), (8, 13), (17, 9)])
@pytest.mark.parametrize("kernel_shape", [(3, 3), (2, 5), (7, 7)])
def test_conv2d_valid_matches_scipy_correlate2d(shape: tuple[int, int], kernel_shape: tuple[int, int]) -> None:
    x = RNG.standard_normal(shape)
    kernel = RNG.standard_normal(kernel_shape)
    if kernel_shape[0] > shape[0] or kernel_shape[1] > shape[1]:
        with pytest.raises(ValueError, match="kernel must not be larger than the padded input"):
            conv2d(x, kernel)
        return
    assert_allclose(conv2d(x, kernel), signal.correlate2d(x, kernel, mode="valid"), rtol=1e-12, atol=1e-12)
    assert_allclose(conv2d(x, kernel, padding="full"), signal.correlate2d(x, kernel, mode="full"),
                    rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel_size", [3, 5])
def test_conv2d_same_matches_scipy_for_odd_kernels(kernel_size: int) -> None:
    x = RNG.standard_normal((12, 10))
    kernel = RNG.standard_normal((kernel_size, kernel_size))
    assert_allclose(conv2d(x, kernel, padding="same"), signal.correlate2d(x, kernel, mode="same"),
                    rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("mode", "border"), [("reflect", cv2.BORDER_REFLECT_101),
                                              ("replicate", cv2.BORDER_REPLICATE),
                                              ("circular", cv2.BORDER_WRAP),
                                              ("zeros", cv2.BORDER_CONSTANT)])
@pytest.mark.parametrize("name", ["sobel_x", "laplace_8", "gaussian", "sharpen", "emboss"])
def test_conv2d_same_matches_opencv_filter2d(mode: str, border: int, name: str) -> None:
    x = RNG.uniform(0, 255, (3, 20, 24)).astype(np.float32)
    kernel = get_kernel(name)
    half = kernel.shape[0] // 2

    def reference(channel: np.ndarray) -> np.ndarray:
        # filter2D refuses BORDER_WRAP, so the border is made by copyMakeBorder and then cut off
        framed = cv2.copyMakeBorder(channel, half, half, half, half, border)
        return cv2.filter2D(framed, cv2.CV_32F, kernel.astype(np.float32))[half:-half, half:-half]

    expected = np.stack([reference(channel) for channel in x])
    result = conv2d(x, kernel, padding="same", padding_mode=mode)
    assert result.dtype == np.float32
    assert_allclose(result, expected, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize(("name", "dx", "dy"), [("sobel_x", 1, 0), ("sobel_y", 0, 1)])
def test_sobel_kernels_match_opencv_sobel(name: str, dx: int, dy: int) -> None:
    x = RNG.uniform(0, 255, (31, 29))
    expected = cv2.Sobel(x, cv2.CV_64F, dx, dy, ksize=3, borderType=cv2.BORDER_REFLECT_101)
    assert_allclose(conv2d(x, get_kernel(name), padding=1, padding_mode="reflect"), expected, atol=1e-9)


def test_laplace_4_matches_opencv_laplacian_ksize_1() -> None:
    x = RNG.uniform(0, 255, (16, 16))
    expected = cv2.Laplacian(x, cv2.CV_64F, ksize=1, borderType=cv2.BORDER_REPLICATE)
    assert_allclose(conv2d(x, get_kernel("laplace_4"), padding=1, padding_mode="replicate"), expected,
                    atol=1e-9)


@pytest.mark.parametrize("stride", [(1, 1), (2, 2), (3, 1)])
@pytest.mark.parametrize("padding", [0, 1, 2])
@pytest.mark.parametrize("dilation", [(1, 1), (2, 2), (1, 3)])
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv2d_matches_loop_definition(stride: tuple[int, int], padding: int, dilation: tuple[int, int],
                                        mode: str) -> None:
    x = RNG.standard_normal((2, 9, 11))
    weight = RNG.standard_normal((3, 2, 3, 2))
    bias = RNG.standard_normal(3)
    expected = naive.conv2d(x, weight, bias, stride, (padding,) * 4, dilation, mode)
    result = conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation, padding_mode=mode)
    assert result.shape == expected.shape
    assert_allclose(result, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [7, 8, 9, 10])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("kernel_size", [2, 3, 4])
def test_conv2d_same_follows_the_keras_rule(n: int, stride: int, kernel_size: int) -> None:
    x = RNG.standard_normal((1, n, n))
    weight = RNG.standard_normal((1, 1, kernel_size, kernel_size))
    out = -(-n // stride)
    total = max((out - 1) * stride + kernel_size - n, 0)
    pads = (total // 2, total - total // 2) * 2
    expected = naive.conv2d(x, weight, np.zeros(1), (stride, stride), (pads[0], pads[1], pads[0], pads[1]))
    result = conv2d(x, weight, padding="same", stride=stride)
    assert result.shape == (1, out, out)
    assert_allclose(result, expected, rtol=1e-12, atol=1e-12)


def test_conv2d_depthwise_2d_kernel_filters_each_channel_alone() -> None:
    x = RNG.standard_normal((3, 8, 8))
    kernel = RNG.standard_normal((3, 3))
    result = conv2d(x, kernel, bias=0.5, stride=2, padding=1)
    expected = np.stack([conv2d(channel, kernel, stride=2, padding=1) for channel in x]) + 0.5
    assert result.shape == (3, 4, 4)
    assert_allclose(result, expected, rtol=1e-12)


def test_conv2d_rgb_filter_sums_over_the_depth() -> None:
    x = RNG.standard_normal((3, 6, 7))
    weight = RNG.standard_normal((1, 3, 3, 3))
    per_channel = sum(signal.correlate2d(x[c], weight[0, c], mode="valid") for c in range(3))
    assert_allclose(conv2d(x, weight, np.array([2.0]))[0], per_channel + 2.0, rtol=1e-12)


def test_conv2d_2d_input_with_4d_weight_gives_stack_of_maps() -> None:
    x = positions(5, 5)
    weight = np.stack([get_kernel("identity"), 2 * get_kernel("identity")])[:, None]
    result = conv2d(x, weight)
    assert result.shape == (2, 3, 3)
    assert_array_equal(result[1], 2 * x[1:4, 1:4])


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.bool_, np.float32, np.float64])
def test_conv2d_dtype_rule(dtype: type) -> None:
    x = (positions(4, 4) % 2).astype(dtype)
    expected = np.float32 if dtype == np.float32 else np.float64
    assert conv2d(x, np.ones((2, 2), dtype=np.int64), bias=1).dtype == expected
    assert conv2d(x, np.ones((2, 2)), bias=1.5).dtype == expected


def test_textbook_5x5_binary_image_with_3x3_filter() -> None:
    image = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]])
    kernel = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    assert_array_equal(conv2d(image, kernel), [[4, 3, 4], [2, 4, 3], [2, 3, 4]])


def test_textbook_6x6_round_trip_conv_pool_upsample_transpose() -> None:
    image = np.array([[3, 0, 1, 2, 7, 4], [1, 5, 8, 9, 3, 1], [2, 7, 2, 5, 1, 3],
                      [0, 1, 3, 1, 7, 8], [4, 2, 1, 6, 2, 8], [2, 4, 5, 2, 3, 9]])
    vertical_edges = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]])
    features = conv2d(image, vertical_edges)
    assert_array_equal(features, [[-5, -4, 0, 8], [-10, -2, 2, 3], [0, -2, -4, -7], [-3, -2, -3, -16]])
    pooled = max_pool2d(features, 2)
    assert_array_equal(pooled, [[-2, 8], [0, -3]])
    up = upsample(pooled, 3)
    assert up.shape == (6, 6)
    assert_array_equal(up[:3, 3:], np.full((3, 3), 8.0))
    back = conv_transpose2d(pooled, np.ones((3, 3)), stride=3)
    assert back.shape == (6, 6)
    assert_array_equal(back, up)
    grown = conv_transpose2d(pooled, np.ones((3, 3)))  # stride 1: overlapping contributions add up
    assert grown.shape == (4, 4)
    assert_array_equal(grown[1:3, 1:3], np.full((2, 2), pooled.sum()))


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("dilation", [1, 2])
def test_conv_transpose2d_matches_scatter_loops(stride: int, padding: int, dilation: int) -> None:
    x = RNG.standard_normal((2, 4, 5))
    weight = RNG.standard_normal((2, 3, 3, 2))
    for output_padding in range(max(stride, dilation)):
        expected = naive.conv_transpose2d(x, weight, stride, padding, output_padding, dilation)
        result = conv_transpose2d(x, weight, stride=stride, padding=padding, output_padding=output_padding,
                                  dilation=dilation)
        assert_allclose(result, expected, rtol=1e-12, atol=1e-12)


def test_conv_transpose2d_is_the_adjoint_of_conv2d() -> None:
    x = RNG.standard_normal((2, 9, 9))
    y = RNG.standard_normal((3, 5, 5))
    weight = RNG.standard_normal((3, 2, 3, 3))
    forward = conv2d(x, weight, stride=2, padding=1)
    backward = conv_transpose2d(y, weight, stride=2, padding=1)
    assert_allclose(np.vdot(forward, y), np.vdot(x, backward), rtol=1e-12)


@pytest.mark.parametrize("kind", ["max", "avg", "sum"])
@pytest.mark.parametrize(("k", "stride", "padding"), [(2, 2, 0), (3, 2, 1), (3, 1, 1), (2, 3, 1), (4, 3, 2)])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pools_match_loop_definition(kind: str, k: int, stride: int, padding: int, ceil_mode: bool) -> None:
    x = RNG.standard_normal((2, 9, 10))
    expected = naive.pool(x, kind, k, stride, padding, ceil_mode)
    fn = {"max": max_pool2d, "avg": avg_pool2d, "sum": sum_pool2d}[kind]
    result = fn(x, k, stride, padding, ceil_mode=ceil_mode)
    assert_allclose(result, expected, rtol=1e-12, atol=1e-12)
    if kind == "avg":
        expected = naive.pool(x, kind, k, stride, padding, ceil_mode, count_include_pad=False)
        result = avg_pool2d(x, k, stride, padding, ceil_mode=ceil_mode, count_include_pad=False)
        assert_allclose(result, expected, rtol=1e-12, atol=1e-12)


def test_max_pool2d_on_positions_picks_bottom_right() -> None:
    x = positions(4, 6)
    assert_array_equal(max_pool2d(x, 2), [[11, 13, 15], [31, 33, 35]])
    assert_array_equal(max_pool2d(x, 2, dilation=2, stride=1), x[2:, 2:])


def test_pools_same_padding_ignore_padding_like_keras() -> None:
    x = np.full((1, 5, 5), -3.0)
    assert_array_equal(max_pool2d(x, 2, padding="same"), np.full((1, 3, 3), -3.0))
    assert_array_equal(avg_pool2d(x, 2, padding="same"), np.full((1, 3, 3), -3.0))
    assert sum_pool2d(x, 2, padding="same")[0, 2, 2] == -3.0


@pytest.mark.parametrize("scale", [2, 3])
@pytest.mark.parametrize("align_corners", [False, True])
def test_bilinear_upsample_matches_loop_definition(scale: int, align_corners: bool) -> None:
    x = RNG.standard_normal((2, 4, 5))
    assert_allclose(upsample(x, scale, "bilinear", align_corners), naive.bilinear(x, scale, align_corners),
                    rtol=1e-12, atol=1e-12)


def test_bilinear_upsample_matches_opencv_resize() -> None:
    x = RNG.uniform(0, 255, (9, 7)).astype(np.float32)
    expected = cv2.resize(x, (14, 18), interpolation=cv2.INTER_LINEAR)
    assert_allclose(upsample(x, 2, "bilinear"), expected, rtol=1e-5, atol=1e-3)


def test_nearest_upsample_repeats_positions() -> None:
    x = positions(2, 3)
    assert_array_equal(upsample(x, (2, 1)), [[0, 1, 2], [0, 1, 2], [10, 11, 12], [10, 11, 12]])


def test_activations_elementwise() -> None:
    x = np.array([[-800.0, -1.0, 0.0, 2.0, 800.0]])
    assert_array_equal(relu(x), [[0, 0, 0, 2, 800]])
    assert_allclose(leaky_relu(x, 0.1), [[-80, -0.1, 0, 2, 800]])
    assert_allclose(sigmoid(x), 1 / (1 + np.exp(-np.clip(x, -700, 700))), rtol=1e-12, atol=1e-300)
    assert_allclose(tanh(x), np.tanh(x))
    assert relu(x.astype(np.float32)).dtype == np.float32
    assert sigmoid(np.arange(3)[None]).dtype == np.float64
