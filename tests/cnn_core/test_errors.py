"""Every bad argument raises ValueError/TypeError naming the argument and what is allowed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_core import (
    avg_pool2d,
    conv2d,
    conv2d_frames,
    conv_transpose2d,
    conv_transpose2d_frames,
    leaky_relu,
    max_pool2d,
    max_pool2d_frames,
    relu,
    sum_pool2d,
    upsample,
    upsample_frames,
)
from cnn_core.errors import ArgumentError, ArgumentTypeError

X = np.zeros((3, 6, 6))
K = np.ones((3, 3))
W = np.ones((2, 3, 3, 3))

CASES: list[tuple[str, Any, type, str]] = [
    ("stride 0", lambda: conv2d(X, K, stride=0), ValueError, r"stride must be a positive integer, got 0"),
    ("stride pair 0", lambda: conv2d(X, K, stride=(1, 0)), ValueError,
     r"stride must be a positive integer, got \(1, 0\)"),
    ("stride float", lambda: conv2d(X, K, stride=1.5), TypeError, r"stride must be an int or a \(rows, cols\) pair"),
    ("stride bool", lambda: conv2d(X, K, stride=True), TypeError, "stride must be an int"),
    ("negative padding", lambda: conv2d(X, K, padding=-1), ValueError, "padding must be >= 0, got -1"),
    ("padding string", lambda: conv2d(X, K, padding="half"), ValueError,
     "padding must be a non-negative int, a \\(rows, cols\\) pair or one of 'valid', 'same', 'full', got 'half'"),
    ("dilation 0", lambda: conv2d(X, K, dilation=0), ValueError, "dilation must be a positive integer, got 0"),
    ("kernel larger", lambda: conv2d(X, np.ones((7, 7))), ValueError,
     "kernel must not be larger than the padded input: the kernel spans 7 rows"),
    ("dilated kernel larger", lambda: conv2d(X, K, dilation=3), ValueError,
     r"the kernel spans 7 rows \(3 taps, dilation 3\) but the padded input has 6 \+ 0 = 6"),
    ("channel mismatch", lambda: conv2d(X, np.ones((2, 1, 3, 3))), ValueError,
     r"weight must be \(F, C, kh, kw\) with C = the channels of x: weight is \(2, 1, 3, 3\) \(C = 1\) but x has 3"),
    ("2-D input 4-D weight C=3", lambda: conv2d(X[0], W), ValueError, "but x has 1 channel"),
    ("NaN kernel", lambda: conv2d(X, np.array([[np.nan, 1.0]])), ValueError,
     r"weight must contain only finite numbers \(no NaN or infinity\)"),
    ("inf kernel", lambda: conv2d(X, np.array([[np.inf]])), ValueError, "weight must contain only finite"),
    ("NaN input", lambda: conv2d(np.full((3, 3), np.nan), K), ValueError, "x must contain only finite"),
    ("NaN bias", lambda: conv2d(X, K, bias=float("nan")), ValueError, "bias must contain only finite"),
    ("1-D input", lambda: conv2d(np.zeros(5), K), ValueError,
     r"x must be a \(H, W\), \(C, H, W\) or \(N, C, H, W\) array, got shape \(5,\)"),
    ("5-D input", lambda: conv2d(np.zeros((1, 1, 1, 5, 5)), K), ValueError,
     r"x must be a \(H, W\), \(C, H, W\) or \(N, C, H, W\)"),
    ("3-D weight", lambda: conv2d(X, np.ones((3, 3, 3))), ValueError,
     r"weight must be a \(kh, kw\) or \(F, C, kh, kw\) array, got shape \(3, 3, 3\)"),
    ("empty input", lambda: conv2d(np.zeros((0, 4)), K), ValueError, r"x must not be empty, got shape \(0, 4\)"),
    ("complex input", lambda: conv2d(np.zeros((4, 4), complex), K), TypeError, "x must hold real numbers"),
    ("string input", lambda: conv2d("image", K), TypeError, "x must be an array of numbers, got str"),
    ("ragged input", lambda: conv2d([[1, 2], [3]], K), TypeError, "x must be a rectangular array of numbers"),
    ("padding mode", lambda: conv2d(X, K, padding_mode="mirror"), ValueError,
     "padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular', got 'mirror'"),
    ("reflect too wide", lambda: conv2d(X, K, padding=6, padding_mode="reflect"), ValueError,
     "reflect padding must be smaller than the input: 6 rows of padding on an input 6 rows wide"),
    ("circular too wide", lambda: conv2d(X, K, padding=7, padding_mode="circular"), ValueError,
     "circular padding must be at most the input size"),
    ("bias shape", lambda: conv2d(X, W, bias=np.ones(3)), ValueError,
     r"bias must have shape \(2,\) \(one value per output map\), got \(3,\)"),
    ("scalar bias 4-D", lambda: conv2d(X, W, bias=1.0), ValueError, r"bias must be a \(2,\) array for a 4-D weight"),
    ("transpose output_padding", lambda: conv_transpose2d(X, K, stride=2, output_padding=2), ValueError,
     r"output_padding must be smaller than stride or dilation \(< 2\), got 2"),
    ("transpose channels", lambda: conv_transpose2d(X, np.ones((2, 1, 3, 3))), ValueError,
     r"weight must be \(C, F, kh, kw\) with C = the channels of x"),
    ("transpose string padding", lambda: conv_transpose2d(X, K, padding="same"), TypeError,
     "padding must be an int or a \\(rows, cols\\) pair for conv_transpose2d"),
    ("transpose crops all", lambda: conv_transpose2d(np.ones((1, 1)), np.ones((1, 1)), padding=1), ValueError,
     "padding 1 crops the whole output"),
    ("pool padding", lambda: max_pool2d(X, 2, padding=2), ValueError,
     r"padding must be at most half the kernel size \(1 for kernel_size 2\), got 2"),
    ("pool kernel 0", lambda: avg_pool2d(X, 0), ValueError, "kernel_size must be a positive integer, got 0"),
    ("pool kernel larger", lambda: sum_pool2d(X, 7), ValueError, "kernel must not be larger than the padded input"),
    ("pool ceil_mode", lambda: max_pool2d(X, 2, ceil_mode=1), TypeError, "ceil_mode must be True or False, got 1"),
    ("avg include pad", lambda: avg_pool2d(X, 2, count_include_pad="yes"), TypeError, "count_include_pad must be True"),
    ("upsample float", lambda: upsample(X, 2.0), TypeError, r"scale_factor must be an int \(write 2\), got 2.0"),
    ("upsample fraction", lambda: upsample(X, 1.5), TypeError, "scale_factor must be a positive int or a"),
    ("upsample zero", lambda: upsample(X, 0), ValueError, "scale_factor must be a positive integer, got 0"),
    ("upsample mode", lambda: upsample(X, 2, mode="bicubic"), ValueError,
     "mode must be one of 'nearest', 'bilinear', got 'bicubic'"),
    ("upsample corners", lambda: upsample(X, 2, align_corners=True), ValueError,
     "align_corners=True only applies to mode='bilinear'"),
    ("leaky slope", lambda: leaky_relu(X, "0.1"), TypeError, "negative_slope must be a finite number"),
    ("relu NaN", lambda: relu(np.array([[np.inf]])), ValueError, "x must contain only finite numbers"),
    ("frames stride", lambda: conv2d_frames(X, K, stride=0), ValueError, "stride must be a positive integer"),
    ("frames pool", lambda: max_pool2d_frames(X, 2, padding=3), ValueError, "padding must be at most half"),
    ("frames transpose", lambda: conv_transpose2d_frames(X, np.ones((1, 2, 2, 2))), ValueError, "weight must be"),
    ("frames upsample", lambda: upsample_frames(X, -1), ValueError, "scale_factor must be a positive integer"),
]


@pytest.mark.parametrize(("label", "call", "error", "message"), CASES, ids=[case[0] for case in CASES])
def test_bad_argument_raises_a_named_error(label: str, call: Any, error: type, message: str) -> None:
    # the engine's own types (a ValueError and a TypeError), so a caller can tell a refusal from a bug
    own = {ValueError: ArgumentError, TypeError: ArgumentTypeError}[error]
    with pytest.raises(own, match=message):
        call()


@settings(max_examples=200, deadline=None)
@given(stride=st.one_of(st.integers(-3, 0), st.floats(allow_nan=True), st.text(max_size=3), st.none()),
       padding=st.one_of(st.integers(-5, -1), st.text(min_size=1, max_size=5).filter(
           lambda s: s not in ("valid", "same", "full"))))
def test_random_bad_strides_and_paddings_always_name_the_argument(stride: Any, padding: Any) -> None:
    with pytest.raises((ValueError, TypeError), match=r"^stride must be"):
        conv2d(X, K, stride=stride)
    with pytest.raises((ValueError, TypeError), match=r"^padding must be"):
        conv2d(X, K, padding=padding)
    with pytest.raises((ValueError, TypeError), match=r"^padding must be"):
        max_pool2d(X, 2, padding=padding)


@settings(max_examples=100, deadline=None)
@given(kh=st.integers(1, 12), kw=st.integers(1, 12), dilation=st.integers(1, 4), padding=st.integers(0, 3))
def test_kernel_fit_is_refused_exactly_when_pytorch_refuses(kh: int, kw: int, dilation: int, padding: int) -> None:
    fits = dilation * (kh - 1) + 1 <= 6 + 2 * padding and dilation * (kw - 1) + 1 <= 6 + 2 * padding
    if fits:
        assert conv2d(X, np.ones((kh, kw)), padding=padding, dilation=dilation).ndim == 3
    else:
        with pytest.raises(ValueError, match="kernel must not be larger than the padded input"):
            conv2d(X, np.ones((kh, kw)), padding=padding, dilation=dilation)


def test_overflow_is_refused_not_returned_as_infinity() -> None:
    big = np.full((4, 4), 1e300)
    with pytest.raises(ArgumentError, match="conv2d overflowed: the inputs are finite but their products or sums"):
        conv2d(big, np.full((3, 3), 1e300))
    with pytest.raises(ValueError, match="conv_transpose2d overflowed"):
        conv_transpose2d(big, np.full((2, 2), 1e300))
    with pytest.raises(ValueError, match="sum_pool2d overflowed"):
        sum_pool2d(np.full((4, 4), 1.7e308), 2)
    with pytest.raises(ValueError, match="conv2d overflowed"):
        conv2d(np.full((4, 4), 1e38, dtype=np.float32), np.full((2, 2), 10.0))
