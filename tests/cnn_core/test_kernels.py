"""The kernel catalogue against OpenCV and the textbook, and parse_kernel on good and bad text."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from cnn_core import conv2d, get_kernel, list_kernels, parse_kernel
from cnn_core.kernels import KernelParseError

cv2 = pytest.importorskip("cv2")

REQUIRED = {"identity", "sobel_x", "sobel_y", "scharr_x", "scharr_y", "prewitt_x", "prewitt_y", "laplace_4",
            "laplace_8", "gaussian", "log", "box_blur", "sharpen", "emboss", "outline"}


def test_list_kernels_has_every_required_entry_with_description_and_array() -> None:
    entries = list_kernels()
    assert {entry["name"] for entry in entries} >= REQUIRED
    for entry in entries:
        assert set(entry) == {"name", "description", "params", "kernel"}
        assert entry["description"].endswith(".") and len(entry["description"]) > 20
        assert_array_equal(np.array(entry["kernel"]), get_kernel(entry["name"], **entry["params"]))
        assert isinstance(entry["kernel"][0][0], float)


def test_fixed_kernels_have_the_contract_values() -> None:
    assert_array_equal(get_kernel("sobel_x"), [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    assert_array_equal(get_kernel("laplace_4"), [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    assert_array_equal(get_kernel("laplace_8"), [[1, 1, 1], [1, -8, 1], [1, 1, 1]])
    assert_array_equal(get_kernel("outline"), [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])
    for name in ("sobel", "scharr", "prewitt"):
        assert_array_equal(get_kernel(f"{name}_y"), get_kernel(f"{name}_x").T)
    assert get_kernel("sobel_x").dtype == np.float64


@pytest.mark.parametrize(("name", "dx", "dy", "ksize"), [("sobel_x", 1, 0, 3), ("sobel_y", 0, 1, 3),
                                                         ("scharr_x", 1, 0, -1), ("scharr_y", 0, 1, -1)])
def test_derivative_kernels_match_opencv_get_deriv_kernels(name: str, dx: int, dy: int, ksize: int) -> None:
    kx, ky = cv2.getDerivKernels(dx, dy, ksize)
    assert_array_equal(get_kernel(name), np.outer(ky, kx))


def test_sobel_x_is_positive_on_a_left_dark_right_bright_edge() -> None:
    edge = np.zeros((5, 6))
    edge[:, 3:] = 255
    assert conv2d(edge, get_kernel("sobel_x"))[1, 1] > 0


@pytest.mark.parametrize(("size", "sigma"), [(3, 0.5), (5, 1.0), (7, 1.4), (15, 3.0), (1, 1.0)])
def test_gaussian_is_the_outer_product_of_opencv_gaussian_kernel(size: int, sigma: float) -> None:
    line = cv2.getGaussianKernel(size, sigma, cv2.CV_64F)
    kernel = get_kernel("gaussian", size=size, sigma=sigma)
    assert_allclose(kernel, line @ line.T, rtol=1e-12)
    assert kernel.sum() == pytest.approx(1.0)


def test_log_sums_to_zero_and_is_negative_in_the_centre() -> None:
    kernel = get_kernel("log", size=9, sigma=1.4)
    assert kernel.shape == (9, 9)
    assert abs(kernel.sum()) < 1e-12
    assert kernel[4, 4] == kernel.min() < 0
    flat = np.full((12, 12), 7.0)
    assert_allclose(conv2d(flat, kernel), 0, atol=1e-12)


def test_box_blur_and_sharpen() -> None:
    assert_allclose(get_kernel("box_blur", size=5), np.full((5, 5), 1 / 25))
    assert get_kernel("sharpen").sum() == 1
    assert get_kernel("emboss").sum() == 1


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: get_kernel("sobel"), ValueError, "name must be one of identity, sobel_x"),
    (lambda: get_kernel("gaussian", size=4), ValueError, "size must be an odd int from 1 to 15, got 4"),
    (lambda: get_kernel("gaussian", size=17), ValueError, "size must be an odd int from 1 to 15, got 17"),
    (lambda: get_kernel("gaussian", sigma=0), ValueError, "sigma must be a number from 0.1 to 10, got 0"),
    (lambda: get_kernel("log", sigma=float("nan")), TypeError, "sigma must be a number"),
    (lambda: get_kernel("box_blur", size="3"), TypeError, "size must be an odd int"),
    (lambda: get_kernel("sobel_x", size=3), TypeError, "kernel 'sobel_x' takes no parameters, got unexpected size"),
])
def test_get_kernel_errors(call: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(("text", "expected"), [
    ("1 0 -1; 2 0 -2; 1 0 -1", [[1, 0, -1], [2, 0, -2], [1, 0, -1]]),
    ("1,0,-1\n2, 0, -2\r\n1 ,0, -1\n", [[1, 0, -1], [2, 0, -2], [1, 0, -1]]),
    ("1/9 1/9\n1/9 1/9", [[1 / 9, 1 / 9], [1 / 9, 1 / 9]]),
    ("  -0.5 .25 +3 1e-2 -2/4 ", [[-0.5, 0.25, 3, 0.01, -0.5]]),
    ("7", [[7]]),
    ("1 2;\n\n;3 4;", [[1, 2], [3, 4]]),
])
def test_parse_kernel_reads_numbers(text: str, expected: list[list[float]]) -> None:
    kernel = parse_kernel(text)
    assert kernel.dtype == np.float64
    assert_allclose(kernel, expected, rtol=1e-15)


@pytest.mark.parametrize(("text", "message", "row", "column"), [
    ("", "the kernel is empty", None, None),
    (" ; \n ", "the kernel is empty", None, None),
    ("1 2 3; 4 5", "row 2 has 2 numbers but row 1 has 3", 2, 3),
    ("1 2; 3 4 5", "row 2 has 3 numbers but row 1 has 2", 2, 3),
    ("1 2; 3 x", "row 2, column 2: 'x' is not a number", 2, 2),
    ("1 __import__('os')", "row 1, column 2: .* is not a number", 1, 2),
    ("1 2**8", "row 1, column 2: '2\\*\\*8' is not a number", 1, 2),
    ("nan 1", "row 1, column 1: 'nan' is not a number", 1, 1),
    ("inf", "row 1, column 1: 'inf' is not a number", 1, 1),
    ("1e999", "row 1, column 1: '1e999' is too large to be a finite number", 1, 1),
    ("1/0 2", "row 1, column 1: '1/0' divides by zero", 1, 1),
    ("; ".join(["1"] * 16), "a kernel has at most 15 rows, got 16", None, None),
    (" ".join(["1"] * 16), "row 1: a kernel has at most 15 columns, got 16", 1, None),
])
def test_parse_kernel_errors_point_at_the_culprit(text: str, message: str, row: int | None,
                                                  column: int | None) -> None:
    with pytest.raises(KernelParseError, match=message) as caught:
        parse_kernel(text)
    assert (caught.value.row, caught.value.column) == (row, column)
    assert isinstance(caught.value, ValueError)


def test_parse_kernel_refuses_non_text_and_huge_text() -> None:
    with pytest.raises(TypeError, match="text must be a string, got bytes"):
        parse_kernel(b"1 2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="text must be at most 100000 characters"):
        parse_kernel("1 " * 60000)
    assert parse_kernel("; ".join(["1 " * 30] * 30), max_side=64).shape == (30, 30)
