"""The convolution theorem, shown: the same result as conv2d computed through the Fourier transform.

Cross-correlation with ``k`` is convolution with ``k`` flipped; convolution is a product of spectra.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnn_core import ops
from cnn_core._checks import FloatArray, as_image, as_kernel
from cnn_core.errors import ArgumentError
from cnn_core.geometry import padding_amounts


def flip_kernel(weight: FloatArray) -> FloatArray:
    """The kernel turned by 180 degrees (last two axes): cross-correlating with it is true convolution.

    >>> flip_kernel(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([[4., 3.],
           [2., 1.]])
    """
    return np.flip(np.asarray(weight), axis=(-2, -1)).copy()


@dataclass(frozen=True)
class SpectralResult:
    """Each stage of the Fourier route, on the padded grid (H + kh - 1 + padding, ...)."""

    image_spectrum: FloatArray  # |FFT(image)|, shifted so frequency 0 is in the middle
    kernel_spectrum: FloatArray  # |FFT(flipped kernel, zero-padded to the same grid)|
    product_spectrum: FloatArray  # |their product|
    result: FloatArray  # the inverse transform, cropped to conv2d's output
    direct: FloatArray  # conv2d computed directly
    max_difference: float  # max |result - direct|


def fft_conv2d(x: object, kernel: object, padding: int | str = 0) -> SpectralResult:
    """conv2d of a one-channel (H, W) map with a (kh, kw) kernel (stride 1, zero padding), via numpy.fft.

    Raises ValueError/TypeError as conv2d does; only one channel and stride 1 (the theorem's setting).

    >>> route = fft_conv2d(np.arange(16.0).reshape(4, 4), np.ones((2, 2)))
    >>> route.result.shape, route.max_difference < 1e-9
    ((3, 3), True)
    """
    image, _ = as_image(x)
    if image.shape[0] != 1:
        raise ArgumentError(f"x must have one channel for the Fourier view, got {image.shape[0]}")
    weight = as_kernel(kernel, np.dtype(np.float64))
    if weight.ndim != 2:
        raise ArgumentError(f"kernel must be 2-D (kh, kw) for the Fourier view, got shape {weight.shape}")
    plane = image[0].astype(np.float64)
    direct = ops.conv2d(plane, weight, padding=padding)
    kh, kw = weight.shape
    top, bottom = padding_amounts(padding if isinstance(padding, str) else int(padding), plane.shape[0], kh)
    left, right = padding_amounts(padding if isinstance(padding, str) else int(padding), plane.shape[1], kw)
    padded = np.pad(plane, ((top, bottom), (left, right)))
    rows, cols = padded.shape[0] + kh - 1, padded.shape[1] + kw - 1  # the full linear convolution: no wrap-around
    image_fft = np.fft.rfft2(padded, (rows, cols))
    kernel_fft = np.fft.rfft2(flip_kernel(weight), (rows, cols))
    full = np.fft.irfft2(image_fft * kernel_fft, (rows, cols))
    result = full[kh - 1:kh - 1 + direct.shape[0], kw - 1:kw - 1 + direct.shape[1]]
    full_image = np.fft.fft2(padded, (rows, cols))
    full_kernel = np.fft.fft2(flip_kernel(weight), (rows, cols))
    return SpectralResult(_magnitude(full_image), _magnitude(full_kernel), _magnitude(full_image * full_kernel),
                          result, direct, float(np.abs(result - direct).max()))


def _magnitude(spectrum: np.ndarray) -> FloatArray:
    """|spectrum| with frequency 0 moved to the middle, as spectra are usually drawn."""
    return np.fft.fftshift(np.abs(spectrum))
