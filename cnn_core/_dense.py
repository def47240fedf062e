"""Elementwise activations (any shape) and the dense-layer functions: linear, softmax, cross-entropy, dropout.

Re-exported by :mod:`cnn_core.ops`; PyTorch's ``torch.nn.functional`` semantics.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from cnn_core._checks import FloatArray, as_array, as_values
from cnn_core.errors import ArgumentError, ArgumentTypeError


def _slopes(positive: np.ndarray[Any, Any], slope: float, dtype: np.dtype[Any]) -> FloatArray:
    """1 where ``positive``, else ``slope``: arithmetic on the mask (np.where on a random mask is ~5x slower)."""
    factor: FloatArray = positive.astype(dtype)
    factor *= dtype.type(1 - slope)
    factor += dtype.type(slope)
    return factor


# relu's numbers per row of zeros it is compared with (see relu_into)
RELU_ROW = 4096


def relu_into(values: FloatArray, out: FloatArray) -> FloatArray:
    """``max(values, 0)`` written into ``out`` (which may be ``values`` itself), returned.

    A contiguous array is compared with a row of zeros rather than with the number 0: numpy's maximum
    runs a slower loop against a scalar (numpy 2.4, float32, one thread: 1.1 ms against 0.63 ms on
    64x32x26x26, 0.41 against 0.17 ms on 64x64x11x11). The numbers are the same, -0.0 becoming 0.0 alike.
    """
    zero = np.zeros(RELU_ROW, dtype=values.dtype)
    if values.size < RELU_ROW or not (values.flags.c_contiguous and out.flags.c_contiguous):
        np.maximum(values, zero[0], out=out)
        return out
    source, target = values.reshape(-1), out.reshape(-1)
    whole = source.size - source.size % RELU_ROW
    np.maximum(source[:whole].reshape(-1, RELU_ROW), zero, out=target[:whole].reshape(-1, RELU_ROW))
    np.maximum(source[whole:], zero[0], out=target[whole:])
    return out


def activation_values(name: str, values: FloatArray, slope: float = 0.01) -> FloatArray:
    """relu, leaky_relu, sigmoid or tanh of an already validated float array (the one formula of each)."""
    if name == "relu":
        return relu_into(values, np.empty(values.shape, dtype=values.dtype))
    if name == "leaky_relu":
        return values * _slopes(values >= 0, slope, values.dtype)
    if name == "sigmoid":  # without overflow: exp of a non-positive number only
        exp = np.exp(-np.abs(values))
        share = 1 / (1 + exp)  # sigmoid(|x|); sigmoid(-|x|) = exp * share
        share *= 1 + (values < 0) * (exp - 1)
        return share.astype(values.dtype, copy=False)
    return np.tanh(values)


def relu(x: Any) -> FloatArray:
    """max(x, 0) elementwise, on an array of any shape.

    >>> relu(np.array([-1.0, 2.0]))
    array([0., 2.])
    """
    return activation_values("relu", as_values(x))


def _slope(negative_slope: object) -> float:
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, numbers.Real) \
            or not np.isfinite(float(negative_slope)):
        raise ArgumentTypeError(f"negative_slope must be a finite number, got {negative_slope!r}")
    return float(negative_slope)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> FloatArray:
    """x where x >= 0, else negative_slope * x (elementwise, any shape).

    >>> leaky_relu(np.array([[-10.0, 3.0]]), 0.1)
    array([[-1.,  3.]])
    """
    return activation_values("leaky_relu", as_values(x), _slope(negative_slope))


def sigmoid(x: Any) -> FloatArray:
    """1 / (1 + exp(-x)) elementwise, computed without overflow.

    >>> sigmoid(np.zeros(2))
    array([0.5, 0.5])
    """
    return activation_values("sigmoid", as_values(x))


def tanh(x: Any) -> FloatArray:
    """Hyperbolic tangent elementwise.

    >>> tanh(np.zeros((1, 1)))
    array([[0.]])
    """
    return activation_values("tanh", as_values(x))


def check_linear(x: object, weight: object) -> tuple[FloatArray, FloatArray]:
    """x (in,) or (N, in) and weight (out, in), validated, the weight in x's compute dtype."""
    values = as_values(x)
    if values.ndim not in (1, 2):
        raise ArgumentError(f"x must be a (in,) or (N, in) array, got shape {values.shape}")
    matrix = as_values(weight, "weight").astype(values.dtype, copy=False)
    if matrix.ndim != 2 or matrix.shape[1] != values.shape[-1]:
        raise ArgumentError(f"weight must be (out, in) with in = {values.shape[-1]} (the last axis of x), "
                            f"got shape {matrix.shape}")
    return values, matrix


def linear(x: Any, weight: Any, bias: Any = None) -> FloatArray:
    """``x @ weight.T + bias``, as ``torch.nn.functional.linear``.

    Parameters
    ----------
    x : (in,) or (N, in) array
    weight : (out, in) array
    bias : None or (out,) array

    Returns
    -------
    (out,) or (N, out), in x's compute dtype.

    Raises
    ------
    ValueError, TypeError
        For a rank or size mismatch, or non-finite numbers.

    >>> linear(np.array([1.0, 2.0]), np.array([[1.0, 1.0], [0.0, 2.0]]), np.array([0.5, 0.0]))
    array([3.5, 4. ])
    """
    values, matrix = check_linear(x, weight)
    out = values @ matrix.T
    if bias is not None:
        vector = as_values(bias, "bias").astype(values.dtype, copy=False)
        if vector.shape != (matrix.shape[0],):
            raise ArgumentError(f"bias must have shape ({matrix.shape[0]},) (one value per output), got {vector.shape}")
        out += vector
    return out


def _axis(values: FloatArray, axis: object) -> int:
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not -values.ndim <= int(axis) < values.ndim:
        raise ArgumentError(f"axis must be an int in [{-values.ndim}, {values.ndim - 1}], got {axis!r}")
    return int(axis)


def log_softmax(x: Any, axis: int = -1) -> FloatArray:
    """``x - logsumexp(x)`` along ``axis``, stable for logits of any size (the maximum is subtracted first).

    >>> log_softmax(np.array([1e4, 1e4]))
    array([-0.69314718, -0.69314718])
    """
    values = as_values(x, "x")
    if values.ndim == 0:
        raise ArgumentError("x must have at least one axis, got a scalar")
    chosen = _axis(values, axis)
    shifted = values - values.max(axis=chosen, keepdims=True)
    result: FloatArray = shifted - np.log(np.exp(shifted).sum(axis=chosen, keepdims=True))
    return result


def softmax(x: Any, axis: int = -1) -> FloatArray:
    """``exp(x) / sum(exp(x))`` along ``axis``, without overflow: ``torch.softmax``.

    >>> softmax(np.array([[0.0, np.log(3.0)]]))
    array([[0.25, 0.75]])
    """
    values = as_values(x, "x")
    if values.ndim == 0:
        raise ArgumentError("x must have at least one axis, got a scalar")
    chosen = _axis(values, axis)
    exp = np.exp(values - values.max(axis=chosen, keepdims=True))
    return exp / exp.sum(axis=chosen, keepdims=True)  # type: ignore[no-any-return]


def check_labels(labels: object, samples: int, classes: int, name: str = "labels") -> np.ndarray[Any, Any]:
    """Integer class labels (N,) in [0, classes), for N samples."""
    array = as_array(labels, name)
    if array.dtype.kind not in "iu":
        raise ArgumentTypeError(f"{name} must be integers (class indices), got dtype {array.dtype}")
    if array.shape != (samples,):
        raise ArgumentError(f"{name} must have shape ({samples},) (one per sample), got {array.shape}")
    if samples and (array.min() < 0 or array.max() >= classes):
        bad = array[(array < 0) | (array >= classes)][0]
        raise ArgumentError(f"{name} must be in [0, {classes - 1}] (one of the {classes} classes), got {bad}")
    return array.astype(np.intp, copy=False)


def cross_entropy(logits: Any, labels: Any) -> float:
    """Mean negative log-likelihood of integer ``labels`` under ``softmax(logits)``:
    ``torch.nn.functional.cross_entropy``.

    Parameters
    ----------
    logits : (N, K) array
    labels : (N,) integers in [0, K)

    Returns
    -------
    float

    Raises
    ------
    ValueError, TypeError
        For a shape mismatch, labels that are not integers or out of range.

    >>> round(cross_entropy(np.zeros((2, 4)), np.array([0, 3])), 6) == round(float(np.log(4)), 6)
    True
    """
    values = as_values(logits, "logits")
    if values.ndim != 2 or values.shape[0] == 0:
        raise ArgumentError(f"logits must be a (N, K) array with N >= 1, got shape {values.shape}")
    classes = check_labels(labels, values.shape[0], values.shape[1])
    picked = log_softmax(values)[np.arange(values.shape[0]), classes]
    return float(-picked.mean())


def dropout(x: Any, p: float, rng: np.random.Generator) -> tuple[FloatArray, np.ndarray[Any, Any]]:
    """Inverted dropout: each value is kept with probability ``1 - p`` and scaled by ``1 / (1 - p)``.

    Returns ``(y, mask)`` with ``y = x * mask / (1 - p)`` and a boolean ``mask`` of x's shape.

    Raises
    ------
    ValueError
        When ``p`` is not in [0, 1).
    TypeError
        When ``rng`` is not a ``numpy.random.Generator``.

    >>> y, mask = dropout(np.ones(4), 0.5, np.random.default_rng(0))
    >>> sorted(set(y.tolist())) <= [0.0, 2.0], mask.dtype
    (True, dtype('bool'))
    """
    values = as_values(x)
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= float(p) < 1:
        raise ArgumentError(f"p (the dropout rate) must be a number in [0, 1), got {p!r}")
    if not isinstance(rng, np.random.Generator):
        raise ArgumentTypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                                f"got {type(rng).__name__}")
    mask = rng.random(values.shape) >= float(p)
    scale = values.dtype.type(1 / (1 - float(p)))
    return values * mask * scale, mask

