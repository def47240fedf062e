"""Backward of every op: the gradients of a scalar loss with respect to an op's inputs.

Each function takes ``grad_output`` (the loss's gradient with respect to the op's output, the forward
output's shape) and the forward call's own arguments, and returns what ``torch.autograd`` computes for
the same forward call. Windowed ops take a (H, W) or (C, H, W) sample or an (N, C, H, W) batch; every
gradient has the shape of what it differentiates and the input's compute dtype (float32 stays float32).
"""

from __future__ import annotations

from typing import Any

import numpy as np  # noqa: F401  (the doctests use np)

from cnn_core import _grad_conv, _grad_dense, _grad_pool
from cnn_core._checks import FloatArray

__all__ = [
    "avg_pool2d_backward", "conv2d_backward", "conv_transpose2d_backward", "cross_entropy_backward",
    "leaky_relu_backward", "linear_backward", "max_pool2d_backward", "relu_backward", "sigmoid_backward",
    "sum_pool2d_backward", "tanh_backward", "upsample_backward",
]


def conv2d_backward(grad_output: Any, x: Any, weight: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
                    padding_mode: str = "zeros") -> tuple[FloatArray, FloatArray, FloatArray]:
    """Gradients of ``conv2d(x, weight, bias, stride, padding, dilation, padding_mode)``.

    The gradient of a convolution is itself a convolution. ``grad_weight`` correlates the padded input
    with ``grad_output`` acting as a kernel dilated by the stride (one im2col BLAS product, as the forward).
    ``grad_x`` is the transposed convolution of ``grad_output`` with the same weight (the forward's
    ``scatter_transposed`` core), cropped by the padding for "zeros"; for "reflect", "replicate" and
    "circular" the padded border's gradient is folded back onto the pixels it copied. ``grad_bias`` sums
    ``grad_output`` over every axis but the filters.

    Parameters
    ----------
    grad_output : (F, H', W'), or (N, F, H', W') for a batch: the forward output's shape
    x : (C, H, W), (H, W) (C = 1) or (N, C, H, W)
    weight : (F, C, kh, kw)
    stride, padding, dilation, padding_mode : as :func:`cnn_core.ops.conv2d`

    Returns
    -------
    (grad_x, grad_weight, grad_bias) : x's shape, (F, C, kh, kw), (F,); in x's compute dtype.

    Raises
    ------
    ValueError, TypeError
        For an argument conv2d refuses, a 2-D weight, or grad_output not of the forward output's shape.

    Examples
    --------
    >>> grad_x, grad_weight, grad_bias = conv2d_backward(np.ones((1, 2, 2)), np.arange(9.0).reshape(3, 3),
    ...                                                  np.ones((1, 1, 2, 2)))
    >>> grad_x
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> grad_weight[0, 0], grad_bias
    (array([[ 8., 12.],
           [20., 24.]]), array([4.]))
    """
    return _grad_conv.conv2d_backward(grad_output, x, weight, stride, padding, dilation, padding_mode)


def conv_transpose2d_backward(grad_output: Any, x: Any, weight: Any, stride: Any = 1, padding: Any = 0,
                              output_padding: Any = 0,
                              dilation: Any = 1) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Gradients of ``conv_transpose2d(x, weight, bias, stride, padding, output_padding, dilation)``.

    ``grad_x`` is a conv2d of ``grad_output`` with the same weight (the forward conv core ``correlate``),
    after undoing the crop: ``grad_output`` is placed ``padding`` into the uncropped canvas (the rows and
    columns output_padding added get no say). ``grad_weight`` correlates that canvas with the input acting
    as a kernel dilated by the stride; ``grad_bias`` sums ``grad_output`` over every axis but F.

    Parameters
    ----------
    grad_output : (F, H', W'), or (N, F, H', W') for a batch
    x : (C, H, W), (H, W) (C = 1) or (N, C, H, W)
    weight : (C, F, kh, kw)
    stride, padding, output_padding, dilation : as :func:`cnn_core.ops.conv_transpose2d`

    Returns
    -------
    (grad_x, grad_weight, grad_bias) : x's shape, (C, F, kh, kw), (F,).

    Raises
    ------
    ValueError, TypeError
        For an argument conv_transpose2d refuses, a 2-D weight, or a grad_output of the wrong shape.

    Examples
    --------
    >>> grad_x, grad_weight, grad_bias = conv_transpose2d_backward(
    ...     np.array([[[1.0, 10.0, 100.0, 1000.0]]]), np.array([[1.0, 2.0]]), np.ones((1, 1, 1, 2)), stride=2)
    >>> grad_x, grad_weight[0, 0], grad_bias
    (array([[  11., 1100.]]), array([[ 201., 2010.]]), array([1111.]))
    """
    return _grad_conv.conv_transpose2d_backward(grad_output, x, weight, stride, padding, output_padding, dilation)


def max_pool2d_backward(grad_output: Any, x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                        dilation: Any = 1, ceil_mode: bool = False) -> FloatArray:
    """Gradient of ``max_pool2d``: each window routes its gradient to its maximum.

    Ties go to the first maximum in row-major window order, as PyTorch's CPU kernel does; padding
    (-inf) never wins. It is the transposed convolution, per channel, of ``grad_output`` with each
    window's one-hot argmax kernel.

    Parameters
    ----------
    grad_output : the forward output's shape; x : (H, W), (C, H, W) or (N, C, H, W)
    kernel_size, stride, padding, dilation, ceil_mode : as :func:`cnn_core.ops.max_pool2d`

    Returns
    -------
    grad_x : x's shape and compute dtype.

    Raises
    ------
    ValueError, TypeError
        For an argument max_pool2d refuses, or grad_output not of the forward output's shape.

    >>> max_pool2d_backward(np.array([[5.0]]), np.array([[1.0, 3.0], [3.0, 0.0]]), 2)
    array([[0., 5.],
           [0., 0.]])
    """
    return _grad_pool.pool_backward("max", grad_output, x, kernel_size, stride, padding, dilation, ceil_mode)


def avg_pool2d_backward(grad_output: Any, x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True) -> FloatArray:
    """Gradient of ``avg_pool2d``: each window shares its gradient over its taps, divided by its divisor.

    A transposed convolution, per channel, of ``grad_output / divisor`` with a kernel of ones (then
    cropped); the divisor is the forward's own (count_include_pad, ceil_mode's clipped windows, and
    padding left out of the average for padding strings, as Keras does).

    Parameters
    ----------
    grad_output : the forward output's shape; x : (H, W), (C, H, W) or (N, C, H, W)
    kernel_size, stride, padding, ceil_mode, count_include_pad : as :func:`cnn_core.ops.avg_pool2d`

    Returns
    -------
    grad_x : x's shape and compute dtype.

    Raises
    ------
    ValueError, TypeError
        For an argument avg_pool2d refuses, or grad_output not of the forward output's shape.

    >>> avg_pool2d_backward(np.array([[4.0]]), np.zeros((2, 2)), 2)
    array([[1., 1.],
           [1., 1.]])
    """
    return _grad_pool.pool_backward("avg", grad_output, x, kernel_size, stride, padding, 1, ceil_mode,
                                    count_include_pad)


def sum_pool2d_backward(grad_output: Any, x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                        ceil_mode: bool = False) -> FloatArray:
    """Gradient of ``sum_pool2d``: every tap of a window receives the window's gradient.

    A transposed convolution, per channel, of ``grad_output`` with a kernel of ones (then cropped):
    ``avg_pool2d(..., divisor_override=1)``'s gradient.

    Parameters
    ----------
    grad_output : the forward output's shape; x : (H, W), (C, H, W) or (N, C, H, W)
    kernel_size, stride, padding, ceil_mode : as :func:`cnn_core.ops.sum_pool2d`

    Returns
    -------
    grad_x : x's shape and compute dtype.

    Raises
    ------
    ValueError, TypeError
        For an argument sum_pool2d refuses, or grad_output not of the forward output's shape.

    >>> sum_pool2d_backward(np.array([[1.0, 10.0]]), np.zeros((2, 3)), 2, stride=1)
    array([[ 1., 11., 10.],
           [ 1., 11., 10.]])
    """
    return _grad_pool.pool_backward("sum", grad_output, x, kernel_size, stride, padding, 1, ceil_mode)


def upsample_backward(grad_output: Any, x: Any, scale_factor: Any, mode: str = "nearest",
                      align_corners: bool = False) -> FloatArray:
    """Gradient of ``upsample``: each output sends its gradient back to the sources it blended.

    "nearest" sums each (sy, sx) block (a transposed convolution with a (sy, sx) kernel of ones and
    stride (sy, sx)); "bilinear" is the linear map ``rows @ x @ cols.T`` with the forward's own source
    weights, so its gradient is ``rows.T @ grad_output @ cols``.

    Parameters
    ----------
    grad_output : the forward output's shape, (..., H*sy, W*sx); x : (H, W), (C, H, W) or (N, C, H, W)
    scale_factor, mode, align_corners : as :func:`cnn_core.ops.upsample`

    Returns
    -------
    grad_x : x's shape and compute dtype.

    Raises
    ------
    ValueError, TypeError
        For an argument upsample refuses, or grad_output not of the forward output's shape.

    >>> upsample_backward(np.arange(8.0).reshape(2, 4), np.zeros((1, 2)), 2)
    array([[10., 18.]])
    """
    return _grad_pool.upsample_backward(grad_output, x, scale_factor, mode, align_corners)


def relu_backward(grad_output: Any, x: Any) -> FloatArray:
    """Gradient of ``relu``: ``grad_output`` where ``x > 0``, else 0 (0 at exactly 0, as PyTorch).

    ``x`` is the forward input, of any shape; ``grad_output`` has its shape. Returns grad_x in x's compute
    dtype. Raises ValueError for a grad_output of another shape, TypeError for non-numbers.

    >>> relu_backward(np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.0, 1.0]))
    array([0., 0., 3.])
    """
    return _grad_dense.activation_backward("relu", grad_output, x)


def leaky_relu_backward(grad_output: Any, x: Any, negative_slope: float = 0.01) -> FloatArray:
    """Gradient of ``leaky_relu``: ``grad_output`` where ``x > 0``, else ``negative_slope * grad_output``
    (the slope at exactly 0, as PyTorch's kernel).

    ``x`` is the forward input, of any shape; ``grad_output`` has its shape. Returns grad_x in x's compute
    dtype. Raises ValueError for a grad_output of another shape, TypeError for a non-number slope.

    >>> leaky_relu_backward(np.array([1.0, 1.0, 1.0]), np.array([-1.0, 0.0, 1.0]), 0.1)
    array([0.1, 0.1, 1. ])
    """
    return _grad_dense.activation_backward("leaky_relu", grad_output, x, negative_slope)


def sigmoid_backward(grad_output: Any, x: Any) -> FloatArray:
    """Gradient of ``sigmoid``: ``grad_output * s * (1 - s)`` with ``s = sigmoid(x)``.

    ``x`` is the forward input, of any shape; ``grad_output`` has its shape. Returns grad_x in x's compute
    dtype. Raises ValueError for a grad_output of another shape.

    >>> sigmoid_backward(np.array([4.0]), np.array([0.0]))
    array([1.])
    """
    return _grad_dense.activation_backward("sigmoid", grad_output, x)


def tanh_backward(grad_output: Any, x: Any) -> FloatArray:
    """Gradient of ``tanh``: ``grad_output * (1 - tanh(x)**2)``.

    ``x`` is the forward input, of any shape; ``grad_output`` has its shape. Returns grad_x in x's compute
    dtype. Raises ValueError for a grad_output of another shape.

    >>> tanh_backward(np.array([2.0]), np.array([0.0]))
    array([2.])
    """
    return _grad_dense.activation_backward("tanh", grad_output, x)


def linear_backward(grad_output: Any, x: Any, weight: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Gradients of ``linear(x, weight, bias)`` (``x @ weight.T + bias``).

    ``grad_x = grad_output @ weight``, ``grad_weight = grad_output.T @ x``, ``grad_bias`` sums
    ``grad_output`` over the samples: a 1x1 convolution's gradients, one BLAS product each.

    Parameters
    ----------
    grad_output : (out,) or (N, out); x : (in,) or (N, in); weight : (out, in)

    Returns
    -------
    (grad_x, grad_weight, grad_bias) : x's shape, (out, in), (out,); in x's compute dtype.

    Raises
    ------
    ValueError, TypeError
        For a rank or size mismatch.

    >>> linear_backward(np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.eye(2))
    (array([1., 2.]), array([[3., 4.],
           [6., 8.]]), array([1., 2.]))
    """
    return _grad_dense.linear_backward(grad_output, x, weight)


def cross_entropy_backward(logits: Any, labels: Any) -> FloatArray:
    """Gradient of the mean ``cross_entropy(logits, labels)`` with respect to the logits:
    ``(softmax(logits) - onehot(labels)) / N``.

    Parameters
    ----------
    logits : (N, K); labels : (N,) integers in [0, K)

    Returns
    -------
    grad_logits : (N, K), in the logits' compute dtype.

    Raises
    ------
    ValueError, TypeError
        As ``cross_entropy``: a shape mismatch, labels that are not integers or out of range.

    >>> cross_entropy_backward(np.zeros((2, 2)), np.array([0, 1]))
    array([[-0.25,  0.25],
           [ 0.25, -0.25]])
    """
    return _grad_dense.cross_entropy_backward(logits, labels)
