"""Backpropagation of one example, layer by layer, with every intermediate gradient kept for showing.

:func:`backprop_steps` runs a chain forward and backward on one (C, H, W) example exactly as
:meth:`cnn_core.chain.Chain.loss_and_gradients` does in inference mode (``training=False``: dropout passes
everything, batch normalisation uses its moving averages), so what is shown is the network as it predicts,
and the numbers do not depend on a random mask. It adds no maths: each layer's forward and backward are the
chain's own (:mod:`cnn_core.grad`).

A conv2d layer's two gradients are themselves convolutions the existing frames can step:
:func:`weight_gradient_correlation` (``dL/dW[f, c]``: the layer's input channel ``c`` correlated with
``dL/dY[f]`` used as a kernel dilated by the stride) and :func:`input_gradient_scatter` (``dL/dX``: the
transposed convolution of ``dL/dY`` with the layer's weight read as (in, out)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cnn_core import _layers
from cnn_core._checks import FloatArray, is_int
from cnn_core._dense import check_labels, cross_entropy, softmax
from cnn_core._plans import crop_transposed
from cnn_core._windows import conv_window
from cnn_core.chain import Chain
from cnn_core.errors import ArgumentError, ArgumentTypeError
from cnn_core.frames import Conv2dFrames, ConvTranspose2dFrames, conv2d_frames, conv_transpose2d_frames
from cnn_core.frames import max_pool2d_frames as _max_pool2d_frames
from cnn_core.grad import cross_entropy_backward, max_pool2d_backward

__all__ = ["BackpropSteps", "InputGradientScatter", "LayerStep", "WeightGradientCorrelation", "backprop_steps",
           "input_gradient_scatter", "max_pool_routing", "weight_gradient_correlation"]

IntArray = np.ndarray[Any, np.dtype[np.intp]]


@dataclass(frozen=True)
class LayerStep:
    """One layer of one example: what went in and out, and the gradients that came back.

    ``grad_output`` is dL/dY at the layer's output (after its activation); ``grad_preactivation`` is dL/d
    of the layer's own result before its activation (the same array when it has none): conv2d and dense
    weight gradients are made from it. ``grad_input`` is dL/dX; ``grads`` the trainable arrays' gradients.
    Maps are (C, H, W), vectors (units,): the example's, without a batch axis.
    """

    index: int
    name: str
    kind: str
    x: FloatArray
    output: FloatArray
    grad_output: FloatArray
    grad_preactivation: FloatArray
    grad_input: FloatArray
    grads: dict[str, FloatArray]


@dataclass(frozen=True)
class BackpropSteps:
    """The forward pass, the loss, dL/dlogits = softmax - one-hot, and every layer's step (first to last)."""

    x: FloatArray
    label: int
    logits: FloatArray
    probabilities: FloatArray
    loss: float
    grad_logits: FloatArray
    layers: list[LayerStep]

    def gradients(self) -> list[FloatArray]:
        """Every trainable array's gradient, in :meth:`Chain.trainable_arrays` order."""
        return [step.grads[name] for step in self.layers for name in step.grads]


def backprop_steps(chain: Chain, x: Any, label: Any) -> BackpropSteps:
    """Forward and backward pass of ``chain`` on one example, every layer's arrays kept.

    Inference mode (``training=False``), one example: the gradients equal
    ``chain.loss_and_gradients(x[None], [label], training=False)``; with one example the mean loss is
    that example's loss, and ``dL/dlogits = softmax(logits) - onehot(label)``. Like ``fit``, the chain is
    built for x's shape and holds its arrays in x's dtype (pass a copy to keep a float32 chain as it is).

    Parameters
    ----------
    chain : a Chain ending in a dense layer (the class scores)
    x : (C, H, W) array of finite numbers
    label : int in [0, classes)

    Returns
    -------
    BackpropSteps
        loss (float), logits, probabilities and grad_logits (K,), and a LayerStep per layer.

    Raises
    ------
    ArgumentError, ArgumentTypeError (a ValueError, a TypeError)
        For x not one (C, H, W) example, a label that is not an integer class, or a chain that cannot train.

    Examples
    --------
    >>> chain = Chain([{"type": "flatten"}, {"type": "dense", "units": 2}])
    >>> steps = backprop_steps(chain, np.zeros((1, 1, 2)), 1)  # zero input, zero bias: equal logits
    >>> bool(steps.loss == np.log(2)), steps.grad_logits.tolist()
    (True, [0.5, -0.5])
    """
    values = np.asarray(x)
    if values.ndim != 3 or values.dtype.kind not in "fiu" or values.dtype.kind == "b":
        raise ArgumentError(f"x must be one (C, H, W) example of numbers, got shape {values.shape}")
    if not is_int(label):
        raise ArgumentTypeError(f"label must be an integer class, got {label!r}")
    batch = values.astype(np.float64 if values.dtype.kind in "iu" else values.dtype)[None]
    if not np.isfinite(batch).all():
        raise ArgumentError("x must contain only finite numbers")
    chain.prepare_training(batch.shape[1:], batch.dtype)
    classes = chain.layers[-1].output_shape[0]
    labels = check_labels(np.array([int(label)]), 1, classes, "label")
    caches, outputs = [], []
    current = batch
    last = len(chain.layers) - 1
    for index, layer in enumerate(chain.layers):
        current, cache = _layers.forward(layer, current, False, None, fold_softmax=index == last)
        caches.append(cache)
        outputs.append(current)
    logits = current
    grad_logits = cross_entropy_backward(logits, labels)
    steps: list[LayerStep] = []
    grad = grad_logits
    for index in range(last, -1, -1):
        layer, cache = chain.layers[index], caches[index]
        pre = _preactivation_gradient(layer, grad, cache, index == last)
        grad_input, named = _layers.backward(layer, grad, cache, index == last, need_input=True)
        assert grad_input is not None  # need_input=True
        steps.append(LayerStep(index, layer.name, layer.kind, cache.x[0], outputs[index][0], grad[0], pre[0],
                               grad_input[0], {name: named[name] for name in layer.trainable}))
        grad = grad_input
    return BackpropSteps(batch[0], int(labels[0]), logits[0], softmax(logits, axis=1)[0],
                         cross_entropy(logits, labels), grad_logits[0], steps[::-1])


def _preactivation_gradient(layer: _layers.Layer, grad: FloatArray, cache: _layers.Cache, last: bool) -> FloatArray:
    """dL/d(the layer's own result), through its activation (the chain's own activation backward)."""
    if layer.kind not in ("conv2d", "conv_transpose2d", "dense", "activation"):
        return grad
    name = layer.activation
    if last and name == "softmax":
        name = None
    assert cache.before is not None and cache.after is not None  # set by forward
    slope = float(layer.options.get("negative_slope", 0.01))
    return _layers._activation_backward(grad, cache.before, cache.after, name, slope)


def _layout(in_shape: tuple[int, int], kernel: tuple[int, int], stride: Any, padding: Any,
            dilation: Any) -> tuple[tuple[int, int, int, int], tuple[int, int], tuple[int, int], tuple[int, int],
                                    tuple[int, int], bool]:
    """The layer's pads, output size, stride, dilation, the padded extent its windows read, and whether the
    frames can take the pads as a (rows, cols) pair (symmetric, and every padded row and column read)."""
    window = conv_window(in_shape, kernel, stride, padding, dilation)
    top, bottom, left, right = window.pads
    reach = tuple((kernel[a] - 1) * window.dilation[a] + window.stride[a] * (window.out_shape[a] - 1) + 1
                  for a in (0, 1))
    exact = (top == bottom and left == right and reach[0] == in_shape[0] + top + bottom
             and reach[1] == in_shape[1] + left + right)
    return (window.pads, window.out_shape, window.stride, window.dilation, (reach[0], reach[1]), exact)


@dataclass(frozen=True)
class WeightGradientCorrelation:
    """dL/dW[f, c] as a correlation: ``conv2d(image, kernel, stride, padding, dilation)`` equals it.

    ``image`` is the layer's input channel c, ``kernel`` is dL/dY[f] before the activation (oh, ow),
    ``dilation`` is the layer's stride and ``stride`` the layer's dilation. When the layer's pads are not
    a symmetric pair whose every row and column is read (Keras "same" with an even kernel or a stride that
    leaves pixels out), ``image`` is the input already padded and cut to what the windows read, and
    ``padding`` is 0 (``padded`` is then True).
    """

    image: FloatArray
    kernel: FloatArray
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    padded: bool

    def frames(self) -> Conv2dFrames:
        """The correlation's frames (``frames().result()`` is dL/dW[f, c], (kh, kw))."""
        return conv2d_frames(self.image, self.kernel, None, self.stride, self.padding, self.dilation)


def weight_gradient_correlation(x: Any, grad_output: Any, f: int, c: int, kernel_size: Any, stride: Any = 1,
                                padding: Any = 0, dilation: Any = 1) -> WeightGradientCorrelation:
    """dL/dW[f, c] of a zero-padded conv2d, as a correlation the conv2d frames can step.

    ``grad_weight[f, c, i, j] = sum over (oy, ox) of grad_output[f, oy, ox] * xp[c, oy*sy + i*dy, ox*sx + j*dx]``:
    the padded input channel correlated with ``grad_output[f]`` as a kernel dilated by the stride, read with
    a step of the layer's dilation (:func:`cnn_core.grad.conv2d_backward`'s ``grad_weight``).

    Parameters
    ----------
    x : (C, H, W) the layer's input; grad_output : (F, oh, ow) dL/d(the conv's result)
    f, c : the filter and the input channel
    kernel_size, stride, padding, dilation : the layer's (int, pair, or padding "valid"/"same"/"full")

    Returns
    -------
    WeightGradientCorrelation
        ``.frames().result()`` equals ``conv2d_backward(grad_output, x, weight, ...)[1][f, c]``.

    Raises
    ------
    ArgumentError (a ValueError)
        For shapes that do not match the layer, or f / c out of range.

    >>> corr = weight_gradient_correlation(np.arange(9.0).reshape(1, 3, 3), np.ones((1, 2, 2)), 0, 0, 2)
    >>> corr.frames().result().tolist()
    [[8.0, 12.0], [20.0, 24.0]]
    """
    maps, grads = _maps(x, "x"), _maps(grad_output, "grad_output")
    kernel = _layers.pair(kernel_size, "kernel_size", 1)
    pads, out_shape, step, spread, reach, exact = _layout(maps.shape[1:], kernel, stride, padding, dilation)
    if grads.shape[1:] != out_shape:
        raise ArgumentError(f"grad_output must be (F, {out_shape[0]}, {out_shape[1]}) for this layer, "
                            f"got {grads.shape}")
    _index(f, grads.shape[0], "f")
    _index(c, maps.shape[0], "c")
    if exact:
        return WeightGradientCorrelation(maps[c], grads[f], spread, (pads[0], pads[2]), step, False)
    image = np.pad(maps[c], ((pads[0], pads[1]), (pads[2], pads[3])))[:reach[0], :reach[1]]
    return WeightGradientCorrelation(image, grads[f], spread, (0, 0), step, True)


@dataclass(frozen=True)
class InputGradientScatter:
    """dL/dX as a transposed convolution: ``conv_transpose2d(grad_output, weight, stride, padding, dilation)``
    with the layer's (F, C, kh, kw) weight read as (in, out); ``crop`` (top, left) is None when its result
    is dL/dX, else the result is the gradient of the padded input and dL/dX is its (H, W) block at ``crop``
    (the padding's own gradient is dropped, as :func:`cnn_core.grad.conv2d_backward` does)."""

    grad_output: FloatArray
    weight: FloatArray
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    crop: tuple[int, int] | None
    in_shape: tuple[int, int]

    def frames(self) -> ConvTranspose2dFrames:
        """The transposed convolution's frames: one per dL/dY position, scattering it times the kernel."""
        return conv_transpose2d_frames(self.grad_output, self.weight, None, self.stride, self.padding, 0,
                                       self.dilation)

    def grad_input(self, result: FloatArray) -> FloatArray:
        """dL/dX (C, H, W) from the frames' result."""
        if self.crop is None:
            return result
        return np.ascontiguousarray(crop_transposed(result, self.crop, self.in_shape))


def input_gradient_scatter(grad_output: Any, weight: Any, in_shape: tuple[int, int], stride: Any = 1,
                           padding: Any = 0, dilation: Any = 1) -> InputGradientScatter:
    """dL/dX of a zero-padded conv2d, as a transposed convolution the conv_transpose2d frames can step.

    Parameters
    ----------
    grad_output : (F, oh, ow) dL/d(the conv's result); weight : (F, C, kh, kw) the layer's kernel
    in_shape : (H, W) of the layer's input
    stride, padding, dilation : the layer's

    Returns
    -------
    InputGradientScatter
        ``.grad_input(.frames().result())`` equals ``conv2d_backward(grad_output, x, weight, ...)[0]``.

    Raises
    ------
    ArgumentError (a ValueError)
        For a weight that is not 4-D or shapes that do not match the layer.

    >>> scatter = input_gradient_scatter(np.ones((1, 2, 2)), np.ones((1, 1, 2, 2)), (3, 3))
    >>> scatter.grad_input(scatter.frames().result()).tolist()
    [[[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]]
    """
    grads = _maps(grad_output, "grad_output")
    kernel = np.asarray(weight)
    if kernel.ndim != 4 or kernel.shape[0] != grads.shape[0]:
        raise ArgumentError(f"weight must be (F, C, kh, kw) with F = {grads.shape[0]}, got shape {kernel.shape}")
    size = (int(in_shape[0]), int(in_shape[1]))
    pads, out_shape, step, spread, _, exact = _layout(size, kernel.shape[2:], stride, padding, dilation)
    if grads.shape[1:] != out_shape:
        raise ArgumentError(f"grad_output must be (F, {out_shape[0]}, {out_shape[1]}) for this layer, "
                            f"got {grads.shape}")
    if exact:
        return InputGradientScatter(grads, kernel, step, (pads[0], pads[2]), spread, None, size)
    return InputGradientScatter(grads, kernel, step, (0, 0), spread, (pads[0], pads[2]), size)


def max_pool_routing(x: Any, grad_output: Any, kernel_size: Any, stride: Any = None,
                     padding: Any = 0) -> tuple[IntArray, FloatArray]:
    """Where a max pool sends each window's gradient: its winner (the max_pool2d frames' ``argmax``).

    Parameters
    ----------
    x : (C, H, W) the pool's input; grad_output : (C, oh, ow)
    kernel_size, stride, padding : as :func:`cnn_core.ops.max_pool2d`

    Returns
    -------
    (winners, grad_x) : (C, oh, ow, 2) input (row, col) of each window's maximum, and dL/dX (C, H, W) from
        :func:`cnn_core.grad.max_pool2d_backward` (each window's gradient added at its winner).

    Raises
    ------
    ArgumentError (a ValueError)
        As max_pool2d, or for a grad_output of another shape.

    >>> winners, grad_x = max_pool_routing(np.array([[[1.0, 3.0], [3.0, 0.0]]]), np.array([[[5.0]]]), 2)
    >>> winners.tolist(), grad_x.tolist()
    ([[[[0, 1]]]], [[[0.0, 5.0], [0.0, 0.0]]])
    """
    frames = _max_pool2d_frames(x, kernel_size, stride, padding)
    grad_x = max_pool2d_backward(grad_output, x, kernel_size, stride, padding)
    winners = frames.batch(0, len(frames))["argmax"].reshape(*frames.output_shape, 2)
    return winners.astype(np.intp), grad_x


def _maps(value: Any, name: str) -> FloatArray:
    array = np.asarray(value)
    if array.ndim != 3 or array.dtype.kind not in "fiu" or array.dtype.kind == "b":
        raise ArgumentError(f"{name} must be a (C, H, W) array of numbers, got shape {array.shape}")
    return array


def _index(value: int, count: int, name: str) -> None:
    if not is_int(value) or not 0 <= int(value) < count:
        raise ArgumentError(f"{name} must be an integer from 0 to {count - 1}, got {value!r}")
