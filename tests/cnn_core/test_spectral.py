"""The Fourier route equals the direct route; flipping the kernel gives SciPy's true convolution."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from cnn_core import conv2d, get_kernel
from cnn_core.spectral import fft_conv2d, flip_kernel

signal = pytest.importorskip("scipy.signal")


@pytest.mark.parametrize("padding", [0, 1, 2, "same", "full", "valid"])
@pytest.mark.parametrize("kernel_shape", [(3, 3), (2, 5), (7, 7)])
def test_fft_route_equals_direct_route(padding: object, kernel_shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((20, 17))
    kernel = rng.standard_normal(kernel_shape)
    route = fft_conv2d(x, kernel, padding)  # type: ignore[arg-type]
    assert_allclose(route.result, conv2d(x, kernel, padding=padding), rtol=1e-9, atol=1e-9)
    assert route.max_difference < 1e-9 * np.abs(route.direct).max()
    assert route.image_spectrum.shape == route.kernel_spectrum.shape == route.product_spectrum.shape
    assert_allclose(route.product_spectrum, route.image_spectrum * route.kernel_spectrum, rtol=1e-9, atol=1e-9)


def test_flipped_kernel_is_true_convolution() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((12, 11))
    kernel = rng.standard_normal((3, 4))
    assert_allclose(conv2d(x, flip_kernel(kernel)), signal.convolve2d(x, kernel, mode="valid"), rtol=1e-12)
    assert_allclose(conv2d(x, kernel), signal.correlate2d(x, kernel, mode="valid"), rtol=1e-12)
    sobel = get_kernel("sobel_x")
    assert_allclose(flip_kernel(sobel), -sobel)  # antisymmetric: convolution flips the sign of the edge response


def test_fft_route_refuses_what_the_theorem_view_does_not_cover() -> None:
    with pytest.raises(ValueError, match="x must have one channel for the Fourier view, got 3"):
        fft_conv2d(np.zeros((3, 5, 5)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="kernel must be 2-D"):
        fft_conv2d(np.zeros((5, 5)), np.ones((1, 1, 3, 3)))
